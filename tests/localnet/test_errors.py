"""Every error a client can provoke, with the codes and messages a validator gives."""

from __future__ import annotations

import base64
import os

import based58
import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.signature import Signature
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction

from tests.fixtures.localnet import LocalnetNode
from tests.localnet.rpc_client import LAMPORTS_PER_SOL, RpcClient, b64, transfer_tx


def post(node: LocalnetNode, body: bytes | str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.post(node.url, content=content, headers={"content-type": "application/json"}, timeout=30)


def test_unknown_method_is_32601(rpc: RpcClient) -> None:
    assert rpc.error("getEverything") == {"code": -32601, "message": "Method not found"}


def test_unparseable_body_is_32700(bare_node: LocalnetNode) -> None:
    response = post(bare_node, '{"jsonrpc": "2.0", "id": 1, "method": "getSlot"')

    assert response.json() == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": None}


def test_request_that_is_not_an_object_is_32600(bare_node: LocalnetNode) -> None:
    for body in ("42", '"getSlot"', "[]", '{"jsonrpc": "1.0", "id": 1, "method": "getSlot"}', '{"jsonrpc": "2.0"}'):
        error = post(bare_node, body).json()["error"]
        assert error["code"] == -32600, body


def test_params_that_are_not_an_array_are_32602(rpc: RpcClient) -> None:
    body = rpc.http.post(rpc.url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": {"a": 1}}).json()

    assert body["error"]["code"] == -32602
    assert "array" in body["error"]["message"]


def test_invalid_pubkey_is_32602_naming_the_param(rpc: RpcClient) -> None:
    error = rpc.error("getBalance", "not-a-key")

    assert error["code"] == -32602
    assert "not-a-key" in error["message"] and "public key" in error["message"]


def test_wrong_types_and_missing_params_are_32602(rpc: RpcClient) -> None:
    cases = [
        ("getBalance",),
        ("getBalance", 12),
        ("getAccountInfo", str(Keypair().pubkey()), "base64"),
        ("getAccountInfo", str(Keypair().pubkey()), {"encoding": "hex"}),
        ("getAccountInfo", str(Keypair().pubkey()), {"commitment": "soon"}),
        ("getMinimumBalanceForRentExemption", -1),
        ("getMinimumBalanceForRentExemption", "165"),
        ("getSignatureStatuses", "sig"),
        ("getSignatureStatuses", ["x" * 10]),
        ("requestAirdrop", str(Keypair().pubkey()), 0),
        ("requestAirdrop", str(Keypair().pubkey()), True),
        ("getSlot", {}, {}),
        ("isBlockhashValid", "zzz"),
    ]
    for case in cases:
        error = rpc.error(*case)
        assert error["code"] == -32602, (case, error)
        assert error["message"], case


def test_too_many_signatures_is_32602(rpc: RpcClient) -> None:
    signatures = [str(Signature.default())] * 257

    error = rpc.error("getSignatureStatuses", signatures)

    assert error == {"code": -32602, "message": "Too many inputs provided; max 256"}


def test_preflight_failure_is_32002_with_err_logs_and_units(rpc: RpcClient) -> None:
    payer = rpc.funded(LAMPORTS_PER_SOL)

    body = rpc.send_b64(transfer_tx(payer, Keypair().pubkey(), 2 * LAMPORTS_PER_SOL, rpc.blockhash()))

    error = body["error"]
    assert error["code"] == -32002
    assert error["message"] == (
        "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1"
    )
    data = error["data"]
    assert data["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert data["accounts"] is None
    assert data["unitsConsumed"] == 150
    assert data["logs"][0] == "Program 11111111111111111111111111111111 invoke [1]"
    assert rpc.balance(payer.pubkey()) == LAMPORTS_PER_SOL  # preflight failure: nothing landed, no fee


def test_unknown_blockhash_is_blockhash_not_found(rpc: RpcClient) -> None:
    payer = rpc.funded()
    never_issued = Hash.from_bytes(os.urandom(32))

    body = rpc.send_b64(transfer_tx(payer, Keypair().pubkey(), 1, never_issued))

    assert body["error"]["code"] == -32002
    assert body["error"]["message"] == "Transaction simulation failed: Blockhash not found"
    assert body["error"]["data"]["err"] == "BlockhashNotFound"


def test_unfunded_fee_payer_is_account_not_found(rpc: RpcClient) -> None:
    body = rpc.send_b64(transfer_tx(Keypair(), Keypair().pubkey(), 1, rpc.blockhash()))

    assert body["error"]["code"] == -32002
    assert body["error"]["data"]["err"] == "AccountNotFound"
    assert "no record of a prior credit" in body["error"]["message"]


def test_malformed_transaction_bytes_fail_to_deserialize(rpc: RpcClient) -> None:
    error = rpc.error("sendTransaction", base64.b64encode(b"\x01\x02\x03").decode(), {"encoding": "base64"})

    assert error["code"] == -32602
    assert error["message"].startswith("failed to deserialize")


def test_invalid_base64_and_base58_are_32602(rpc: RpcClient) -> None:
    bad64 = rpc.error("sendTransaction", "!!!not base64!!!", {"encoding": "base64"})
    bad58 = rpc.error("sendTransaction", "0OIl")

    assert bad64["code"] == -32602 and "base64" in bad64["message"]
    assert bad58["code"] == -32602 and "base58" in bad58["message"]


def test_oversized_transaction_is_refused(rpc: RpcClient) -> None:
    error = rpc.error("sendTransaction", base64.b64encode(bytes(1300)).decode(), {"encoding": "base64"})

    assert error["code"] == -32602
    assert "too large" in error["message"]


def test_unsanitary_transaction_is_refused(rpc: RpcClient) -> None:
    payer = rpc.funded()
    tx = transfer_tx(payer, Keypair().pubkey(), 1, rpc.blockhash())
    no_signatures = bytes([0]) + bytes(tx.message)  # zero signatures for a message that requires one

    error = rpc.error("sendTransaction", base64.b64encode(no_signatures).decode(), {"encoding": "base64"})

    assert error["code"] == -32602
    assert error["message"].startswith("invalid transaction")


def test_bad_signature_is_32003_and_nothing_lands(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    good = transfer_tx(payer, recipient, 1_000_000, rpc.blockhash())
    forged = Transaction.populate(good.message, [Keypair().sign_message(bytes(good.message))])

    error = rpc.send_b64(forged)["error"]
    simulated = rpc.error("simulateTransaction", b64(forged), {"encoding": "base64", "sigVerify": True})

    assert error == {"code": -32003, "message": "Transaction signature verification failure"}
    assert simulated["code"] == -32003
    assert rpc.balance(recipient) == 0


def test_bad_signature_with_skip_preflight_returns_the_signature_but_never_lands(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    good = transfer_tx(payer, recipient, 1_000_000, rpc.blockhash())
    forged = Transaction.populate(good.message, [Keypair().sign_message(bytes(good.message))])

    signature = rpc.send_b64(forged, skipPreflight=True)["result"]

    assert signature == str(forged.signatures[0])
    assert rpc.call("getSignatureStatuses", [signature], {"searchTransactionHistory": True})["value"] == [None]
    assert rpc.balance(recipient) == 0


def test_sig_verify_with_replace_blockhash_is_refused(rpc: RpcClient) -> None:
    payer = rpc.funded()
    tx = transfer_tx(payer, Keypair().pubkey(), 1, rpc.blockhash())

    error = rpc.error(
        "simulateTransaction", b64(tx), {"encoding": "base64", "sigVerify": True, "replaceRecentBlockhash": True}
    )

    assert error == {"code": -32602, "message": "sigVerify may not be used with replaceRecentBlockhash"}


def test_min_context_slot_in_the_future_is_32016(rpc: RpcClient) -> None:
    error = rpc.error("getBalance", str(Keypair().pubkey()), {"minContextSlot": 10**12})

    assert error["code"] == -32016
    assert error["message"] == "Minimum context slot has not been reached"
    assert isinstance(error["data"]["contextSlot"], int)


def test_base58_of_a_large_account_is_refused(rpc: RpcClient) -> None:
    payer = rpc.funded()
    blockhash = rpc.blockhash()
    big = Keypair()
    ix = create_account(
        CreateAccountParams(
            from_pubkey=payer.pubkey(), to_pubkey=big.pubkey(), lamports=LAMPORTS_PER_SOL, space=200,
            owner=Keypair().pubkey(),
        )
    )
    tx = Transaction([payer, big], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash)
    rpc.wait_confirmed(rpc.send_b64(tx)["result"])

    error = rpc.error("getAccountInfo", str(big.pubkey()), {"encoding": "base58"})
    config = {"encoding": "base58", "dataSlice": {"offset": 0, "length": 8}}
    sliced = rpc.call("getAccountInfo", str(big.pubkey()), config)

    assert error["code"] == -32600
    assert "please use Base64 encoding" in error["message"]
    assert sliced["value"]["data"] == [based58.b58encode(bytes(8)).decode(), "base58"]
