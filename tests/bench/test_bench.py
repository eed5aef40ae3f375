"""The benchmark code paths, without timing anything: one measured lifecycle on the fixture stack ends CLEANED and its
history profile counts what it ran; the ceiling workflows run their no-op activities (the shaped one inside its
updates); the table helpers."""

from __future__ import annotations

import asyncio
import math
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.client import WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from bench import api_bench, rpc_transport
from bench.__main__ import parse_args
from bench.orchestration import (
    LevelResult,
    as_a_wallet,
    failure_kind,
    failure_summary,
    fund_parents,
    history_profile,
    level_notes,
    lifecycle,
    patiently,
    render,
    rounds_for,
)
from bench.report import percentile, table
from bench.stack import BenchStack, prometheus_sums
from bench.trivial import TrivialInput, TrivialWorkflow, noop
from devstack.supervisor import Supervisor
from ephemeral_vault.db.embedded import EmbeddedPostgres
from tests.api.conftest import api_factory, stack
from tests.api.stack import Stack
from workflows.client import session_start_operation
from workflows.messages import (
    APPROVE_UPDATE,
    CREATE_UPDATE,
    REFRESH_OPENING_UPDATE,
    ApproveRequest,
    ApproveResult,
    CreateSessionRequest,
    CreateSessionResult,
    SessionState,
    workflow_id_for,
)

__all__ = ["api_factory", "stack"]  # fixtures, imported so pytest finds them here


async def test_a_measured_lifecycle_is_a_full_session_and_its_history_is_profiled(stack: Stack) -> None:
    (parent,) = await fund_parents(stack.chain.rpc_url, 1)
    steps: dict[str, list[float]] = defaultdict(list)
    resigned: Counter[str] = Counter()
    outcome = await lifecycle(stack.temporal, parent, 2, steps, resigned, task_queue=stack.task_queue)
    assert (outcome.status, outcome.trade_count) == (SessionState.CLEANED, 2)
    assert sorted(steps) == ["approve", "cleanup", "create", "deposit", "revoke", "trade"]
    assert len(steps["trade"]) == 2
    shape = await history_profile(stack.temporal, [workflow_id_for(outcome.session_id)])
    profile = shape.profile
    assert shape.activities == sum(count for kind, (count, _, _) in profile.items() if kind != "workflow task")
    # The short steps (policy, key, opening build, verification, status transitions, …) leave local-activity markers.
    assert shape.local_activities >= 8
    assert "provision_session_key" not in profile and "transition_session_status" not in profile
    # create, approve, quote, submit deposit, 2 trades, revoke offer, signed revoke.
    assert shape.updates == 8
    assert profile["execute_trade_onchain"][0] == 2 and profile["cleanup_vault_onchain"][0] == 1
    assert profile["workflow task"][0] > 0


async def test_the_ceiling_workflow_runs_its_no_op_activities(stack: Stack) -> None:
    task_queue = f"trivial-{uuid.uuid4()}"
    workflow_id = f"ceiling-{uuid.uuid4()}"
    async with Worker(stack.temporal, task_queue=task_queue, workflows=[TrivialWorkflow], activities=[noop]):
        ran = await stack.temporal.execute_workflow(
            TrivialWorkflow.run, TrivialInput(activities=4, local_activities=3), id=workflow_id, task_queue=task_queue)
    assert ran == 7
    shape = await history_profile(stack.temporal, [workflow_id])
    assert (shape.activities, shape.local_activities, shape.updates) == (4, 3, 0)


async def test_the_shaped_ceiling_runs_its_activities_inside_its_updates(stack: Stack) -> None:
    task_queue = f"trivial-{uuid.uuid4()}"
    workflow_id = f"shaped-{uuid.uuid4()}"
    shaped = TrivialInput(activities=4, local_activities=3, updates=3)
    async with Worker(stack.temporal, task_queue=task_queue, workflows=[TrivialWorkflow], activities=[noop]):
        first = await stack.temporal.execute_update_with_start_workflow(
            TrivialWorkflow.step,
            start_workflow_operation=WithStartWorkflowOperation(
                TrivialWorkflow.run, shaped, id=workflow_id, task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            ),
        )
        handle = stack.temporal.get_workflow_handle_for(TrivialWorkflow.run, workflow_id)
        rest = [await handle.execute_update(TrivialWorkflow.step) for _ in range(2)]
        assert await handle.result() == 7  # it ends once its last update has been answered
    assert [first, *rest] == [2, 2, 3]
    shape = await history_profile(stack.temporal, [workflow_id])
    assert (shape.activities, shape.local_activities, shape.updates) == (4, 3, 3)


