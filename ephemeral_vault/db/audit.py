"""The audit trail: one row per state change, written in the same transaction as the change."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from ephemeral_vault.db.connection import Db
from ephemeral_vault.db.models import AuditEntry


def audit_actor(actor: str | None) -> str:
    """Who an audit row names: the given actor, or "unknown" for none or an empty one. Every audit writer goes through
    this, `session_transition` (migration 0005) included, whose SQL fallback catches only NULL."""
    return actor or "unknown"


async def write_audit(
    conn: asyncpg.Connection, *, actor: str, action: str, session_id: uuid.UUID | None, details: dict[str, Any]
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (actor, action, session_id, details) VALUES ($1, $2, $3, $4::text::jsonb)",
        audit_actor(actor),
        action,
        session_id,
        # as text, so this works whether or not the connection has create_pool's jsonb codec
        json.dumps(details, default=str),
    )


async def list_audit(db: Db, session_id: uuid.UUID) -> list[AuditEntry]:
    rows = await db.fetch("SELECT * FROM audit_log WHERE session_id = $1 ORDER BY id", session_id)
    return [AuditEntry.from_row(r) for r in rows]
