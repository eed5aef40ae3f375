"""WORKER_STICKY_SCHEDULE_TO_START_SECONDS reaches the worker the SDK builds, for the real worker and the bench's
baseline alike (both take workflow_poller_options), and an out-of-range value is refused by name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from activities.resources import Resources
from ephemeral_vault.settings import Settings
from worker import build_worker, workflow_poller_options


async def test_the_configured_sticky_timeout_reaches_the_sdk_worker(
    temporal_env: WorkflowEnvironment, resources: Resources
) -> None:
    default = build_worker(temporal_env.client, resources, "sticky-default", **workflow_poller_options(Settings()))
    assert default.config()["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=30)
    short = build_worker(temporal_env.client, resources, "sticky-short",
                         **workflow_poller_options(Settings(worker_sticky_schedule_to_start_seconds=5)))
    assert short.config()["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=5)


@pytest.mark.parametrize("seconds", [0, 0.5, 601, -1])
def test_an_out_of_range_sticky_timeout_is_refused(seconds: float) -> None:
    with pytest.raises(ValidationError, match="worker_sticky_schedule_to_start_seconds"):
        Settings(worker_sticky_schedule_to_start_seconds=seconds)
