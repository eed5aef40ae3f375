import uuid

import asyncpg
import pytest

from ephemeral_vault.db.errors import ConflictingWriteError, InvalidRecordError, SessionNotFoundError
from ephemeral_vault.db.ledger import (
    list_cleanups,
    list_delegations,
    list_transactions,
    record_cleanup,
    record_delegation,
    record_transaction,
)
from ephemeral_vault.db.metrics import get_session_metrics
from ephemeral_vault.db.models import NewCleanup, NewTransaction
from tests.db.factories import active_session, pubkey, signature


async def test_a_transaction_moves_from_submitted_to_confirmed_once(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    sig = signature()
    submitted = NewTransaction(signature=sig, session_id=session.id, kind="trade", fee=5_000, trade_ref=uuid.uuid4())

    inserted = await record_transaction(db_pool, submitted)
    resent = await record_transaction(db_pool, submitted)
    confirmed = await record_transaction(
        db_pool, NewTransaction(signature=sig, session_id=session.id, kind="trade", status="confirmed", slot=42)
    )
    late_failure = await record_transaction(
        db_pool, NewTransaction(signature=sig, session_id=session.id, kind="trade", status="failed", error="late")
    )

    assert [inserted.outcome, resent.outcome, confirmed.outcome, late_failure.outcome] == [
        "inserted", "unchanged", "advanced", "unchanged"
    ]
    stored = (await list_transactions(db_pool, session.id))[0]
    assert (stored.status, stored.slot, stored.fee, stored.error) == ("confirmed", 42, 5_000, None)
    assert stored.confirmed_at is not None
    assert await db_pool.fetchval("SELECT count(*) FROM vault_transactions") == 1


async def test_recording_keeps_session_metrics_current(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool, max_deposit=1_000_000)
    await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=session.id, kind="open",
                                                     status="confirmed", lamports=250_000))
    for fee in (5_000, 7_000):
        await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=session.id, kind="trade",
                                                         status="confirmed", fee=fee))
    await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=session.id, kind="trade",
                                                     status="failed", fee=9_000))

    metrics = await get_session_metrics(db_pool, session.id)

    assert metrics is not None
    assert (metrics.trade_count, metrics.failed_tx_count, metrics.fees_total, metrics.deposits_total) == (
        2, 1, 12_000, 250_000
    )
    assert str(metrics.utilisation) == "0.250000"


async def test_one_signature_cannot_belong_to_two_sessions(db_pool: asyncpg.Pool) -> None:
    a, b = await active_session(db_pool), await active_session(db_pool)
    sig = signature()
    await record_transaction(db_pool, NewTransaction(signature=sig, session_id=a.id, kind="deposit", lamports=1))
    with pytest.raises(ConflictingWriteError, match="recorded as a deposit of session"):
        await record_transaction(db_pool, NewTransaction(signature=sig, session_id=b.id, kind="deposit",
                                                         status="confirmed", lamports=1))
    assert (await list_transactions(db_pool, a.id))[0].status == "submitted"


