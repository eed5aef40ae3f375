"""The `session_keys` table: encrypted ephemeral secrets (only ciphertext ever reaches it) and their shredding."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

import asyncpg

from ephemeral_vault.db import validate
from ephemeral_vault.db.audit import write_audit
from ephemeral_vault.db.connection import Db, transaction
from ephemeral_vault.db.errors import (
    InvalidRecordError,
    SessionKeyNotFoundError,
    SessionNotFoundError,
    translate_constraint_error,
)
from ephemeral_vault.db.models import NewSessionKey, SessionKeyRecord, StoredSessionKey

_COLUMNS = ("session_id", "ephemeral_pubkey", "kek_id", "wrapped_dek", "dek_nonce", "secret_ciphertext",
            "secret_nonce", "alg")
_NOT_NULL_BYTES = ("secret_ciphertext", "secret_nonce")


def _columns(key: NewSessionKey | Mapping[str, Any]) -> dict[str, Any]:
    values = asdict(key) if isinstance(key, NewSessionKey) else dict(key)
    missing = [c for c in _COLUMNS if c not in values]
    if missing:
        raise InvalidRecordError(missing[0], "missing from the session key record")
    if not isinstance(values["session_id"], uuid.UUID):
        raise InvalidRecordError("session_id", "must be a UUID")
    validate.pubkey("ephemeral_pubkey", str(values["ephemeral_pubkey"]))
    values["ephemeral_pubkey"] = str(values["ephemeral_pubkey"])
    validate.nonempty("kek_id", values["kek_id"])
    validate.nonempty("alg", values["alg"])
    for name in _COLUMNS[3:7]:
        value = values[name]
        if value is None and name not in _NOT_NULL_BYTES:
            continue
        if not isinstance(value, bytes | bytearray | memoryview) or len(value) == 0:
            raise InvalidRecordError(name, "must be non-empty bytes")  # never echo the value
    if len(values["secret_ciphertext"]) <= 64:
        raise InvalidRecordError("secret_ciphertext", "is not longer than a raw 64-byte secret: refusing plaintext")
    return {c: values[c] for c in _COLUMNS}


async def store_session_key(
    db: Db, key: NewSessionKey | Mapping[str, Any], *, actor: str = "custody"
) -> StoredSessionKey:
    """Store the session's encrypted key. Idempotent on session_id: if a key is already stored (a retried
    activity), the stored one is returned with created=False and nothing changes — the first key is the one the
    session's on-chain delegate was derived from, so it must never be replaced. `key` is a NewSessionKey or a column
    mapping such as custody's `SealedKey.to_record()`."""
    values = _columns(key)
    async with transaction(db) as conn:
        # FOR SHARE: the session cannot be deleted between this check and the insert.
        session_pubkey = await conn.fetchval(
            "SELECT ephemeral_pubkey FROM sessions WHERE id = $1 FOR SHARE", values["session_id"]
        )
        if session_pubkey is None:
            raise SessionNotFoundError(values["session_id"])
        if session_pubkey != values["ephemeral_pubkey"]:
            raise InvalidRecordError(
                "ephemeral_pubkey",
                f"{values['ephemeral_pubkey']} is not session {values['session_id']}'s key ({session_pubkey})",
            )
        try:
            row = await conn.fetchrow(
                f"""
                INSERT INTO session_keys ({", ".join(_COLUMNS)})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (session_id) DO NOTHING
                RETURNING *
                """,  # noqa: S608 -- column names are constants
                *values.values(),
            )
        except asyncpg.IntegrityConstraintViolationError as err:
            raise translate_constraint_error(err) from None
        if row is None:
            return StoredSessionKey(record=await load_session_key(conn, values["session_id"]), created=False)
        await write_audit(conn, actor=actor, action="session_key.stored", session_id=values["session_id"],
                          details={"kek_id": values["kek_id"], "alg": values["alg"]})
        return StoredSessionKey(record=SessionKeyRecord.from_row(row), created=True)


async def load_session_key(db: Db, session_id: uuid.UUID) -> SessionKeyRecord:
    """The stored (encrypted) key, shredded or not — check `is_shredded`. SessionKeyNotFoundError if none."""
    row = await db.fetchrow("SELECT * FROM session_keys WHERE session_id = $1", session_id)
    if row is None:
        raise SessionKeyNotFoundError(session_id)
    return SessionKeyRecord.from_row(row)


async def shred_session_key(db: Db, session_id: uuid.UUID, *, actor: str = "custody") -> datetime | None:
    """Crypto-shred: delete the wrapped data key (and its nonce) so the ciphertext can never be decrypted again.
    Idempotent: returns when the key was first shredded. None when the session never stored a key (nothing to
    destroy)."""
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            """
            UPDATE session_keys
            SET wrapped_dek = NULL, dek_nonce = NULL, shredded_at = now()
            WHERE session_id = $1 AND shredded_at IS NULL
            RETURNING shredded_at
            """,
            session_id,
        )
        if row is not None:
            await write_audit(conn, actor=actor, action="session_key.shredded", session_id=session_id, details={})
            return row["shredded_at"]
        return await conn.fetchval("SELECT shredded_at FROM session_keys WHERE session_id = $1", session_id)


async def record_key_rotation(
    db: Db, session_id: uuid.UUID, *, kek_id: str, wrapped_dek: bytes, dek_nonce: bytes | None, actor: str = "custody"
) -> SessionKeyRecord:
    """Replace the wrapped data key after re-wrapping it under a new KEK (the secret ciphertext is unchanged).
    A shredded key cannot be rotated back to life."""
    validate.nonempty("kek_id", kek_id)
    if not isinstance(wrapped_dek, bytes | bytearray) or not wrapped_dek:
        raise InvalidRecordError("wrapped_dek", "must be non-empty bytes")
    async with transaction(db) as conn:
        row = await conn.fetchrow(
            """
            UPDATE session_keys SET kek_id = $2, wrapped_dek = $3, dek_nonce = $4, rotated_at = now()
            WHERE session_id = $1 AND shredded_at IS NULL
            RETURNING *
            """,
            session_id, kek_id, wrapped_dek, dek_nonce,
        )
        if row is None:
            record = await load_session_key(conn, session_id)  # raises SessionKeyNotFoundError when absent
            raise InvalidRecordError("session_id", f"session {record.session_id}'s key is shredded; it stays shredded")
        await write_audit(conn, actor=actor, action="session_key.rotated", session_id=session_id,
                          details={"kek_id": kek_id})
        return SessionKeyRecord.from_row(row)
