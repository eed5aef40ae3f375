"""The JSON-RPC HTTP stack's per-request costs, which showed in the worker's profile under load.

A failing import per request:

httpcore's pooled requests call `current_async_library()`, which does `import sniffio` and falls back to asyncio
when the import fails. Without sniffio installed, every call was a failed import — a scan of every sys.path entry
(stat calls) — about 10 % of the worker's CPU under load (docs/benchmarks.md). sniffio is a dependency for that.

A bounded connection pool: the chain client keeps SOLANA_RPC_MAX_CONNECTIONS (providers limit connections per
client), not httpx's default 100, and requests beyond them wait for one.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from httpcore._synchronization import current_async_library

from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.settings import get_settings


async def test_current_async_library_does_not_search_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[str] = []

    class Spy:
        @staticmethod
        def find_spec(name: str, path: Any = None, target: Any = None) -> None:
            searched.append(name)
            return None

    monkeypatch.setattr(sys, "meta_path", [Spy(), *sys.meta_path])
    for _ in range(50):
        assert current_async_library() == "asyncio"
        await asyncio.sleep(0)
    assert searched == [], f"imports searched for on every request: {sorted(set(searched))}"


async def test_the_chain_client_pools_few_connections(localnet_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOLANA_RPC_MAX_CONNECTIONS", "3")
    get_settings.cache_clear()
    try:
        async with ChainClient(localnet_url) as chain:
            pools = [chain._rpc._provider.session._transport._pool, chain._http._transport._pool]
            assert [(p._max_connections, p._max_keepalive_connections) for p in pools] == [(3, 3), (3, 3)]
            # Twelve reads at once through three connections: they queue, and all are answered.
            heights = await asyncio.gather(*(chain.block_height() for _ in range(12)))
            assert all(h >= 0 for h in heights)
            assert len(pools[0].connections) <= 3
    finally:
        get_settings.cache_clear()
