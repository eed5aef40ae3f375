"""`POST /session/create` latency and throughput at 1, 10 and 50 concurrent clients, beside the bare path measured in
the same run: a minimal FastAPI app (`bench.trivial`) that only starts a trivial workflow (`/start`), and the same
app doing an update-with-start that waits for the workflow's answer (`/start-update`, the shape of our create).

Each client is one parent wallet sending signed requests back to back (the real API verifies the ed25519 signature,
records the nonce and the rate-limit cell in PostgreSQL, then runs update-with-start, which returns once the session
key is provisioned and the opening transaction built). Paths are measured level by level, interleaved, after a
warm-up, each path starting on an idle stack (what the previous path left queued has run); latency is client-side
(request sent → response read).

Where a create's time goes is read from the workflow histories of the median and the slowest creates of each level
(`create_phases`): the server stamps its events with the same machine clock the client reads.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field, fields
from typing import Any

import httpx
from solders.keypair import Keypair
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from api.client_auth import signed_headers
from bench.report import percentile, table
from bench.stack import BenchStack
from workflows.messages import workflow_id_for

SOL = 1_000_000_000
CREATE_BODY = json.dumps({"session_duration_seconds": 3600, "max_deposit_lamports": SOL,
                          "initial_deposit_lamports": 0}).encode()
PATHS = ("bare start", "bare update-with-start", "POST /session/create")
CREATE = PATHS[2]
MEDIAN_SAMPLE = 10  # creates around the median whose histories are read
TAIL_SHARE = 0.01  # …and the slowest 1 % (at least one)


@dataclass(frozen=True)
class Answered:
    """One answered create: when it was sent (wall clock, seconds), how long it took, and its session."""

    sent_at: float
    latency_s: float
    session_id: str


@dataclass(frozen=True)
class CreatePhases:
    """Where one create's time went, in seconds; the four add up to its client-side latency."""

    to_start: float  # request sent → workflow started: the API (signature, nonce, rate limit) and the start
    queued: float  # → its first workflow task picked up by a worker
    worker: float  # → that task completed: policy, key, opening transaction (local activities inside it)
    answer: float  # → response read: the update's result back through Temporal and the API

    @property
    def total(self) -> float:
        return self.to_start + self.queued + self.worker + self.answer


