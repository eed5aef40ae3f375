"""A fault-injecting HTTP proxy for a Solana JSON-RPC endpoint: put it between a client and a node, then make the
"network" misbehave on demand.

    python -m localnet.faultproxy --upstream http://127.0.0.1:8899 --port 8898

Faults (one at a time, optionally only for some JSON-RPC methods and only for a fraction of requests):

- ``error``: answer HTTP ``status`` (503 by default) without forwarding — an overloaded or restarting RPC provider.
- ``hang``: hold the request for ``hang_seconds`` (longer than the client's timeout). With ``forward`` (default) the
  request IS forwarded first and only the answer is withheld — a ``sendTransaction`` lands while its sender sees a
  timeout, the worst case for idempotency. Without it nothing reaches the node. A hang ends early when the fault is
  changed.
- ``drop_sends``: answer ``sendTransaction`` with the transaction's signature, as a node does, but never forward it —
  a validator dropping transactions under load. Every other method passes through.

Control: in-process with ``set_fault`` / ``clear``, or over HTTP with the proxy's own JSON-RPC methods (never
forwarded): ``faultproxy_setFault`` ``[{"mode": "error", "status": 503, "methods": ["getBalance"],
"probability": 0.5, "hang_seconds": 30, "forward": true}]``, ``faultproxy_clear``, ``faultproxy_stats``.

A JSON-RPC batch (an array body) counts as one request: ``error`` and ``hang`` apply to it whole, ``drop_sends``
forwards it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import random
import socket
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import uvicorn
from solders.signature import Signature
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

MODES = ("pass", "error", "hang", "drop_sends")
CONTROL_PREFIX = "faultproxy_"
MAX_BODY_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    mode: str = "pass"
    status: int = 503
    hang_seconds: float = 60.0
    forward: bool = True
    methods: frozenset[str] | None = None  # None: every method
    probability: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be in [0, 1]")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.hang_seconds < 0:
            raise ValueError("hang_seconds must be >= 0")

    @classmethod
    def from_json(cls, raw: Any) -> Fault:
        if not isinstance(raw, dict):
            raise ValueError("the fault must be an object")
        unknown = set(raw) - {"mode", "status", "hang_seconds", "forward", "methods", "probability"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        values = dict(raw)
        if values.get("methods") is not None:
            values["methods"] = frozenset(str(m) for m in values["methods"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["methods"] = sorted(self.methods) if self.methods is not None else None
        return out


@dataclass
class ProxyStats:
    forwarded: int = 0
    errored: int = 0
    hung: int = 0
    dropped: int = 0
    upstream_failures: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    dropped_signatures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "forwarded": self.forwarded,
            "errored": self.errored,
            "hung": self.hung,
            "dropped": self.dropped,
            "upstream_failures": self.upstream_failures,
            "by_method": dict(self.by_method),
            "dropped_signatures": list(self.dropped_signatures),
        }


def first_signature(tx_param: Any, encoding: str) -> str:
    """The transaction's first signature (its id), read from the wire bytes without parsing the message."""
    if not isinstance(tx_param, str):
        raise ValueError("the transaction must be a string")
    wire = base64.b64decode(tx_param, validate=True) if encoding == "base64" else _b58decode(tx_param)
    # compact-u16 signature count, then 64-byte signatures
    count, offset = 0, 0
    for shift in (0, 7, 14):
        byte = wire[offset]
        offset += 1
        count |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    if count < 1 or len(wire) < offset + 64:
        raise ValueError("no signature in the transaction")
    return str(Signature.from_bytes(wire[offset : offset + 64]))


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    num = 0
    for char in text:
        num = num * 58 + _B58.index(char)
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def _rpc_error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _json_response(content: Any, status: int = 200) -> Response:
    return Response(json.dumps(content, separators=(",", ":")), status_code=status, media_type="application/json")


