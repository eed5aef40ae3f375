"""Many sessions in flight, driven the way the API and a DEX drive them, and the audit that follows a fault.

Each session: create (update-with-start) → the parent signs the opening transaction → approve → one deposit (quote,
sign, submit) → a few trades → either revoke (off chain, then the parent-signed revoke_access) or expiry → cleanup.

The client side behaves like a careful API client: a Temporal call that fails in transport (server down, RPC timeout,
update lost with the server) is repeated with the SAME update id; a business failure ``ServiceUnavailable`` (the
workflow's bounded retries ran out) is repeated with a new update id but the same trade id / signed transaction, as a
DEX retries on HTTP 503; ``InvalidTransaction`` for a parent-signed transaction (its blockhash expired) is answered
with a fresh offer signed again. Every such repetition is counted and reported, never hidden.

Expiry without waiting a minute: the minimum on-chain duration is 60 s and the workflow's timer is set from
``session_expiry - chain_now`` read at approval. The parent's wallet submits the opening transaction itself, the chain
clock is warped (``localnet_warpClock``) by ``EXPIRY_WARP`` seconds, then the session is approved (the backend finds
the signature already landed and confirms it): the vault and the workflow agree that ~``60 - EXPIRY_WARP`` s remain.

The audit (``audit``) reads the chain's history of every vault (getSignaturesForAddress + getTransaction, events
decoded from the logs) and the database, and returns every disagreement it finds.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import ChainError
from ephemeral_vault.chain.events import (
    AccessRevoked,
    AutoDeposit,
    TradeExecuted,
    VaultCleaned,
    VaultCreated,
)
from workflows.client import create_session
from workflows.messages import (
    APPROVE_UPDATE,
    QUOTE_DEPOSIT_UPDATE,
    REFRESH_OPENING_UPDATE,
    REVOKE_UPDATE,
    SUBMIT_DEPOSIT_UPDATE,
    TRADE_UPDATE,
    ApproveRequest,
    ApproveResult,
    CreateSessionRequest,
    CreateSessionResult,
    DepositQuote,
    DepositRequest,
    DepositResult,
    ErrorType,
    RevokeRequest,
    RevokeResult,
    SessionOutcome,
    SessionState,
    SubmitDepositRequest,
    TradeRequest,
    TradeResult,
    workflow_id_for,
)

T = TypeVar("T")
SOL = 1_000_000_000
MAX_DEPOSIT = 2 * SOL
INITIAL_DEPOSIT = SOL // 10
DEPOSIT = SOL // 20
LONG_DURATION = 3_600
SHORT_DURATION = 60  # the program's minimum
EXPIRY_WARP = 44  # chain seconds skipped between opening and approval: ~16 s of session remain for deposit and trades
RPC_TIMEOUT = timedelta(seconds=10)
RETRY_PAUSE = 0.5
MAX_BUSINESS_RETRIES = 8
NO_ARG = object()  # an update without an argument
# What the driver records for a request that reached a workflow which had already ended: Temporal answers NOT_FOUND
# ("workflow execution already completed"), and the API turns it into 409 invalid_state. An expiring session can end
# (timer, cleanup, CLEANED) while the driver is still between two trades after a slow, retried one.
SESSION_CLOSED = "SessionClosed"


class WorkflowClosed(Exception):
    """The session's workflow had ended before this request reached it (the API's 409 invalid_state)."""


async def rpc_call(url: str, method: str, params: list[Any]) -> Any:
    async with httpx.AsyncClient(timeout=30) as http:
        body = (await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']}")
    return body["result"]


def wallet_sign(transaction_base64: str, *keypairs: Keypair) -> str:
    """What a wallet's signTransaction does: sign the offered bytes, return them base64."""
    tx = Transaction.from_bytes(base64.b64decode(transaction_base64))
    tx.partial_sign(list(keypairs), tx.message.recent_blockhash)
    return base64.b64encode(bytes(tx)).decode()


def signature_of(signed_base64: str) -> str:
    return str(Transaction.from_bytes(base64.b64decode(signed_base64)).signatures[0])


# --- the plan and what happened --------------------------------------------------------------------------------------


@dataclass
class TradeRecord:
    trade_id: str
    fee: int
    result: TradeResult | None = None
    error: str | None = None  # the final business error type, when the trade was refused or failed


@dataclass
class DepositRecord:
    amount: int
    signature: str | None = None  # the accepted one
    abandoned_signatures: list[str] = field(default_factory=list)  # signed, refused (expired blockhash), re-offered
    error: str | None = None


