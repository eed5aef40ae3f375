"""Every SessionWorkflow path on the time-skipping test server, with the real activities against PostgreSQL and the
local chain over HTTP. Time skips only while a test awaits the workflow's result (or calls env.sleep)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from ephemeral_vault.chain.send import SignedTx
from ephemeral_vault.db import ledger, session_keys, sessions
from tests.workflows.conftest import (
    DURATION,
    INITIAL_DEPOSIT,
    MAX_DEPOSIT,
    Harness,
    rpc_call,
    wallet_sign,
    warp_chain,
)
from workflows.messages import (
    APPROVE_UPDATE,
    QUOTE_DEPOSIT_UPDATE,
    REFRESH_OPENING_UPDATE,
    REVOKE_UPDATE,
    STATUS_QUERY,
    SUBMIT_DEPOSIT_UPDATE,
    TRADE_UPDATE,
    ApproveRequest,
    ApproveResult,
    CreateSessionResult,
    DepositQuote,
    DepositRequest,
    DepositResult,
    ErrorType,
    RevokeRequest,
    RevokeResult,
    SessionState,
    SessionStatus,
    SubmitDepositRequest,
    TradeRequest,
    TradeResult,
)


async def test_approve_verifies_the_vault_on_chain_and_activates_the_session(harness: Harness, parent) -> None:
    created, handle, approved = await harness.open(parent)

    assert approved.status is SessionState.ACTIVE
    assert approved.vault_pda == created.vault_pda and approved.signature
    assert approved.total_deposited == INITIAL_DEPOSIT
    vault = await harness.chain.fetch_vault(Pubkey.from_string(created.vault_pda))
    assert approved.session_expiry == vault.session_expiry == vault.created_at + DURATION
    row = await sessions.get_session(harness.pool, uuid.UUID(created.session_id))
    assert row.status == "ACTIVE" and int(row.session_expiry.timestamp()) == vault.session_expiry
    status = await handle.query(STATUS_QUERY, result_type=SessionStatus)
    assert status.status is SessionState.ACTIVE and status.ephemeral_pubkey == created.ephemeral_pubkey
    await harness.export_history(handle, "approve")
    await handle.terminate("test over")


async def test_session_never_approved_is_abandoned_and_its_key_shredded(harness: Harness, parent) -> None:
    created, handle = await harness.create(parent)

    outcome = await harness.finish(handle)  # time skips past the approval window

    assert outcome.status is SessionState.ABANDONED
    row = await sessions.get_session(harness.pool, uuid.UUID(created.session_id))
    assert row.status == "ABANDONED"
    key = await session_keys.load_session_key(harness.pool, uuid.UUID(created.session_id))
    assert key.is_shredded and key.wrapped_dek is None
    await harness.export_history(handle, "abandoned")


async def test_deposit_is_sized_signed_by_the_parent_submitted_and_recorded(harness: Harness, parent) -> None:
    created, handle, _ = await harness.open(parent, initial_deposit_lamports=0)

    quote = await handle.execute_update(
        QUOTE_DEPOSIT_UPDATE, DepositRequest(expected_trades=10), result_type=DepositQuote
    )
    signed = wallet_sign(quote.unsigned_transaction, parent)
    result = await handle.execute_update(
        SUBMIT_DEPOSIT_UPDATE, SubmitDepositRequest(signed_transaction=signed), result_type=DepositResult
    )
    again = await handle.execute_update(
        SUBMIT_DEPOSIT_UPDATE, SubmitDepositRequest(signed_transaction=signed), result_type=DepositResult
    )

    assert quote.amount_lamports >= 10 * 5_000 and quote.headroom_lamports == MAX_DEPOSIT
    assert result.amount_lamports == quote.amount_lamports == result.total_deposited
    assert again.signature == result.signature  # the same signed transaction is confirmed, not deposited twice
    vault = await harness.chain.fetch_vault(Pubkey.from_string(created.vault_pda))
    assert vault.total_deposited == quote.amount_lamports
    deposits = await ledger.list_transactions(harness.pool, uuid.UUID(created.session_id), kind="deposit")
    assert [(d.signature, d.status, d.lamports) for d in deposits] == [
        (result.signature, "confirmed", quote.amount_lamports)
    ]
    await harness.export_history(handle, "deposit")
    await handle.terminate("test over")


async def test_trades_execute_on_chain_and_a_duplicate_trade_id_returns_the_first_result(
    harness: Harness, parent
) -> None:
    created, handle, _ = await harness.open(parent)
    first_id, second_id = str(uuid.uuid4()), str(uuid.uuid4())

    first = await handle.execute_update(
        TRADE_UPDATE, TradeRequest(trade_id=first_id, fee_lamports=5_000), result_type=TradeResult
    )
    duplicates = await asyncio.gather(
        *(
            handle.execute_update(
                TRADE_UPDATE, TradeRequest(trade_id=first_id, fee_lamports=5_000), result_type=TradeResult
            )
            for _ in range(3)
        )
    )
    concurrent = await asyncio.gather(
        *(
            handle.execute_update(
                TRADE_UPDATE, TradeRequest(trade_id=second_id, fee_lamports=7_000), result_type=TradeResult
            )
            for _ in range(2)
        )
    )

    assert all(d == first for d in duplicates)
    assert concurrent[0] == concurrent[1] and concurrent[0].signature != first.signature
    vault = await harness.chain.fetch_vault(Pubkey.from_string(created.vault_pda))
    assert (vault.trade_count, vault.total_spent) == (2, 12_000)
    trades = await ledger.list_transactions(harness.pool, uuid.UUID(created.session_id), kind="trade")
    assert sorted((str(t.trade_ref), t.status) for t in trades) == sorted(
        [(first_id, "confirmed"), (second_id, "confirmed")]
    )
    status = await handle.query(STATUS_QUERY, result_type=SessionStatus)
    assert (status.trade_count, status.total_spent) == (2, 12_000)
    await harness.export_history(handle, "trades_and_duplicates")
    await handle.terminate("test over")


async def test_invalid_updates_are_rejected_by_validators_before_anything_happens(harness: Harness, parent) -> None:
    created, handle = await harness.create(parent)

    before_approval = await rejection(handle, TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=1))
    wrong_vault = await rejection(handle, APPROVE_UPDATE, ApproveRequest(vault_pda=str(Keypair().pubkey())))
    bad_tx = await rejection(
        handle, APPROVE_UPDATE, ApproveRequest(vault_pda=created.vault_pda, signed_transaction="not base64!")
    )
    _, handle, _ = await harness.open(parent)
    fee_too_high = await rejection(
        handle, TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=1_000_001)
    )
    not_a_uuid = await rejection(handle, TRADE_UPDATE, TradeRequest(trade_id="trade-1", fee_lamports=1))
    no_quote = await rejection(handle, SUBMIT_DEPOSIT_UPDATE, SubmitDepositRequest(signed_transaction="AAAA"))
    both = await rejection(handle, QUOTE_DEPOSIT_UPDATE, DepositRequest(expected_trades=1, amount_lamports=1))

    assert before_approval == ErrorType.INVALID_STATE
    assert wrong_vault == ErrorType.VAULT_MISMATCH
    assert bad_tx == ErrorType.INVALID_REQUEST
    assert fee_too_high == not_a_uuid == both == ErrorType.INVALID_REQUEST
    assert no_quote == ErrorType.INVALID_STATE
    # Rejected updates leave no trace in history: only the create and approve updates were accepted.
    history = await handle.fetch_history()
    accepted = [e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert len(accepted) == 2
    assert (await harness.chain.fetch_vault(Pubkey.from_string(handle_vault(history)))).trade_count == 0
    await harness.export_history(handle, "validator_rejections")
    await handle.terminate("test over")


async def test_revoke_shreds_the_key_at_once_then_settles_on_chain_and_cleans_up(harness: Harness, parent) -> None:
    created, handle, _ = await harness.open(parent)
    await handle.execute_update(
        TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=5_000), result_type=TradeResult
    )
    parent_before = await harness.chain.balance(parent.pubkey())

    revoked = await handle.execute_update(REVOKE_UPDATE, RevokeRequest(reason="done"), result_type=RevokeResult)
    key = await session_keys.load_session_key(harness.pool, uuid.UUID(created.session_id))
    refused = await rejection(handle, TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=1))
    assert revoked.unsigned_transaction is not None
    on_chain = await handle.execute_update(
        REVOKE_UPDATE,
        RevokeRequest(signed_transaction=wallet_sign(revoked.unsigned_transaction, parent)),
        result_type=RevokeResult,
    )
    outcome = await harness.finish(handle)

    assert revoked.status is SessionState.REVOKED and revoked.key_shredded and not revoked.revoked_on_chain
    assert key.is_shredded
    assert refused == ErrorType.SESSION_REVOKED
    assert on_chain.revoked_on_chain and on_chain.signature
    assert outcome.status is SessionState.CLEANED and outcome.cleanup_signature
    assert await harness.chain.raw_account(Pubkey.from_string(created.vault_pda)) is None
    assert await harness.chain.balance(Pubkey.from_string(created.ephemeral_pubkey)) == 0  # fee float swept back
    assert await harness.chain.balance(parent.pubkey()) > parent_before
    cleanups = await ledger.list_cleanups(harness.pool, uuid.UUID(created.session_id))
    assert [(c.signature, c.trigger) for c in cleanups] == [(outcome.cleanup_signature, "manual")]
    assert (await sessions.get_session(harness.pool, uuid.UUID(created.session_id))).status == "CLEANED"
    await harness.export_history(handle, "revoke")


async def test_revoke_waits_for_a_trade_in_flight_before_sweeping_the_fee_float(harness: Harness, parent) -> None:
    """A trade already signed reimburses its fee to the session key when it lands: the revoke's sweep (then shred)
    must come after it, or that reimbursement is stranded on a key nobody can sign for again."""
    created, handle, _ = await harness.open(parent)
    trade_id = str(uuid.uuid4())
    in_flight = await handle.start_update(
        TRADE_UPDATE,
        TradeRequest(trade_id=trade_id, fee_lamports=5_000),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        result_type=TradeResult,
    )
    revoked = await handle.execute_update(REVOKE_UPDATE, RevokeRequest(reason="done"), result_type=RevokeResult)
    traded = await in_flight.result()
    assert revoked.unsigned_transaction is not None
    await handle.execute_update(
        REVOKE_UPDATE,
        RevokeRequest(signed_transaction=wallet_sign(revoked.unsigned_transaction, parent)),
        result_type=RevokeResult,
    )
    outcome = await harness.finish(handle)

    assert traded.trade_count == 1 and traded.signature
    assert outcome.status is SessionState.CLEANED
    assert await harness.chain.balance(Pubkey.from_string(created.ephemeral_pubkey)) == 0  # nothing stranded
    events = (await handle.fetch_history()).events
    trade_done = sweep_scheduled = None
    scheduled_type = {}
    for i, e in enumerate(events):
        if e.HasField("activity_task_scheduled_event_attributes"):
            name = e.activity_task_scheduled_event_attributes.activity_type.name
            scheduled_type[e.event_id] = name
            if name == "sweep_fee_float" and sweep_scheduled is None:
                sweep_scheduled = i
        if e.HasField("activity_task_completed_event_attributes"):
            if scheduled_type[e.activity_task_completed_event_attributes.scheduled_event_id] == "execute_trade_onchain":
                trade_done = i
    assert trade_done is not None and sweep_scheduled is not None
    assert trade_done < sweep_scheduled  # the sweep was scheduled only once the trade had landed
    sweeps = await ledger.list_transactions(harness.pool, uuid.UUID(created.session_id), kind="sweep")
    assert [s.status for s in sweeps] == ["confirmed"]
    trades = await ledger.list_transactions(harness.pool, uuid.UUID(created.session_id), kind="trade")
    assert [(str(t.trade_ref), t.status) for t in trades] == [(trade_id, "confirmed")]


async def test_expiry_cleans_up_once_the_chain_clock_has_passed_session_expiry(harness: Harness, parent) -> None:
    created, handle, _ = await harness.open(parent, session_duration_seconds=120)
    await handle.execute_update(
        TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=5_000), result_type=TradeResult
    )

    await warp_chain(harness.localnet_url, 125)  # the chain's clock passes session_expiry...
    outcome = await harness.finish(handle)  # ...and Temporal's timer fires as time skips

    assert outcome.status is SessionState.CLEANED and outcome.trade_count == 1
    assert await harness.chain.raw_account(Pubkey.from_string(created.vault_pda)) is None
    assert await harness.chain.balance(Pubkey.from_string(created.ephemeral_pubkey)) == 0
    cleanups = await ledger.list_cleanups(harness.pool, uuid.UUID(created.session_id))
    assert [(c.signature, c.trigger, c.cleaner) for c in cleanups] == [
        (outcome.cleanup_signature, "timer", str(harness.resources.cleaner.pubkey()))
    ]
    key = await session_keys.load_session_key(harness.pool, uuid.UUID(created.session_id))
    assert key.is_shredded
    assert (await sessions.get_session(harness.pool, uuid.UUID(created.session_id))).status == "CLEANED"
    await harness.export_history(handle, "expiry")


async def test_trade_after_expiry_is_refused_before_anything_is_signed(harness: Harness, parent) -> None:
    created, handle, _ = await harness.open(parent, session_duration_seconds=120)

    # Temporal's clock passes the expiry (time skips to the timer); the chain's has not, so cleanup keeps retrying.
    await harness.skip_until(handle, lambda s: s.status is SessionState.EXPIRED)
    refused = await rejection(handle, TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=5_000))
    status = await handle.query(STATUS_QUERY, result_type=SessionStatus)

    assert refused == ErrorType.SESSION_EXPIRED
    assert status.status is SessionState.EXPIRED
    assert await ledger.list_transactions(harness.pool, uuid.UUID(created.session_id), kind="trade") == []
    await warp_chain(harness.localnet_url, 130)
    assert (await harness.finish(handle)).status is SessionState.CLEANED
    await harness.export_history(handle, "trade_after_expiry")


async def test_long_sessions_continue_as_new_keeping_state_and_trade_ids(harness: Harness, parent) -> None:
    harness.resources.max_trades_per_run = 2
    created, handle, _ = await harness.open(parent)
    first_run = (await handle.describe()).run_id
    ids = [str(uuid.uuid4()) for _ in range(6)]

    # Six trades at once against a run that must continue-as-new after two: the run waits for every accepted
    # trade to finish before it continues, so none is lost and none runs twice.
    results = await asyncio.gather(
        *(
            handle.execute_update(TRADE_UPDATE, TradeRequest(trade_id=i, fee_lamports=5_000), result_type=TradeResult)
            for i in ids
        )
    )
    after = await handle.execute_update(
        TRADE_UPDATE, TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=5_000), result_type=TradeResult
    )
    replayed = await handle.execute_update(
        TRADE_UPDATE, TradeRequest(trade_id=ids[0], fee_lamports=5_000), result_type=TradeResult
    )
    status = await handle.query(STATUS_QUERY, result_type=SessionStatus)
    current_run = (await handle.describe()).run_id

    assert current_run != first_run
    assert len({r.signature for r in results}) == 6 and after.trade_count == 7
    assert replayed == results[0]  # a trade id answered before continue-as-new is still remembered after it
    assert (status.status, status.trade_count, status.total_spent) == (SessionState.ACTIVE, 7, 35_000)
    vault = await harness.chain.fetch_vault(Pubkey.from_string(created.vault_pda))
    assert vault.trade_count == 7
    await harness.export_history(harness.client.get_workflow_handle(handle.id, run_id=first_run), "continue_as_new")
    await handle.terminate("test over")


def handle_vault(history) -> str:
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            req = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if req.input.name == APPROVE_UPDATE:
                return json.loads(req.input.args.payloads[0].data)["vault_pda"]
    raise AssertionError("no approve update in history")


async def rejection(handle, update: str, arg) -> str | None:
    """The ApplicationError type an update is rejected with (None if it was accepted)."""
    try:
        await (handle.execute_update(update) if arg is None else handle.execute_update(update, arg))
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        assert isinstance(cause, ApplicationError), cause
        return cause.type
    return None


async def test_approve_verifies_a_session_the_parent_opened_on_chain_itself(harness: Harness, parent) -> None:
    created, handle = await harness.create(parent)
    offered = Transaction.from_bytes(base64.b64decode(wallet_sign(created.unsigned_transaction, parent)))
    await harness.chain.send_and_confirm(SignedTx.from_transaction(offered, 2**63 - 1))

    approved = await handle.execute_update(
        APPROVE_UPDATE, ApproveRequest(vault_pda=created.vault_pda), result_type=ApproveResult
    )

    assert approved.status is SessionState.ACTIVE and approved.signature is None
    assert approved.total_deposited == INITIAL_DEPOSIT


async def test_revoke_submitted_by_the_parent_directly_is_observed_on_chain(harness: Harness, parent) -> None:
    created, handle, _ = await harness.open(parent)
    offer = await handle.execute_update(REVOKE_UPDATE, RevokeRequest(), result_type=RevokeResult)
    assert offer.unsigned_transaction is not None
    signed = Transaction.from_bytes(base64.b64decode(wallet_sign(offer.unsigned_transaction, parent)))
    await harness.chain.send_and_confirm(SignedTx.from_transaction(signed, 2**63 - 1))

    outcome = await harness.finish(handle)  # the workflow's chain poll sees the vault inactive, then cleans up

    assert outcome.status is SessionState.CLEANED
    assert await harness.chain.raw_account(Pubkey.from_string(created.vault_pda)) is None


async def test_a_refreshed_opening_transaction_does_not_invalidate_the_one_already_being_signed(
    harness: Harness, parent
) -> None:
    created, handle = await harness.create(parent)
    await rpc_call(harness.localnet_url, "localnet_advanceSlots", [2])  # a newer blockhash exists

    refreshed = await handle.execute_update(REFRESH_OPENING_UPDATE, result_type=CreateSessionResult)
    approved = await handle.execute_update(
        APPROVE_UPDATE,
        ApproveRequest(
            vault_pda=created.vault_pda, signed_transaction=wallet_sign(created.unsigned_transaction, parent)
        ),
        result_type=ApproveResult,
    )

    assert refreshed.unsigned_transaction != created.unsigned_transaction
    assert (refreshed.ephemeral_pubkey, refreshed.vault_pda) == (created.ephemeral_pubkey, created.vault_pda)
    assert approved.status is SessionState.ACTIVE
    stale = await rejection(handle, REFRESH_OPENING_UPDATE, None)
    assert stale == ErrorType.INVALID_STATE  # nothing to refresh once the session is open


async def test_a_program_error_reaches_the_caller_typed_and_a_retried_trade_id_gets_the_same_answer(
    harness: Harness, parent
) -> None:
    created, handle, _ = await harness.open(parent, initial_deposit_lamports=0)  # nothing deposited: nothing to spend
    trade_id = str(uuid.uuid4())

    first = await rejection(handle, TRADE_UPDATE, TradeRequest(trade_id=trade_id, fee_lamports=5_000))
    again = await rejection(handle, TRADE_UPDATE, TradeRequest(trade_id=trade_id, fee_lamports=5_000))

    assert first == again == ErrorType.program_error("SpendExceedsDeposits")
    trades = await ledger.list_transactions(harness.pool, uuid.UUID(created.session_id), kind="trade")
    assert [t.status for t in trades] == ["failed"]  # one attempt, recorded; the retry did not sign again
    await handle.terminate("test over")


async def test_revoke_before_approval_abandons_the_session_and_shreds_the_key(harness: Harness, parent) -> None:
    created, handle = await harness.create(parent)

    revoked = await handle.execute_update(
        REVOKE_UPDATE, RevokeRequest(reason="changed my mind"), result_type=RevokeResult
    )
    outcome = await harness.finish(handle)

    assert (revoked.status, revoked.key_shredded, revoked.unsigned_transaction) == (SessionState.ABANDONED, True, None)
    assert outcome.status is SessionState.ABANDONED
    assert (await session_keys.load_session_key(harness.pool, uuid.UUID(created.session_id))).is_shredded
    assert (await sessions.get_session(harness.pool, uuid.UUID(created.session_id))).status == "ABANDONED"
    with pytest.raises((RPCError, WorkflowUpdateFailedError)):  # completed: nothing can approve it any more
        await handle.execute_update(APPROVE_UPDATE, ApproveRequest(vault_pda=created.vault_pda))