def create_phases(sample: Answered, events: list[HistoryEvent]) -> CreatePhases:
    """Split a create's latency at its history's first events: started, first workflow task started, completed."""

    def first(kind: int, after: int = 0) -> tuple[int, float]:
        for i, event in enumerate(events[after:], start=after):
            if event.event_type == kind:
                return i, event.event_time.ToMicroseconds() / 1e6
        raise ValueError(f"the history has no {EventType.Name(kind)} after event {after}")

    _, started = first(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    i, picked = first(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    _, completed = first(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, i)
    answered = sample.sent_at + sample.latency_s
    return CreatePhases(started - sample.sent_at, picked - started, completed - picked, answered - completed)


def phase_samples(answered: list[Answered]) -> dict[str, list[Answered]]:
    """The creates whose histories are read: about `MEDIAN_SAMPLE` around the median, and the slowest 1 %."""
    ordered = sorted(answered, key=lambda a: a.latency_s)
    if not ordered:
        return {}
    mid = len(ordered) // 2
    around = ordered[max(0, mid - MEDIAN_SAMPLE // 2): mid + (MEDIAN_SAMPLE + 1) // 2]
    tail = ordered[-max(1, round(len(ordered) * TAIL_SHARE)):]
    return {"median": around, "slowest 1 %": tail}


@dataclass
class PathResult:
    path: str
    clients: int
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    rss_mib: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # per process: from the first request until idle again
    settle_before_s: float = 0.0  # waited for the stack to go idle before the first request
    settle_after_s: float = 0.0  # …and after the last answer, before reading the CPU
    answered: list[Answered] = field(default_factory=list)  # creates only: for their histories
    phases: dict[str, list[CreatePhases]] = field(default_factory=dict)  # "median" / "slowest 1 %" → phases

    def cpu_ms_per_request(self, process: str | None = None) -> float:
        spent = self.cpu_s.get(process, 0.0) if process else sum(self.cpu_s.values())
        return 1000 * spent / len(self.latencies_s) if self.latencies_s else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_s, q)

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "clients": self.clients, "requests": len(self.latencies_s),
                "p50_ms": 1000 * self.p(50), "p95_ms": 1000 * self.p(95), "p99_ms": 1000 * self.p(99),
                "throughput_per_s": self.throughput, "errors": self.errors, "rss_mib": self.rss_mib,
                "settle_before_s": self.settle_before_s, "settle_after_s": self.settle_after_s,
                "cpu_ms_per_request": {name: self.cpu_ms_per_request(name) for name in self.cpu_s},
                "create_phases_ms": {group: _mean_phases(phases) for group, phases in self.phases.items()}}


async def _client_loop(http: httpx.AsyncClient, path: str, requests: int, result: PathResult) -> None:
    wallet = Keypair()
    for _ in range(requests):
        if path == CREATE:
            url, body = "/session/create", CREATE_BODY
            headers = {**signed_headers(wallet, "POST", url, body), "Content-Type": "application/json"}
        else:
            url, body, headers = ("/start" if path == "bare start" else "/start-update"), b"", {}
        sent_at, started = time.time(), time.perf_counter()
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
            result.errors[key] = result.errors.get(key, 0) + 1
            continue
        elapsed = time.perf_counter() - started
        if response.status_code == 201:
            result.latencies_s.append(elapsed)
            if path == CREATE:
                result.answered.append(Answered(sent_at, elapsed, response.json()["session_id"]))
        else:
            key = str(response.status_code)
            result.errors[key] = result.errors.get(key, 0) + 1


async def measure(stack: BenchStack, path: str, clients: int, per_client: int) -> PathResult:
    base = stack.bare_url if path.startswith("bare") else stack.api_url
    result = PathResult(path=path, clients=clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        result.settle_before_s = await stack.wait_until_idle()
        cpu0 = stack.cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(_client_loop(http, path, per_client, result) for _ in range(clients)))
        result.wall_s = time.perf_counter() - started
        # CPU is read once the stack is idle again: what a path's requests left queued (a bare start's workflows
        # run after it answered) counts against that path, not the next one.
        result.settle_after_s = await stack.wait_until_idle()
        result.cpu_s = {name: spent - cpu0.get(name, 0.0) for name, spent in stack.cpu_seconds().items()}
    result.rss_mib = stack.rss_mib("bare api" if path.startswith("bare") else "api")
    return result


async def read_phases(client: Client, result: PathResult) -> None:
    for group, samples in phase_samples(result.answered).items():
        result.phases[group] = [
            create_phases(sample, (await client.get_workflow_handle(workflow_id_for(sample.session_id))
                                   .fetch_history()).events)
            for sample in samples
        ]


async def run(stack: BenchStack, client: Client, levels: list[tuple[int, int]], log: Any) -> list[PathResult]:
    """levels: (clients, requests per client). `client` reads the creates' workflow histories."""
    for path in PATHS:  # warm-up: connections, imports, the first workflow task of each type
        await measure(stack, path, 2, 5)
    results: list[PathResult] = []
    for clients, per_client in levels:
        for path in PATHS:
            log(f"  {path}: {clients} clients x {per_client} requests …")
            result = await measure(stack, path, clients, per_client)
            if path == CREATE:
                await read_phases(client, result)
            results.append(result)
    return results


def render(results: list[PathResult]) -> str:
    rows = []
    by_level: dict[int, dict[str, PathResult]] = {}
    for r in results:
        by_level.setdefault(r.clients, {})[r.path] = r
    for clients, paths in by_level.items():
        bare, bare_u, ours = paths["bare start"], paths["bare update-with-start"], paths["POST /session/create"]
        for r in (bare, bare_u, ours):
            errors = ", ".join(f"{k}x{v}" for k, v in r.errors.items()) or "0"
            ratio = r.p(99) / bare.p(99) if bare.latencies_s else float("nan")
            rows.append([clients, r.path, len(r.latencies_s), 1000 * r.p(50), 1000 * r.p(95), 1000 * r.p(99),
                         r.throughput, ratio, errors, r.rss_mib])
        ratio = ours.p(99) / bare.p(99) if bare.latencies_s and ours.latencies_s else float("nan")
        rows.append(["", "→ create p99 / bare p99", "", "", "", "", "", ratio,
                     "target ≤2: " + ("met" if ratio <= 2 else "NOT met"), ""])
        # The same shape without our work: a start whose answer waits for the workflow's first task, as a create's must
        # (it returns the transaction to sign, which the workflow builds).
        shaped = ours.p(99) / bare_u.p(99) if bare_u.latencies_s and ours.latencies_s else float("nan")
        rows.append(["", "→ create p99 / bare update-with-start p99", "", "", "", "", "", shaped, "", ""])
    latency = table(["clients", "path", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s", "p99 / bare p99",
                     "errors", "server RSS MiB"], rows,
                    title="API: POST /session/create vs the bare FastAPI + Temporal start")
    # Where a request's CPU goes (2 cores = 2,000 ms of CPU per wall second): once the cores are saturated, the p99
    # of a path tracks its CPU per request.
    processes = ["api", "bare api", "temporal", "worker", "trivial worker", "postgres", "localnet", "bench driver"]
    cpu_rows = [[r.clients, r.path, *[r.cpu_ms_per_request(p) for p in processes], r.cpu_ms_per_request(),
                 r.settle_after_s] for r in results]
    cpu = table(["clients", "path", *[f"{p} ms" for p in processes], "total ms", "idle again after s"], cpu_rows,
                title="API: CPU per request by process (all processes of the stack, from a path's first request "
                      "until the stack is idle again)")
    phase_rows = [[r.clients, group, len(phases), *_mean_phases(phases).values()]
                  for r in results for group, phases in r.phases.items()]
    phases = table(["clients", "creates", "read", "API + start ms", "queued for a worker ms", "worker ms",
                    "answer back ms", "total ms"], phase_rows,
                   title="API: where a create's time goes (means over the creates read; from their workflow histories: "
                         "request → workflow started → first task picked up → completed (policy, key, opening "
                         "transaction) → response read)")
    return latency + "\n\n" + cpu + "\n\n" + phases


def _mean_phases(phases: list[CreatePhases]) -> dict[str, float]:
    names = (*(f.name for f in fields(CreatePhases)), "total")
    if not phases:
        return dict.fromkeys(names, float("nan"))
    return {name: 1000 * sum(getattr(p, name) for p in phases) / len(phases) for name in names}
