"""A plain JSON-RPC client for the node tests (no Solana SDK in between, so the wire format itself is tested)."""

from __future__ import annotations

import base64
import itertools
import time
from typing import Any

import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

LAMPORTS_PER_SOL = 1_000_000_000


class RpcClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=30)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.http.close()

    def raw(self, method: str, *params: Any) -> dict[str, Any]:
        response = self.http.post(
            self.url, json={"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def text(self, method: str, *params: Any) -> str:
        response = self.http.post(
            self.url, json={"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        )
        return response.text

    def call(self, method: str, *params: Any) -> Any:
        body = self.raw(method, *params)
        assert "error" not in body, body
        return body["result"]

    def error(self, method: str, *params: Any) -> dict[str, Any]:
        body = self.raw(method, *params)
        assert "error" in body, body
        return body["error"]

    # --- conveniences --------------------------------------------------------------------------------------
    def blockhash(self) -> Hash:
        return Hash.from_string(self.call("getLatestBlockhash", {"commitment": "confirmed"})["value"]["blockhash"])

    def balance(self, address: Pubkey) -> int:
        return int(self.call("getBalance", str(address), {"commitment": "confirmed"})["value"])

    def funded(self, lamports: int = 10 * LAMPORTS_PER_SOL) -> Keypair:
        keypair = Keypair()
        signature = self.call("requestAirdrop", str(keypair.pubkey()), lamports)
        self.wait_confirmed(signature)
        return keypair

    def wait_confirmed(self, signature: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            (status,) = self.call("getSignatureStatuses", [signature])["value"]
            if status is not None and status["confirmationStatus"] in ("confirmed", "finalized"):
                return status
            time.sleep(0.02)
        raise AssertionError(f"{signature} not confirmed within {timeout}s")

    def send_b64(self, tx: Transaction, **config: Any) -> dict[str, Any]:
        return self.raw("sendTransaction", b64(tx), {"encoding": "base64", **config})


def b64(tx: Transaction | bytes) -> str:
    return base64.b64encode(bytes(tx)).decode()


def transfer_tx(payer: Keypair, to: Pubkey, lamports: int, blockhash: Hash) -> Transaction:
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=lamports))
    return Transaction([payer], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash)
