"""WORKER_STICKY_SCHEDULE_TO_START_SECONDS and WORKER_MAX_CACHED_WORKFLOWS reach the worker the SDK builds, for the
real worker and the bench's baseline alike (both take workflow_task_options), and out-of-range values are refused by
name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from activities.resources import Resources
from ephemeral_vault.settings import Settings
from worker import build_worker, workflow_task_options


async def test_the_configured_sticky_timeout_reaches_the_sdk_worker(
    temporal_env: WorkflowEnvironment, resources: Resources
) -> None:
    default = build_worker(temporal_env.client, resources, "sticky-default", **workflow_task_options(Settings()))
    assert default.config()["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=30)
    short = build_worker(temporal_env.client, resources, "sticky-short",
                         **workflow_task_options(Settings(worker_sticky_schedule_to_start_seconds=5)))
    assert short.config()["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=5)


async def test_the_configured_workflow_cache_size_reaches_the_sdk_worker(
    temporal_env: WorkflowEnvironment, resources: Resources
) -> None:
    default = build_worker(temporal_env.client, resources, "cache-default", **workflow_task_options(Settings()))
    assert default.config()["max_cached_workflows"] == 2000  # room beside 1,000 live sessions (the SDK's is 1,000)
    small = build_worker(temporal_env.client, resources, "cache-small",
                         **workflow_task_options(Settings(worker_max_cached_workflows=50)))
    assert small.config()["max_cached_workflows"] == 50


@pytest.mark.parametrize("seconds", [0, 0.5, 601, -1])
def test_an_out_of_range_sticky_timeout_is_refused(seconds: float) -> None:
    with pytest.raises(ValidationError, match="worker_sticky_schedule_to_start_seconds"):
        Settings(worker_sticky_schedule_to_start_seconds=seconds)


@pytest.mark.parametrize("size", [0, -1, 100_001])
def test_an_out_of_range_workflow_cache_size_is_refused(size: int) -> None:
    # 0 would turn the cache off: every workflow task of every session would replay its whole history
    with pytest.raises(ValidationError, match="worker_max_cached_workflows"):
        Settings(worker_max_cached_workflows=size)
