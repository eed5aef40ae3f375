"""Key custody for session keys (DESIGN.md §5): envelope encryption, signing inside one call, crypto-shredding."""

from ephemeral_vault.custody.env_kek import EnvKek, parse_kek_keys
from ephemeral_vault.custody.envelope import (
    rewrap,
    seal_new_session_key,
    shred,
    sign_message,
    sign_transaction,
    with_session_keypair,
)
from ephemeral_vault.custody.errors import (
    CustodyError,
    DekUnwrapError,
    KekConfigError,
    KekUnavailableError,
    KeyIntegrityError,
    KeyShreddedError,
    MalformedSealedKeyError,
    SecretDecryptionError,
    SignerMismatchError,
    UnknownKekIdError,
)
from ephemeral_vault.custody.kek import KekProvider, KekRing
from ephemeral_vault.custody.providers import kek_from_settings
from ephemeral_vault.custody.sealed_key import ALG_V1, SealedKey

__all__ = [
    "ALG_V1",
    "CustodyError",
    "DekUnwrapError",
    "EnvKek",
    "KekConfigError",
    "KekProvider",
    "KekRing",
    "KekUnavailableError",
    "KeyIntegrityError",
    "KeyShreddedError",
    "MalformedSealedKeyError",
    "SealedKey",
    "SecretDecryptionError",
    "SignerMismatchError",
    "UnknownKekIdError",
    "kek_from_settings",
    "parse_kek_keys",
    "rewrap",
    "seal_new_session_key",
    "shred",
    "sign_message",
    "sign_transaction",
    "with_session_keypair",
]
