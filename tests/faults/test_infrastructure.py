"""The services under the workers restarted while sessions are in flight: the Temporal dev server (same SQLite file),
PostgreSQL (an embedded server this module owns), the local node (same ledger directory)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

import pytest

from tests.faults.conftest import SESSIONS, World
from tests.faults.scenario import chain_ready

pytestmark = pytest.mark.slow

DOWNTIME_SECONDS = 3


async def outage(world: World, what: str, stop: Callable[[], None], start: Callable[[], None]) -> None:
    """Once a third of the trades are done (the rest in flight): stop `what`, leave it down, start it again."""
    assert world.driver is not None
    progress = world.driver.progress
    await progress.until(lambda p: p.trades_done >= SESSIONS)
    await asyncio.to_thread(stop)
    progress.note(f"{what} stopped")
    await asyncio.sleep(DOWNTIME_SECONDS)
    await asyncio.to_thread(start)
    progress.note(f"{what} restarted")


async def test_temporal_server_stopped_and_restarted_on_its_database(world: World) -> None:
    _, runs = await world.prepare(["w1"])
    temporal = world.infra.temporal

    await world.run(runs, outage(world, "temporal", temporal.stop, temporal.start))

    await world.assert_nothing_lost(runs)
    assert all(w.running for w in world.workers)  # the worker rode out the outage; nobody restarted it


async def test_postgres_restarted(world: World) -> None:
    _, runs = await world.prepare(["w1"])
    pg = world.infra.pg

    await world.run(runs, outage(world, "postgres", pg.stop, pg.start))

    await world.assert_nothing_lost(runs)
    assert all(w.running for w in world.workers)


async def test_node_killed_and_restarted_from_its_ledger(world: World) -> None:
    # The worker talks to the node directly: it sees the real thing, connection refused.
    _, runs = await world.prepare(["w1"], via_proxy=False)
    node = world.infra.node

    async def restart_node() -> None:
        await outage(world, "node (SIGKILL; restarts from its ledger)", functools.partial(node.stop, kill=True),
                     node.start)
        await chain_ready(world.chain)

    await world.run(runs, restart_node())

    await world.assert_nothing_lost(runs)
