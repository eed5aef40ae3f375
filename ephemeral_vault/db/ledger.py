"""What happened on chain: transactions, delegation approvals/revocations, vault cleanups. Every write is idempotent
on its natural key, so a retried activity never adds a second row."""

from __future__ import annotations

import uuid

import asyncpg

from ephemeral_vault.db import validate
from ephemeral_vault.db.audit import write_audit
from ephemeral_vault.db.connection import Db, transaction
from ephemeral_vault.db.errors import (
    ConflictingWriteError,
    InvalidRecordError,
    SessionNotFoundError,
    translate_constraint_error,
)
from ephemeral_vault.db.events import CHANNEL, notify_session_event_from_row
from ephemeral_vault.db.metrics import DEPOSIT_KINDS
from ephemeral_vault.db.models import (
    CLEANUP_TRIGGERS,
    DELEGATION_EVENTS,
    TX_KINDS,
    TX_STATUSES,
    CleanupEvent,
    DelegationEvent,
    NewCleanup,
    NewTransaction,
    RecordedTransaction,
    VaultTransaction,
)


def _validate_transaction(tx: NewTransaction) -> None:
    validate.signature("signature", tx.signature)
    if not isinstance(tx.session_id, uuid.UUID):
        raise InvalidRecordError("session_id", "must be a UUID")
    validate.one_of("kind", tx.kind, TX_KINDS)
    validate.one_of("status", tx.status, TX_STATUSES)
    validate.lamports("lamports", tx.lamports)
    validate.lamports("fee", tx.fee)
    if tx.slot is not None:
        validate.lamports("slot", tx.slot)  # same range rule: a non-negative 64-bit integer
    if tx.trade_ref is not None and tx.kind != "trade":
        raise InvalidRecordError("trade_ref", f"only trades carry a trade_ref, not {tx.kind!r}")
    if tx.at is not None and tx.at.tzinfo is None:
        raise InvalidRecordError("at", "must be timezone-aware")


async def record_transaction(db: Db, tx: NewTransaction) -> RecordedTransaction:
    """Insert the transaction, or move a recorded one forward (submitted → confirmed | failed). A final status never
    changes: recording `failed` over `confirmed` (a late, stale report) is returned as "unchanged". The same
    signature under another session or kind is a ConflictingWriteError. Inserts and advances NOTIFY and refresh
    the session's metrics in the same transaction — all of it one statement, `vault_transaction_record` (migration
    0004), because this runs twice for every transaction a session sends."""
    _validate_transaction(tx)
    try:
        row = await db.fetchrow(
            "SELECT (r.tx).*, r.inserted"
            " FROM vault_transaction_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) AS r",
            tx.signature, tx.session_id, tx.kind, tx.lamports, tx.fee, tx.status, tx.slot, tx.error, tx.trade_ref,
            tx.at, list(DEPOSIT_KINDS), CHANNEL,
        )
    except asyncpg.ForeignKeyViolationError:
        raise SessionNotFoundError(tx.session_id) from None
    except asyncpg.UniqueViolationError as err:
        if err.constraint_name == "vault_transactions_trade_ref_unique":
            raise ConflictingWriteError(
                f"trade {tx.trade_ref} of session {tx.session_id} already has a live transaction; "
                "mark that one failed before resubmitting the trade"
            ) from None
        raise translate_constraint_error(err) from None
    except asyncpg.IntegrityConstraintViolationError as err:
        raise translate_constraint_error(err) from None
    if row is not None:
        return RecordedTransaction(transaction=VaultTransaction.from_row(row),
                                   outcome="inserted" if row["inserted"] else "advanced")
    stored = VaultTransaction.from_row(
        await db.fetchrow("SELECT * FROM vault_transactions WHERE signature = $1", tx.signature)
    )
    if (stored.session_id, stored.kind) != (tx.session_id, tx.kind):
        raise ConflictingWriteError(
            f"signature {tx.signature} is recorded as a {stored.kind} of session {stored.session_id}, "
            f"not a {tx.kind} of session {tx.session_id}"
        )
    return RecordedTransaction(transaction=stored, outcome="unchanged")


async def list_transactions(db: Db, session_id: uuid.UUID, *, kind: str | None = None) -> list[VaultTransaction]:
    """The session's transactions, oldest first."""
    if kind is not None:
        validate.one_of("kind", kind, TX_KINDS)
    rows = await db.fetch(
        """
        SELECT * FROM vault_transactions
        WHERE session_id = $1 AND ($2::text IS NULL OR kind = $2)
        ORDER BY created_at, signature
        """,
        session_id, kind,
    )
    return [VaultTransaction.from_row(r) for r in rows]


async def get_transaction(db: Db, signature: str) -> VaultTransaction | None:
    row = await db.fetchrow("SELECT * FROM vault_transactions WHERE signature = $1", signature)
    return None if row is None else VaultTransaction.from_row(row)


