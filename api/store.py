"""What the API reads from PostgreSQL, through the data-access layer (ephemeral_vault/db): who owns a session, the
recorded row once the workflow is gone, a parent's sessions page by page, a session's anomalies. The workflows'
activities write `sessions` and `anomalies`; the API writes only its own auth tables (api/auth.py)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import TypeVar

import asyncpg

from api.errors import ApiError
from ephemeral_vault.analytics import Anomaly, list_anomalies
from ephemeral_vault.db.errors import InvalidRecordError
from ephemeral_vault.db.models import Session, SessionPage
from ephemeral_vault.db.sessions import find_session, list_sessions_by_parent
from ephemeral_vault.db.status import SessionStatus

MAX_PAGE = 100
T = TypeVar("T")
_DB_DOWN = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def database_unavailable() -> ApiError:
    return ApiError(503, "database_unavailable", "the database is unavailable; retry later",
                    headers={"Retry-After": "5"})


async def _db(call: Awaitable[T]) -> T:
    try:
        return await call
    except _DB_DOWN:
        raise database_unavailable() from None


async def owned_session(pool: asyncpg.Pool, session_id: uuid.UUID, wallet: str) -> Session | None:
    """The session when it exists AND belongs to `wallet`; None otherwise (the caller answers 404 either way)."""
    session = await _db(find_session(pool, session_id))
    if session is None or session.parent_wallet != wallet:
        return None
    return session


async def current_status(pool: asyncpg.Pool, session_id: uuid.UUID) -> str | None:
    """The recorded status, or None when there is no such session."""
    session = await _db(find_session(pool, session_id))
    return None if session is None else session.status.value


async def list_sessions(
    pool: asyncpg.Pool, wallet: str, *, limit: int, cursor: str | None, status: str | None
) -> SessionPage:
    statuses = frozenset({SessionStatus(status)}) if status else None
    try:
        return await _db(list_sessions_by_parent(pool, wallet, limit=limit, cursor=cursor, statuses=statuses))
    except InvalidRecordError as err:
        field = f"query.{err.field}"
        raise ApiError(422, "validation_error", f"{field}: not valid here", field=field) from None


async def session_anomalies(pool: asyncpg.Pool, session_id: uuid.UUID, *, min_severity: str | None,
                            limit: int) -> list[Anomaly]:
    return await _db(list_anomalies(pool, session_id=session_id, min_severity=min_severity, limit=limit))