@dataclass
class SessionRun:
    index: int
    parent: Keypair = field(repr=False)  # solders' Keypair repr prints the secret bytes
    ending: str  # "revoke" | "expire"
    trades: list[TradeRecord]
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: CreateSessionResult | None = None
    approved: ApproveResult | None = None
    opening_signature: str | None = None
    deposit: DepositRecord | None = None
    revoke_signature: str | None = None
    abandoned_revoke_signatures: list[str] = field(default_factory=list)
    abandoned_opening_signatures: list[str] = field(default_factory=list)  # signed copies, refused and re-offered
    outcome: SessionOutcome | None = None
    stage: str = "planned"

    @property
    def workflow_id(self) -> str:
        return workflow_id_for(self.session_id)

    def succeeded_trades(self) -> list[TradeRecord]:
        return [t for t in self.trades if t.result is not None]


@dataclass
class Progress:
    """Shared counters the fault injector waits on (conditions, not clocks)."""

    trades_done: int = 0
    sessions_active: int = 0
    sessions_done: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    transport_retries: Counter[str] = field(default_factory=Counter)
    business_retries: Counter[str] = field(default_factory=Counter)
    ledger_rows: Counter[str] = field(default_factory=Counter)  # vault_transactions by kind/status/error (audit)
    started: float = field(default_factory=time.monotonic)
    timeline: list[str] = field(default_factory=list)

    def bump(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)
        self.changed.set()

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    async def until(self, condition: Callable[[Progress], bool]) -> None:
        while not condition(self):
            self.changed.clear()
            await self.changed.wait()


