"""The network side of the node: a Starlette app that reads a bounded body, parses JSON and hands it to the
dispatcher in a worker thread (the SVM is behind a lock; the event loop keeps serving other clients meanwhile), and
serves PubSub WebSockets on the same path.

`serve` runs it on the RPC port and on the PubSub port (RPC port + 1 by default, where validators put it and where
web3.js looks for it)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from localnet.chain import LocalChain
from localnet.pubsub import pubsub_endpoint
from localnet.rpc.dispatcher import error_response, handle_payload
from localnet.rpc.errors import PARSE_ERROR, RpcError

# agave's MAX_REQUEST_BODY_SIZE
DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _parse(body: bytes) -> Any:
    return json.loads(body, parse_constant=_reject_constant)


def _json(content: Any) -> Response:
    return Response(json.dumps(content, separators=(",", ":")), media_type="application/json")


def create_app(chain: LocalChain, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Starlette:
    async def rpc(request: Request) -> Response:
        try:
            body = await _read_body(request, max_body_bytes)
        except BodyTooLarge:
            return PlainTextResponse(f"request body larger than {max_body_bytes} bytes", status_code=413)
        try:
            payload = _parse(body)
        except (ValueError, RecursionError):
            return _json(error_response(None, RpcError(PARSE_ERROR, "Parse error")))
        response = await anyio.to_thread.run_sync(handle_payload, chain, payload)
        if response is None:
            return Response(status_code=200)
        return _json(response)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def not_allowed(request: Request) -> Response:
        return JSONResponse({"error": "use POST with a JSON-RPC 2.0 body"}, status_code=405)

    async def pubsub(websocket: WebSocket) -> None:
        await pubsub_endpoint(chain, websocket)

    # Both listeners (RPC port and RPC port + 1) serve this one app: HTTP JSON-RPC and PubSub WebSocket alike.
    return Starlette(
        routes=[
            WebSocketRoute("/", pubsub),
            Route("/", rpc, methods=["POST"]),
            Route("/", not_allowed, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it, small responses wait out delayed ACKs (~40 ms per request): uvicorn
    # sets it itself only on sockets it binds.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def listen(host: str, ports: list[int]) -> list[socket.socket]:
    """Bound sockets for `serve`, one per port; on an OSError (port in use, unknown host) none is left open."""
    sockets: list[socket.socket] = []
    try:
        for port in ports:
            sockets.append(_listen(host, port))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def serve(app: Starlette, host: str, ports: list[int], sockets: list[socket.socket] | None = None) -> None:
    """Serve `app` on every port from one uvicorn server (one set of signal handlers, one clean shutdown). `sockets`:
    already bound by `listen(host, ports)`, so a caller can report a taken port before doing anything else."""
    if sockets is None:
        sockets = listen(host, ports)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    asyncio.run(server.serve(sockets=sockets))
