"""Worker crashes: `python worker.py` subprocesses killed with SIGKILL while sessions are in flight."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import SESSIONS, TRADES, World

pytestmark = pytest.mark.slow

# Two workers share twice the sessions until one dies; then the survivor carries all twenty.
SCALE_SESSIONS = 20
SCALE_EXPIRING = 8
SCALE_EXPIRY_WARP = 38  # opening twenty sessions takes longer: leave the expiring ones ~22 s


async def test_worker_killed_with_sigkill_and_restarted(world: World) -> None:
    (worker,), runs = await world.prepare(["w1"])
    progress = world.driver.progress

    async def crash_and_restart() -> None:
        await progress.until(lambda p: p.trades_done >= SESSIONS)  # a third of the trades done, the rest in flight
        worker.sigkill()
        progress.note("worker killed")
        await asyncio.sleep(1)
        await world.restart_worker(worker)
        progress.note("worker restarted")

    await world.run(runs, crash_and_restart())

    await world.assert_nothing_lost(runs)
    assert worker.starts == 2 and len(worker.kills) == 1


async def test_two_workers_one_killed_for_good(world: World) -> None:
    (doomed, survivor), runs = await world.prepare(
        ["doomed", "survivor"],
        sessions=SCALE_SESSIONS,
        expiring=SCALE_EXPIRING,
        trades=TRADES,
        expiry_warp=SCALE_EXPIRY_WARP,
    )
    progress = world.driver.progress

    async def crash() -> None:
        await progress.until(lambda p: p.trades_done >= SCALE_SESSIONS)
        doomed.sigkill()
        progress.note("worker 'doomed' killed; it stays dead")

    await world.run(runs, crash())

    await world.assert_nothing_lost(runs)
    assert not doomed.running and survivor.running and survivor.starts == 1
