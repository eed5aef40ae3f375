"""The heartbeat interceptor keeps a long chain activity alive under a short heartbeat timeout (so a dead worker is
noticed in seconds, a live but slow one is not killed)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.heartbeat import HeartbeatInterceptor


@activity.defn
async def slow_confirmation() -> str:
    await asyncio.sleep(2.0)  # like waiting for a confirmation: no heartbeat of its own
    return "confirmed"


@workflow.defn
class SlowActivityWorkflow:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(
            slow_confirmation, start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=timedelta(milliseconds=600), retry_policy=RetryPolicy(maximum_attempts=1),
        )  # fmt: skip


async def run_slow_activity(env: WorkflowEnvironment, interceptors: list) -> str:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SlowActivityWorkflow],
        activities=[slow_confirmation],
        interceptors=interceptors,
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        return await env.client.execute_workflow(SlowActivityWorkflow.run, id=queue, task_queue=queue)


async def test_a_slow_activity_outlives_its_heartbeat_timeout_with_the_interceptor(temporal_env) -> None:
    assert await run_slow_activity(temporal_env, [HeartbeatInterceptor()]) == "confirmed"


async def test_without_heartbeats_the_same_activity_times_out(temporal_env) -> None:
    with pytest.raises(WorkflowFailureError):
        await run_slow_activity(temporal_env, [])