@dataclass
class Driver:
    client: Client
    task_queue: str
    chain: ChainClient  # straight to the node: the wallet's and the auditor's view
    node_url: str
    expiry_warp: int = EXPIRY_WARP
    progress: Progress = field(default_factory=Progress)

    # --- Temporal calls that survive a broken server -----------------------------------------------------------

    async def _transport(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                return await call()
            except WorkflowUpdateFailedError:
                raise
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    raise WorkflowClosed(what) from None  # not a transport failure: repeating it cannot help
                self.progress.transport_retries[what] += 1
                await asyncio.sleep(RETRY_PAUSE)
            except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
                self.progress.transport_retries[what] += 1
                await asyncio.sleep(RETRY_PAUSE)

    async def update(self, run: SessionRun, name: str, arg: Any, result_type: type[T], key: str) -> T:
        """An update that is repeated (same id) across transport failures, and (new id) after ServiceUnavailable."""
        handle = self.client.get_workflow_handle(run.workflow_id)
        args = [] if arg is NO_ARG else [arg]
        for attempt in range(MAX_BUSINESS_RETRIES):
            update_id = f"{key}-{attempt}"
            try:
                return await self._transport(
                    name,
                    lambda update_id=update_id: handle.execute_update(
                        name, args=args, id=update_id, result_type=result_type, rpc_timeout=RPC_TIMEOUT
                    ),
                )
            except WorkflowUpdateFailedError as err:
                if error_type(err) != "ServiceUnavailable" or attempt == MAX_BUSINESS_RETRIES - 1:
                    raise
                self.progress.business_retries[name] += 1
                await asyncio.sleep(RETRY_PAUSE)
        raise AssertionError("unreachable")

    def handle(self, run: SessionRun) -> WorkflowHandle[Any, SessionOutcome]:
        return self.client.get_workflow_handle(run.workflow_id, result_type=SessionOutcome)

    # --- one session, start to finish --------------------------------------------------------------------------

    async def open(self, run: SessionRun, opened: asyncio.Event | None, warped: asyncio.Event | None) -> None:
        req = CreateSessionRequest(
            session_id=run.session_id,
            parent_wallet=str(run.parent.pubkey()),
            session_duration_seconds=SHORT_DURATION if run.ending == "expire" else LONG_DURATION,
            max_deposit_lamports=MAX_DEPOSIT,
            initial_deposit_lamports=INITIAL_DEPOSIT,
        )
        run.stage = "creating"
        run.created = await self._transport("create", lambda: create_session(self.client, req, self.task_queue))
        unsigned = run.created.unsigned_transaction
        for attempt in range(MAX_BUSINESS_RETRIES):
            if attempt:
                # The offered opening's blockhash expired before the signed copy got through (a slow step, a
                # fault): ask for a fresh one and sign again, as a wallet would.
                run.abandoned_opening_signatures.append(run.opening_signature or "")
                self.progress.business_retries["opening re-sign"] += 1
                fresh = await self.update(
                    run, REFRESH_OPENING_UPDATE, NO_ARG, CreateSessionResult, f"refresh-{attempt}"
                )
                unsigned = fresh.unsigned_transaction
            signed_open = wallet_sign(unsigned, run.parent)
            run.opening_signature = signature_of(signed_open)
            if run.ending == "expire":
                assert opened is not None and warped is not None
                run.stage = "wallet-submitting"
                # The wallet sends the opening itself; the backend will find the signature already landed.
                try:
                    await rpc_call(self.node_url, "sendTransaction", [signed_open, {"encoding": "base64"}])
                except RuntimeError:
                    continue  # refused (its blockhash expired): re-offer
                await self.chain.wait_for_signature(run.opening_signature)
                opened.set()
                await warped.wait()
            run.stage = "approving"
            try:
                run.approved = await self.update(
                    run,
                    APPROVE_UPDATE,
                    ApproveRequest(vault_pda=run.created.vault_pda, signed_transaction=signed_open),
                    ApproveResult,
                    f"approve-{attempt}",
                )
            except WorkflowUpdateFailedError as err:
                if error_type(err) != ErrorType.INVALID_TRANSACTION or run.ending == "expire":
                    raise
                continue
            break
        else:
            raise AssertionError(f"session {run.session_id}: never approved")
        self.progress.bump("sessions_active")
        self.progress.note(f"session {run.index} ({run.ending}) ACTIVE")

    async def trade_and_end(self, run: SessionRun) -> None:
        run.stage = "depositing"
        run.deposit = await self._deposit(run, DEPOSIT)
        for n, trade in enumerate(run.trades):
            run.stage = f"trade {n + 1}/{len(run.trades)}"
            try:
                trade.result = await self.update(
                    run, TRADE_UPDATE, TradeRequest(trade_id=trade.trade_id, fee_lamports=trade.fee), TradeResult,
                    f"trade-{trade.trade_id}",
                )
            except WorkflowUpdateFailedError as err:
                trade.error = error_type(err)
            except WorkflowClosed:
                trade.error = SESSION_CLOSED
            self.progress.bump("trades_done")
        if run.ending == "revoke":
            run.stage = "revoking"
            await self._revoke(run)
        run.stage = "awaiting outcome"
        run.outcome = await self._transport("result", lambda: self.handle(run).result(rpc_timeout=RPC_TIMEOUT))
        run.stage = "done"
        self.progress.bump("sessions_done")
        self.progress.note(f"session {run.index} ({run.ending}) {run.outcome.status}")

    async def _deposit(self, run: SessionRun, amount: int) -> DepositRecord:
        record = DepositRecord(amount=amount)
        for attempt in range(MAX_BUSINESS_RETRIES):
            try:
                quote = await self.update(
                    run, QUOTE_DEPOSIT_UPDATE, DepositRequest(amount_lamports=amount), DepositQuote,
                    f"quote-{attempt}",
                )
                signed = wallet_sign(quote.unsigned_transaction, run.parent)
                result = await self.update(
                    run, SUBMIT_DEPOSIT_UPDATE, SubmitDepositRequest(signed_transaction=signed), DepositResult,
                    f"deposit-{attempt}",
                )
            except WorkflowUpdateFailedError as err:
                if error_type(err) == ErrorType.INVALID_TRANSACTION:
                    # The signed deposit's blockhash expired before it could land: a fresh offer, signed again.
                    record.abandoned_signatures.append(signature_of(signed))
                    self.progress.business_retries["deposit re-sign"] += 1
                    continue
                record.error = error_type(err)
                return record
            except WorkflowClosed:
                record.error = SESSION_CLOSED
                return record
            record.signature = result.signature
            return record
        record.error = "gave up"
        return record

    async def _revoke(self, run: SessionRun) -> None:
        for attempt in range(MAX_BUSINESS_RETRIES):
            offer = await self.update(run, REVOKE_UPDATE, RevokeRequest(reason="fault test"), RevokeResult,
                                      f"revoke-offer-{attempt}")
            if offer.revoked_on_chain or offer.unsigned_transaction is None:
                return
            signed = wallet_sign(offer.unsigned_transaction, run.parent)
            try:
                done = await self.update(
                    run, REVOKE_UPDATE, RevokeRequest(signed_transaction=signed), RevokeResult,
                    f"revoke-submit-{attempt}",
                )
            except WorkflowUpdateFailedError as err:
                if error_type(err) == ErrorType.INVALID_TRANSACTION:
                    run.abandoned_revoke_signatures.append(signature_of(signed))
                    self.progress.business_retries["revoke re-sign"] += 1
                    continue
                raise
            run.revoke_signature = done.signature
            return
        raise AssertionError(f"session {run.session_id}: revoke never went through")


def error_type(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    return (cause.type or "?") if isinstance(cause, ApplicationError) else type(cause).__name__


async def fund(chain: ChainClient, count: int, lamports: int = 3 * SOL) -> list[Keypair]:
    keypairs = [Keypair() for _ in range(count)]
    await asyncio.gather(*(chain.request_airdrop(kp.pubkey(), lamports) for kp in keypairs))
    return keypairs


def plan_sessions(parents: list[Keypair], *, expiring: int, trades: int) -> list[SessionRun]:
    runs = []
    for i, parent in enumerate(parents):
        fees = [5_000 + 1_000 * j + i for j in range(trades)]
        runs.append(
            SessionRun(
                index=i,
                parent=parent,
                ending="expire" if i < expiring else "revoke",
                trades=[TradeRecord(trade_id=str(uuid.uuid4()), fee=fee) for fee in fees],
            )
        )
    return runs


async def run_sessions(driver: Driver, runs: list[SessionRun]) -> None:
    """Open every session (the expiring ones around one clock warp), then deposit, trade and end them all at once."""
    expiring = [r for r in runs if r.ending == "expire"]
    opened = {r.session_id: asyncio.Event() for r in expiring}
    warped = asyncio.Event()

    async def warp_when_all_opened() -> None:
        await asyncio.gather(*(e.wait() for e in opened.values()))
        if expiring:
            await rpc_call(driver.node_url, "localnet_warpClock", [driver.expiry_warp])
        warped.set()

    async def one(run: SessionRun) -> None:
        await driver.open(run, opened.get(run.session_id), warped)
        await driver.trade_and_end(run)

    # A task group, not gather: if one session fails, the others are cancelled rather than left running.
    async with asyncio.TaskGroup() as group:
        group.create_task(warp_when_all_opened())
        for run in runs:
            group.create_task(one(run))


def describe(runs: list[SessionRun]) -> str:
    return "\n".join(f"  session {r.index} ({r.ending}) {r.session_id}: {r.stage}" for r in runs)


# --- the audit -------------------------------------------------------------------------------------------------------


@dataclass
class LandedTx:
    signature: str
    ok: bool
    events: list[Any]


async def vault_history(chain: ChainClient, node_url: str, vault: str) -> list[LandedTx]:
    """Every transaction that touched the vault, oldest first, with its decoded events (failed ones: no events)."""
    entries = await rpc_call(node_url, "getSignaturesForAddress", [vault, {"commitment": "confirmed"}])
    landed = []
    for entry in reversed(entries):
        if entry["err"] is not None:
            landed.append(LandedTx(entry["signature"], ok=False, events=[]))
            continue
        result = await chain.transaction_result(entry["signature"])
        assert result is not None, entry
        landed.append(LandedTx(entry["signature"], ok=True, events=result.events))
    return landed


async def audit(driver: Driver, runs: list[SessionRun], db: asyncpg.Connection, cleaner: Pubkey) -> list[str]:
    problems: list[str] = []
    lock = asyncio.Lock()  # one asyncpg connection: one query at a time

    async def one(run: SessionRun) -> list[str]:
        return [f"session {run.index} ({run.ending}): {p}" for p in await _audit_one(driver, run, db, cleaner, lock)]

    for found in await asyncio.gather(*(one(r) for r in runs)):
        problems += found
    driver.progress.note("audit done")
    return problems


async def _landed_ok(chain: ChainClient, signature: str) -> bool | None:
    """True: landed and succeeded; False: landed and failed; None: the chain never saw it."""
    status = await chain.signature_status(signature)
    if status is None:
        return None
    return status.err is None


async def _audit_one(
    driver: Driver, run: SessionRun, db: asyncpg.Connection, cleaner: Pubkey, lock: asyncio.Lock
) -> list[str]:
    p: list[str] = []
    chain = driver.chain
    assert run.created is not None and run.outcome is not None
    vault = run.created.vault_pda
    session_id = uuid.UUID(run.session_id)

    # --- the workflow's answer ---
    ok_trades = run.succeeded_trades()
    deposits = [INITIAL_DEPOSIT] + ([run.deposit.amount] if run.deposit and run.deposit.signature else [])
    if run.outcome.status is not SessionState.CLEANED:
        p.append(f"final state {run.outcome.status}, expected CLEANED")
    if run.outcome.trade_count != len(ok_trades):
        p.append(f"outcome trade_count {run.outcome.trade_count} != {len(ok_trades)} trades answered with a result")
    if run.outcome.total_spent != sum(t.fee for t in ok_trades):
        p.append(f"outcome total_spent {run.outcome.total_spent} != {sum(t.fee for t in ok_trades)}")
    if run.outcome.total_deposited != sum(deposits):
        p.append(f"outcome total_deposited {run.outcome.total_deposited} != {sum(deposits)}")
    # An expiring session may refuse a late trade or deposit: by the workflow's clock before anything is signed, or
    # by the program when a retried attempt (after a crash or an outage) reaches the chain after session_expiry, or
    # by Temporal when the session had already ended (expired and cleaned) before the request came.
    # Either way it must have had no effect, which the chain checks below verify.
    allowed_refusals = (
        {ErrorType.SESSION_EXPIRED, ErrorType.program_error("SessionExpired"), SESSION_CLOSED}
        if run.ending == "expire"
        else set()
    )
    deposited = run.deposit is not None and run.deposit.signature is not None
    if not deposited and (run.deposit is None or run.deposit.error not in allowed_refusals):
        p.append(f"the deposit did not go through: {run.deposit}")
    refused = [t for t in run.trades if t.result is None]
    for t in refused:
        if t.error not in allowed_refusals:
            p.append(f"trade {t.trade_id} failed with {t.error}")

    # --- the chain: each effect exactly once ---
    if await chain.raw_account(Pubkey.from_string(vault)) is not None:
        p.append("the vault account still exists")
    history = await vault_history(chain, driver.node_url, vault)
    events = [(tx.signature, e) for tx in history if tx.ok for e in tx.events]
    created = [e for _, e in events if isinstance(e, VaultCreated)]
    auto_deposits = sorted(e.amount for _, e in events if isinstance(e, AutoDeposit))
    trade_events = Counter(str(uuid.UUID(bytes=bytes(e.trade_ref))) for _, e in events if isinstance(e, TradeExecuted))
    trade_fees = {str(uuid.UUID(bytes=bytes(e.trade_ref))): e.fee_lamports for _, e in events
                  if isinstance(e, TradeExecuted)}
    revoked = [s for s, e in events if isinstance(e, AccessRevoked)]
    cleaned = [(s, e) for s, e in events if isinstance(e, VaultCleaned)]
    if len(created) != 1:
        p.append(f"{len(created)} VaultCreated events")
    if auto_deposits != sorted(deposits):
        p.append(f"AutoDeposit amounts on chain {auto_deposits} != requested {sorted(deposits)}")
    expected_trades = {t.trade_id: t.fee for t in ok_trades}
    for trade_id, count in trade_events.items():
        if count != 1:
            p.append(f"trade {trade_id} executed {count} times on chain")
        if trade_id not in expected_trades:
            p.append(f"trade {trade_id} executed on chain but its request was answered {refusal_of(run, trade_id)}")
    for trade_id, fee in expected_trades.items():
        if trade_events.get(trade_id, 0) == 0:
            p.append(f"trade {trade_id} answered with a result but never executed on chain")
        elif trade_fees[trade_id] != fee:
            p.append(f"trade {trade_id}: fee {trade_fees[trade_id]} on chain, {fee} requested")
    if run.ending == "revoke" and len(revoked) != 1:
        p.append(f"{len(revoked)} AccessRevoked events, expected 1")
    if run.ending == "expire" and revoked:
        p.append("an expiring session was revoked on chain")
    if len(cleaned) != 1:
        p.append(f"{len(cleaned)} VaultCleaned events, expected 1")
    elif cleaned[0][0] != run.outcome.cleanup_signature:
        p.append(f"cleanup signature {run.outcome.cleanup_signature} is not the VaultCleaned tx {cleaned[0][0]}")
    ephemeral = Pubkey.from_string(run.created.ephemeral_pubkey)
    if (left := await chain.balance(ephemeral)) != 0:
        p.append(f"{left} lamports left on the ephemeral key (fee float not swept)")
    resigned = (run.deposit.abandoned_signatures if run.deposit else []) + run.abandoned_revoke_signatures
    for sig in resigned + run.abandoned_opening_signatures:
        if await _landed_ok(chain, sig):
            p.append(f"a refused parent-signed transaction {sig} landed anyway")

    # --- the database agrees with the chain ---
    async with lock:
        row = await db.fetchrow("SELECT status FROM sessions WHERE id = $1", session_id)
        key = await db.fetchrow("SELECT shredded_at, wrapped_dek FROM session_keys WHERE session_id = $1", session_id)
        txs = await db.fetch("SELECT * FROM vault_transactions WHERE session_id = $1", session_id)
        cleanups = await db.fetch("SELECT * FROM cleanup_events WHERE vault_pda = $1", vault)
        delegations = await db.fetch(
            "SELECT event, signature FROM delegation_history WHERE session_id = $1", session_id
        )
    if row is None or row["status"] != "CLEANED":
        p.append(f"sessions.status is {row and row['status']}, expected CLEANED")
    if key is None or key["shredded_at"] is None or key["wrapped_dek"] is not None:
        p.append("the session key is not shredded")
    for r in txs:
        error = f" ({r['error'].split(':')[0][:40]})" if r["status"] == "failed" and r["error"] else ""
        driver.progress.ledger_rows[f"{r['kind']} {r['status']}{error}"] += 1
    on_chain_ok = {tx.signature for tx in history if tx.ok}
    confirmed_vault_txs = {r["signature"] for r in txs if r["status"] == "confirmed" and r["kind"] != "sweep"}
    if confirmed_vault_txs != on_chain_ok:
        only_db, only_chain = sorted(confirmed_vault_txs - on_chain_ok), sorted(on_chain_ok - confirmed_vault_txs)
        p.append(f"confirmed vault transactions differ: only in the database {only_db}, only on chain {only_chain}")
    for r in txs:
        landed = await _landed_ok(chain, r["signature"])
        if r["status"] == "confirmed" and landed is not True:
            p.append(f"{r['kind']} {r['signature']} is confirmed in the database, landed={landed} on chain")
        if r["status"] == "failed" and landed is True:
            p.append(f"{r['kind']} {r['signature']} is failed in the database but succeeded on chain")
        if r["status"] == "submitted":
            p.append(f"{r['kind']} {r['signature']} is still 'submitted' (landed={landed}) after the session ended")
    db_trades = Counter(str(r["trade_ref"]) for r in txs if r["kind"] == "trade" and r["status"] == "confirmed")
    if dict(db_trades) != dict.fromkeys(expected_trades, 1):
        p.append(f"confirmed trade rows per trade_ref {dict(db_trades)} != one per executed trade")
    kinds = Counter(r["kind"] for r in txs if r["status"] == "confirmed")
    expected_kinds = {
        "open": 1,
        "deposit": 1 if deposited else 0,
        "cleanup": 1,
        "revoke": 1 if run.ending == "revoke" else 0,
    }
    for kind, n in expected_kinds.items():
        if kinds.get(kind, 0) != n:
            p.append(f"{kinds.get(kind, 0)} confirmed '{kind}' rows, expected {n}")
    expected_delegations = {("approved", run.opening_signature)}
    if run.ending == "revoke":
        expected_delegations.add(("revoked", revoked[0] if revoked else None))
    if {(d["event"], d["signature"]) for d in delegations} != expected_delegations or len(delegations) != len(
        expected_delegations
    ):
        p.append(f"delegation_history {[tuple(d) for d in delegations]} != {sorted(expected_delegations, key=str)}")
    trigger = "manual" if run.ending == "revoke" else "timer"
    if len(cleanups) != 1:
        p.append(f"{len(cleanups)} cleanup_events rows")
    elif cleaned:
        c, (sig, event) = cleanups[0], cleaned[0]
        if (c["signature"], c["refunded"], c["reward"], c["trigger"], c["cleaner"]) != (
            sig, event.refunded, event.reward, trigger, str(cleaner)
        ):
            p.append(f"cleanup_events row {dict(c)} != chain ({sig}, {event}) / trigger {trigger}")
    return p


def refusal_of(run: SessionRun, trade_id: str) -> str:
    for t in run.trades:
        if t.trade_id == trade_id:
            return f"with error {t.error}"
    return "never (unknown trade id)"


async def chain_ready(chain: ChainClient) -> None:
    """Wait out a node restart from the auditor's side."""
    for _ in range(200):
        try:
            await chain.block_height()
            return
        except ChainError:
            await asyncio.sleep(0.1)
    raise AssertionError("the node never came back")
