"""`session_metrics`: one row per session, recomputed from its transactions by one statement.

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
    """Recompute and store the session's metrics; returns them. Trades and fees count confirmed transactions only."""
    row = await conn.fetchrow(
        """
        WITH tx AS (
            SELECT
                count(*) FILTER (WHERE kind = 'trade' AND status = 'confirmed')          AS trade_count,
                count(*) FILTER (WHERE status = 'failed')                                 AS failed_tx_count,
                count(*) FILTER (WHERE status = 'submitted')                              AS pending_tx_count,
                coalesce(sum(fee) FILTER (WHERE kind = 'trade' AND status = 'confirmed'), 0)   AS fees_total,
                coalesce(sum(lamports) FILTER (WHERE kind = ANY($2) AND status = 'confirmed'), 0) AS deposits_total,
                min(created_at) FILTER (WHERE kind = 'trade' AND status = 'confirmed')    AS first_trade_at,
                max(created_at) FILTER (WHERE kind = 'trade' AND status = 'confirmed')    AS last_trade_at,
                max(created_at)                                                           AS last_tx_at
            FROM vault_transactions WHERE session_id = $1
        )
        INSERT INTO session_metrics AS m
            (session_id, trade_count, failed_tx_count, pending_tx_count, fees_total, deposits_total, max_deposit,
             utilisation, first_trade_at, last_trade_at, duration_s, updated_at)
        SELECT s.id, tx.trade_count, tx.failed_tx_count, tx.pending_tx_count, tx.fees_total, tx.deposits_total,
               s.max_deposit,
               round(tx.deposits_total::numeric / s.max_deposit, 6),
               tx.first_trade_at, tx.last_trade_at,
               greatest(0, floor(extract(epoch FROM
                   coalesce(s.closed_at, greatest(tx.last_tx_at, s.activated_at), s.created_at)
                   - coalesce(s.activated_at, s.created_at))))::bigint,
               now()
        FROM sessions s, tx
        WHERE s.id = $1
        ON CONFLICT (session_id) DO UPDATE
        SET trade_count = excluded.trade_count, failed_tx_count = excluded.failed_tx_count,
            pending_tx_count = excluded.pending_tx_count, fees_total = excluded.fees_total,
            deposits_total = excluded.deposits_total, max_deposit = excluded.max_deposit,
            utilisation = excluded.utilisation, first_trade_at = excluded.first_trade_at,
            last_trade_at = excluded.last_trade_at, duration_s = excluded.duration_s, updated_at = now()
        RETURNING m.*
        """,
        session_id, list(DEPOSIT_KINDS),
    )
    if row is None:
        raise SessionNotFoundError(session_id)
    return SessionMetrics.from_row(row)


async def get_session_metrics(db: Db, session_id: uuid.UUID) -> SessionMetrics | None:
    row = await db.fetchrow("SELECT * FROM session_metrics WHERE session_id = $1", session_id)
    return None if row is None else SessionMetrics.from_row(row)
