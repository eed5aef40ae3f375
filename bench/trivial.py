"""The baselines: what Temporal and FastAPI cost with nothing of ours in the way.

- `TrivialWorkflow`: runs `activities` no-op activities and `local_activities` no-op local activities one after
  another, the local ones spread evenly between the others (the orchestration ceiling: the same numbers of each as a
  real session lifecycle's history shows, on the same dev server), and can wait for one `hello` update (so the
  bare API can do an update-with-start, the shape of our create call).
- `python -m bench.trivial worker`: a worker for it on TEMPORAL_ADDRESS, task queue `bench-trivial`, with the same
  activity slots as the real worker (WORKER_MAX_CONCURRENT_ACTIVITIES).
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


@activity.defn(name="bench_noop")
async def noop(n: int) -> int:
    return n


@workflow.defn(name="BenchTrivialWorkflow")
class TrivialWorkflow:
    def __init__(self) -> None:
        self._greeted = False

    @workflow.run
    async def run(self, input: TrivialInput) -> int:
        total = input.activities + input.local_activities
        for n in range(total):
            # Spread evenly: step n is local when it moves the running count of local steps up by one.
            if total and (n + 1) * input.local_activities // total > n * input.local_activities // total:
                await workflow.execute_local_activity(noop, n, start_to_close_timeout=timedelta(seconds=60))
            else:
                await workflow.execute_activity(noop, n, start_to_close_timeout=timedelta(seconds=60))
        if input.wait_for_update:
            await workflow.wait_condition(lambda: self._greeted)
        return total

    @workflow.update
    async def hello(self) -> str:
        self._greeted = True
        return "hi"


async def run_worker() -> int:
    from ephemeral_vault.settings import get_settings

    settings = get_settings()
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=TRIVIAL_TASK_QUEUE, workflows=[TrivialWorkflow], activities=[noop],
                      max_concurrent_activities=settings.worker_max_concurrent_activities):
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
