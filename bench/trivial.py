"""The baselines: what Temporal and FastAPI cost with nothing of ours in the way.

- `TrivialWorkflow`: runs `activities` no-op activities and `local_activities` no-op local activities one after
  another, the local ones spread evenly between the others (the orchestration ceiling: the same numbers of each as a
  real session lifecycle's history shows, on the same dev server). With `updates`, the shaped ceiling: the workflow
  runs them inside that many `step` updates, sent one after another as a lifecycle's client sends its updates —
  Temporal's cost of a lifecycle's interaction shape with none of its work. It can also wait for one `hello` update
  (so the bare API can do an update-with-start, the shape of our create call).
- `python -m bench.trivial worker`: a worker for it on TEMPORAL_ADDRESS, task queue `bench-trivial`, with the same
  activity slots and workflow-task pollers as the real worker (WORKER_MAX_CONCURRENT_ACTIVITIES,
  WORKER_WORKFLOW_TASK_POLLERS).
- `python -m bench.trivial api --port P`: the bare FastAPI app. `POST /start` only starts a trivial workflow;
  `POST /start-update` does an update-with-start and returns the update's answer (one workflow task round trip),
  served by uvicorn with the same options as `python -m api`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

TRIVIAL_TASK_QUEUE = "bench-trivial"


@dataclass
class TrivialInput:
    activities: int = 0
    local_activities: int = 0
    wait_for_update: bool = False
    updates: int = 0


def activity_plan(activities: int, local_activities: int) -> list[bool]:
    """One entry per step, True for a local activity: the local ones spread evenly between the others."""
    total = activities + local_activities
    return [(n + 1) * local_activities // total > n * local_activities // total for n in range(total)]


def split_plan(plan: list[bool], parts: int) -> list[list[tuple[int, bool]]]:
    """`plan` (numbered) in `parts` contiguous chunks of near-equal length."""
    numbered = list(enumerate(plan))
    return [numbered[i * len(plan) // parts : (i + 1) * len(plan) // parts] for i in range(parts)]


@activity.defn(name="bench_noop")
async def noop(n: int) -> int:
    return n


async def _run_noop(n: int, local: bool) -> None:
    if local:
        await workflow.execute_local_activity(noop, n, start_to_close_timeout=timedelta(seconds=60))
    else:
        await workflow.execute_activity(noop, n, start_to_close_timeout=timedelta(seconds=60))


@workflow.defn(name="BenchTrivialWorkflow")
class TrivialWorkflow:
    @workflow.init
    def __init__(self, input: TrivialInput) -> None:
        self._greeted = False
        self._plan = activity_plan(input.activities, input.local_activities)
        self._chunks = split_plan(self._plan, input.updates) if input.updates else []
        self._steps_taken = 0

    @workflow.run
    async def run(self, input: TrivialInput) -> int:
        if input.updates:
            await workflow.wait_condition(
                lambda: self._steps_taken == input.updates and workflow.all_handlers_finished()
            )
            return len(self._plan)
        for n, local in enumerate(self._plan):
            await _run_noop(n, local)
        if input.wait_for_update:
            await workflow.wait_condition(lambda: self._greeted)
        return len(self._plan)

    @workflow.update
    async def step(self) -> int:
        """One of the shaped ceiling's updates: runs its share of the no-op activities, then answers."""
        chunk = self._chunks[self._steps_taken]
        self._steps_taken += 1
        for n, local in chunk:
            await _run_noop(n, local)
        return len(chunk)

    @workflow.update
    async def hello(self) -> str:
        self._greeted = True
        return "hi"


async def run_worker() -> int:
    from ephemeral_vault.settings import get_settings
    from worker import metrics_runtime, workflow_task_options  # as the real worker: same pollers, same metrics

    settings = get_settings()
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                  runtime=metrics_runtime(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=TRIVIAL_TASK_QUEUE, workflows=[TrivialWorkflow], activities=[noop],
                      max_concurrent_activities=settings.worker_max_concurrent_activities,
                      **workflow_task_options(settings)):
        await stop.wait()
    return 0


def bare_app():  # type: ignore[no-untyped-def]  # FastAPI imported lazily: the worker does not need it
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from ephemeral_vault.settings import get_settings

    settings = get_settings()
    state: dict[str, Client] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # type: ignore[no-untyped-def]
        state["client"] = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/start", status_code=201)
    async def start() -> dict[str, str]:
        handle = await state["client"].start_workflow(
            TrivialWorkflow.run, TrivialInput(), id=f"bare-{uuid.uuid4()}", task_queue=TRIVIAL_TASK_QUEUE
        )
        return {"workflow_id": handle.id}

    @app.post("/start-update", status_code=201)
    async def start_update() -> dict[str, str]:
        workflow_id = f"bare-{uuid.uuid4()}"
        answer = await state["client"].execute_update_with_start_workflow(
            TrivialWorkflow.hello,
            start_workflow_operation=WithStartWorkflowOperation(
                TrivialWorkflow.run, TrivialInput(wait_for_update=True), id=workflow_id,
                task_queue=TRIVIAL_TASK_QUEUE, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            ),
        )
        return {"workflow_id": workflow_id, "answer": answer}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trivial")
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("worker")
    api = sub.add_parser("api")
    api.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.what == "worker":
        return asyncio.run(run_worker())
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=args.port, proxy_headers=False, log_level="info")
    return 0


if __name__ == "__main__":
    # Run through the importable module, so the workflow class lives in `bench.trivial` (the sandbox re-imports it).
    from bench.trivial import main as _main

    sys.exit(_main())
