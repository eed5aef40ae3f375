"""WORKER_WORKFLOW_SANDBOX picks the workflow runner; the sandbox is the default."""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner

from ephemeral_vault.settings import Settings
from worker import workflow_runner_options


def test_the_sandbox_is_the_default() -> None:
    assert Settings().worker_workflow_sandbox is True
    assert workflow_runner_options(Settings()) == {}  # the SDK's default runner: the sandbox


def test_false_runs_workflows_unsandboxed() -> None:
    options = workflow_runner_options(Settings(worker_workflow_sandbox=False))
    assert isinstance(options["workflow_runner"], UnsandboxedWorkflowRunner)
