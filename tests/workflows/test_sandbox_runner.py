"""ContextFreeSandboxedRunner: workflow code still runs in Temporal's sandbox (the determinism guard holds), the
results are the sandbox's, and the worker's per-payload serialization-context questions no longer enter it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.converter import DataConverter, PayloadCodec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker, WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from ephemeral_vault.sandbox_runner import ContextFreeSandboxedRunner
from tests.workflows.sandbox_probe_workflows import EchoWorkflow, WallClockWorkflow, echo


class CountingSandboxedRunner(SandboxedWorkflowRunner):
    """The SDK's sandbox, counting the context questions that reach its instances (each one an exec inside it)."""

    def __init__(self) -> None:
        super().__init__()
        self.questions = 0

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        instance = super().create_instance(det)
        answer = instance.get_serialization_context

        def counted(command_info: Any) -> Any:
            self.questions += 1
            return answer(command_info)

        instance.get_serialization_context = counted  # type: ignore[method-assign]
        return instance


async def run_echo(env: WorkflowEnvironment, runner: WorkflowRunner) -> list[str]:
    queue = f"sandbox-{uuid.uuid4()}"
    async with Worker(env.client, task_queue=queue, workflows=[EchoWorkflow], activities=[echo],
                      workflow_runner=runner):
        return await env.client.execute_workflow(EchoWorkflow.run, "hi", id=f"echo-{uuid.uuid4()}", task_queue=queue)


async def test_results_match_the_sandbox_and_no_context_question_enters_it(temporal_env: WorkflowEnvironment) -> None:
    plain = CountingSandboxedRunner()
    expected = await run_echo(temporal_env, plain)
    assert expected == ["echo: hi", "echo: echo: hi"]
    assert plain.questions > 0  # the SDK's own runner: one sandbox round per payload sequence

    wrapped = CountingSandboxedRunner()
    assert await run_echo(temporal_env, ContextFreeSandboxedRunner(temporal_env.client.data_converter, wrapped)) \
        == expected
    assert wrapped.questions == 0


async def test_the_sandbox_still_refuses_non_deterministic_calls(temporal_env: WorkflowEnvironment) -> None:
    queue = f"sandbox-{uuid.uuid4()}"
    runner = ContextFreeSandboxedRunner(temporal_env.client.data_converter)
    async with Worker(temporal_env.client, task_queue=queue, workflows=[WallClockWorkflow], workflow_runner=runner,
                      workflow_failure_exception_types=[NondeterminismError]):
        with pytest.raises(WorkflowFailureError) as failure:
            await temporal_env.client.execute_workflow(WallClockWorkflow.run, id=f"clock-{uuid.uuid4()}",
                                                       task_queue=queue)
    assert "datetime.datetime.now" in str(failure.value.cause)


class PassThroughCodec(PayloadCodec):
    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def test_refuses_a_data_converter_whose_codec_could_depend_on_the_context() -> None:
    with pytest.raises(ValueError, match="payload codec"):
        ContextFreeSandboxedRunner(DataConverter(payload_codec=PassThroughCodec()))
    ContextFreeSandboxedRunner(DataConverter.default)  # the default converter: accepted
