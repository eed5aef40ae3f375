"""The services under the workers restarted while sessions are in flight: the Temporal dev server (same SQLite file),
PostgreSQL (an embedded server this module owns), the local node (same ledger directory)."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import World
from tests.faults.scenario import chain_ready

pytestmark = pytest.mark.slow

SESSIONS = 10
EXPIRING = 4
TRADES = 3
DOWNTIME_SECONDS = 3


async def test_temporal_server_stopped_and_restarted_on_its_database(world: World) -> None:
    _, runs = await world.prepare(["w1"], sessions=SESSIONS, expiring=EXPIRING, trades=TRADES)
    progress = world.driver.progress
    temporal = world.infra.temporal

    async def restart_temporal() -> None:
        await progress.until(lambda p: p.trades_done >= SESSIONS)
        await asyncio.to_thread(temporal.stop)
        progress.note("temporal stopped")
        await asyncio.sleep(DOWNTIME_SECONDS)
        await asyncio.to_thread(temporal.start)
        progress.note("temporal restarted")

    await world.run(runs, restart_temporal())

    problems = await world.audit(runs)
    assert not problems, "\n".join(problems) + "\n" + world.report(runs)
    assert all(w.running for w in world.workers)  # the worker rode out the outage; nobody restarted it
    print(world.report(runs))


async def test_postgres_restarted(world: World) -> None:
    _, runs = await world.prepare(["w1"], sessions=SESSIONS, expiring=EXPIRING, trades=TRADES)
    progress = world.driver.progress
    pg = world.infra.pg

    async def restart_postgres() -> None:
        await progress.until(lambda p: p.trades_done >= SESSIONS)
        await asyncio.to_thread(pg.stop)
        progress.note("postgres stopped")
        await asyncio.sleep(DOWNTIME_SECONDS)
        await asyncio.to_thread(pg.start)
        progress.note("postgres restarted")

    await world.run(runs, restart_postgres())

    problems = await world.audit(runs)
    assert not problems, "\n".join(problems) + "\n" + world.report(runs)
    assert all(w.running for w in world.workers)
    print(world.report(runs))


async def test_node_killed_and_restarted_from_its_ledger(world: World) -> None:
    # The worker talks to the node directly: it sees the real thing, connection refused.
    _, runs = await world.prepare(["w1"], sessions=SESSIONS, expiring=EXPIRING, trades=TRADES, via_proxy=False)
    progress = world.driver.progress
    node = world.infra.node

    async def restart_node() -> None:
        await progress.until(lambda p: p.trades_done >= SESSIONS)
        await asyncio.to_thread(node.stop, kill=True)
        progress.note("node killed")
        await asyncio.sleep(DOWNTIME_SECONDS)
        await asyncio.to_thread(node.start)
        await chain_ready(world.chain)
        progress.note("node restarted from its ledger")

    await world.run(runs, restart_node())

    problems = await world.audit(runs)
    assert not problems, "\n".join(problems) + "\n" + world.report(runs)
    print(world.report(runs))
