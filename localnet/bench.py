"""Throughput of the local node: confirmed transfers per second with 1 and 8 concurrent clients.

`python -m localnet.bench [--url URL] [--seconds 5] [--clients 1,8]`

Each client owns a funded payer and loops: sign a System transfer, `sendTransaction` (with preflight, as wallets send),
then poll `getSignatureStatuses` until it is confirmed. Only confirmed transactions count. Without --url the bench
starts its own node (`python -m localnet --no-program`) on a free port and stops it afterwards.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from ephemeral_vault.settings import REPO_ROOT
from localnet.ports import free_port_pair

BLOCKHASH_REUSE = 50  # a client refreshes its blockhash every 50 transactions, like a busy wallet would
POLL_SECONDS = 0.002
STARTUP_SECONDS = 60


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=30)
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        body = self.http.post(
            self.url, json={"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        ).json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def confirm(self, signature: str) -> None:
        while True:
            (status,) = self.call("getSignatureStatuses", [signature])["value"]
            if status is not None and status["confirmationStatus"] in ("confirmed", "finalized"):
                if status["err"] is not None:
                    raise RuntimeError(f"{signature} failed: {status['err']}")
                return
            time.sleep(POLL_SECONDS)


def _funded_payer(client: Client) -> Keypair:
    payer = Keypair()
    client.confirm(client.call("requestAirdrop", str(payer.pubkey()), 1_000 * 10**9))
    return payer


def _run_client(url: str, seconds: float, start: threading.Barrier) -> int:
    client = Client(url)
    payer = _funded_payer(client)
    recipient = Keypair().pubkey()
    start.wait()
    deadline = time.monotonic() + seconds
    confirmed = 0
    blockhash = Hash.default()
    for n in itertools.count():
        if time.monotonic() >= deadline:
            break
        if n % BLOCKHASH_REUSE == 0:
            latest = client.call("getLatestBlockhash", {"commitment": "confirmed"})
            blockhash = Hash.from_string(latest["value"]["blockhash"])
        ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=recipient, lamports=1_000_000 + n))
        tx = Transaction([payer], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash)
        signature = client.call("sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"})
        client.confirm(signature)
        confirmed += 1
    client.http.close()
    return confirmed


def measure(url: str, clients: int, seconds: float) -> float:
    """Confirmed transactions per second with `clients` concurrent clients."""
    start = threading.Barrier(clients + 1)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(_run_client, url, seconds, start) for _ in range(clients)]
        start.wait()
        began = time.monotonic()
        total = sum(f.result() for f in futures)
        elapsed = time.monotonic() - began
    return total / elapsed



@contextlib.contextmanager
def own_node() -> Iterator[str]:
    port = free_port_pair()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "localnet", "--port", str(port), "--no-program"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"localnet exited: {process.stderr.read().decode() if process.stderr else ''}")
            with contextlib.suppress(httpx.HTTPError):
                health = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=2)
                if health.status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("localnet did not start")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localnet.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="bench an already running node instead of starting one")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,8", help="comma-separated client counts")
    args = parser.parse_args(argv)
    counts = [int(c) for c in args.clients.split(",")]
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(own_node())
        for clients in counts:
            rate = measure(url, clients, args.seconds)
            print(f"localnet sendTransaction+confirmation: {rate:7.1f} tx/s with {clients} concurrent client(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
