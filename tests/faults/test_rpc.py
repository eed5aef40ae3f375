"""The RPC node misbehaving for a while, through localnet.faultproxy between the workers and the node: HTTP 503s,
requests that hang past the client's timeout (forwarded, so a transaction lands while its sender sees a timeout),
and sendTransaction accepted but never forwarded (dropped) until the blockhashes of the dropped transactions expire.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.conftest import SESSIONS, TRADES, World
from tests.faults.scenario import rpc_call

pytestmark = pytest.mark.slow

FAULT_SECONDS = 4
# More than a blockhash's lifetime (150 slots): every transaction dropped so far can provably never land.
EXPIRE_BLOCKHASHES_SLOTS = 200


async def test_rpc_errors_then_hangs(world: World) -> None:
    _, runs = await world.prepare(["w1"])
    progress = world.driver.progress
    proxy = world.proxy

    async def misbehave() -> None:
        await progress.until(lambda p: p.trades_done >= SESSIONS // 2)
        proxy.set_fault(mode="error", status=503)
        progress.note("RPC: every request answered 503")
        await asyncio.sleep(FAULT_SECONDS)
        proxy.clear()
        progress.note("RPC: healthy")
        await progress.until(lambda p: p.trades_done >= 3 * SESSIONS // 2)
        proxy.set_fault(mode="hang", forward=True, hang_seconds=60)
        progress.note("RPC: every request forwarded, its answer withheld")
        await asyncio.sleep(FAULT_SECONDS)
        proxy.clear()
        progress.note("RPC: healthy")

    await world.run(runs, misbehave())

    await world.assert_nothing_lost(runs)
    assert proxy.stats.errored > 0 and proxy.stats.hung > 0  # the faults did hit the workers


async def test_rpc_drops_transactions_until_their_blockhashes_expire(world: World) -> None:
    _, runs = await world.prepare(["w1"])
    progress = world.driver.progress
    proxy = world.proxy

    async def drop_window() -> None:
        proxy.set_fault(mode="drop_sends")
        await asyncio.sleep(FAULT_SECONDS)
        # Age the chain past every dropped transaction's last valid block height, then let sends through again:
        # resending the old bytes can no longer work; only a freshly signed transaction can land.
        await rpc_call(world.infra.node.url, "localnet_advanceSlots", [EXPIRE_BLOCKHASHES_SLOTS])
        proxy.clear()

    async def misbehave() -> None:
        await progress.until(lambda p: p.trades_done >= SESSIONS)
        progress.note("RPC: sendTransaction dropped (trades)")
        await drop_window()
        progress.note("RPC: healthy, dropped blockhashes expired")
        # Again while sessions are revoking and cleaning up.
        await progress.until(lambda p: p.trades_done >= len(runs) * TRADES)
        progress.note("RPC: sendTransaction dropped (revoke, cleanup)")
        await drop_window()
        progress.note("RPC: healthy, dropped blockhashes expired")

    await world.run(runs, misbehave())

    await world.assert_nothing_lost(runs)
    assert proxy.stats.dropped > 0