async def test_a_call_that_ran_into_the_rpc_deadline_is_retried_and_joins_the_same_update(stack: Stack) -> None:
    """The bench's clients retry a call the saturated server did not take in time (at 1,000 sessions). The first try
    here gets a deadline no server can meet; the retry, with the same update id, must run the update once."""
    task_queue = f"trivial-{uuid.uuid4()}"
    workflow_id = f"shaped-{uuid.uuid4()}"
    tries: list[str] = []

    async def step_with_impossible_first_deadline(update_id: str) -> int:
        tries.append(update_id)
        deadline = timedelta(microseconds=1) if len(tries) == 1 else None
        return await handle.execute_update(TrivialWorkflow.step, id=update_id, rpc_timeout=deadline)

    async with Worker(stack.temporal, task_queue=task_queue, workflows=[TrivialWorkflow], activities=[noop]):
        first = await stack.temporal.execute_update_with_start_workflow(
            TrivialWorkflow.step,
            start_workflow_operation=WithStartWorkflowOperation(
                TrivialWorkflow.run, TrivialInput(activities=3, updates=3), id=workflow_id, task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            ),
        )
        handle = stack.temporal.get_workflow_handle_for(TrivialWorkflow.run, workflow_id)
        repeats: Counter[str] = Counter()
        second = await patiently(step_with_impossible_first_deadline, repeats, "step")
        third = await handle.execute_update(TrivialWorkflow.step)
        assert await handle.result() == 3
    assert repeats == Counter({"step retried after an RPC deadline": 1})
    assert len(tries) == 2 and tries[0] == tries[1]
    # Three updates for three one-activity chunks: had the retried one run twice, the third would have found no chunk
    # left and failed.
    assert [first, second, third] == [1, 1, 1]
    shape = await history_profile(stack.temporal, [workflow_id])
    assert (shape.updates, shape.activities) == (3, 3)


async def test_a_refused_call_is_not_retried(stack: Stack) -> None:
    repeats: Counter[str] = Counter()

    async def refused(update_id: str) -> None:
        raise WorkflowUpdateFailedError(ApplicationError("no", type="InvalidRequest"))

    with pytest.raises(WorkflowUpdateFailedError):
        await patiently(refused, repeats, "trade")
    assert not repeats


def test_a_level_with_repeats_and_failures_renders_and_explains_them() -> None:
    """The report's code path that runs after a level (it once named a field that had been renamed, and the 1,000
    level's figures were lost to an AttributeError after the run)."""
    err = WorkflowUpdateFailedError(ApplicationError("offer expired", type="InvalidTransaction"))
    err.add_note("after approve")
    level = LevelResult(
        concurrency=1000, trades=3, wall_s=100.0, completed=998, failed=2, ceiling_wall_s=50.0, ceiling_completed=1000,
        activities_per_lifecycle=8, local_activities_per_lifecycle=14, updates_per_lifecycle=9, ordinary_wall_s=60.0,
        ordinary_completed=1000, shaped_wall_s=70.0, shaped_completed=999, shaped_errors=["RPCError after step"],
        lifecycle_s=[1.0, 2.0], cpu_s={"worker": 1.0}, ceiling_cpu_s={"trivial worker": 0.5},
        errors=[failure_summary(err)] * 2,
        repeats=Counter({"opening re-signed": 3, "trade retried after an RPC deadline": 5}),
        shaped_repeats=Counter({"step retried after an RPC deadline": 4}),
    )
    rendered = render([level])
    assert "What the clients did again" in rendered
    repeats_row = next(line for line in rendered.splitlines() if line.startswith("1000 ") and "  3  " in line)
    assert repeats_row.split()[:6] == ["1000", "3", "5", "2", "4", "1"]
    notes = "\n".join(level_notes([level]))
    assert "lifecycle clients did again at 1000: trade retried after an RPC deadline x5, opening re-signed x3" in notes
    assert "shaped-ceiling clients did again at 1000: step retried after an RPC deadline x4" in notes
    assert "2 lifecycles failed at 1000: WorkflowUpdateFailedError (InvalidTransaction) after approve" in notes
    assert "1 shaped-ceiling workflows failed at 1000" in notes


