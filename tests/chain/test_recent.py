"""Recent, the pure part: which request a shared value (here a blockhash) counts its age from, and when it is asked
anew. (tests/chain/test_shared_reads.py checks the blockhash and the rent against the local node, counting the
requests that reach it.)"""

from __future__ import annotations

import asyncio

import pytest
from solders.hash import Hash

from ephemeral_vault.chain.recent import Recent
from ephemeral_vault.chain.send import BlockhashInfo


class Node:
    """Answers a new blockhash per request, each after `delay` (asyncio time), and counts the requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.delays: list[float] = []

    async def latest(self) -> BlockhashInfo:
        self.requests += 1
        n = self.requests
        await asyncio.sleep(self.delays.pop(0) if self.delays else 0)
        return BlockhashInfo(Hash.new_unique(), 1_000 + n)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_blockhash_is_shared_until_its_reuse_window_ends() -> None:
    node, clock = Node(), Clock()
    shared = Recent(node.latest, 1.0, clock)

    first = await shared.get()
    clock.now += 0.99
    assert await shared.get() == first and node.requests == 1
    clock.now += 0.01
    assert await shared.get() != first and node.requests == 2


async def test_a_zero_window_asks_the_node_every_time() -> None:
    node, clock = Node(), Clock()
    shared = Recent(node.latest, 0, clock)
    answers = {(await shared.get()).blockhash for _ in range(3)}
    assert len(answers) == 3 and node.requests == 3


async def test_forget_makes_the_next_caller_ask_the_node() -> None:
    node, clock = Node(), Clock()
    shared = Recent(node.latest, 10.0, clock)
    first = await shared.get()
    shared.forget()
    assert await shared.get() != first and node.requests == 2


async def test_an_answer_to_an_older_request_does_not_replace_a_newer_one() -> None:
    """Two callers ask at once; the one that asked first is answered last. The newer request's blockhash stays."""
    node, clock = Node(), Clock()
    shared = Recent(node.latest, 5.0, clock)
    node.delays = [0.05, 0.0]

    slow = asyncio.create_task(shared.get())
    await asyncio.sleep(0)  # the slow request is in flight
    clock.now += 0.5
    fast = await shared.get()
    await slow
    assert await shared.get() == fast and node.requests == 2


def test_a_negative_window_is_refused() -> None:
    with pytest.raises(ValueError, match="reuse_seconds must be >= 0"):
        Recent(Node().latest, -1, Clock())
