"""Input checks run before any SQL, so bad input becomes an InvalidRecordError naming the field (the database's CHECK
constraints stay as the backstop for writers that bypass this layer)."""

from __future__ import annotations

import re

from solders.pubkey import Pubkey
from solders.signature import Signature

from ephemeral_vault.db.errors import InvalidRecordError

_BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]+$")
_MAX_LAMPORTS = 2**63 - 1  # BIGINT; u64 amounts above this cannot exist on a real cluster (total supply < 2^63)


def _shown(value: object) -> str:
    """How a rejected value appears in an error. Anything longer than a public key is not echoed: a caller that
    mixed up arguments could be passing key material (a base58 ed25519 secret is 87-88 characters)."""
    if isinstance(value, str) and len(value) <= 44:
        return repr(value)
    if isinstance(value, str):
        return f"<a {len(value)}-character string>"
    return f"<a {type(value).__name__}>"


def pubkey(field: str, value: str) -> str:
    if not isinstance(value, str) or not 32 <= len(value) <= 44 or not _BASE58.match(value):
        raise InvalidRecordError(
            field, f"{_shown(value)} is not a base58 public key (32..44 characters of the base58 alphabet)"
        )
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise InvalidRecordError(field, f"{_shown(value)} does not decode to 32 bytes") from None
    return value


def signature(field: str, value: str) -> str:
    if not isinstance(value, str) or not 64 <= len(value) <= 88 or not _BASE58.match(value):
        raise InvalidRecordError(field, f"{_shown(value)} is not a base58 transaction signature")
    try:
        Signature.from_string(value)
    except ValueError:
        raise InvalidRecordError(field, f"{_shown(value)} does not decode to 64 bytes") from None
    return value


def lamports(field: str, value: int, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRecordError(field, f"lamports must be an integer, got {type(value).__name__}")
    low = 1 if positive else 0
    if not low <= value <= _MAX_LAMPORTS:
        raise InvalidRecordError(field, f"{value} is out of range ({low}..{_MAX_LAMPORTS} lamports)")
    return value


def one_of(field: str, value: str, allowed: frozenset[str]) -> str:
    if value not in allowed:
        raise InvalidRecordError(field, f"{_shown(value)} is not one of {', '.join(sorted(allowed))}")
    return value


def nonempty(field: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRecordError(field, "must be a non-empty string")
    return value
