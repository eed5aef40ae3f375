"""`python -m ephemeral_vault.custody.keygen`: new env KEK entries and the HSM KEK, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import pytest

from ephemeral_vault.custody import EnvKek, KekConfigError, seal_new_session_key, sign_message
from ephemeral_vault.custody.keygen import new_env_kek_entry
from ephemeral_vault.custody.pkcs11_kek import Pkcs11Kek
from ephemeral_vault.settings import REPO_ROOT
from tests.custody.softhsm import SoftHsmToken


async def _keygen(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ephemeral_vault.custody.keygen",
        *args,
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def test_a_new_env_entry_is_a_usable_kek_keys_value() -> None:
    entry = new_env_kek_entry("2026-11")
    kek = EnvKek.from_text(entry, "2026-11")
    sealed, pubkey = seal_new_session_key(uuid.uuid4(), kek)

    assert entry.startswith("2026-11:")
    assert new_env_kek_entry("2026-11") != entry
    assert sign_message(sealed, kek, b"m").verify(pubkey, b"m")


def test_a_new_env_entry_refuses_an_unprintable_id() -> None:
    with pytest.raises(KekConfigError, match="key id must match"):
        new_env_kek_entry("has spaces")


async def test_keygen_pkcs11_creates_the_configured_key_on_the_token(softhsm_token: SoftHsmToken) -> None:
    label = f"keygen-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEK_", "PKCS11_"))} | {
        "SOFTHSM2_CONF": str(softhsm_token.config),
        "PKCS11_MODULE": str(softhsm_token.module),
        "PKCS11_TOKEN_LABEL": softhsm_token.label,
        "PKCS11_PIN": softhsm_token.pin.get_secret_value(),
        "PKCS11_KEY_LABEL": label,
    }

    code, stdout, stderr = await _keygen(env, "pkcs11")

    assert code == 0, stderr
    assert stdout.strip() == f"pkcs11:{label}"
    kek = Pkcs11Kek(softhsm_token.module, softhsm_token.label, softhsm_token.pin, label)
    sealed, pubkey = seal_new_session_key(uuid.uuid4(), kek)
    assert sign_message(sealed, kek, b"m").verify(pubkey, b"m")


async def test_keygen_pkcs11_without_a_pin_says_what_is_missing() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEK_", "PKCS11_"))}

    code, _, stderr = await _keygen(env, "pkcs11")

    assert code == 2
    assert "keygen: KekConfigError: PKCS11_TOKEN_LABEL and PKCS11_PIN must be set" in stderr