EXPOSITION = """# HELP temporal_sticky_cache_hit Count of times the workflow cache was used for a new workflow task
# TYPE temporal_sticky_cache_hit counter
temporal_sticky_cache_hit{task_queue="q",workflow_type="SessionWorkflow"} 1600
temporal_sticky_cache_hit{task_queue="q",workflow_type="VaultSweepWorkflow"} 2
temporal_sticky_cache_total_forced_eviction{task_queue="q"} 63
temporal_sticky_cache_size{task_queue="q"} 999
temporal_workflow_task_execution_latency_count{task_queue="q",workflow_type="SessionWorkflow"} 1700
temporal_workflow_task_execution_latency_bucket{le="+Inf",task_queue="q"} 1700
temporal_request{operation="Poll"} NaN
"""


def test_the_workers_sdk_counters_are_summed_over_labels_and_reported_per_level() -> None:
    sums = prometheus_sums(EXPOSITION)
    assert sums["temporal_sticky_cache_hit"] == 1602
    assert sums["temporal_sticky_cache_total_forced_eviction"] == 63
    assert sums["temporal_workflow_task_execution_latency_count"] == 1700
    assert "# HELP temporal_sticky_cache_hit" not in " ".join(sums)
    level = LevelResult(
        concurrency=1000, trades=3, wall_s=100.0, completed=1000, failed=0, ceiling_wall_s=50.0,
        ceiling_completed=1000, activities_per_lifecycle=8, counters=sums, timed_out_tasks=0.25,
    )
    notes = "\n".join(level_notes([level]))
    assert "workflow tasks that timed out waiting for the worker at 1000: 0.25 per lifecycle" in notes
    assert ("workflow cache at 1000 (worker, lifecycles): 1700 workflow tasks, 1602 sticky hits, 0 misses, "
            "63 forced evictions") in notes
    assert "trivial worker" not in notes  # no counters read from it: no line made up
    assert "server cache" not in notes


SERVER_EXPOSITION = """# TYPE cache_miss counter
cache_miss{cache_type="mutablestate",namespace_id="n",operation="HistoryCacheGetOrCreate",service_name="history"} 30
cache_miss{cache_type="mutablestate",operation="HistoryCacheGetOrCreateCurrent",service_name="history"} 10
cache_miss{cache_type="events",namespace_id="n",operation="EventsCacheGetEvent",service_name="history"} 250
cache_requests{cache_type="events",namespace_id="n",operation="EventsCachePutEvent",service_name="history"} 900
cache_size{service_name="frontend"} 100
"""


def test_the_servers_cache_misses_are_summed_per_cache_and_reported_per_workflow() -> None:
    sums = prometheus_sums(SERVER_EXPOSITION, by_label="cache_type")
    assert sums['cache_miss{cache_type="mutablestate"}'] == 40
    assert sums['cache_miss{cache_type="events"}'] == 250
    assert sums['cache_requests{cache_type="events"}'] == 900
    assert sums["cache_size"] == 100  # no such label: summed under its name
    level = LevelResult(
        concurrency=100, trades=3, wall_s=10.0, completed=90, failed=10, ceiling_wall_s=5.0, ceiling_completed=50,
        activities_per_lifecycle=8, counters=sums, ceiling_counters={'cache_miss{cache_type="events"}': 5.0},
    )
    notes = "\n".join(level_notes([level]))
    assert "Temporal server cache misses per lifecycle at 100: mutablestate 0.4, events 2.5" in notes
    assert "Temporal server cache misses per ceiling workflow at 100: mutablestate 0.0, events 0.1" in notes


def test_a_level_in_rounds_is_judged_by_its_median_round() -> None:
    """Three rounds whose pooled rates give 0.45 but whose median round gives 0.51: the target reads the median."""
    level = LevelResult(
        concurrency=100, trades=3, wall_s=100.0, completed=300, failed=0, ceiling_wall_s=45.0, ceiling_completed=300,
        activities_per_lifecycle=8, local_activities_per_lifecycle=14, round_ratios=[0.47, 0.53, 0.51],
    )
    assert level.rate / level.ceiling_rate == pytest.approx(0.45)
    assert level.ratio == 0.51 and level.as_dict()["ratio"] == 0.51
    assert level.as_dict()["round_ratios"] == [0.47, 0.53, 0.51]
    row = next(line for line in render([level]).splitlines() if line.startswith("100 "))
    assert row.split()[3:8] == ["0.51", "met", "0.47", "0.53", "0.51"]
    one_round = LevelResult(
        concurrency=1000, trades=3, wall_s=100.0, completed=300, failed=0, ceiling_wall_s=45.0,
        ceiling_completed=300, activities_per_lifecycle=8,
    )
    assert one_round.ratio == pytest.approx(0.45) and "NOT met" in render([one_round])


