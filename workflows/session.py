"""SessionWorkflow: one durable workflow per trading session (DESIGN.md §4).

    CREATED ──approve──▶ ACTIVE ──revoke──▶ REVOKED ──▶ CLEANED
       │                   │ expiry timer ─▶ EXPIRED ──▶ CLEANED
       └─ approval window passes (or revoke before approval) ─▶ ABANDONED

Read `run` top to bottom: provision the key, wait for approval, trade until revoked or expired, settle, clean up.

Why updates and not signals: every interaction (create, approve, deposit, trade, revoke) has an answer the API must
return to its caller — a result or a typed rejection — and validators refuse bad requests before they enter history.

Why no secret can reach history: the workflow handles session ids, public keys, signatures and (public) unsigned or
parent-signed transactions only. The key is generated, sealed, used and shredded inside activities that load the
ciphertext from PostgreSQL themselves.

Time: Temporal's clock drives the timers (approval window, expiry). The chain's clock decides what the program
accepts. The expiry timer is placed at the vault's `session_expiry` as measured against the chain clock read during
verification (delay = session_expiry - chain_now), and the cleanup activity re-checks the chain clock and retries
while the chain says "not yet" — so skew between the clocks (or a time-skipping test server) can delay cleanup a
little but never make it fail.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.chain import ChainActivities
    from activities.database import DatabaseActivities
    from activities.keys import KeyActivities
    from activities.models import (
        CleanupInput,
        CleanupOutcome,
        DelegationRecord,
        FeeFloatInput,
        ObserveVaultInput,
        OfferedTransaction,
        ProvisionSessionInput,
        QuoteDepositInput,
        RevokeOfferInput,
        SessionOpeningInput,
        SessionRef,
        StatusChange,
        SubmitSignedInput,
        TradeInput,
        VaultSnapshot,
        VerifyVaultInput,
    )
    from ephemeral_vault.program_limits import (
        MAX_DEPOSIT_LIMIT,
        MAX_FEE_PER_TRADE,
        MAX_SESSION_DURATION,
        MIN_SESSION_DURATION,
    )
    from workflows.messages import (
        APPROVE_UPDATE,
        CREATE_UPDATE,
        QUOTE_DEPOSIT_UPDATE,
        REFRESH_OPENING_UPDATE,
        REVOKE_UPDATE,
        SA_PARENT_WALLET,
        SA_SESSION_STATUS,
        SA_VAULT_PDA,
        SESSION_WORKFLOW_NAME,
        STATUS_QUERY,
        SUBMIT_DEPOSIT_UPDATE,
        TRADE_UPDATE,
        ApproveRequest,
        ApproveResult,
        CarriedState,
        CreateSessionRequest,
        CreateSessionResult,
        DepositQuote,
        DepositRequest,
        DepositResult,
        ErrorType,
        RevokeRequest,
        RevokeResult,
        SessionOutcome,
        SessionPolicy,
        SessionState,
        SessionStatus,
        SessionWorkflowInput,
        SubmitDepositRequest,
        TradeOutcome,
        TradeRequest,
        TradeResult,
        workflow_id_for,
    )

SESSION_STATUS_KEY = SearchAttributeKey.for_keyword(SA_SESSION_STATUS)
PARENT_WALLET_KEY = SearchAttributeKey.for_keyword(SA_PARENT_WALLET)
VAULT_PDA_KEY = SearchAttributeKey.for_keyword(SA_VAULT_PDA)
T = TypeVar("T")

# Program bounds (ephemeral_vault.program_limits) are checked before anything is signed or stored.
MAX_TX_BASE64_CHARS = 2_000  # a legacy transaction is at most 1232 bytes
MAX_EXPECTED_TRADES = 100_000
# Trade outcomes remembered for de-duplication across continue-as-new.
MAX_REMEMBERED_TRADES = 2_000

# --- retry policies: why each ---------------------------------------------------------------------------------------
# Database writes are idempotent and a database outage heals: retry without limit, backing off to 30 s.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)
# Reads and builds against RPC: transient node trouble heals, but an API caller is waiting on most of them, so bound
# the attempts and surface "unavailable" rather than hang the update.
CHAIN_CALL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=5,
)
# Verification right after the parent's transaction: the accounts may lag a few seconds behind the signature.
VERIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=4),
    maximum_attempts=6,
)
# Submissions are idempotent by signature (a retry confirms the first attempt), so retrying is always safe.
SUBMIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
)
# Cleanup MUST eventually happen (it returns the parent's lamports), and "not yet expired on chain" is retryable:
# no attempt limit, backing off to a minute.
CLEANUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=60)
)
# The fee-float sweep must run before the key is shredded (afterwards nothing can move that SOL) but must never hold
# the shred back for long: a few backed-off tries (an expired blockhash is re-signed), bounded by FLOAT_BUDGET.
# Trades are already refused from the instant of a revoke, so this bounds only the defence-in-depth shred.
FLOAT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=6,
)
FLOAT_BUDGET = timedelta(seconds=90)

# Chain activities heartbeat while they wait for confirmations, so a worker that dies is noticed in seconds and the
# retry (on another worker) resumes the same transaction by signature.
CHAIN_HEARTBEAT = timedelta(seconds=10)
CHAIN_TIMEOUT = timedelta(seconds=120)
DB_TIMEOUT = timedelta(seconds=30)


# Short steps (a database write, a chain read, an unsigned transaction built against RPC) run as local activities: in
# the worker, inside the workflow task that needs them, so each saves a round trip through the server and a workflow
# task — at 100+ concurrent sessions a lifecycle spent most of its time queueing for workflow tasks (see
# docs/benchmarks.md).
# Steps that submit and confirm transactions stay ordinary activities: they wait on the chain, heartbeat, and must
# resume on another worker after a crash. Histories recorded before this change (no patch marker) replay on the old
# path; `workflow.patched` answers the same for a whole run, so a run never mixes the two.
LOCAL_STEPS_PATCH = "short-steps-as-local-activities"


async def _short_step(
    activity: Callable[..., Awaitable[T]], *arg: Any, start_to_close_timeout: timedelta, retry_policy: RetryPolicy
) -> T:
    if workflow.patched(LOCAL_STEPS_PATCH):
        return await workflow.execute_local_activity_method(
            activity, *arg, start_to_close_timeout=start_to_close_timeout, retry_policy=retry_policy
        )
    return await workflow.execute_activity_method(
        activity, *arg, start_to_close_timeout=start_to_close_timeout, retry_policy=retry_policy
    )


def _validate_create(req: CreateSessionRequest) -> str | None:
    try:
        workflow_id_for(req.session_id)
    except ValueError:
        return "session_id must be a UUID"
    if not isinstance(req.parent_wallet, str) or not 32 <= len(req.parent_wallet) <= 44:
        return "parent_wallet must be a base58 public key"
    if not MIN_SESSION_DURATION <= req.session_duration_seconds <= MAX_SESSION_DURATION:
        return f"session_duration_seconds must be in [{MIN_SESSION_DURATION}, {MAX_SESSION_DURATION}]"
    if not 1 <= req.max_deposit_lamports <= MAX_DEPOSIT_LIMIT:
        return f"max_deposit_lamports must be in [1, {MAX_DEPOSIT_LIMIT}]"
    if not 0 <= req.initial_deposit_lamports <= req.max_deposit_lamports:
        return "initial_deposit_lamports must be in [0, max_deposit_lamports]"
    if req.approval_window_seconds is not None and not 10 <= req.approval_window_seconds <= 86_400:
        return "approval_window_seconds must be in [10, 86400]"
    return None


def _check_signed_tx_shape(signed: str | None) -> None:
    if signed is None:
        return
    if not isinstance(signed, str) or not 0 < len(signed) <= MAX_TX_BASE64_CHARS:
        raise _reject(ErrorType.INVALID_REQUEST, "signed_transaction must be base64 of at most 1232 bytes")
    try:
        base64.b64decode(signed, validate=True)
    except (binascii.Error, ValueError):
        raise _reject(ErrorType.INVALID_REQUEST, "signed_transaction is not valid base64") from None


def _reject(error_type: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=True)


def _business_from(err: ActivityError) -> ApplicationError:
    """An activity failure as the typed error the API maps (the cause's type, made final)."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, *cause.details, type=cause.type, non_retryable=True)
    return ApplicationError(
        f"{type(cause).__name__ if cause else 'activity'} failed: service unavailable",
        type="ServiceUnavailable",
        non_retryable=True,
    )


@workflow.defn(name=SESSION_WORKFLOW_NAME)
class SessionWorkflow:
    @workflow.init
    def __init__(self, input: SessionWorkflowInput) -> None:
        req = input.request
        self._req = req
        self._create_error: ApplicationError | None = None
        self._offered_open: OfferedTransaction | None = None
        self._earlier_open_offers: list[OfferedTransaction] = []
        self._deposit_offer: OfferedTransaction | None = None
        self._deposit_amount = 0
        self._revoke_offer: OfferedTransaction | None = None
        self._revoke_signature: str | None = None
        self._approval_in_progress = False
        self._revoke_started = False
        self._revoke_recorded = False
        self._approval_deadline = 0.0
        self._vault_gone = False
        self._trades_in_flight: set[str] = set()
        self._cleanup: CleanupOutcome | None = None
        self._run_trades = 0
        carried = input.carried
        if carried is None:
            self._status = SessionStatus(
                session_id=req.session_id,
                status=SessionState.CREATED,
                parent_wallet=req.parent_wallet,
                ephemeral_pubkey=None,
                vault_pda=None,
                delegation_pda=None,
                session_expiry=None,
                max_deposit=req.max_deposit_lamports,
            )
            self._policy: SessionPolicy | None = None
            self._created: CreateSessionResult | None = None
            self._approval_signature: str | None = None
            self._trades: dict[str, TradeOutcome] = {}
            self._expiry_deadline: float | None = None
        else:
            self._status = carried.status
            self._status.run_trades = 0
            self._policy = carried.policy
            self._created = carried.created
            self._approval_signature = carried.approval_signature
            self._trades = {t.trade_id: t for t in carried.trades}
            self._expiry_deadline = carried.expiry_deadline
            self._deposit_offer = carried.deposit_offer
            self._deposit_amount = carried.deposit_amount

    # ================================================================================================================
    # The lifecycle
    # ================================================================================================================

    @workflow.run
    async def run(self, input: SessionWorkflowInput) -> SessionOutcome:
        if input.carried is None:
            problem = _validate_create(self._req)
            if problem is not None:
                self._create_error = _reject(ErrorType.INVALID_REQUEST, problem)
                self._status.status = SessionState.ABANDONED
                return await self._complete()
            self._upsert_search_attributes()
            if not await self._provision():
                return await self._complete()
            await self._wait_for_approval()
            if self._status.status is SessionState.ABANDONED:
                await self._abandon()
                return await self._complete()
        if self._status.status is SessionState.ACTIVE:
            await self._trade_until_revoked_or_expired()  # may continue-as-new
        if self._status.status is SessionState.REVOKED:
            await self._settle_revocation()
        await self._cleanup_and_close()
        return await self._complete()

    async def _provision(self) -> bool:
        """Key + sessions row (one activity, one DB transaction), then the unsigned opening transaction."""
        req = self._req
        self._policy = await _short_step(
            DatabaseActivities.load_session_policy, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
        try:
            prov = await _short_step(
                KeyActivities.provision_session_key,
                ProvisionSessionInput(
                    session_id=req.session_id,
                    workflow_id=workflow.info().workflow_id,
                    parent_wallet=req.parent_wallet,
                    session_duration_seconds=req.session_duration_seconds,
                    max_deposit_lamports=req.max_deposit_lamports,
                ),
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        except ActivityError as err:
            self._create_error = _business_from(err)
            self._status.status = SessionState.ABANDONED
            self._upsert_search_attributes()
            return False
        self._status.ephemeral_pubkey = prov.ephemeral_pubkey
        self._status.vault_pda = prov.vault_pda
        self._status.delegation_pda = prov.delegation_pda
        self._status.session_expiry = prov.estimated_expiry
        self._upsert_search_attributes()
        try:
            self._offered_open = await self._build_opening()
        except ActivityError as err:
            self._create_error = _business_from(err)
            self._status.status = SessionState.ABANDONED
            await self._abandon()
            return False
        window = req.approval_window_seconds or self._policy.approval_window_seconds
        self._approval_deadline = workflow.now().timestamp() + window
        self._created = CreateSessionResult(
            session_id=req.session_id,
            workflow_id=workflow.info().workflow_id,
            status=SessionState.CREATED,
            ephemeral_pubkey=prov.ephemeral_pubkey,
            vault_pda=prov.vault_pda,
            delegation_pda=prov.delegation_pda,
            session_expiry=prov.estimated_expiry,
            approval_deadline=int(self._approval_deadline),
            unsigned_transaction=self._offered_open.transaction_base64,
            fee_float_lamports=self._policy.fee_float_lamports,
        )
        return True

    async def _build_opening(self) -> OfferedTransaction:
        req = self._req
        assert self._policy is not None and self._status.ephemeral_pubkey is not None
        return await _short_step(
            ChainActivities.build_session_opening_transaction,
            SessionOpeningInput(
                session_id=req.session_id,
                parent_wallet=req.parent_wallet,
                ephemeral_pubkey=self._status.ephemeral_pubkey,
                session_duration_seconds=req.session_duration_seconds,
                max_deposit_lamports=req.max_deposit_lamports,
                initial_deposit_lamports=req.initial_deposit_lamports,
                fee_float_lamports=self._policy.fee_float_lamports,
            ),
            start_to_close_timeout=CHAIN_TIMEOUT,
            retry_policy=CHAIN_CALL_RETRY,
        )

    async def _wait_for_approval(self) -> None:
        """Wait for the approve update within the approval window. An approval already running when the window
        closes is allowed to finish (the parent did their part in time)."""
        assert self._policy is not None
        remaining = self._approval_deadline - workflow.now().timestamp()
        try:
            await workflow.wait_condition(
                lambda: self._status.status is not SessionState.CREATED, timeout=timedelta(seconds=max(remaining, 0))
            )
        except TimeoutError:
            await workflow.wait_condition(lambda: not self._approval_in_progress)
            if self._status.status is SessionState.CREATED:
                self._status.last_error = "not approved within the approval window"
                self._status.status = SessionState.ABANDONED

    async def _trade_until_revoked_or_expired(self) -> None:
        """ACTIVE: updates do the work; this loop only waits for revoke, the expiry timer, or a continue-as-new."""
        assert self._expiry_deadline is not None and self._policy is not None
        while True:
            remaining = self._expiry_deadline - workflow.now().timestamp()
            if remaining <= 0:
                break
            try:
                await workflow.wait_condition(
                    lambda: self._revoke_started or self._should_continue_as_new(),
                    timeout=timedelta(seconds=remaining),
                )
            except TimeoutError:
                break
            if self._revoke_started:
                await workflow.wait_condition(lambda: self._revoke_recorded)
                return
            # Continue-as-new only once every handler (in-flight trades included) has finished, so no accepted
            # update is dropped; the new run gets the whole state, including the trade ids already answered.
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._revoke_started:
                continue
            workflow.continue_as_new(SessionWorkflowInput(request=self._req, carried=self._carry()))
        if not self._revoke_started:
            await self._set_status(SessionState.EXPIRED)
        else:
            await workflow.wait_condition(lambda: self._revoke_recorded)

    async def _settle_revocation(self) -> None:
        """REVOKED: the key is gone. Wait (polling the chain) for the parent's revoke_access within the revoke
        window; once it is on chain, cleanup is permissionless at once. If it never comes, the vault is recovered
        by cleanup after expiry instead."""
        assert self._policy is not None and self._expiry_deadline is not None
        deadline = workflow.now().timestamp() + self._policy.revoke_window_seconds
        while not self._status.revoked_on_chain and not self._vault_gone:
            remaining = deadline - workflow.now().timestamp()
            if remaining <= 0:
                break
            try:
                await workflow.wait_condition(
                    lambda: self._status.revoked_on_chain,
                    timeout=timedelta(seconds=min(self._policy.chain_poll_seconds, remaining)),
                )
            except TimeoutError:
                snap = await self._observe_vault()
                self._apply_observation(snap)
        if not self._status.revoked_on_chain and not self._vault_gone:
            # The parent never revoked on chain: the vault stays active until expiry, then the timer cleans it.
            # (A revoke_access the parent still sends through the revoke update wakes this early.)
            remaining = self._expiry_deadline - workflow.now().timestamp()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._status.revoked_on_chain or self._vault_gone, timeout=timedelta(seconds=remaining)
                    )

    async def _cleanup_and_close(self) -> None:
        """cleanup_vault (cleaner key), sweep the fee float, shred the key; CLEANED only after on-chain confirmation."""
        assert self._status.vault_pda is not None
        await workflow.wait_condition(lambda: not self._trades_in_flight)
        trigger = "timer" if self._status.status is SessionState.EXPIRED else "manual"
        while True:
            try:
                self._cleanup = await workflow.execute_activity_method(
                    ChainActivities.cleanup_vault_onchain,
                    CleanupInput(
                        session_id=self._req.session_id,
                        parent_wallet=self._req.parent_wallet,
                        vault_pda=self._status.vault_pda,
                        trigger=trigger,
                    ),
                    start_to_close_timeout=CHAIN_TIMEOUT,
                    heartbeat_timeout=CHAIN_HEARTBEAT,
                    retry_policy=CLEANUP_RETRY,
                )
                break
            except ActivityError as err:
                # A business failure here is unexpected (a changed program, a foreign vault): keep the session open
                # for operators, try again later rather than report a cleanup that did not happen.
                self._status.last_error = f"cleanup failed: {_business_from(err).message}"[:500]
                workflow.logger.warning("session %s: %s", self._req.session_id, self._status.last_error)
                await workflow.sleep(timedelta(minutes=10))
        self._status.cleanup_signature = self._cleanup.signature
        await self._retire_key()
        await self._set_status(SessionState.CLEANED)

    async def _abandon(self) -> None:
        """Never approved: nothing of ours on chain to clean; sweep a fee float the parent may have sent, shred."""
        await self._retire_key()
        await self._set_status(SessionState.ABANDONED, force=True)

    async def _complete(self) -> SessionOutcome:
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SessionOutcome(
            session_id=self._req.session_id,
            status=self._status.status,
            trade_count=self._status.trade_count,
            total_deposited=self._status.total_deposited,
            total_spent=self._status.total_spent,
            refunded_lamports=self._cleanup.refunded if self._cleanup else None,
            cleanup_signature=self._cleanup.signature if self._cleanup else None,
            cleaned_by=(self._cleanup.cleaner if self._cleanup and self._cleanup.signature else None),
        )

    # ================================================================================================================
    # Updates and their validators
    # ================================================================================================================

    @workflow.update(name=CREATE_UPDATE)
    async def create_session(self) -> CreateSessionResult:
        """Sent with the start (update-with-start): returns once the key and the sessions row exist."""
        await workflow.wait_condition(lambda: self._created is not None or self._create_error is not None)
        if self._created is None:
            assert self._create_error is not None
            raise self._create_error
        return self._created

    @workflow.update(name=REFRESH_OPENING_UPDATE)
    async def refresh_opening(self) -> CreateSessionResult:
        """A fresh unsigned opening transaction (new blockhash) for a parent who did not sign in time."""
        assert self._created is not None and self._offered_open is not None
        try:
            fresh = await self._build_opening()
        except ActivityError as err:
            raise _business_from(err) from None
        self._earlier_open_offers = [*self._earlier_open_offers, self._offered_open][-4:]
        self._offered_open = fresh
        self._created.unsigned_transaction = fresh.transaction_base64
        return self._created

    @refresh_opening.validator
    def _validate_refresh_opening(self) -> None:
        if self._created is None or self._status.status is not SessionState.CREATED:
            raise _reject(ErrorType.INVALID_STATE, f"session is {self._status.status.value}, not awaiting approval")
        if workflow.now().timestamp() >= self._approval_deadline:
            raise _reject(ErrorType.INVALID_STATE, "the approval window has closed")

    @workflow.update(name=APPROVE_UPDATE)
    async def approve(self, req: ApproveRequest) -> ApproveResult:
        # A second approve while one runs waits for it, then answers like a duplicate.
        await workflow.wait_condition(lambda: not self._approval_in_progress)
        if self._status.status is not SessionState.CREATED:
            if self._status.status is SessionState.ACTIVE or self._approved_once():
                return self._approve_result()
            raise _reject(ErrorType.INVALID_STATE, f"session is {self._status.status.value}")
        assert self._offered_open is not None and self._status.vault_pda and self._status.ephemeral_pubkey
        self._approval_in_progress = True
        try:
            if req.signed_transaction is not None:
                sub = await workflow.execute_activity_method(
                    ChainActivities.submit_signed_transaction,
                    SubmitSignedInput(
                        session_id=self._req.session_id,
                        kind="open",
                        offered=self._offered_open,
                        signed_transaction=req.signed_transaction,
                        lamports=self._req.initial_deposit_lamports,
                        alternatives=list(reversed(self._earlier_open_offers)),
                    ),
                    start_to_close_timeout=CHAIN_TIMEOUT,
                    heartbeat_timeout=CHAIN_HEARTBEAT,
                    retry_policy=SUBMIT_RETRY,
                )
                self._approval_signature = sub.signature
            snap = await _short_step(
                ChainActivities.verify_vault_onchain,
                VerifyVaultInput(
                    session_id=self._req.session_id,
                    parent_wallet=self._req.parent_wallet,
                    ephemeral_pubkey=self._status.ephemeral_pubkey,
                    max_deposit_lamports=self._req.max_deposit_lamports,
                    session_duration_seconds=self._req.session_duration_seconds,
                    claimed_vault=req.vault_pda,
                ),
                start_to_close_timeout=CHAIN_TIMEOUT,
                retry_policy=VERIFY_RETRY,
            )
            await _short_step(
                DatabaseActivities.record_delegation_event,
                DelegationRecord(
                    session_id=self._req.session_id,
                    event="approved",
                    delegate=self._status.ephemeral_pubkey,
                    delegation_pda=self._status.delegation_pda or "",
                    signature=self._approval_signature,
                ),
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            # Map the chain's expiry onto Temporal's clock through the chain time read with the vault.
            self._expiry_deadline = workflow.now().timestamp() + max(snap.session_expiry - snap.chain_time, 0)
            self._apply_observation(snap)
            self._status.session_expiry = snap.session_expiry
            await self._set_status(SessionState.ACTIVE, session_expiry=snap.session_expiry)
            return self._approve_result()
        except ActivityError as err:
            raise _business_from(err) from None
        finally:
            self._approval_in_progress = False

    @approve.validator
    def _validate_approve(self, req: ApproveRequest) -> None:
        if self._created is None:
            raise _reject(ErrorType.INVALID_STATE, "the session is still being created")
        if req.vault_pda != self._status.vault_pda:
            raise _reject(ErrorType.VAULT_MISMATCH, f"vault_pda is not this session's vault ({self._status.vault_pda})")
        if self._status.status is SessionState.ACTIVE:
            return  # duplicate: answered with the first result
        if self._status.status is not SessionState.CREATED:
            raise _reject(ErrorType.INVALID_STATE, f"session is {self._status.status.value}")
        if workflow.now().timestamp() >= self._approval_deadline and not self._approval_in_progress:
            raise _reject(ErrorType.INVALID_STATE, "the approval window has closed")
        _check_signed_tx_shape(req.signed_transaction)

    @workflow.update(name=QUOTE_DEPOSIT_UPDATE)
    async def quote_deposit(self, req: DepositRequest) -> DepositQuote:
        assert self._status.vault_pda is not None
        try:
            offer = await _short_step(
                ChainActivities.quote_deposit,
                QuoteDepositInput(
                    session_id=self._req.session_id,
                    parent_wallet=self._req.parent_wallet,
                    vault_pda=self._status.vault_pda,
                    expected_trades=req.expected_trades,
                    amount_lamports=req.amount_lamports,
                ),
                start_to_close_timeout=CHAIN_TIMEOUT,
                retry_policy=CHAIN_CALL_RETRY,
            )
        except ActivityError as err:
            raise _business_from(err) from None
        if offer.amount_lamports > 0:
            self._deposit_offer = offer.offered
            self._deposit_amount = offer.amount_lamports
        return DepositQuote(
            session_id=self._req.session_id,
            amount_lamports=offer.amount_lamports,
            unsigned_transaction=offer.offered.transaction_base64,
            vault_balance=offer.vault_balance,
            headroom_lamports=offer.headroom_lamports,
            fee_per_trade_lamports=offer.fee_per_trade_lamports,
            expected_trades=req.expected_trades,
        )

    @quote_deposit.validator
    def _validate_quote_deposit(self, req: DepositRequest) -> None:
        self._require_live_session()
        if (req.expected_trades is None) == (req.amount_lamports is None):
            raise _reject(ErrorType.INVALID_REQUEST, "give exactly one of expected_trades and amount_lamports")
        if req.expected_trades is not None and not 1 <= req.expected_trades <= MAX_EXPECTED_TRADES:
            raise _reject(ErrorType.INVALID_REQUEST, f"expected_trades must be in [1, {MAX_EXPECTED_TRADES}]")
        if req.amount_lamports is not None and not 1 <= req.amount_lamports <= self._req.max_deposit_lamports:
            raise _reject(ErrorType.INVALID_REQUEST, "amount_lamports must be in [1, max_deposit]")

    @workflow.update(name=SUBMIT_DEPOSIT_UPDATE)
    async def submit_deposit(self, req: SubmitDepositRequest) -> DepositResult:
        assert self._deposit_offer is not None and self._status.vault_pda is not None
        offer, amount = self._deposit_offer, self._deposit_amount
        try:
            sub = await workflow.execute_activity_method(
                ChainActivities.submit_signed_transaction,
                SubmitSignedInput(
                    session_id=self._req.session_id,
                    kind="deposit",
                    offered=offer,
                    signed_transaction=req.signed_transaction,
                    lamports=amount,
                ),
                start_to_close_timeout=CHAIN_TIMEOUT,
                heartbeat_timeout=CHAIN_HEARTBEAT,
                retry_policy=SUBMIT_RETRY,
            )
            snap = await self._observe_vault()
        except ActivityError as err:
            raise _business_from(err) from None
        self._apply_observation(snap)
        return DepositResult(
            session_id=self._req.session_id,
            signature=sub.signature,
            amount_lamports=amount,
            total_deposited=self._status.total_deposited,
            slot=sub.slot,
        )

    @submit_deposit.validator
    def _validate_submit_deposit(self, req: SubmitDepositRequest) -> None:
        self._require_live_session()
        if self._deposit_offer is None:
            raise _reject(ErrorType.INVALID_STATE, "no deposit quote to submit: call quote_deposit first")
        if not req.signed_transaction:
            raise _reject(ErrorType.INVALID_REQUEST, "signed_transaction is required")
        _check_signed_tx_shape(req.signed_transaction)

    @workflow.update(name=TRADE_UPDATE)
    async def trade(self, req: TradeRequest) -> TradeResult:
        trade_id = str(uuid.UUID(req.trade_id))
        if trade_id in self._trades_in_flight:
            await workflow.wait_condition(lambda: trade_id not in self._trades_in_flight)
        if trade_id in self._trades:
            return self._replay_trade(self._trades[trade_id])
        # Re-check after any wait: the validator ran before, but the session may have moved on since.
        self._require_live_session()
        assert self._status.vault_pda is not None
        self._trades_in_flight.add(trade_id)
        try:
            onchain = await workflow.execute_activity_method(
                ChainActivities.execute_trade_onchain,
                TradeInput(
                    session_id=self._req.session_id,
                    trade_id=trade_id,
                    fee_lamports=req.fee_lamports,
                    vault_pda=self._status.vault_pda,
                ),
                start_to_close_timeout=CHAIN_TIMEOUT,
                heartbeat_timeout=CHAIN_HEARTBEAT,
                retry_policy=SUBMIT_RETRY,
            )
        except ActivityError as err:
            error = _business_from(err)
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                # A definitive answer (program error, revoked key): a duplicate gets the same answer.
                self._remember(TradeOutcome(trade_id=trade_id, error_type=error.type, error_message=error.message))
            raise error from None
        finally:
            self._trades_in_flight.discard(trade_id)
        result = TradeResult(
            session_id=self._req.session_id,
            trade_id=trade_id,
            signature=onchain.signature,
            slot=onchain.slot,
            fee_lamports=onchain.fee_lamports,
            total_spent=onchain.total_spent,
            trade_count=onchain.trade_count,
        )
        self._remember(TradeOutcome(trade_id=trade_id, result=result))
        self._status.total_spent = max(self._status.total_spent, onchain.total_spent)
        self._status.trade_count = max(self._status.trade_count, onchain.trade_count)
        self._run_trades += 1
        self._status.run_trades = self._run_trades
        return result

    @trade.validator
    def _validate_trade(self, req: TradeRequest) -> None:
        try:
            trade_id = str(uuid.UUID(req.trade_id))
        except (ValueError, TypeError, AttributeError):
            raise _reject(ErrorType.INVALID_REQUEST, "trade_id must be a UUID") from None
        if trade_id in self._trades or trade_id in self._trades_in_flight:
            return  # a duplicate: answered with the first result, nothing signed again
        self._require_live_session()
        if isinstance(req.fee_lamports, bool) or not isinstance(req.fee_lamports, int):
            raise _reject(ErrorType.INVALID_REQUEST, "fee_lamports must be an integer")
        if not 0 <= req.fee_lamports <= MAX_FEE_PER_TRADE:
            raise _reject(ErrorType.INVALID_REQUEST, f"fee_lamports must be in [0, {MAX_FEE_PER_TRADE}]")

    @workflow.update(name=REVOKE_UPDATE)
    async def revoke(self, req: RevokeRequest) -> RevokeResult:
        if self._status.status is SessionState.CREATED and not self._revoke_started:
            # Nothing approved yet: revoking abandons the session.
            self._revoke_started = True
            self._status.last_error = "revoked before approval"
            self._status.status = SessionState.ABANDONED
            await workflow.wait_condition(lambda: self._status.key_shredded)
            return RevokeResult(
                session_id=self._req.session_id, status=self._status.status, key_shredded=True, revoked_on_chain=False
            )
        if not self._revoke_started:
            # Off-chain revocation takes effect at once: from this instant validators refuse trades, and the key is
            # shredded before anything else happens (its fee float swept back first: only the key can move it).
            self._revoke_started = True
            self._status.status = SessionState.REVOKED
            # A trade already signed may still land and reimburse the fee float: sweep only after it has.
            await workflow.wait_condition(lambda: not self._trades_in_flight)
            await self._retire_key()
            await self._set_status(SessionState.REVOKED, details={"reason": req.reason[:200]}, force=True)
            self._revoke_recorded = True
        else:
            await workflow.wait_condition(lambda: self._revoke_recorded or self._status.status.is_final)
        assert self._status.vault_pda is not None
        try:
            if req.signed_transaction is not None and not self._status.revoked_on_chain and not self._vault_gone:
                if self._revoke_offer is None:
                    raise _reject(ErrorType.INVALID_TRANSACTION, "no revoke transaction was offered: call revoke first")
                sub = await workflow.execute_activity_method(
                    ChainActivities.submit_signed_transaction,
                    SubmitSignedInput(
                        session_id=self._req.session_id,
                        kind="revoke",
                        offered=self._revoke_offer,
                        signed_transaction=req.signed_transaction,
                    ),
                    start_to_close_timeout=CHAIN_TIMEOUT,
                    heartbeat_timeout=CHAIN_HEARTBEAT,
                    retry_policy=SUBMIT_RETRY,
                )
                self._revoke_signature = sub.signature
                snap = await self._observe_vault()
                self._apply_observation(snap)
                if snap.exists and not self._status.revoked_on_chain:
                    raise _reject(
                        ErrorType.VERIFICATION_FAILED,
                        "revoke_access landed but the vault is not inactive with its delegation revoked",
                    )
                await _short_step(
                    DatabaseActivities.record_delegation_event,
                    DelegationRecord(
                        session_id=self._req.session_id,
                        event="revoked",
                        delegate=self._status.ephemeral_pubkey or "",
                        delegation_pda=self._status.delegation_pda or "",
                        signature=sub.signature,
                    ),
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
            elif not self._status.revoked_on_chain and not self._vault_gone and not self._status.status.is_final:
                # A fresh offer each time: the previous one's blockhash may have expired.
                self._revoke_offer = await _short_step(
                    ChainActivities.build_revoke_transaction,
                    RevokeOfferInput(
                        session_id=self._req.session_id,
                        parent_wallet=self._req.parent_wallet,
                        vault_pda=self._status.vault_pda,
                    ),
                    start_to_close_timeout=CHAIN_TIMEOUT,
                    retry_policy=CHAIN_CALL_RETRY,
                )
        except ActivityError as err:
            raise _business_from(err) from None
        pending = not self._status.revoked_on_chain and not self._vault_gone and self._revoke_offer is not None
        return RevokeResult(
            session_id=self._req.session_id,
            status=self._status.status,
            key_shredded=self._status.key_shredded,
            revoked_on_chain=self._status.revoked_on_chain,
            signature=self._revoke_signature,
            unsigned_transaction=self._revoke_offer.transaction_base64 if pending and self._revoke_offer else None,
        )

    @revoke.validator
    def _validate_revoke(self, req: RevokeRequest) -> None:
        status = self._status.status
        if self._created is None and status is SessionState.CREATED:
            raise _reject(ErrorType.INVALID_STATE, "the session is still being created")
        if status in (SessionState.EXPIRED, SessionState.CLEANED, SessionState.ABANDONED):
            raise _reject(ErrorType.INVALID_STATE, f"session is {status.value}")
        if status is SessionState.ACTIVE and self._is_past_expiry():
            raise _reject(ErrorType.SESSION_EXPIRED, "the session has expired; it is being cleaned up")
        _check_signed_tx_shape(req.signed_transaction)
        if not isinstance(req.reason, str) or len(req.reason) > 200:
            raise _reject(ErrorType.INVALID_REQUEST, "reason must be at most 200 characters")

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> SessionStatus:
        return self._status

    # ================================================================================================================
    # Helpers
    # ================================================================================================================

    def _is_past_expiry(self) -> bool:
        return self._expiry_deadline is not None and workflow.now().timestamp() >= self._expiry_deadline

    def _require_live_session(self) -> None:
        """ACTIVE and unexpired by the workflow's clock — checked in validators, before anything is signed."""
        status = self._status.status
        if status is SessionState.REVOKED or self._revoke_started:
            raise _reject(ErrorType.SESSION_REVOKED, "the session was revoked")
        if status in (SessionState.EXPIRED, SessionState.CLEANED) or self._is_past_expiry():
            raise _reject(ErrorType.SESSION_EXPIRED, "the session has expired")
        if status is not SessionState.ACTIVE:
            raise _reject(ErrorType.INVALID_STATE, f"session is {status.value}, not ACTIVE")

    def _approved_once(self) -> bool:
        return self._expiry_deadline is not None

    def _approve_result(self) -> ApproveResult:
        return ApproveResult(
            session_id=self._req.session_id,
            status=self._status.status,
            vault_pda=self._status.vault_pda or "",
            delegation_pda=self._status.delegation_pda or "",
            session_expiry=self._status.session_expiry or 0,
            total_deposited=self._status.total_deposited,
            signature=self._approval_signature,
        )

    def _replay_trade(self, outcome: TradeOutcome) -> TradeResult:
        if outcome.result is not None:
            return outcome.result
        raise _reject(outcome.error_type or ErrorType.TRANSACTION_FAILED, outcome.error_message or "trade failed")

    def _remember(self, outcome: TradeOutcome) -> None:
        self._trades[outcome.trade_id] = outcome
        while len(self._trades) > MAX_REMEMBERED_TRADES:
            self._trades.pop(next(iter(self._trades)))

    def _should_continue_as_new(self) -> bool:
        assert self._policy is not None
        return workflow.info().is_continue_as_new_suggested() or self._run_trades >= self._policy.max_trades_per_run

    def _carry(self) -> CarriedState:
        assert self._policy is not None and self._created is not None
        return CarriedState(
            status=self._status,
            policy=self._policy,
            created=self._created,
            approval_signature=self._approval_signature,
            trades=list(self._trades.values()),
            expiry_deadline=self._expiry_deadline,
            deposit_offer=self._deposit_offer,
            deposit_amount=self._deposit_amount,
        )

    def _apply_observation(self, snap: VaultSnapshot) -> None:
        if not snap.exists:
            if self._status.status is not SessionState.CREATED:
                self._vault_gone = True
            return
        self._status.total_deposited = max(self._status.total_deposited, snap.total_deposited)
        self._status.total_spent = max(self._status.total_spent, snap.total_spent)
        self._status.trade_count = max(self._status.trade_count, snap.trade_count)
        if not snap.is_active and snap.delegation_revoked and self._status.status is not SessionState.CREATED:
            self._status.revoked_on_chain = True  # revoke_access's two effects, both seen on chain

    async def _observe_vault(self) -> VaultSnapshot:
        assert self._status.vault_pda is not None
        return await _short_step(
            ChainActivities.observe_vault,
            ObserveVaultInput(session_id=self._req.session_id, vault_pda=self._status.vault_pda),
            start_to_close_timeout=CHAIN_TIMEOUT,
            retry_policy=CLEANUP_RETRY,
        )

    async def _retire_key(self) -> None:
        """Sweep the fee float back to the parent (only the key can move it), then shred the key. The sweep gets a
        few quick tries; the shred happens regardless."""
        if self._status.key_shredded or self._status.ephemeral_pubkey is None:
            self._status.key_shredded = self._status.key_shredded or self._status.ephemeral_pubkey is None
            return
        try:
            await workflow.execute_activity_method(
                ChainActivities.sweep_fee_float,
                FeeFloatInput(session_id=self._req.session_id, parent_wallet=self._req.parent_wallet),
                start_to_close_timeout=timedelta(seconds=60),
                schedule_to_close_timeout=FLOAT_BUDGET,
                heartbeat_timeout=CHAIN_HEARTBEAT,
                retry_policy=FLOAT_RETRY,
            )
        except ActivityError as err:
            self._status.last_error = f"fee float not swept: {_business_from(err).message}"[:500]
        await _short_step(
            KeyActivities.shred_session_key,
            SessionRef(session_id=self._req.session_id),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        self._status.key_shredded = True

    async def _set_status(
        self,
        status: SessionState,
        *,
        session_expiry: int | None = None,
        details: dict[str, str] | None = None,
        force: bool = False,
    ) -> None:
        """Record a lifecycle step in PostgreSQL (validated transition + NOTIFY), then in the workflow's state and
        search attributes. `force` re-records a status already set in memory (ABANDONED is set by handlers)."""
        if self._status.status is status and not force:
            return
        await _short_step(
            DatabaseActivities.transition_session_status,
            StatusChange(
                session_id=self._req.session_id,
                status=status.value,
                session_expiry=session_expiry,
                last_error=self._status.last_error,
                details=details or {},
            ),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        self._status.status = status
        self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        updates = [
            SESSION_STATUS_KEY.value_set(self._status.status.value),
            PARENT_WALLET_KEY.value_set(self._status.parent_wallet),
        ]
        if self._status.vault_pda:
            updates.append(VAULT_PDA_KEY.value_set(self._status.vault_pda))
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(
            f"**{self._status.status.value}** · parent `{self._status.parent_wallet}` · vault "
            f"`{self._status.vault_pda or '-'}` · trades {self._status.trade_count} · spent "
            f"{self._status.total_spent} / deposited {self._status.total_deposited} lamports"
        )
