"""httpx's per-request costs, which showed in the worker's profile under load when the chain client still used it
(it now sends through aiohttp, ephemeral_vault/chain/transport.py; httpx remains for the fault proxy, the bench and
API clients).

httpcore's pooled requests call `current_async_library()`, which does `import sniffio` and falls back to asyncio
when the import fails. Without sniffio installed, every call was a failed import — a scan of every sys.path entry
(stat calls) — about 10 % of the worker's CPU under load (docs/benchmarks.md). sniffio is a dependency for that.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest
from httpcore._synchronization import current_async_library


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
