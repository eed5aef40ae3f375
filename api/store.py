"""What the API reads from PostgreSQL (never writes, apart from its own auth tables): who owns a session, the
recorded row when the workflow is gone, and a parent's sessions page by page. The workflows write `sessions`."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from api.errors import ApiError

MAX_PAGE = 100


def database_unavailable() -> ApiError:
    return ApiError(503, "database_unavailable", "the database is unavailable; retry later",
                    headers={"Retry-After": "5"})


@dataclass(frozen=True)
class SessionRow:
    session_id: uuid.UUID
    status: str
    parent_wallet: str
    ephemeral_pubkey: str
    vault_pda: str
    delegation_pda: str
    max_deposit: int
    session_expiry: datetime
    vault_balance: int | None
    created_at: datetime
    last_error: str | None


_COLUMNS = ("id, status, parent_wallet, ephemeral_pubkey, vault_pda, delegation_pda, max_deposit, session_expiry, "
            "vault_balance, created_at, last_error")


def _row(record: asyncpg.Record) -> SessionRow:
    return SessionRow(
        session_id=record["id"], status=record["status"], parent_wallet=record["parent_wallet"],
        ephemeral_pubkey=record["ephemeral_pubkey"], vault_pda=record["vault_pda"],
        delegation_pda=record["delegation_pda"], max_deposit=record["max_deposit"],
        session_expiry=record["session_expiry"], vault_balance=record["vault_balance"],
        created_at=record["created_at"], last_error=record["last_error"],
    )


async def owned_session(pool: asyncpg.Pool, session_id: uuid.UUID, wallet: str) -> SessionRow | None:
    """The session row when it exists AND belongs to `wallet`; None otherwise (the caller answers 404 either way)."""
    try:
        record = await pool.fetchrow(
            f"SELECT {_COLUMNS} FROM sessions WHERE id = $1 AND parent_wallet = $2",  # noqa: S608 - constant columns
            session_id, wallet,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        raise database_unavailable() from None
    return None if record is None else _row(record)


async def session_exists(pool: asyncpg.Pool, session_id: uuid.UUID) -> bool:
    try:
        return bool(await pool.fetchval("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)", session_id))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        raise database_unavailable() from None


def encode_cursor(row: SessionRow) -> str:
    raw = json.dumps([row.created_at.isoformat(), str(row.session_id)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    bad = ApiError(422, "validation_error", "query.cursor: not a cursor returned by this API", field="query.cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at_text, session_id_text = json.loads(raw)
        created_at = datetime.fromisoformat(created_at_text)
        if created_at.tzinfo is None:
            raise ValueError("naive timestamp")
        return created_at.astimezone(UTC), uuid.UUID(session_id_text)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise bad from None


async def list_sessions(
    pool: asyncpg.Pool, wallet: str, *, limit: int, cursor: str | None, status: str | None
) -> tuple[list[SessionRow], str | None]:
    """Newest first, keyset-paged on (created_at, id) (index `sessions_by_parent`)."""
    after = decode_cursor(cursor) if cursor else None
    sql = f"SELECT {_COLUMNS} FROM sessions WHERE parent_wallet = $1 AND ($2::text IS NULL OR status = $2)"  # noqa: S608
    args: list[object] = [wallet, status]
    if after is not None:
        sql += " AND (created_at, id) < ($3, $4)"
        args += [after[0], after[1]]
    sql += f" ORDER BY created_at DESC, id DESC LIMIT {int(limit) + 1}"
    try:
        records = await pool.fetch(sql, *args)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        raise database_unavailable() from None
    rows = [_row(r) for r in records[:limit]]
    next_cursor = encode_cursor(rows[-1]) if len(records) > limit and rows else None
    return rows, next_cursor