def test_levels_up_to_100_sessions_run_three_rounds_unless_told() -> None:
    assert [rounds_for(n) for n in (10, 100, 1000)] == [3, 3, 1]
    assert rounds_for(1000, requested=2) == 2


@pytest.mark.parametrize(("flag", "message"), [
    ("--sessions=10,x", "argument --sessions: not a whole number: 'x'"),
    ("--sessions=0", "argument --sessions: must be at least 1, not 0"),
    ("--rounds=0", "argument --rounds: must be at least 1, not 0"),
    ("--trades=-1", "argument --trades: must be at least 0, not -1"),
    ("--requests=ten", "argument --requests: not a whole number: 'ten'"),
    ("--clients=1,,2", "argument --clients: not a whole number: ''"),
])
def test_bench_flags_refuse_malformed_counts(flag: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["orchestration", flag])
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_percentile_is_nearest_rank_and_tables_align() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert math.isnan(percentile([], 50))
    lines = table(["a", "bb"], [["x", 1.5], ["yyy", 1234.0]]).splitlines()
    assert len({len(line) for line in lines}) == 1 and lines[-1].endswith("1,234")


def test_a_failure_is_summarised_with_its_business_error_and_step() -> None:
    err = WorkflowUpdateFailedError(ApplicationError("offer expired for 5xYz", type="InvalidTransaction"))
    err.add_note("after create")
    summary = failure_summary(err)
    assert failure_kind(summary) == "WorkflowUpdateFailedError (InvalidTransaction) after create"
    assert "offer expired for 5xYz" in summary


async def test_the_transport_bench_sends_its_requests_through_each_transport(localnet_url: str) -> None:
    figures = await rpc_transport.run(localnet_url, requests=40, concurrency=4, rounds=1)
    assert [f.transport for f in figures] == list(rpc_transport.TRANSPORTS)
    assert all(f.requests == 40 and f.cpu_s > 0 and f.wall_s > 0 for f in figures)
    rendered = rpc_transport.render(figures)
    assert "1.00" in rendered.splitlines()[3]  # the baseline row is its own unit


async def test_the_bench_wallet_signs_again_when_the_offer_expired_before_it_landed(stack: Stack) -> None:
    """At 1,000 sessions a step can outlast a blockhash; the bench's client re-signs a fresh offer as a wallet
    would, and counts it."""
    (parent,) = await fund_parents(stack.chain.rpc_url, 1)
    req = CreateSessionRequest(session_id=str(uuid.uuid4()), parent_wallet=str(parent.pubkey()),
                               session_duration_seconds=3600, max_deposit_lamports=10**9,
                               initial_deposit_lamports=10**8)
    created = await stack.temporal.execute_update_with_start_workflow(
        CREATE_UPDATE, start_workflow_operation=session_start_operation(req, stack.task_queue),
        result_type=CreateSessionResult)
    handle = stack.temporal.get_workflow_handle(workflow_id_for(req.session_id))
    async with httpx.AsyncClient() as http:  # past the offered blockhash's 150 slots
        await http.post(stack.chain.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "localnet_advanceSlots",
                                                   "params": [200]})
    offers: list[str] = []

    async def fresh_opening() -> str:
        fresh = await handle.execute_update(REFRESH_OPENING_UPDATE, result_type=CreateSessionResult)
        offers.append(fresh.unsigned_transaction)
        return fresh.unsigned_transaction

    async def approve(signed: str) -> ApproveResult:
        return await handle.execute_update(APPROVE_UPDATE, ApproveRequest(
            vault_pda=created.vault_pda, signed_transaction=signed), result_type=ApproveResult)

    resigned: Counter[str] = Counter()
    approved = await as_a_wallet(created.unsigned_transaction, fresh_opening, approve, parent, resigned, "opening")
    assert approved.status is SessionState.ACTIVE
    assert resigned == Counter({"opening re-signed": 1}) and len(offers) == 1


def test_the_api_table_divides_each_process_cpu_by_the_requests_answered() -> None:
    paths = [api_bench.PathResult(path, 10, latencies_s=[0.1] * 4, wall_s=1.0,
                                  cpu_s={"api": 0.2, "temporal": 0.2 * n, "worker": 0.0})
             for n, path in enumerate(api_bench.PATHS, start=1)]
    assert math.isclose(paths[2].cpu_ms_per_request("temporal"), 150.0)  # 0.6 s over 4 requests
    assert math.isclose(paths[2].cpu_ms_per_request(), 200.0)
    assert math.isnan(api_bench.PathResult("bare start", 1).cpu_ms_per_request())  # no request answered
    rendered = api_bench.render(paths)
    assert "CPU per request by process" in rendered and "target ≤2: met" in rendered
    assert "create p99 / bare update-with-start p99" in rendered


