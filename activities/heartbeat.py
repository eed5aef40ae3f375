"""Automatic heartbeats for activities scheduled with a heartbeat timeout.

The chain activities spend most of their time waiting for confirmations inside the chain client, which knows
nothing about Temporal. The workflow gives them a short heartbeat timeout so that a worker that dies (SIGKILL, lost
host) is noticed in seconds rather than after the start-to-close timeout; this interceptor keeps a live attempt's
heartbeat going in the background, at a third of that timeout, for as long as the attempt runs. Heartbeats carry no
details (nothing secret can ride along).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


class _HeartbeatInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        if not timeout or not activity.in_activity() or not asyncio.iscoroutinefunction(input.fn):
            return await super().execute_activity(input)
        interval = max(timeout.total_seconds() / 3, 0.1)

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(interval)

        task = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class HeartbeatInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HeartbeatInbound(next)
