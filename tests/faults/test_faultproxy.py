"""localnet.faultproxy against a real node: each fault does what it says, and the control methods work over HTTP."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import RetryableRpcError
from ephemeral_vault.chain.send import SignedTx
from localnet.faultproxy import Fault, FaultProxy, first_signature

SOL = 1_000_000_000


async def rpc(url: str, method: str, params: list | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(url, json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []})


async def signed_transfer(chain: ChainClient, payer: Keypair) -> Transaction:
    blockhash = (await chain.latest_blockhash()).blockhash
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=SOL // 100))
    return Transaction([payer], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash)


async def test_pass_through_and_503_for_the_chosen_methods_only(proxy: FaultProxy) -> None:
    assert (await rpc(proxy.url, "getHealth")).json()["result"] == "ok"
    proxy.set_fault(mode="error", status=503, methods=["getSlot"])

    refused = await rpc(proxy.url, "getSlot")
    other = await rpc(proxy.url, "getHealth")

    assert refused.status_code == 503
    assert other.json()["result"] == "ok"
    assert proxy.stats.errored == 1 and proxy.stats.by_method["getSlot"] == 1


async def test_a_client_behind_a_hang_times_out_yet_the_forwarded_transaction_lands(
    proxy: FaultProxy, localnet_url: str
) -> None:
    """The send times out behind the hang, but the proxy forwarded it: the client's status check after the failed
    send finds it landed and confirms it, rather than report a failure for a transaction that went through."""
    async with ChainClient(localnet_url) as direct, ChainClient(proxy.url, rpc_timeout_seconds=0.5) as hung:
        payer = Keypair()
        await direct.request_airdrop(payer.pubkey(), SOL)
        tx = await signed_transfer(direct, payer)
        proxy.set_fault(mode="hang", forward=True, hang_seconds=30, methods=["sendTransaction"])

        result = await hung.send_and_confirm(SignedTx.from_transaction(tx, 2**62))
        status = await direct.wait_for_signature(str(tx.signatures[0]))

    assert result.signature == str(tx.signatures[0])
    assert status.err is None and proxy.stats.hung == 1


async def test_a_client_behind_a_hang_that_swallows_the_send_reports_it_retryable(
    proxy: FaultProxy, localnet_url: str
) -> None:
    async with ChainClient(localnet_url) as direct, ChainClient(proxy.url, rpc_timeout_seconds=0.5) as hung:
        payer = Keypair()
        await direct.request_airdrop(payer.pubkey(), SOL)
        tx = await signed_transfer(direct, payer)
        proxy.set_fault(mode="hang", forward=False, hang_seconds=30, methods=["sendTransaction"])

        with pytest.raises(RetryableRpcError):
            await hung.send_and_confirm(SignedTx.from_transaction(tx, 2**62))
        never_sent = await direct.signature_status(str(tx.signatures[0])) is None  # before `direct` closes

    assert proxy.stats.hung == 1 and never_sent


async def test_a_hang_ends_when_the_fault_is_cleared(proxy: FaultProxy) -> None:
    proxy.set_fault(mode="hang", forward=False, hang_seconds=60)
    pending = asyncio.create_task(rpc(proxy.url, "getHealth"))
    for _ in range(3000):
        if proxy.stats.hung:
            break
        await asyncio.sleep(0.01)
    proxy.clear()
    assert (await asyncio.wait_for(pending, 30)).status_code == 504


async def test_dropped_send_answers_the_signature_and_never_reaches_the_node(
    proxy: FaultProxy, localnet_url: str
) -> None:
    async with ChainClient(localnet_url) as direct:
        payer = Keypair()
        await direct.request_airdrop(payer.pubkey(), SOL)
        tx = await signed_transfer(direct, payer)
        proxy.set_fault(mode="drop_sends")

        wire = base64.b64encode(bytes(tx)).decode()
        answer = await rpc(proxy.url, "sendTransaction", [wire, {"encoding": "base64"}])
        await asyncio.sleep(0.3)
        unknown = await direct.signature_status(str(tx.signatures[0]))

    assert answer.json()["result"] == str(tx.signatures[0])
    assert unknown is None
    assert proxy.stats.dropped_signatures == [str(tx.signatures[0])]


def b58encode(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    num, out = int.from_bytes(data, "big"), ""
    while num:
        num, rem = divmod(num, 58)
        out = alphabet[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def test_first_signature_reads_base58_and_base64_wire_formats() -> None:
    payer = Keypair()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1))
    blockhash = Hash(bytes(32))
    wire = bytes(Transaction([payer], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash))
    expected = str(Transaction.from_bytes(wire).signatures[0])

    assert first_signature(base64.b64encode(wire).decode(), "base64") == expected
    assert first_signature(b58encode(wire), "base58") == expected
    with pytest.raises(ValueError):
        first_signature("not base58: 0OIl", "base58")
    with pytest.raises(ValueError):
        first_signature(base64.b64encode(b"\x00").decode(), "base64")


async def test_control_methods_over_http(proxy: FaultProxy) -> None:
    set_answer = await rpc(proxy.url, "faultproxy_setFault", [{"mode": "error", "status": 502, "probability": 1}])
    refused = await rpc(proxy.url, "getHealth")
    stats = (await rpc(proxy.url, "faultproxy_stats")).json()["result"]
    bad = (await rpc(proxy.url, "faultproxy_setFault", [{"mode": "explode"}])).json()
    cleared = (await rpc(proxy.url, "faultproxy_clear")).json()["result"]

    assert set_answer.json()["result"]["mode"] == "error" and refused.status_code == 502
    assert stats["errored"] == 1 and stats["fault"]["status"] == 502
    assert bad["error"]["code"] == -32602
    assert cleared == Fault().to_json()
