"""CPU per JSON-RPC request of the chain client's HTTP transport (aiohttp, ephemeral_vault/chain/transport.py)
beside solana-py's own httpx transport, in the same run against the same local node.

`python -m bench.rpc_transport [--url URL] [--requests 2000] [--concurrency 50] [--rounds 2]`

Both sides are the same solana-py `AsyncClient.get_block_height` calls (request building and response parsing by
solana-py and solders), `--concurrency` at once, with a 16-connection pool each; only the HTTP session under the
provider differs. The figure is this process's CPU (user + system) per request; rounds alternate the two transports
so that machine noise lands on both. Without --url it starts its own node (`python -m localnet --no-program`).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from dataclasses import dataclass

import httpx
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed

from bench.report import table
from ephemeral_vault.chain.transport import RpcSession
from localnet.bench import own_node

CONNECTIONS = 16


@dataclass
class Figure:
    transport: str
    requests: int
    wall_s: float
    cpu_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_s / self.requests

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall_s


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _httpx_session() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    return httpx.AsyncClient(timeout=30, limits=limits)


def _aiohttp_session() -> RpcSession:
    return RpcSession(timeout_seconds=30, max_connections=CONNECTIONS)


# Baseline first: render() divides by it.
TRANSPORTS = {"httpx (solana-py's own)": _httpx_session, "aiohttp (the chain client's)": _aiohttp_session}


async def measure(url: str, transport: str, requests: int, concurrency: int) -> Figure:
    client = AsyncClient(url, commitment=Confirmed)
    await client._provider.session.aclose()  # the httpx client solana-py built; replaced before any use
    client._provider.session = TRANSPORTS[transport]()
    try:
        await asyncio.gather(*(client.get_block_height(Confirmed) for _ in range(CONNECTIONS)))  # warm the pool
        per_caller = max(1, requests // concurrency)

        async def caller() -> None:
            for _ in range(per_caller):
                await client.get_block_height(Confirmed)

        started, cpu = time.perf_counter(), _cpu_s()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        return Figure(transport, per_caller * concurrency, time.perf_counter() - started, _cpu_s() - cpu)
    finally:
        await client.close()


async def run(url: str, requests: int, concurrency: int, rounds: int) -> list[Figure]:
    return [await measure(url, transport, requests, concurrency) for _ in range(rounds) for transport in TRANSPORTS]


def render(figures: list[Figure]) -> str:
    rows = []
    per_round = len(TRANSPORTS)
    for i in range(0, len(figures), per_round):
        baseline = figures[i]
        for f in figures[i : i + per_round]:
            rows.append([i // per_round + 1, f.transport, f.requests, f.cpu_ms_per_request, f.requests_per_s,
                         f.cpu_ms_per_request / baseline.cpu_ms_per_request])
    return table(["round", "transport", "requests", "client CPU ms/request", "requests/s", "CPU ratio to httpx"],
                 rows, title="Chain client HTTP transport: getBlockHeight through solana-py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rpc_transport", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="a running node (default: start one)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per transport per round (≥ 1)")
    parser.add_argument("--concurrency", type=int, default=50, help="callers at once (≥ 1)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, alternating transports (≥ 1)")
    args = parser.parse_args(argv)
    for name in ("requests", "concurrency", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.url:
        figures = asyncio.run(run(args.url, args.requests, args.concurrency, args.rounds))
    else:
        with own_node() as url:
            figures = asyncio.run(run(url, args.requests, args.concurrency, args.rounds))
    print(render(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