class FaultProxy:
    """The proxy's state and ASGI app. `start()` serves it in the running event loop (tests); `main()` standalone."""

    def __init__(self, upstream: str, *, seed: int = 0, upstream_timeout: float = 120.0) -> None:
        self.upstream = upstream
        self.stats = ProxyStats()
        self._fault = Fault()
        self._changed = asyncio.Event()
        self._random = random.Random(seed)
        self._http = httpx.AsyncClient(timeout=upstream_timeout)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.url: str | None = None
        self.app = Starlette(routes=[Route("/", self._handle, methods=["POST"])])

    # --- control ---------------------------------------------------------------------------------------------------

    @property
    def fault(self) -> Fault:
        return self._fault

    def set_fault(self, fault: Fault | None = None, **kwargs: Any) -> None:
        if fault is None:
            if kwargs.get("methods") is not None:
                kwargs["methods"] = frozenset(kwargs["methods"])
            fault = Fault(**kwargs)
        self._fault = fault
        # Wake every hanging request: a hang lasts "while the fault is on", at most hang_seconds.
        self._changed.set()
        self._changed = asyncio.Event()

    def clear(self) -> None:
        self.set_fault(Fault())

    # --- serving ---------------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the fault proxy stopped before it started")
            await asyncio.sleep(0.01)
        return self.url

    async def stop(self) -> None:
        self.clear()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 10)
        await self._http.aclose()

    # --- the request path ------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        try:
            body = await request.body()
        except ClientDisconnect:
            return Response(status_code=499)  # the client went away (a killed worker): nobody to answer
        if len(body) > MAX_BODY_BYTES:
            return Response("request body too large", status_code=413)
        try:
            payload = json.loads(body)
        except ValueError:
            return await self._forward(body)  # let the node answer the parse error
        method = payload.get("method") if isinstance(payload, dict) else None
        if isinstance(method, str) and method.startswith(CONTROL_PREFIX):
            return self._control(payload)
        self.stats.by_method[str(method) if method else "<batch>"] += 1
        fault = self._fault
        applies = (
            fault.mode != "pass"
            and (fault.methods is None or method in fault.methods)
            and (fault.probability >= 1.0 or self._random.random() < fault.probability)
        )
        if not applies:
            return await self._forward(body)
        if fault.mode == "error":
            self.stats.errored += 1
            return Response(f"fault proxy: injected HTTP {fault.status}", status_code=fault.status)
        if fault.mode == "hang":
            self.stats.hung += 1
            changed = self._changed
            answer = await self._forward(body) if fault.forward else Response("fault proxy: hung", status_code=504)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), fault.hang_seconds)
            return answer
        # drop_sends
        if method != "sendTransaction" or not isinstance(payload, dict):
            return await self._forward(body)
        params = payload.get("params") or []
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        try:
            signature = first_signature(params[0] if params else None, str(config.get("encoding", "base58")))
        except (ValueError, IndexError, TypeError):
            return await self._forward(body)  # malformed: the node gives the real error
        self.stats.dropped += 1
        self.stats.dropped_signatures.append(signature)
        return _json_response({"jsonrpc": "2.0", "id": payload.get("id"), "result": signature})

    async def _forward(self, body: bytes) -> Response:
        try:
            upstream = await self._http.post(self.upstream, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            self.stats.upstream_failures += 1
            return Response(f"fault proxy: upstream unreachable ({type(exc).__name__})", status_code=502)
        self.stats.forwarded += 1
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            media_type=upstream.headers.get("content-type", "application/json"),
        )

    def _control(self, payload: dict[str, Any]) -> Response:
        method, request_id = payload["method"], payload.get("id")
        params = payload.get("params") or []
        if method == "faultproxy_setFault":
            try:
                self.set_fault(Fault.from_json(params[0] if params else None))
            except (ValueError, TypeError) as exc:
                return _json_response(_rpc_error(request_id, -32602, f"Invalid params: {exc}"))
            return _json_response({"jsonrpc": "2.0", "id": request_id, "result": self._fault.to_json()})
        if method == "faultproxy_clear":
            self.clear()
            return _json_response({"jsonrpc": "2.0", "id": request_id, "result": self._fault.to_json()})
        if method == "faultproxy_stats":
            result = {"fault": self._fault.to_json(), **self.stats.to_json()}
            return _json_response({"jsonrpc": "2.0", "id": request_id, "result": result})
        return _json_response(_rpc_error(request_id, -32601, "Method not found"))


async def _serve(upstream: str, host: str, port: int, seed: int) -> None:
    proxy = FaultProxy(upstream, seed=seed)
    url = await proxy.start(host, port)
    print(f"faultproxy: {url} -> {upstream}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await proxy.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localnet.faultproxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="JSON-RPC URL of the node")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8898)
    parser.add_argument("--seed", type=int, default=0, help="seed of the probability draws")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.upstream, args.host, args.port, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