async def test_waiting_for_an_idle_stack_outlasts_a_busy_process(tmp_path: Path) -> None:
    """What one measurement left running (here: a process burning CPU until it exits) is waited out, not measured
    by the next one."""
    burn = "import time\nend = time.time() + 3\nwhile time.time() < end: pass"
    burner = await asyncio.create_subprocess_exec(sys.executable, "-c", burn)
    try:
        bench_stack = BenchStack(root=tmp_path, dsn="", temporal_address="", rpc_url="", api_url="", bare_url="",
                                 service_token="", supervisor=Supervisor(tmp_path / "log"),
                                 postgres=EmbeddedPostgres(tmp_path / "pg", 1), pids={"burner": burner.pid})
        await bench_stack.wait_until_idle(window_s=0.5)
        # It returned only once the busy process had finished (3 s of burning): exited, reaped or not yet.
        try:
            state = psutil.Process(burner.pid).status()
        except psutil.NoSuchProcess:
            state = "reaped"
        assert state in (psutil.STATUS_ZOMBIE, "reaped")
    finally:
        if burner.returncode is None:
            burner.kill()
            await burner.wait()


async def test_a_create_is_split_at_its_workflow_history_into_four_phases(stack: Stack) -> None:
    """The phases are read from the real history of a real create: its events fall between the request being sent
    and the answer being read, in the order the split assumes, so no phase is negative."""
    (parent,) = await fund_parents(stack.chain.rpc_url, 1)
    req = CreateSessionRequest(session_id=str(uuid.uuid4()), parent_wallet=str(parent.pubkey()),
                               session_duration_seconds=3600, max_deposit_lamports=10**9, initial_deposit_lamports=0)
    sent_at, started = time.time(), time.perf_counter()
    await stack.temporal.execute_update_with_start_workflow(
        CREATE_UPDATE, start_workflow_operation=session_start_operation(req, stack.task_queue),
        result_type=CreateSessionResult)
    sample = api_bench.Answered(sent_at, time.perf_counter() - started, req.session_id)
    events = (await stack.temporal.get_workflow_handle(workflow_id_for(req.session_id)).fetch_history()).events
    phases = api_bench.create_phases(sample, events)
    assert min(phases.to_start, phases.queued, phases.worker, phases.answer) >= 0, phases
    assert phases.worker > 0  # the first workflow task ran three local activities
    # A history cut before its first workflow task was picked up cannot be split: the error says what is missing.
    with pytest.raises(ValueError, match="WORKFLOW_TASK_STARTED"):
        api_bench.create_phases(sample, events[:2])


def test_the_creates_read_are_those_around_the_median_and_the_slowest_one_percent() -> None:
    answered = [api_bench.Answered(0.0, latency / 1000, str(latency)) for latency in range(1000, 0, -1)]
    groups = api_bench.phase_samples(answered)
    assert [a.latency_s for a in groups["median"]] == [n / 1000 for n in range(496, 506)]
    assert [a.latency_s for a in groups["slowest 1 %"]] == [n / 1000 for n in range(991, 1001)]
    few = api_bench.phase_samples(answered[:3])  # fewer than the median window: all of them, and the slowest one
    assert len(few["median"]) == 3 and [a.latency_s for a in few["slowest 1 %"]] == [1.0]
    assert api_bench.phase_samples([]) == {}


def test_the_api_report_shows_where_a_create_s_time_goes() -> None:
    paths = [api_bench.PathResult(path, 50, latencies_s=[1.0, 2.0], wall_s=1.0) for path in api_bench.PATHS]
    paths[2].phases = {"median": [api_bench.CreatePhases(0.1, 0.2, 0.3, 0.4)],
                       "slowest 1 %": [api_bench.CreatePhases(0.5, 1.5, 2.0, 0.5)]}
    rendered = api_bench.render(paths)
    section = rendered.split("where a create's time goes")[1]
    median_row = next(line for line in section.splitlines() if "median" in line)
    assert median_row.split()[-5:] == ["100", "200", "300", "400", "1,000"]
    assert paths[2].as_dict()["create_phases_ms"]["slowest 1 %"]["queued"] == 1500
