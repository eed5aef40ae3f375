"""Build the configured KEK provider from `Settings` (KEK_PROVIDER = env | pkcs11)."""

from __future__ import annotations

from ephemeral_vault.custody.env_kek import EnvKek
from ephemeral_vault.custody.errors import KekConfigError
from ephemeral_vault.custody.kek import KekProvider, KekRing
from ephemeral_vault.settings import Settings, get_settings


def env_kek_from_settings(settings: Settings) -> EnvKek:
    if settings.kek_keys is None or not settings.kek_keys.get_secret_value().strip():
        raise KekConfigError("KEK_PROVIDER=env needs KEK_KEYS (comma-separated id:base64(32 bytes))")
    if not settings.kek_active_id:
        raise KekConfigError("KEK_PROVIDER=env needs KEK_ACTIVE_ID (one of the ids in KEK_KEYS)")
    return EnvKek.from_text(settings.kek_keys.get_secret_value(), settings.kek_active_id)


def kek_from_settings(settings: Settings | None = None) -> KekProvider:
    """The provider that wraps new data keys.

    With KEK_PROVIDER=pkcs11 and KEK_KEYS also set, the environment keys stay readable (a `KekRing`), which is how
    rows sealed under environment keys are migrated into the HSM by the rotation command.
    """
    settings = settings or get_settings()
    if settings.kek_provider == "env":
        return env_kek_from_settings(settings)
    from ephemeral_vault.custody.pkcs11_kek import Pkcs11Kek  # imported lazily: loads a native module

    hsm = Pkcs11Kek.from_settings(settings)
    if settings.kek_keys is not None and settings.kek_active_id:
        return KekRing(hsm, env_kek_from_settings(settings))
    return hsm
