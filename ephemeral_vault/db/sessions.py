"""The `sessions` table: create, read, page, move through the lifecycle, record the observed vault balance."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ephemeral_vault.db import validate
from ephemeral_vault.db.audit import audit_actor, write_audit
from ephemeral_vault.db.connection import Db, transaction
from ephemeral_vault.db.errors import (
    ConflictingWriteError,
    InvalidRecordError,
    InvalidStatusTransitionError,
    SessionNotFoundError,
    translate_constraint_error,
)
from ephemeral_vault.db.events import CHANNEL, notify_session_event
from ephemeral_vault.db.models import NewSession, Session, SessionPage, TransitionResult
from ephemeral_vault.db.status import OPEN_ON_CHAIN, SessionStatus

MAX_PAGE_SIZE = 200
# The fields a retried create must repeat exactly; anything else is a different session under a reused id.
_IMMUTABLE = ("parent_wallet", "ephemeral_pubkey", "vault_pda", "delegation_pda", "max_deposit",
              "session_duration_s", "session_expiry", "workflow_id")


def _validate_new_session(new: NewSession) -> None:
    if not isinstance(new.id, uuid.UUID):
        raise InvalidRecordError("id", "must be a UUID")
    validate.pubkey("parent_wallet", new.parent_wallet)
    validate.pubkey("ephemeral_pubkey", new.ephemeral_pubkey)
    validate.pubkey("vault_pda", new.vault_pda)
    validate.pubkey("delegation_pda", new.delegation_pda)
    validate.lamports("max_deposit", new.max_deposit, positive=True)
    if isinstance(new.session_duration_s, bool) or not isinstance(new.session_duration_s, int) or not (
        0 < new.session_duration_s < 2**31
    ):
        raise InvalidRecordError("session_duration_s", f"{new.session_duration_s!r} must be a positive integer")
    if not isinstance(new.session_expiry, datetime) or new.session_expiry.tzinfo is None:
        raise InvalidRecordError("session_expiry", "must be a timezone-aware datetime")
    validate.nonempty("workflow_id", new.workflow_id)


async def create_session(db: Db, new: NewSession, *, actor: str = "system") -> tuple[Session, bool]:
    """Insert the session as CREATED. Idempotent on `id`: repeating the same call returns the stored row and False;
    the same id with different content is a ConflictingWriteError. Returns (session, created)."""
    _validate_new_session(new)
    async with transaction(db) as conn:
        try:
            row = await conn.fetchrow(
                """
                INSERT INTO sessions (id, parent_wallet, ephemeral_pubkey, vault_pda, delegation_pda, max_deposit,
                                      session_duration_s, session_expiry, workflow_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (id) DO NOTHING
                RETURNING *
                """,
                new.id, new.parent_wallet, new.ephemeral_pubkey, new.vault_pda, new.delegation_pda,
                new.max_deposit, new.session_duration_s, new.session_expiry, new.workflow_id,
            )
        except asyncpg.IntegrityConstraintViolationError as err:
            raise translate_constraint_error(err) from None
        if row is None:
            existing = await _get(conn, new.id)
            differing = [name for name in _IMMUTABLE if getattr(existing, name) != getattr(new, name)]
            if differing:
                raise ConflictingWriteError(
                    f"session {new.id} already exists with different {', '.join(differing)}"
                )
            return existing, False
        session = Session.from_row(row)
        await write_audit(conn, actor=actor, action="session.created", session_id=session.id,
                          details={"parent_wallet": session.parent_wallet, "max_deposit": session.max_deposit})
        await notify_session_event(conn, session_id=session.id, parent_wallet=session.parent_wallet,
                                   kind="session", status=session.status)
        return session, True


async def _get(conn: Db, session_id: uuid.UUID, *, for_update: bool = False) -> Session:
    sql = "SELECT * FROM sessions WHERE id = $1 FOR UPDATE" if for_update else "SELECT * FROM sessions WHERE id = $1"
    row = await conn.fetchrow(sql, session_id)
    if row is None:
        raise SessionNotFoundError(session_id)
    return Session.from_row(row)


async def get_session(db: Db, session_id: uuid.UUID) -> Session:
    """The session, or SessionNotFoundError."""
    return await _get(db, session_id)


async def find_session(db: Db, session_id: uuid.UUID) -> Session | None:
    """The session, or None."""
    row = await db.fetchrow("SELECT * FROM sessions WHERE id = $1", session_id)
    return None if row is None else Session.from_row(row)


def _encode_cursor(session: Session) -> str:
    raw = f"{session.created_at.isoformat()}|{session.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Only a cursor `_encode_cursor` could have produced: anything that does not re-encode to the same string (other
    offsets, out-of-range times, stray characters) is refused here rather than reaching the database."""
    try:
        created_at, session_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        parsed = parsed.astimezone(UTC)  # OverflowError for e.g. year 1 at +14:00
        parsed_id = uuid.UUID(session_id)
        raw = f"{parsed.isoformat()}|{parsed_id}"
        if base64.urlsafe_b64encode(raw.encode()).decode() != cursor:
            raise ValueError("not canonical")
        return parsed, parsed_id
    except (ValueError, OverflowError, UnicodeError):
        raise InvalidRecordError("cursor", "not a cursor returned by list_sessions_by_parent") from None


async def list_sessions_by_parent(
    db: Db,
    parent_wallet: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    statuses: frozenset[SessionStatus] | None = None,
) -> SessionPage:
    """The parent's sessions, newest first, keyset-paged (stable while new sessions arrive)."""
    validate.pubkey("parent_wallet", parent_wallet)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRecordError("limit", f"{limit!r} must be an integer in 1..{MAX_PAGE_SIZE}")
    after_created, after_id = _decode_cursor(cursor) if cursor else (None, None)
    status_list = sorted(SessionStatus(s).value for s in statuses) if statuses else None
    rows = await db.fetch(
        """
        SELECT * FROM sessions
        WHERE parent_wallet = $1
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
          AND ($4::text[] IS NULL OR status = ANY($4))
        ORDER BY created_at DESC, id DESC
        LIMIT $5
        """,
        parent_wallet, after_created, after_id, status_list, limit + 1,
    )
    items = [Session.from_row(r) for r in rows[:limit]]
    next_cursor = _encode_cursor(items[-1]) if len(rows) > limit else None
    return SessionPage(items=items, next_cursor=next_cursor)


async def transition_status(
    db: Db,
    session_id: uuid.UUID,
    target: SessionStatus | str,
    *,
    actor: str = "system",
    details: dict[str, Any] | None = None,
    last_error: str | None = None,
    session_expiry: datetime | None = None,
) -> TransitionResult:
    """Move the session to `target` if the lifecycle allows it, with an audit row and a NOTIFY in the same transaction
    — one statement, `session_transition` (migration 0005), as this runs at every step of a session's lifecycle.

    Already at `target`: returns changed=False and writes nothing (a retried activity). Not allowed:
    InvalidStatusTransitionError and nothing written. `session_expiry` may be given on activation, to adopt the
    on-chain expiry (the chain's clock is the one that counts)."""
    try:
        target = SessionStatus(target)
    except ValueError:
        raise InvalidRecordError("status", f"{target!r} is not a session status") from None
    if session_expiry is not None and (target is not SessionStatus.ACTIVE or session_expiry.tzinfo is None):
        raise InvalidRecordError("session_expiry", "may only be set, timezone-aware, when activating")
    row = await db.fetchrow(
        "SELECT (r.session_row).*, r.previous_status, r.outcome"
        " FROM session_transition($1, $2, $3, $4, $5, $6::text::jsonb, $7) AS r",
        session_id, target.value, last_error, session_expiry, audit_actor(actor),
        json.dumps(details or {}, default=str),
        CHANNEL,
    )
    if row is None:
        raise SessionNotFoundError(session_id)
    if row["outcome"] == "refused":
        raise InvalidStatusTransitionError(session_id, SessionStatus(row["previous_status"]), target)
    return TransitionResult(session=Session.from_row(row), changed=row["outcome"] == "changed")


async def record_vault_balance(db: Db, session_id: uuid.UUID, lamports: int) -> Session:
    """Store the vault balance observed on chain; NOTIFY only when it changed."""
    validate.lamports("vault_balance", lamports)
    async with transaction(db) as conn:
        before = await _get(conn, session_id, for_update=True)
        if before.vault_balance == lamports:
            return before
        row = await conn.fetchrow("UPDATE sessions SET vault_balance = $2 WHERE id = $1 RETURNING *", session_id,
                                  lamports)
        session = Session.from_row(row)
        await notify_session_event(conn, session_id=session_id, parent_wallet=session.parent_wallet,
                                   kind="balance", status=session.status, data={"vault_balance": lamports})
        return session


async def record_session_error(db: Db, session_id: uuid.UUID, error: str) -> None:
    """Keep the latest error of a session for operators (does not change its status)."""
    result = await db.execute("UPDATE sessions SET last_error = $2 WHERE id = $1", session_id, error[:2000])
    if result == "UPDATE 0":
        raise SessionNotFoundError(session_id)


async def list_expired_sessions(db: Db, *, now: datetime | None = None, limit: int = 100) -> list[Session]:
    """For the sweeper: sessions whose vault may still be on chain (ACTIVE, REVOKED, EXPIRED) and whose expiry has
    passed, the longest-expired first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRecordError("limit", f"{limit!r} must be a positive integer")
    rows = await db.fetch(
        """
        SELECT * FROM sessions
        WHERE status = ANY($1::text[]) AND session_expiry <= $2
        ORDER BY session_expiry, id
        LIMIT $3
        """,
        sorted(s.value for s in OPEN_ON_CHAIN), now or datetime.now(UTC), limit,
    )
    return [Session.from_row(r) for r in rows]
