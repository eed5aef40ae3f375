"""Full session lifecycles per second beside the raw Temporal ceiling, measured in the same run on the same server.

A lifecycle, driven the way the API drives it (Temporal client calls; the API's own cost is `bench api`):
create (update-with-start) → approve with the parent-signed opening transaction → quote + submit a deposit →
N trades → revoke (offered, then parent-signed) → the workflow settles, cleans the vault up on chain (CLEANED).
`concurrency` lifecycles run at once; lifecycles/s = completed / wall time.

The ceiling: the same number of `TrivialWorkflow`s at once, each running as many no-op activities (and local
activities) one after another as a real lifecycle schedules (counted from real histories), on the same dev server,
with a worker in a process of its own with the same activity slots. Levels up to 100 sessions run in rounds, each a
lifecycle wave and then a ceiling wave, and report the median of the rounds' ratios: a wave there lasts seconds, and
one pair of waves moved from 0.49 to 0.58 between runs of the same code minutes apart as the machine's speed drifted.

The ordinary ceiling: the same total number of no-op activities, all of them ordinary ones (the issue's words, "the
same number of no-op activities", read literally; the ceiling above also matches their kinds).

The shaped ceiling (a further baseline, not the issue's): the same, but each trivial workflow is driven through as
many updates as a lifecycle's client sends (counted from the same histories; the first one an update-with-start),
each update running its share of the no-op activities. It is Temporal's own cost of a lifecycle's interaction shape,
so `lifecycles/s ÷ shaped ceiling` is what our code (chain, database, custody, workflow logic) leaves of it.

Where the time goes: CPU seconds per process (PostgreSQL counts its backends) per lifecycle, and per activity type
the time queued (scheduled → started) and running (started → completed) from the histories of a sample of sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from solders.keypair import Keypair
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from bench.report import percentile, table
from bench.stack import TASK_QUEUE, BenchStack
from bench.trivial import TRIVIAL_TASK_QUEUE, TrivialInput, TrivialWorkflow
from demo.flow import wallet_sign
from ephemeral_vault.chain.client import ChainClient
from workflows.client import session_start_operation
from workflows.messages import (
    APPROVE_UPDATE,
    CREATE_UPDATE,
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
WALLET_ATTEMPTS = 4  # signatures a wallet makes for one step before it gives up
CALL_ATTEMPTS = 5  # tries of one Temporal call that ran into the server's RPC deadline before the client gives up
HISTORY_SAMPLE = 20
ROUNDED_UP_TO = 100  # levels up to this many sessions run DEFAULT_ROUNDS rounds; larger ones, minutes per wave, one
DEFAULT_ROUNDS = 3
LOCAL_ACTIVITY_MARKER = "core_local_activity"  # the marker the SDK's core records for each local activity


def _per_second(done: int, wall_s: float) -> float:
    return done / wall_s if wall_s else 0.0


@dataclass
class LevelResult:
    concurrency: int
    trades: int
    wall_s: float
    completed: int
    failed: int
    ceiling_wall_s: float
    ceiling_completed: int
    activities_per_lifecycle: int
    local_activities_per_lifecycle: int = 0
    updates_per_lifecycle: int = 0
    ordinary_wall_s: float = 0.0
    ordinary_completed: int = 0
    shaped_wall_s: float = 0.0
    shaped_completed: int = 0
    shaped_errors: list[str] = field(default_factory=list)
    lifecycle_s: list[float] = field(default_factory=list)
    step_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process, during the real lifecycles
    ceiling_cpu_s: dict[str, float] = field(default_factory=dict)
    rss_mib: dict[str, float] = field(default_factory=dict)
    profile: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # kind → (count, queued s, run s)
    timed_out_tasks: float = 0.0  # workflow tasks per lifecycle that timed out waiting for a worker (HistoryShape)
    errors: list[str] = field(default_factory=list)
    # What the client did again, per step: re-signs (as_a_wallet) and retried calls (patiently).
    repeats: Counter[str] = field(default_factory=Counter)
    shaped_repeats: Counter[str] = field(default_factory=Counter)  # the shaped ceiling's client's retries
    # lifecycles/s ÷ ceiling wf/s of each round (a lifecycle wave, then a ceiling wave)
    round_ratios: list[float] = field(default_factory=list)
    # the worker's Temporal SDK counters and the server's cache misses over the lifecycle waves, and the trivial
    # worker's and the server's over the ceiling waves
    counters: dict[str, float] = field(default_factory=dict)
    ceiling_counters: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        """The target's figure: the median round's ratio (or the level's, measured in one round)."""
        if self.round_ratios:
            return statistics.median(self.round_ratios)
        return self.rate / self.ceiling_rate if self.ceiling_rate else float("nan")

    @property
    def rate(self) -> float:
        return _per_second(self.completed, self.wall_s)

    @property
    def ceiling_rate(self) -> float:
        return _per_second(self.ceiling_completed, self.ceiling_wall_s)

    @property
    def ordinary_rate(self) -> float:
        return _per_second(self.ordinary_completed, self.ordinary_wall_s)

    @property
    def shaped_rate(self) -> float:
        return _per_second(self.shaped_completed, self.shaped_wall_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency, "trades": self.trades, "lifecycles_per_s": self.rate,
            "ceiling_per_s": self.ceiling_rate, "ratio": self.ratio if self.ceiling_rate else None,
            "round_ratios": self.round_ratios,
            "completed": self.completed, "failed": self.failed, "wall_s": self.wall_s,
            "ceiling_wall_s": self.ceiling_wall_s, "activities_per_lifecycle": self.activities_per_lifecycle,
            "local_activities_per_lifecycle": self.local_activities_per_lifecycle,
            "updates_per_lifecycle": self.updates_per_lifecycle, "shaped_ceiling_per_s": self.shaped_rate,
            "ordinary_ceiling_per_s": self.ordinary_rate,
            "ordinary_ratio": self.rate / self.ordinary_rate if self.ordinary_rate else None,
            "shaped_ratio": self.rate / self.shaped_rate if self.shaped_rate else None,
            "shaped_failed": len(self.shaped_errors), "shaped_errors": self.shaped_errors[:5],
            "lifecycle_p50_s": percentile(self.lifecycle_s, 50), "lifecycle_p95_s": percentile(self.lifecycle_s, 95),
            "steps_p50_s": {k: percentile(v, 50) for k, v in self.step_s.items()},
            "cpu_s": self.cpu_s, "ceiling_cpu_s": self.ceiling_cpu_s, "rss_mib": self.rss_mib,
            "profile": {k: {"count": c, "queued_s": q, "run_s": r} for k, (c, q, r) in self.profile.items()},
            "errors": self.errors[:5], "repeats": dict(self.repeats),
            "shaped_repeats": dict(self.shaped_repeats),
            "error_kinds": dict(Counter(failure_kind(e) for e in self.errors)),
            "counters": self.counters, "ceiling_counters": self.ceiling_counters,
            "timed_out_tasks_per_lifecycle": self.timed_out_tasks,
        }


async def fund_parents(rpc_url: str, count: int) -> list[Keypair]:
    parents = [Keypair() for _ in range(count)]
    gate = asyncio.Semaphore(32)
    async with ChainClient(rpc_url, poll_interval_seconds=0.02, confirm_timeout_seconds=120) as chain:

        async def fund(kp: Keypair) -> None:
            async with gate:
                await chain.request_airdrop(kp.pubkey(), 2 * SOL)

        await asyncio.gather(*(fund(kp) for kp in parents))
    return parents


async def lifecycle(client: Client, parent: Keypair, trades: int, steps: dict[str, list[float]],
                    repeats: Counter[str], task_queue: str = TASK_QUEUE) -> SessionOutcome:
    session_id = str(uuid.uuid4())
    mark = time.perf_counter()
    done = "nothing"

    def lap(step: str) -> None:
        nonlocal mark, done
        now = time.perf_counter()
        steps[step].append(now - mark)
        mark, done = now, step

    try:
        return await _lifecycle_steps(client, parent, trades, task_queue, session_id, lap, repeats)
    except Exception as exc:
        exc.add_note(f"after {done}")
        raise


async def _lifecycle_steps(client: Client, parent: Keypair, trades: int, task_queue: str, session_id: str,
                           lap: Any, repeats: Counter[str]) -> SessionOutcome:
    req = CreateSessionRequest(session_id=session_id, parent_wallet=str(parent.pubkey()),
                               session_duration_seconds=3600, max_deposit_lamports=SOL,
                               initial_deposit_lamports=SOL // 10)
    created = await patiently(lambda update_id: update_with_start(
        client, CREATE_UPDATE, session_start_operation(req, task_queue), id=update_id,
        result_type=CreateSessionResult), repeats, "create")
    lap("create")
    handle = client.get_workflow_handle(workflow_id_for(session_id), result_type=SessionOutcome)

    async def update(step: str, name: str, result_type: type[T], *args: Any) -> T:
        return await patiently(lambda update_id: handle.execute_update(name, args=args, id=update_id,
                                                                       result_type=result_type), repeats, step)

    async def fresh_opening() -> str:
        return (await update("opening", REFRESH_OPENING_UPDATE, CreateSessionResult)).unsigned_transaction

    async def approve(signed: str) -> ApproveResult:
        return await update("approve", APPROVE_UPDATE, ApproveResult, ApproveRequest(
            vault_pda=created.vault_pda, signed_transaction=signed))

    await as_a_wallet(created.unsigned_transaction, fresh_opening, approve, parent, repeats, "opening")
    lap("approve")

    async def deposit_offer() -> str:
        return (await update("deposit", QUOTE_DEPOSIT_UPDATE, DepositQuote,
                             DepositRequest(amount_lamports=SOL // 20))).unsigned_transaction

    async def deposit(signed: str) -> DepositResult:
        return await update("deposit", SUBMIT_DEPOSIT_UPDATE, DepositResult,
                            SubmitDepositRequest(signed_transaction=signed))

    await as_a_wallet(await deposit_offer(), deposit_offer, deposit, parent, repeats, "deposit")
    lap("deposit")
    for _ in range(trades):
        await update("trade", TRADE_UPDATE, TradeResult,
                     TradeRequest(trade_id=str(uuid.uuid4()), fee_lamports=5_000))
        lap("trade")

    async def revoke_offer() -> str:
        offered = await update("revoke", REVOKE_UPDATE, RevokeResult, RevokeRequest())
        assert offered.unsigned_transaction is not None
        return offered.unsigned_transaction

    async def revoke(signed: str) -> RevokeResult:
        return await update("revoke", REVOKE_UPDATE, RevokeResult, RevokeRequest(signed_transaction=signed))

    await as_a_wallet(await revoke_offer(), revoke_offer, revoke, parent, repeats, "revoke")
    lap("revoke")
    outcome = await handle.result()
    lap("cleanup")
    if outcome.status is not SessionState.CLEANED:
        raise RuntimeError(f"session ended {outcome.status}")
    return outcome


def ran_into_deadline(exc: BaseException) -> bool:
    """Temporal's RPC deadline: the server took too long to take the call (saturated), not a refusal."""
    return isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError) or (
        isinstance(exc, RPCError) and exc.status == RPCStatusCode.DEADLINE_EXCEEDED)


async def patiently(call: Callable[[str], Awaitable[T]], repeats: Counter[str], step: str) -> T:
    """`call(update_id)`, tried again when it ran into Temporal's RPC deadline — what a client does with the API's
    504 "retry later" (at 1,000 sessions on 2 cores the server cannot take every call in time). Every try passes the
    same update id, so a retry joins the update an earlier try got admitted instead of running a second one (the
    workflow's own idempotency — trade ids, signatures — would absorb a second one anyway). Retries are counted."""
    update_id = str(uuid.uuid4())
    for attempt in range(1, CALL_ATTEMPTS + 1):
        try:
            return await call(update_id)
        except Exception as exc:
            if attempt == CALL_ATTEMPTS or not ran_into_deadline(exc):
                raise
        repeats[f"{step} retried after an RPC deadline"] += 1
    raise AssertionError("unreachable")


async def update_with_start(client: Client, update: Any, start: WithStartWorkflowOperation[Any, Any],
                            **kwargs: Any) -> Any:
    """execute_update_with_start_workflow; when it fails (an RPC deadline at 1,000 sessions), the start half holds
    the same failure: read it, or asyncio reports "Future exception was never retrieved" with a traceback."""
    try:
        return await client.execute_update_with_start_workflow(update, start_workflow_operation=start, **kwargs)
    except Exception:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(start.workflow_handle(), 1)
        raise


async def as_a_wallet(unsigned: str, reoffer: Callable[[], Awaitable[str]], submit: Callable[[str], Awaitable[T]],
                      parent: Keypair, repeats: Counter[str], step: str) -> T:
    """Sign an offered transaction and submit it; when the workflow refuses it as InvalidTransaction (its blockhash
    expired while the request queued — at 1,000 sessions on 2 cores a step can take longer than a blockhash lives),
    ask for a fresh offer and sign again, as a wallet does. Re-signs are counted, not hidden."""
    for attempt in range(1, WALLET_ATTEMPTS + 1):
        try:
            return await submit(wallet_sign(unsigned, parent))
        except WorkflowUpdateFailedError as err:
            if attempt == WALLET_ATTEMPTS or getattr(err.cause, "type", None) != ErrorType.INVALID_TRANSACTION:
                raise
        repeats[f"{step} re-signed"] += 1
        unsigned = await reoffer()
    raise AssertionError("unreachable")


def failure_summary(exc: BaseException) -> str:
    """What failed and where: the business error's type and message when an update failed, and the last step that
    had completed (a note `lifecycle` adds)."""
    cause = getattr(exc, "cause", None)
    kind = type(exc).__name__
    if cause is not None:
        kind += f" ({getattr(cause, 'type', None) or type(cause).__name__})"
    notes = "; ".join(getattr(exc, "__notes__", []))
    return f"{kind} {notes} — {cause if cause is not None else exc}"[:300]


def failure_kind(summary: str) -> str:
    """The part of a `failure_summary` to count by (the message may carry signatures and ids)."""
    return summary.split(" — ", 1)[0]


# The counters a level reports, per service (the names as each Prometheus endpoint spells them). A worker's (Temporal
# Core's): whether running sessions' workflow tasks found their workflow in the worker's cache; a miss replays its
# whole history. The server's, per cache: a miss of its mutable-state cache or events cache reads the workflow's
# record or history events back from the database.
SDK_COUNTERS = (
    "temporal_sticky_cache_hit",
    "temporal_sticky_cache_miss",
    "temporal_sticky_cache_total_forced_eviction",
    "temporal_workflow_task_execution_latency_count",
)
SERVER_CACHES = ("mutablestate", "events")
SERVER_COUNTERS = tuple(f'cache_miss{{cache_type="{cache}"}}' for cache in SERVER_CACHES)


async def _counts(stack: BenchStack, service: str) -> dict[str, float]:
    """The counters `service` (a worker of the bench stack, or "temporal") reports now."""
    if service == "temporal":
        sums, names = await stack.metrics(service, by_label="cache_type"), SERVER_COUNTERS
    else:
        sums, names = await stack.metrics(service), SDK_COUNTERS
    return {name: sums[name] for name in names if name in sums}


async def _all_counts(stack: BenchStack, worker: str) -> dict[str, float]:
    """A wave's worker's counters and the server's, in one dict (their names do not overlap)."""
    return {**await _counts(stack, worker), **await _counts(stack, "temporal")}


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


@dataclass
class HistoryShape:
    """What a lifecycle's history holds, the most of each over the sampled histories."""

    activities: int
    local_activities: int
    updates: int
    profile: dict[str, tuple[int, float, float]]  # kind → (count per lifecycle, mean queued s, mean running s)
    # workflow tasks per lifecycle that timed out before a worker started them (on the sticky queue: a worker too
    # busy to poll within its schedule-to-start timeout), each rescheduled on the normal queue with two more events
    timed_out_tasks: float = 0.0


async def history_profile(client: Client, workflow_ids: list[str]) -> HistoryShape:
    """Counts and, per kind (activity types plus `workflow task`), times averaged over the histories of
    `workflow_ids`. A local activity leaves only a marker (no scheduled/started/completed events), so it is counted,
    not timed: its time is inside the workflow task that ran it."""
    queued: dict[str, list[float]] = defaultdict(list)
    running: dict[str, list[float]] = defaultdict(list)
    activity_counts, local_counts, update_counts = [], [], []
    timed_out = 0
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        scheduled: dict[int, tuple[str, float]] = {}
        started: dict[int, float] = {}
        count = local = updates = 0
        for ev in history.events:
            at = ev.event_time.seconds + ev.event_time.nanos / 1e9
            if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled[ev.event_id] = (ev.activity_task_scheduled_event_attributes.activity_type.name, at)
                count += 1
            elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                sched_id = ev.activity_task_started_event_attributes.scheduled_event_id
                name, sched_at = scheduled[sched_id]
                queued[name].append(at - sched_at)
                started[sched_id] = at
            elif ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                sched_id = ev.activity_task_completed_event_attributes.scheduled_event_id
                running[scheduled[sched_id][0]].append(at - started[sched_id])
            elif (ev.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                  and ev.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER):
                local += 1
            elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                updates += 1
            elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
                scheduled[ev.event_id] = ("workflow task", at)
            elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                sched_id = ev.workflow_task_started_event_attributes.scheduled_event_id
                if sched_id in scheduled:
                    queued["workflow task"].append(at - scheduled[sched_id][1])
                started[sched_id] = at
            elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                sched_id = ev.workflow_task_completed_event_attributes.scheduled_event_id
                if sched_id in started:
                    running["workflow task"].append(at - started[sched_id])
            elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                timed_out += 1
        activity_counts.append(count)
        local_counts.append(local)
        update_counts.append(updates)
    n = max(len(workflow_ids), 1)
    profile = {
        kind: (round(len(running[kind]) / n), sum(queued[kind]) / max(len(queued[kind]), 1),
               sum(running[kind]) / max(len(running[kind]), 1))
        for kind in running
    }
    return HistoryShape(_most_common(activity_counts), _most_common(local_counts), _most_common(update_counts),
                        profile, timed_out / n)


def _most_common(counts: list[int]) -> int:
    """A typical lifecycle's count (a lifecycle whose wallet had to re-sign ran a few more steps)."""
    return Counter(counts).most_common(1)[0][0] if counts else 0


def rounds_for(concurrency: int, requested: int | None = None) -> int:
    """Rounds a level runs: `requested` (--rounds) if given, else DEFAULT_ROUNDS up to ROUNDED_UP_TO sessions."""
    if requested is not None:
        return requested
    return DEFAULT_ROUNDS if concurrency <= ROUNDED_UP_TO else 1


def _add(total: dict[str, float], more: dict[str, float]) -> dict[str, float]:
    return {name: total.get(name, 0.0) + more.get(name, 0.0) for name in {*total, *more}}


async def run_level(stack: BenchStack, client: Client, concurrency: int, trades: int, log: Any,
                    rounds: int = 1) -> LevelResult:
    steps: dict[str, list[float]] = defaultdict(list)
    repeats: Counter[str] = Counter()
    lifecycle_s: list[float] = []
    errors: list[str] = []
    ids: list[str] = []

    async def one(parent: Keypair) -> None:
        started = time.perf_counter()
        try:
            outcome = await lifecycle(client, parent, trades, steps, repeats)
            lifecycle_s.append(time.perf_counter() - started)
            ids.append(workflow_id_for(outcome.session_id))
        except Exception as exc:  # counted and reported, the run goes on
            errors.append(failure_summary(exc))

    wall = ceiling_wall = 0.0
    done = 0
    cpu: dict[str, float] = {}
    ceiling_cpu: dict[str, float] = {}
    rss: dict[str, float] = {}
    counters: dict[str, float] = {}
    ceiling_counters: dict[str, float] = {}
    round_ratios: list[float] = []
    shape: HistoryShape | None = None
    for round_no in range(1, rounds + 1):
        of = f" (round {round_no} of {rounds})" if rounds > 1 else ""
        log(f"  {concurrency} lifecycles{of}: funding {concurrency} parent wallets …")
        parents = await fund_parents(stack.rpc_url, concurrency)
        log(f"  {concurrency} lifecycles ({trades} trades each) at once{of} …")
        completed_before, settled_before = len(lifecycle_s), len(lifecycle_s) + len(errors)
        cpu0, counts0 = stack.cpu_seconds(), await _all_counts(stack, "worker")
        t0 = time.perf_counter()
        await _with_progress(asyncio.gather(*(one(p) for p in parents)),
                             lambda before=settled_before: len(lifecycle_s) + len(errors) - before, concurrency, log)
        round_wall = time.perf_counter() - t0
        cpu = _add(cpu, _delta(stack.cpu_seconds(), cpu0))
        counters = _add(counters, _delta(await _all_counts(stack, "worker"), counts0))
        rss = {name: max(rss.get(name, 0.0), stack.rss_mib(name))
               for name in ("worker", "api", "temporal", "localnet", "postgres")}
        if shape is None:  # the first round's histories decide what every round's ceiling runs
            shape = await history_profile(client, ids[:HISTORY_SAMPLE])

        log(f"  ceiling{of}: {concurrency} trivial workflows x {shape.activities} no-op activities + "
            f"{shape.local_activities} local at once …")
        cpu0, counts0 = stack.cpu_seconds(), await _all_counts(stack, "trivial worker")
        round_ceiling_wall, round_done = await _trivial_wave(
            client, TrivialInput(activities=shape.activities, local_activities=shape.local_activities), concurrency,
            log)
        ceiling_cpu = _add(ceiling_cpu, _delta(stack.cpu_seconds(), cpu0))
        ceiling_counters = _add(ceiling_counters, _delta(await _all_counts(stack, "trivial worker"), counts0))
        wall, ceiling_wall, done = wall + round_wall, ceiling_wall + round_ceiling_wall, done + round_done
        round_rate = _per_second(len(lifecycle_s) - completed_before, round_wall)
        round_ceiling = _per_second(round_done, round_ceiling_wall)
        if round_ceiling:
            round_ratios.append(round_rate / round_ceiling)
    assert shape is not None
    k, local = shape.activities, shape.local_activities

    log(f"  ordinary ceiling: {concurrency} trivial workflows x {k + local} no-op ordinary activities at once …")
    ordinary_wall, ordinary_done = await _trivial_wave(client, TrivialInput(activities=k + local), concurrency, log)

    log(f"  shaped ceiling: {concurrency} trivial workflows x {shape.updates} updates sharing those activities …")
    shaped_done = 0
    shaped_errors: list[str] = []
    shaped_input = TrivialInput(activities=k, local_activities=local, updates=shape.updates)
    shaped_repeats: Counter[str] = Counter()

    async def shaped() -> None:
        nonlocal shaped_done
        workflow_id = f"shaped-{uuid.uuid4()}"
        try:
            # The lifecycle's client retries a call that ran into the RPC deadline; so does this one (USE_EXISTING:
            # a retried start joins the workflow an earlier try started, as our create does).
            await patiently(lambda update_id: update_with_start(
                client, TrivialWorkflow.step, WithStartWorkflowOperation(
                    TrivialWorkflow.run, shaped_input, id=workflow_id, task_queue=TRIVIAL_TASK_QUEUE,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                ), id=update_id), shaped_repeats, "create")
            handle = client.get_workflow_handle_for(TrivialWorkflow.run, workflow_id)
            for _ in range(shape.updates - 1):
                await patiently(lambda update_id: handle.execute_update(TrivialWorkflow.step, id=update_id),
                                shaped_repeats, "step")
            await handle.result()
            shaped_done += 1
        except Exception as exc:  # counted and reported, like a failed lifecycle
            shaped_errors.append(failure_summary(exc))

    shaped_wall = 0.0
    if shape.updates:
        t0 = time.perf_counter()
        await _with_progress(asyncio.gather(*(shaped() for _ in range(concurrency))),
                             lambda: shaped_done + len(shaped_errors), concurrency, log)
        shaped_wall = time.perf_counter() - t0
    return LevelResult(
        concurrency=concurrency, trades=trades, wall_s=wall, completed=len(lifecycle_s), failed=len(errors),
        ceiling_wall_s=ceiling_wall, ceiling_completed=done, activities_per_lifecycle=k,
        local_activities_per_lifecycle=local, updates_per_lifecycle=shape.updates, ordinary_wall_s=ordinary_wall,
        ordinary_completed=ordinary_done, shaped_wall_s=shaped_wall,
        shaped_completed=shaped_done, shaped_errors=shaped_errors, lifecycle_s=lifecycle_s,
        step_s=steps, cpu_s=cpu, ceiling_cpu_s=ceiling_cpu, rss_mib=rss, profile=shape.profile, errors=errors,
        timed_out_tasks=shape.timed_out_tasks,
        repeats=repeats, shaped_repeats=shaped_repeats, round_ratios=round_ratios if rounds > 1 else [],
        counters=counters, ceiling_counters=ceiling_counters,
    )


async def _trivial_wave(client: Client, input: TrivialInput, concurrency: int, log: Any) -> tuple[float, int]:
    """`concurrency` trivial workflows at once, each to its end: (wall seconds, how many completed)."""
    done = 0

    async def one() -> None:
        nonlocal done
        await client.execute_workflow(TrivialWorkflow.run, input, id=f"ceiling-{uuid.uuid4()}",
                                      task_queue=TRIVIAL_TASK_QUEUE)
        done += 1

    t0 = time.perf_counter()
    await _with_progress(asyncio.gather(*(one() for _ in range(concurrency))), lambda: done, concurrency, log)
    return time.perf_counter() - t0, done


async def _with_progress(work: Any, finished: Any, total: int, log: Any) -> None:
    task = asyncio.ensure_future(work)
    started = time.perf_counter()
    while not task.done():
        await asyncio.wait({task}, timeout=10)
        if not task.done():
            log(f"    … {finished()}/{total} done after {time.perf_counter() - started:.0f}s")
    task.result()


def level_notes(levels: list[LevelResult]) -> list[str]:
    """What the tables do not say: what the clients did again, and why lifecycles or ceiling workflows failed."""
    notes = []
    for lv in levels:
        for who, repeats in (("lifecycle clients", lv.repeats), ("shaped-ceiling clients", lv.shaped_repeats)):
            if repeats:
                notes.append(f"  {who} did again at {lv.concurrency}: "
                             + ", ".join(f"{what} x{n}" for what, n in repeats.most_common()))
        for kind, count in Counter(map(failure_kind, lv.errors)).most_common(5):
            notes.append(f"  {count} lifecycles failed at {lv.concurrency}: {kind}")
        for kind, count in Counter(map(failure_kind, lv.shaped_errors)).most_common(3):
            notes.append(f"  {count} shaped-ceiling workflows failed at {lv.concurrency}: {kind}")
        notes.extend(f"  for example: {error}" for error in lv.errors[:2])
        if lv.timed_out_tasks:
            notes.append(f"  workflow tasks that timed out waiting for the worker at {lv.concurrency}: "
                         f"{lv.timed_out_tasks:.2f} per lifecycle (sampled histories)")
        for worker, per, counts, workflows in (
            ("worker, lifecycles", "lifecycle", lv.counters, lv.completed + lv.failed),
            ("trivial worker, ceiling", "ceiling workflow", lv.ceiling_counters, lv.ceiling_completed),
        ):
            if any(name in counts for name in SDK_COUNTERS):
                notes.append(f"  workflow cache at {lv.concurrency} ({worker}): {sdk_summary(counts)}")
            if workflows and any(name in counts for name in SERVER_COUNTERS):
                misses = ", ".join(f"{cache} {counts.get(name, 0.0) / workflows:.1f}"
                                   for cache, name in zip(SERVER_CACHES, SERVER_COUNTERS, strict=True))
                notes.append(f"  Temporal server cache misses per {per} at {lv.concurrency}: {misses}")
    return notes


def sdk_summary(sdk: dict[str, float]) -> str:
    """One line from the SDK counters: how many workflow tasks ran, and how many found their workflow cached."""
    def n(name: str) -> int:
        return round(sdk.get(f"temporal_{name}", 0.0))

    return (f"{n('workflow_task_execution_latency_count')} workflow tasks, {n('sticky_cache_hit')} sticky hits, "
            f"{n('sticky_cache_miss')} misses, {n('sticky_cache_total_forced_eviction')} forced evictions")


def _count(repeats: Counter[str], kind: str) -> int:
    return sum(n for what, n in repeats.items() if kind in what)


def render(levels: list[LevelResult]) -> str:
    out = [table(
        ["concurrent sessions", "lifecycles/s", "ceiling wf/s", "ratio", "target ≥0.5", "rounds' ratios",
         "lifecycle p50 s", "p95 s", "failed", "activities", "worker RSS MiB", "api RSS MiB"],
        [[lv.concurrency, lv.rate, lv.ceiling_rate, lv.ratio,
          "met" if lv.ceiling_rate and lv.ratio >= 0.5 else "NOT met",
          " ".join(f"{r:.2f}" for r in lv.round_ratios) or "one round",
          percentile(lv.lifecycle_s, 50), percentile(lv.lifecycle_s, 95), lv.failed,
          f"{lv.activities_per_lifecycle} + {lv.local_activities_per_lifecycle} local",
          lv.rss_mib.get("worker", 0.0), lv.rss_mib.get("api", 0.0)] for lv in levels],
        title=f"Orchestration: full lifecycles ({levels[0].trades} trades each) vs the raw Temporal ceiling",
    )]
    out.append(table(
        ["concurrent sessions", "lifecycles/s", "ordinary ceiling wf/s", "ratio to ordinary", "shaped ceiling wf/s",
         "ratio to shaped", "updates per lifecycle", "shaped failed"],
        [[lv.concurrency, lv.rate, lv.ordinary_rate,
          lv.rate / lv.ordinary_rate if lv.ordinary_rate else float("nan"), lv.shaped_rate,
          lv.rate / lv.shaped_rate if lv.shaped_rate else float("nan"),
          lv.updates_per_lifecycle, len(lv.shaped_errors)] for lv in levels],
        title="\nThe same lifecycles vs two more baselines: the ordinary ceiling (as many no-op activities, all "
              "ordinary ones) and the shaped ceiling (the lifecycle's activities driven through as many updates)",
    ))
    out.append(table(
        ["concurrent sessions", "re-signed offers", "calls retried after an RPC deadline", "failed",
         "shaped: calls retried", "shaped: failed"],
        [[lv.concurrency, _count(lv.repeats, "re-signed"), _count(lv.repeats, "retried"), lv.failed,
          _count(lv.shaped_repeats, "retried"), len(lv.shaped_errors)] for lv in levels],
        title="\nWhat the clients did again (a wallet re-signs an offer whose blockhash expired while it queued; a "
              "client retries a call the saturated server did not take in time, joining the same update)",
    ))
    steps = sorted({s for lv in levels for s in lv.step_s}, key=["create", "approve", "deposit", "trade", "revoke",
                                                                   "cleanup"].index)
    out.append(table(["concurrent sessions", *[f"{s} p50 s" for s in steps]],
                     [[lv.concurrency, *[percentile(lv.step_s[s], 50) for s in steps]] for lv in levels],
                     title="\nClient-side step latency (p50; `trade` is one trade)"))
    procs = ["temporal", "worker", "postgres", "localnet", "bench driver", "trivial worker"]
    out.append(table(
        ["concurrent sessions", *[f"{p} ms" for p in procs], "total ms", "ceiling total ms"],
        [[lv.concurrency, *[1000 * lv.cpu_s.get(p, 0.0) / max(lv.completed, 1) for p in procs],
          1000 * sum(lv.cpu_s.values()) / max(lv.completed, 1),
          1000 * sum(lv.ceiling_cpu_s.values()) / max(lv.ceiling_completed, 1)] for lv in levels],
        title="\nWhere the time goes: CPU per lifecycle by process (2 cores = 2,000 ms of CPU per wall second)",
    ))
    last = levels[-1]
    rows = sorted(last.profile.items(), key=lambda kv: -kv[1][0] * (kv[1][1] + kv[1][2]))
    out.append(table(
        ["activity / task", "per lifecycle", "queued ms (mean)", "running ms (mean)", "total ms per lifecycle"],
        [[kind, count, 1000 * q, 1000 * r, 1000 * count * (q + r)] for kind, (count, q, r) in rows],
        title=f"\nPer activity, from {min(HISTORY_SAMPLE, last.completed)} histories at {last.concurrency} "
              f"concurrent sessions (queued = scheduled → started, running = started → completed)",
    ))
    return "\n".join(out)
