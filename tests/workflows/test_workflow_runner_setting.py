"""WORKER_WORKFLOW_SANDBOX picks the workflow runner; the sandbox (without its per-payload round trips) is the
default."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner

from activities.resources import Resources
from ephemeral_vault.sandbox_runner import ContextFreeSandboxedRunner
from ephemeral_vault.settings import Settings
from worker import build_worker, workflow_runner_options


def test_the_sandbox_is_the_default() -> None:
    assert Settings().worker_workflow_sandbox is True
    assert workflow_runner_options(Settings()) == {}  # build_worker's default runner (below)


def test_false_runs_workflows_unsandboxed() -> None:
    options = workflow_runner_options(Settings(worker_workflow_sandbox=False))
    assert isinstance(options["workflow_runner"], UnsandboxedWorkflowRunner)


async def test_build_worker_runs_workflows_in_the_context_free_sandbox(
    temporal_env: WorkflowEnvironment, resources: Resources
) -> None:
    default = build_worker(temporal_env.client, resources, "runner-default")
    assert isinstance(default.config()["workflow_runner"], ContextFreeSandboxedRunner)
    unsandboxed = build_worker(temporal_env.client, resources, "runner-unsandboxed",
                               **workflow_runner_options(Settings(worker_workflow_sandbox=False)))
    assert isinstance(unsandboxed.config()["workflow_runner"], UnsandboxedWorkflowRunner)
