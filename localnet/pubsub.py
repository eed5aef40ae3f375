"""The PubSub WebSocket side of the node: signature, account and slot subscriptions.

Validators serve it on the RPC port + 1, and `@solana/web3.js` confirms transactions through `signatureSubscribe`,
so a node without it cannot serve real clients. Each connection keeps its subscriptions and a small poller that
checks them against the chain every POLL_SECONDS (the SVM is local: polling is cheap and keeps the chain free of
callbacks into the event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from starlette.websockets import WebSocket, WebSocketDisconnect

from localnet.chain import FINALIZATION_DEPTH, LocalChain
from localnet.rpc.encoding import ACCOUNT_ENCODINGS, encode_account
from localnet.rpc.errors import INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, RpcError
from localnet.rpc.params import Config, to_pubkey, to_signature

POLL_SECONDS = 0.02
_subscription_ids = itertools.count(1)


@dataclass
class _Subscription:
    kind: str  # "signature" | "account" | "slot"
    target: str = ""
    commitment: str = "finalized"
    encoding: str = "binary"
    last_seen: Any = field(default=None)


def _notification(method: str, subscription: int, result: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": {"result": result, "subscription": subscription}})


def _reply(request_id: Any, result: Any = None, error: RpcError | None = None) -> str:
    if error is not None:
        return json.dumps({"jsonrpc": "2.0", "error": error.to_json(), "id": request_id})
    return json.dumps({"jsonrpc": "2.0", "result": result, "id": request_id})


def _config(params: list[Any], index: int) -> Config:
    value = params[index] if len(params) > index else None
    if value is not None and not isinstance(value, dict):
        raise RpcError(-32602, "Invalid params: the configuration object must be an object")
    return Config(value or {})


class PubSubConnection:
    def __init__(self, chain: LocalChain, websocket: WebSocket) -> None:
        self.chain = chain
        self.websocket = websocket
        self.subscriptions: dict[int, _Subscription] = {}

    async def run(self) -> None:
        await self.websocket.accept()
        poller = asyncio.create_task(self._poll_forever())
        try:
            while True:
                text = await self.websocket.receive_text()
                # Handling touches the chain (baselines for new subscriptions): keep it off the event loop.
                await self.websocket.send_text(await anyio.to_thread.run_sync(self._handle, text))
        except WebSocketDisconnect:
            pass
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    def _handle(self, text: str) -> str:
        try:
            call = json.loads(text)
        except ValueError:
            return _reply(None, error=RpcError(PARSE_ERROR, "Parse error"))
        if not isinstance(call, dict) or call.get("jsonrpc") != "2.0" or not isinstance(call.get("method"), str):
            return _reply(None, error=RpcError(INVALID_REQUEST, "Invalid request"))
        request_id = call.get("id")
        params = call.get("params") or []
        try:
            if not isinstance(params, list):
                raise RpcError(-32602, "Invalid params: params must be an array")
            return _reply(request_id, self._dispatch(call["method"], params))
        except RpcError as exc:
            return _reply(request_id, error=exc)

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        if method == "signatureSubscribe":
            signature = str(to_signature(params[0] if params else None, "signature"))
            return self._add(_Subscription("signature", signature, _config(params, 1).commitment()))
        if method == "accountSubscribe":
            address = str(to_pubkey(params[0] if params else None, "account address"))
            config = _config(params, 1)
            encoding = config.string("encoding", ACCOUNT_ENCODINGS, default="binary")
            subscription = _Subscription("account", address, config.commitment(), encoding or "binary")
            subscription.last_seen = self._account_state(address)[1]
            return self._add(subscription)
        if method == "slotSubscribe":
            return self._add(_Subscription("slot", last_seen=self.chain.commitment_slot("processed")))
        if method in ("signatureUnsubscribe", "accountUnsubscribe", "slotUnsubscribe"):
            subscription = params[0] if params else None
            if not isinstance(subscription, int) or subscription not in self.subscriptions:
                raise RpcError(-32602, "Invalid subscription id.")
            del self.subscriptions[subscription]
            return True
        raise RpcError(METHOD_NOT_FOUND, "Method not found")

    def _account_state(self, address: str) -> tuple[int, bytes | None, Any]:
        slot, (account,) = self.chain.get_accounts([to_pubkey(address, "account")])
        return slot, None if account is None else bytes(account), account

    @staticmethod
    def _encode(account: Any, encoding: str) -> dict[str, Any]:
        try:
            return encode_account(account, encoding, None)
        except RpcError:  # base58 of a large account: say it in base64 rather than drop the notification
            return encode_account(account, "base64", None)

    def _add(self, subscription: _Subscription) -> int:
        subscription_id = next(_subscription_ids)
        self.subscriptions[subscription_id] = subscription
        return subscription_id

    async def _poll_forever(self) -> None:
        while True:
            if self.subscriptions:
                messages = await anyio.to_thread.run_sync(self._due_notifications)
                for message in messages:
                    await self.websocket.send_text(message)
            await asyncio.sleep(POLL_SECONDS)

    def _due_notifications(self) -> list[str]:
        """Runs in a worker thread: which subscriptions have something to say now."""
        out: list[str] = []
        for subscription_id, sub in list(self.subscriptions.items()):
            if sub.kind == "signature":
                slot, (status,) = self.chain.signature_statuses([sub.target], search_history=True)
                if status is None:
                    continue
                if sub.commitment == "finalized" and slot - status["slot"] < FINALIZATION_DEPTH:
                    continue
                out.append(
                    _notification(
                        "signatureNotification",
                        subscription_id,
                        {"context": {"slot": status["slot"]}, "value": {"err": status["err"]}},
                    )
                )
                # A signature subscription ends with its one notification, as on a validator.
                self.subscriptions.pop(subscription_id, None)
            elif sub.kind == "account":
                slot, state, account = self._account_state(sub.target)
                if state == sub.last_seen:
                    continue
                sub.last_seen = state
                value = None if account is None else self._encode(account, sub.encoding)
                result = {"context": {"slot": slot}, "value": value}
                out.append(_notification("accountNotification", subscription_id, result))
            else:
                slot = self.chain.commitment_slot("processed")
                if slot != sub.last_seen:
                    sub.last_seen = slot
                    result = {"parent": slot - 1, "root": max(0, slot - FINALIZATION_DEPTH), "slot": slot}
                    out.append(_notification("slotNotification", subscription_id, result))
        return out


async def pubsub_endpoint(chain: LocalChain, websocket: WebSocket) -> None:
    await PubSubConnection(chain, websocket).run()