async def record_delegation(
    db: Db,
    session_id: uuid.UUID,
    event: str,
    *,
    delegate: str,
    delegation_pda: str,
    signature: str | None = None,
    slot: int | None = None,
    actor: str = "system",
) -> tuple[DelegationEvent, bool]:
    """Record an approval or revocation (each happens once per session). Returns (event, created); a repeat returns
    the stored event. A repeat naming another delegate or signature is a ConflictingWriteError."""
    validate.one_of("event", event, DELEGATION_EVENTS)
    validate.pubkey("delegate", delegate)
    validate.pubkey("delegation_pda", delegation_pda)
    if signature is not None:
        validate.signature("signature", signature)
    if slot is not None:
        validate.lamports("slot", slot)
    async with transaction(db) as conn:
        try:
            row = await conn.fetchrow(
                """
                INSERT INTO delegation_history (session_id, event, delegate, delegation_pda, signature, slot)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (session_id, event) DO NOTHING
                RETURNING *
                """,
                session_id, event, delegate, delegation_pda, signature, slot,
            )
        except asyncpg.ForeignKeyViolationError:
            raise SessionNotFoundError(session_id) from None
        except asyncpg.IntegrityConstraintViolationError as err:
            raise translate_constraint_error(err) from None
        if row is None:
            stored = DelegationEvent.from_row(await conn.fetchrow(
                "SELECT * FROM delegation_history WHERE session_id = $1 AND event = $2", session_id, event
            ))
            if stored.delegate != delegate or (signature is not None and stored.signature not in (None, signature)):
                raise ConflictingWriteError(
                    f"session {session_id} already recorded delegation {event} with another delegate or signature"
                )
            return stored, False
        await write_audit(conn, actor=actor, action=f"delegation.{event}", session_id=session_id,
                          details={"delegate": delegate, "signature": signature})
        return DelegationEvent.from_row(row), True


async def list_delegations(db: Db, session_id: uuid.UUID) -> list[DelegationEvent]:
    rows = await db.fetch("SELECT * FROM delegation_history WHERE session_id = $1 ORDER BY id", session_id)
    return [DelegationEvent.from_row(r) for r in rows]


async def record_cleanup(db: Db, cleanup: NewCleanup, *, actor: str = "system") -> tuple[CleanupEvent, bool]:
    """Record a confirmed vault cleanup. Idempotent on the vault PDA (closed once): a repeat with the same signature
    returns the stored event and False; another signature for the same vault is a ConflictingWriteError."""
    validate.pubkey("vault_pda", cleanup.vault_pda)
    validate.signature("signature", cleanup.signature)
    validate.lamports("refunded", cleanup.refunded)
    validate.lamports("reward", cleanup.reward)
    validate.pubkey("cleaner", cleanup.cleaner)
    validate.one_of("trigger", cleanup.trigger, CLEANUP_TRIGGERS)
    async with transaction(db) as conn:
        try:
            row = await conn.fetchrow(
                """
                INSERT INTO cleanup_events (session_id, vault_pda, signature, refunded, reward, cleaner, trigger)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT DO NOTHING
                RETURNING *
                """,
                cleanup.session_id, cleanup.vault_pda, cleanup.signature, cleanup.refunded, cleanup.reward,
                cleanup.cleaner, cleanup.trigger,
            )
        except asyncpg.ForeignKeyViolationError:
            raise SessionNotFoundError(cleanup.session_id) from None  # type: ignore[arg-type]
        except asyncpg.IntegrityConstraintViolationError as err:
            raise translate_constraint_error(err) from None
        if row is None:
            stored_row = await conn.fetchrow(
                "SELECT * FROM cleanup_events WHERE vault_pda = $1 OR signature = $2 ORDER BY id LIMIT 1",
                cleanup.vault_pda, cleanup.signature,
            )
            stored = CleanupEvent.from_row(stored_row)
            if (stored.vault_pda, stored.signature, stored.session_id) != (
                cleanup.vault_pda, cleanup.signature, cleanup.session_id
            ):
                raise ConflictingWriteError(
                    f"vault {stored.vault_pda} was already cleaned by {stored.signature} "
                    f"(session {stored.session_id}); refusing a second cleanup record"
                )
            return stored, False
        event = CleanupEvent.from_row(row)
        await write_audit(conn, actor=actor, action="vault.cleaned", session_id=cleanup.session_id,
                          details={"vault_pda": cleanup.vault_pda, "signature": cleanup.signature,
                                   "refunded": cleanup.refunded, "reward": cleanup.reward,
                                   "trigger": cleanup.trigger})
        if cleanup.session_id is not None:
            await notify_session_event_from_row(conn, session_id=cleanup.session_id, kind="cleanup",
                                                data={"signature": cleanup.signature, "refunded": cleanup.refunded})
        return event, True


async def list_cleanups(db: Db, session_id: uuid.UUID) -> list[CleanupEvent]:
    rows = await db.fetch("SELECT * FROM cleanup_events WHERE session_id = $1 ORDER BY id", session_id)
    return [CleanupEvent.from_row(r) for r in rows]
