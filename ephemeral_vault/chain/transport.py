"""HTTP under the chain client: solana-py's JSON-RPC requests sent with aiohttp instead of httpx.

Why: solana-py 0.36 posts every JSON-RPC request through httpx, and on this machine httpx + httpcore + anyio + h11
cost ~3.7 to 4 ms of CPU per request against ~0.4 ms for aiohttp, whose HTTP parser is C (`python -m bench http`;
docs/benchmarks.md). A session lifecycle makes ~55 requests from the worker, and the worker's profile put the HTTP
stack at ~40 % of its CPU.

solana-py's AsyncHTTPProvider needs only a `session` whose `post(url=..., headers=..., content=...)` returns an
object with `raise_for_status()` and `.text`, and `aclose()`: `RpcSession` is that. Request building and response
parsing stay solana-py's and solders' — one chain code path.

Failures are `RpcTransportError`s that carry no URL or peer address (a hosted RPC URL carries an API key; these
messages reach logs and Temporal history), classified by `send.classify_rpc_exception` like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp


class RpcTransportError(Exception):
    """The request did not produce a JSON-RPC answer."""


class RpcHttpStatusError(RpcTransportError):
    def __init__(self, status: int) -> None:
        super().__init__(f"RPC endpoint answered HTTP {status}")
        self.status = status


class RpcTimeout(RpcTransportError):
    pass


class RpcUnreachable(RpcTransportError):
    """Connecting, sending or reading the answer failed (refused, reset, closed mid-answer)."""


@dataclass(frozen=True, slots=True)
class RpcResponse:
    status: int
    text: str

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise RpcHttpStatusError(self.status)


class RpcSession:
    """One pool of at most `max_connections` keep-alive connections, opened on first use (aiohttp binds a session
    to the running event loop, and a ChainClient may be built before one runs)."""

    def __init__(self, *, timeout_seconds: float, max_connections: int) -> None:
        self.max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        if self._closed:
            # Not an RPC failure to retry: a caller still using a client it closed would otherwise open a new pool
            # of connections that nothing ever closes.
            raise RuntimeError("this chain client is closed; open a new ChainClient")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                timeout=self._timeout,
                # JSON-RPC needs none of these: no cookies to keep, no proxy variables to honour silently.
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session

    async def post(self, url: str, *, headers: dict[str, str], content: str | bytes, **_ignored: Any) -> RpcResponse:
        try:
            async with self._open().post(url, data=content, headers=headers) as response:
                # Decoded as UTF-8 without charset sniffing: a body that is not is unparseable either way.
                return RpcResponse(response.status, (await response.read()).decode("utf-8", "replace"))
        except TimeoutError:
            raise RpcTimeout("RPC request timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            # Not chained: aiohttp's messages name the host and port (and a proxy's URL).
            raise RpcUnreachable(f"cannot reach the RPC endpoint ({type(exc).__name__})") from None

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def __repr__(self) -> str:
        return f"RpcSession(max_connections={self.max_connections})"
