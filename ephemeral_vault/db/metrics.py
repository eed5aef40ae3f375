"""`session_metrics`: one row per session, recomputed from its transactions by one statement (a function in the
database, migration 0004, so recording a transaction can run it in the same round trip).

Recomputing (rather than incrementing) makes the refresh idempotent and self-healing: calling it twice, or after a
retried write, gives the same row. It reads one session's rows through the (session_id, created_at) index, so it is
cheap enough to run inside every record_transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from ephemeral_vault.db.connection import Db
from ephemeral_vault.db.errors import SessionNotFoundError
from ephemeral_vault.db.models import RowModel

# Deposits are the confirmed lamports moved parent → vault: the session-opening transaction carries the first one.
DEPOSIT_KINDS = ("open", "deposit")


@dataclass(frozen=True)
class SessionMetrics(RowModel):
    session_id: uuid.UUID
    trade_count: int
    failed_tx_count: int
    pending_tx_count: int
    fees_total: int
    deposits_total: int
    max_deposit: int
    utilisation: Decimal
    first_trade_at: datetime | None
    last_trade_at: datetime | None
    duration_s: int
    updated_at: datetime


async def refresh_session_metrics(conn: asyncpg.Connection | asyncpg.Pool, session_id: uuid.UUID) -> SessionMetrics:
    """Recompute and store the session's metrics; returns them. Trades and fees count confirmed transactions only.
    The statement is `session_metrics_refresh` (migration 0004), which recording a transaction runs too."""
    row = await conn.fetchrow("SELECT * FROM session_metrics_refresh($1, $2)", session_id, list(DEPOSIT_KINDS))
    if row is None or row["session_id"] is None:  # the function returns a NULL row when there is no session
        raise SessionNotFoundError(session_id)
    return SessionMetrics.from_row(row)


async def get_session_metrics(db: Db, session_id: uuid.UUID) -> SessionMetrics | None:
    row = await db.fetchrow("SELECT * FROM session_metrics WHERE session_id = $1", session_id)
    return None if row is None else SessionMetrics.from_row(row)
