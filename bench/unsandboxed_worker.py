"""`python -m bench.unsandboxed_worker`: `worker.py` exactly, except that workflows run without the sandbox.

Only for `python -m bench … --unsandboxed-worker`, to measure what the workflow sandbox costs (it re-imports the
workflow module for every new workflow run and proxies module access); the real worker keeps the sandbox.
"""

from __future__ import annotations

import sys
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import worker
from activities.resources import Resources

_build_worker = worker.build_worker


def build_unsandboxed(client: Client, resources: Resources, task_queue: str, **kwargs: Any) -> Worker:
    return _build_worker(client, resources, task_queue, workflow_runner=UnsandboxedWorkflowRunner(), **kwargs)


if __name__ == "__main__":
    worker.build_worker = build_unsandboxed  # worker.run looks the name up at call time
    sys.exit(worker.main())
