"""The PubSub WebSocket on RPC port + 1: signature, account and slot notifications in the validator's shapes."""

from __future__ import annotations

import json
from typing import Any

from solders.keypair import Keypair
from websockets.sync.client import ClientConnection, connect

from tests.fixtures.localnet import LocalnetNode
from tests.localnet.rpc_client import RpcClient, transfer_tx

TIMEOUT = 20


def ws_url(node: LocalnetNode) -> str:
    return f"ws://127.0.0.1:{node.port + 1}"


def request(ws: ClientConnection, method: str, *params: Any) -> Any:
    ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}))
    return json.loads(ws.recv(timeout=TIMEOUT))


def next_notification(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=TIMEOUT))


def test_signature_subscription_notifies_once_when_confirmed(bare_node: LocalnetNode, rpc: RpcClient) -> None:
    payer = rpc.funded()
    tx = transfer_tx(payer, Keypair().pubkey(), 1_000_000, rpc.blockhash())
    with connect(ws_url(bare_node)) as ws:
        subscription = request(ws, "signatureSubscribe", str(tx.signatures[0]), {"commitment": "confirmed"})["result"]
        rpc.send_b64(tx)
        notification = next_notification(ws)
        unsubscribed_already = request(ws, "signatureUnsubscribe", subscription)

    assert notification["method"] == "signatureNotification"
    assert notification["params"]["subscription"] == subscription
    assert notification["params"]["result"]["value"] == {"err": None}
    assert isinstance(notification["params"]["result"]["context"]["slot"], int)
    assert unsubscribed_already["error"]["code"] == -32602  # a signature subscription ends with its notification


def test_account_subscription_notifies_on_change(bare_node: LocalnetNode, rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    with connect(ws_url(bare_node)) as ws:
        subscription = request(ws, "accountSubscribe", str(recipient), {"encoding": "base64"})["result"]
        rpc.send_b64(transfer_tx(payer, recipient, 2_000_000, rpc.blockhash()))
        notification = next_notification(ws)
        assert request(ws, "accountUnsubscribe", subscription)["result"] is True

    assert notification["method"] == "accountNotification"
    assert notification["params"]["result"]["value"]["lamports"] == 2_000_000
    assert notification["params"]["result"]["value"]["data"] == ["", "base64"]


def test_slot_subscription_reports_new_slots(bare_node: LocalnetNode) -> None:
    with connect(ws_url(bare_node)) as ws:
        request(ws, "slotSubscribe")
        first = next_notification(ws)["params"]["result"]
        second = next_notification(ws)["params"]["result"]

    assert set(first) == {"parent", "root", "slot"}
    assert second["slot"] > first["slot"]


def test_pubsub_errors(bare_node: LocalnetNode) -> None:
    with connect(ws_url(bare_node)) as ws:
        unknown = request(ws, "blockSubscribe")
        bad_signature = request(ws, "signatureSubscribe", "nope")
        ws.send("{not json")
        parse_error = json.loads(ws.recv(timeout=TIMEOUT))

    assert unknown["error"]["code"] == -32601
    assert bad_signature["error"]["code"] == -32602
    assert parse_error["error"]["code"] == -32700
