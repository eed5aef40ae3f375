"""`Recent`: a value the chain client asked the node for, answered again without asking for a short window.

Two values are shared this way (`ChainClient`):

- **The blockhash of transactions the backend signs itself** (a trade, a cleanup, a fee-float sweep), for
  SOLANA_BLOCKHASH_REUSE_SECONDS. A blockhash stays valid for 150 slots (about a minute on a real cluster); reusing
  one for a second costs a transaction a second of that validity and nothing else. Two backend-signed transactions
  on one blockhash differ unless their messages are identical too: trades carry their trade id, and an identical
  cleanup or sweep built twice (a retry, the sweep beside the workflow) is the same transaction, which the chain runs
  once — what those two want anyway. NOT shared (`ChainClient.latest_blockhash`, always asked): offers the parent
  signs, whose signing time eats into the validity and each of which should be a transaction of its own; the bound
  after which an unlanded trade can never land (it must be the newest blockhash the chain knows, or a retry could
  sign a second trade while the first can still land); a rebuild after an expiry. A send the node refused for an
  unknown blockhash drops the shared one (`forget`): after a restarted or warped node it may be stale sooner than its
  age says.
- **The rent-exempt minimum of each account size**, for a minute: rent changes only when a feature activates at an
  epoch boundary, and every deposit quote and session opening asks.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    def __init__(
        self,
        fetch: Callable[[], Awaitable[T]],
        reuse_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if reuse_seconds < 0:
            raise ValueError(f"reuse_seconds must be >= 0, not {reuse_seconds}")
        self._fetch = fetch
        self._reuse_seconds = reuse_seconds
        self._clock = clock
        self._value: T | None = None
        self._asked_at = 0.0

    async def get(self) -> T:
        """The remembered value if it was asked for less than `reuse_seconds` ago, else a newly fetched one."""
        if self._value is not None and self._clock() - self._asked_at < self._reuse_seconds:
            return self._value
        asked_at = self._clock()  # its age counts from the request, not from the answer
        value = await self._fetch()
        if self._value is None or asked_at >= self._asked_at:
            self._value, self._asked_at = value, asked_at
        return value

    def forget(self) -> None:
        self._value = None