async def test_a_trade_ref_has_one_live_transaction_but_may_be_retried_after_a_failure(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    ref = uuid.uuid4()
    first = signature()
    await record_transaction(db_pool, NewTransaction(signature=first, session_id=session.id, kind="trade",
                                                     trade_ref=ref))
    with pytest.raises(ConflictingWriteError, match=f"trade {ref}"):
        await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=session.id,
                                                         kind="trade", trade_ref=ref))

    await record_transaction(db_pool, NewTransaction(signature=first, session_id=session.id, kind="trade",
                                                     status="failed", error="blockhash expired"))
    retry = await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=session.id,
                                                             kind="trade", trade_ref=ref))
    assert retry.outcome == "inserted"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"lamports": -1}, "lamports: -1 is out of range"),
        ({"fee": -10}, "fee: -10 is out of range"),
        ({"kind": "withdraw"}, "kind: 'withdraw' is not one of"),
        ({"status": "pending"}, "status: 'pending' is not one of"),
        ({"signature": "not-a-signature"}, "signature: 'not-a-signature' is not a base58 transaction signature"),
        ({"kind": "deposit", "trade_ref": uuid.UUID(int=1)}, "trade_ref: only trades carry a trade_ref"),
    ],
)
async def test_bad_transactions_are_refused_without_a_write(
    db_pool: asyncpg.Pool, overrides: dict[str, object], message: str
) -> None:
    session = await active_session(db_pool)
    values: dict[str, object] = {"signature": signature(), "session_id": session.id, "kind": "trade"}
    values.update(overrides)
    with pytest.raises(InvalidRecordError, match=message):
        await record_transaction(db_pool, NewTransaction(**values))  # type: ignore[arg-type]
    assert await db_pool.fetchval("SELECT count(*) FROM vault_transactions") == 0


async def test_the_database_rejects_negative_lamports_from_any_writer(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    with pytest.raises(asyncpg.CheckViolationError, match="vault_transactions_lamports_nonnegative"):
        await db_pool.execute(
            "INSERT INTO vault_transactions (signature, session_id, kind, lamports) VALUES ($1, $2, 'deposit', -1)",
            signature(), session.id,
        )


async def test_the_database_refuses_to_reopen_a_final_transaction(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    sig = signature()
    await record_transaction(db_pool, NewTransaction(signature=sig, session_id=session.id, kind="trade",
                                                     status="failed"))
    with pytest.raises(asyncpg.PostgresError, match="is failed and cannot become submitted"):
        await db_pool.execute("UPDATE vault_transactions SET status = 'submitted' WHERE signature = $1", sig)


async def test_a_transaction_for_an_unknown_session_is_a_typed_error(db_pool: asyncpg.Pool) -> None:
    with pytest.raises(SessionNotFoundError):
        await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=uuid.uuid4(),
                                                         kind="deposit"))


async def test_delegation_events_are_recorded_once(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    args = {"delegate": session.ephemeral_pubkey, "delegation_pda": session.delegation_pda, "signature": signature()}

    first, created = await record_delegation(db_pool, session.id, "approved", **args)
    again, created_again = await record_delegation(db_pool, session.id, "approved", **args)

    assert created and not created_again and again == first
    with pytest.raises(ConflictingWriteError):
        await record_delegation(db_pool, session.id, "approved", **{**args, "delegate": pubkey()})
    with pytest.raises(InvalidRecordError, match="event: 'paused'"):
        await record_delegation(db_pool, session.id, "paused", **args)
    assert len(await list_delegations(db_pool, session.id)) == 1


async def test_a_cleanup_is_recorded_once_per_vault(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    cleanup = NewCleanup(vault_pda=session.vault_pda, signature=signature(), refunded=900_000, reward=10_000,
                         cleaner=pubkey(), trigger="timer", session_id=session.id)

    event, created = await record_cleanup(db_pool, cleanup)
    again, created_again = await record_cleanup(db_pool, cleanup)

    assert created and not created_again and again == event
    with pytest.raises(ConflictingWriteError, match="already cleaned"):
        await record_cleanup(db_pool, NewCleanup(**{**cleanup.__dict__, "signature": signature()}))
    with pytest.raises(InvalidRecordError, match="refunded: -1 is out of range"):
        await record_cleanup(db_pool, NewCleanup(**{**cleanup.__dict__, "refunded": -1}))
    assert len(await list_cleanups(db_pool, session.id)) == 1


async def test_a_sweeper_cleanup_without_a_session_row_is_recorded(db_pool: asyncpg.Pool) -> None:
    orphan = NewCleanup(vault_pda=pubkey(), signature=signature(), refunded=1, reward=0, cleaner=pubkey(),
                        trigger="sweep")
    event, created = await record_cleanup(db_pool, orphan)
    assert created and event.session_id is None
