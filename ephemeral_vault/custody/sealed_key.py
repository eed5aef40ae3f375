"""What custody stores for one session: the `SealedKey` record and the AAD that binds it to its row."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from solders.pubkey import Pubkey

from ephemeral_vault.custody.errors import MalformedSealedKeyError

# Version tag of the whole envelope format. It is part of every AAD, so a row cannot be "downgraded" by editing
# the column: v1 = 64-byte ed25519 secret under AES-256-GCM (96-bit random nonce) with a per-session 256-bit data
# key; the data key wrapped by the KEK provider (its own nonce, if any, is inside the wrapped blob).
ALG_V1 = "ev-envelope-v1"
NONCE_LEN = 12
SECRET_LEN = 64
GCM_TAG_LEN = 16

# Purpose tags keep the two AADs distinct: a wrapped data key can never be fed where a secret ciphertext is expected.
_SECRET_PURPOSE = b"ephemeral-vault/session-secret"
_DEK_PURPOSE = b"ephemeral-vault/session-dek"


def _aad(purpose: bytes, alg: str, session_id: uuid.UUID, pubkey: Pubkey) -> bytes:
    # Fixed-length fields after a NUL-terminated tag: the encoding is unambiguous without length prefixes.
    return purpose + b"\x00" + alg.encode() + b"\x00" + session_id.bytes + bytes(pubkey)


def secret_aad(alg: str, session_id: uuid.UUID, pubkey: Pubkey) -> bytes:
    return _aad(_SECRET_PURPOSE, alg, session_id, pubkey)


def dek_aad(alg: str, session_id: uuid.UUID, pubkey: Pubkey) -> bytes:
    return _aad(_DEK_PURPOSE, alg, session_id, pubkey)


def _length(value: bytes | None) -> str:
    return "None" if value is None else f"<{len(value)} bytes>"


@dataclass(frozen=True, repr=False)
class SealedKey:
    """One row of `session_keys`. Holds only ciphertext; its repr shows byte lengths, never contents."""

    session_id: uuid.UUID
    ephemeral_pubkey: Pubkey
    kek_id: str
    wrapped_dek: bytes | None  # None once shredded
    secret_ciphertext: bytes  # 64-byte secret + 16-byte GCM tag
    secret_nonce: bytes
    dek_nonce: bytes | None = None  # v1 providers embed their nonce in wrapped_dek; the column stays NULL
    alg: str = ALG_V1

    def __repr__(self) -> str:
        return (
            f"SealedKey(session_id={self.session_id}, ephemeral_pubkey={self.ephemeral_pubkey}, "
            f"kek_id={self.kek_id!r}, wrapped_dek={_length(self.wrapped_dek)}, "
            f"secret_ciphertext={_length(self.secret_ciphertext)}, secret_nonce={_length(self.secret_nonce)}, "
            f"dek_nonce={_length(self.dek_nonce)}, alg={self.alg!r})"
        )

    __str__ = __repr__

    @property
    def is_shredded(self) -> bool:
        return self.wrapped_dek is None

    def shredded(self) -> SealedKey:
        return replace(self, wrapped_dek=None, dek_nonce=None)

    def to_record(self) -> dict[str, Any]:
        """Column values for `session_keys` (timestamps are the database's business)."""
        return {
            "session_id": self.session_id,
            "ephemeral_pubkey": str(self.ephemeral_pubkey),
            "kek_id": self.kek_id,
            "wrapped_dek": self.wrapped_dek,
            "dek_nonce": self.dek_nonce,
            "secret_ciphertext": self.secret_ciphertext,
            "secret_nonce": self.secret_nonce,
            "alg": self.alg,
        }

    @classmethod
    def from_record(cls, row: Mapping[str, Any] | Any) -> SealedKey:
        """Build from a `session_keys` row: an asyncpg Record, a dict, or an object with those attributes (such as
        `ephemeral_vault.db.models.SessionKeyRecord`). Checks shapes, not authenticity."""
        if not isinstance(row, Mapping) and not hasattr(row, "keys"):
            row = {name: getattr(row, name) for name in _COLUMNS}
        session_id = row["session_id"]
        if not isinstance(session_id, uuid.UUID):
            session_id = uuid.UUID(str(session_id))
        try:
            pubkey = Pubkey.from_string(row["ephemeral_pubkey"])
        except (ValueError, TypeError):
            raise MalformedSealedKeyError(f"session {session_id}: ephemeral_pubkey is not a base58 pubkey") from None
        return cls(
            session_id=session_id,
            ephemeral_pubkey=pubkey,
            kek_id=row["kek_id"],
            wrapped_dek=_opt_bytes(row["wrapped_dek"]),
            dek_nonce=_opt_bytes(row["dek_nonce"]),
            secret_ciphertext=bytes(row["secret_ciphertext"]),
            secret_nonce=bytes(row["secret_nonce"]),
            alg=row["alg"],
        )


_COLUMNS = (
    "session_id",
    "ephemeral_pubkey",
    "kek_id",
    "wrapped_dek",
    "dek_nonce",
    "secret_ciphertext",
    "secret_nonce",
    "alg",
)


def _opt_bytes(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)
