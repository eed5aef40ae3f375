"""Workflows for tests/workflows/test_sandbox_runner.py, in a module of their own: the sandbox re-imports a workflow's
module for every run, and this one imports nothing but temporalio."""

from __future__ import annotations

import datetime
from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="probe_echo")
async def echo(text: str) -> str:
    return f"echo: {text}"


@workflow.defn(name="ProbeEchoWorkflow")
class EchoWorkflow:
    """An ordinary activity and a local one, so payloads cross both kinds of command in each direction."""

    @workflow.run
    async def run(self, text: str) -> list[str]:
        first = await workflow.execute_activity(echo, text, start_to_close_timeout=timedelta(seconds=30))
        second = await workflow.execute_local_activity(echo, first, start_to_close_timeout=timedelta(seconds=30))
        return [first, second]


@workflow.defn(name="ProbeWallClockWorkflow")
class WallClockWorkflow:
    """Reads the machine's clock, which a deterministic workflow must not: the sandbox refuses it."""

    @workflow.run
    async def run(self) -> str:
        return datetime.datetime.now().isoformat()
