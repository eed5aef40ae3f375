"""`WS /ws/session`: a parent's live session events (state changes, vault balance updates), in commit order.

Protocol (docs/api.md):
- Authenticate like REST, signing `GET` + the request target (`/ws/session` or `/ws/session?session_id=<uuid>`) + the
  empty body: either with the four X-EV-* headers on the upgrade request, or — for browsers, which cannot set
  headers on a WebSocket — with a first text message within AUTH_MESSAGE_TIMEOUT_S:
  `{"type": "auth", "wallet": …, "timestamp": …, "nonce": …, "signature": …}`.
- The server answers `{"type": "subscribed", "wallet": …, "session_id": … | null}`; from then on every event of the
  wallet's sessions (or of the one session asked for) arrives as `{"type": "session_event", "event": {…}}`, exactly as
  the workflows NOTIFYed it, in the order PostgreSQL committed them. `{"type": "gap"}` means this instance's listener
  reconnected and events may have been missed: re-read GET /session/status/{id}.
- Failures: `{"type": "error", "error": {code, message, field, details}}` then close — 4401 authentication, 4422 bad
  query, 4429 rate limited, 1013 server busy/unavailable (reconnect later).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder

from api.auth import admit, request_target, verify_signed_headers
from api.errors import ApiError, unauthorized
from api.events import EventHub, Subscription
from api.models import ErrorBody
from api.signing import AUTH_HEADERS, EMPTY_BODY_SHA256, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_WALLET
from api.store import database_unavailable

router = APIRouter()

AUTH_MESSAGE_TIMEOUT_S = 10.0
LISTENER_WAIT_S = 5.0
CLOSE_AUTH = 4401
CLOSE_INVALID = 4422
CLOSE_RATE = 4429
CLOSE_TRY_AGAIN = 1013

_MESSAGE_KEYS = {"wallet": HEADER_WALLET, "timestamp": HEADER_TIMESTAMP, "nonce": HEADER_NONCE,
                 "signature": HEADER_SIGNATURE}


class _Refused(Exception):
    def __init__(self, error: ApiError, close_code: int) -> None:
        super().__init__(error.message)
        self.error = error
        self.close_code = close_code


async def _auth_headers_from_message(ws: WebSocket) -> dict[str, str | None]:
    try:
        text = await asyncio.wait_for(ws.receive_text(), AUTH_MESSAGE_TIMEOUT_S)
    except TimeoutError:
        raise _Refused(unauthorized("auth_missing", "send the auth message (or signed headers) first"),
                       CLOSE_AUTH) from None
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("type") != "auth":
        raise _Refused(unauthorized("auth_malformed", 'the first message must be {"type": "auth", …}'), CLOSE_AUTH)
    values: dict[str, str | None] = {}
    for key, header in _MESSAGE_KEYS.items():
        value = message.get(key)
        values[header] = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    return values


async def _authenticate(ws: WebSocket) -> str:
    app = ws.app
    settings = app.state.settings
    if ws.headers.get(HEADER_SIGNATURE):
        headers: dict[str, str | None] = {name: ws.headers.get(name) for name in AUTH_HEADERS}
    else:
        headers = await _auth_headers_from_message(ws)
    target = request_target(ws.scope.get("raw_path") or ws.url.path.encode(), ws.scope.get("query_string", b""))
    try:
        signed = verify_signed_headers(headers, method="GET", target=target, body_sha256=EMPTY_BODY_SHA256,
                                       settings=settings)
        if app.state.pool is None:
            raise database_unavailable()
        try:
            await admit(app.state.pool, signed, settings)
        except ApiError:
            raise
        except Exception:
            raise database_unavailable() from None
    except ApiError as err:
        if err.status in (401, 429):
            app.state.metrics.auth_failures.inc(err.code)
        code = {401: CLOSE_AUTH, 429: CLOSE_RATE}.get(err.status, CLOSE_TRY_AGAIN)
        raise _Refused(err, code) from None
    return signed.wallet


async def _send_error(ws: WebSocket, err: ApiError, close_code: int) -> None:
    body = ErrorBody(code=err.code, message=err.message, field=err.field, details=err.details)
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "error": jsonable_encoder(body)})
        await ws.close(code=close_code, reason=err.code[:120])


async def _pump(ws: WebSocket, sub: Subscription) -> None:
    """Forward queued events until the client leaves or the subscription overflows."""
    while True:
        get = asyncio.ensure_future(sub.queue.get())
        overflow = asyncio.ensure_future(sub.overflowed.wait())
        done, _ = await asyncio.wait({get, overflow}, return_when=asyncio.FIRST_COMPLETED)
        if get in done:
            overflow.cancel()
            kind, event = get.result()
            message: dict[str, Any] = {"type": "gap"} if kind == "gap" else {"type": "session_event", "event": event}
            await ws.send_json(message)
            continue
        get.cancel()
        # Drain what was queued before the overflow, then make the client reconnect rather than skip events.
        while not sub.queue.empty():
            kind, event = sub.queue.get_nowait()
            await ws.send_json({"type": "gap"} if kind == "gap" else {"type": "session_event", "event": event})
        await _send_error(ws, ApiError(503, "subscriber_too_slow", "events arrived faster than they were read; "
                                       "reconnect and re-read status"), CLOSE_TRY_AGAIN)
        return


async def _drain_client(ws: WebSocket) -> None:
    """Read (and ignore) client messages so a close from the client is noticed."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()


@router.websocket("/ws/session")
async def session_events(ws: WebSocket) -> None:
    await ws.accept()
    hub: EventHub = ws.app.state.hub
    raw_session_id = ws.query_params.get("session_id")
    session_id: str | None = None
    try:
        if raw_session_id is not None:
            try:
                session_id = str(uuid.UUID(raw_session_id))
            except ValueError:
                raise _Refused(ApiError(422, "validation_error", "query.session_id: must be a UUID",
                                        field="query.session_id"), CLOSE_INVALID) from None
        wallet = await _authenticate(ws)
        if not await hub.wait_listening(LISTENER_WAIT_S):
            raise _Refused(ApiError(503, "events_unavailable", "the event listener is not connected; retry later"),
                           CLOSE_TRY_AGAIN)
    except _Refused as refused:
        await _send_error(ws, refused.error, refused.close_code)
        return
    except WebSocketDisconnect:
        return

    sub = hub.subscribe(wallet, session_id)  # registered before the ack: nothing after "subscribed" can be missed
    try:
        await ws.send_json({"type": "subscribed", "wallet": wallet, "session_id": session_id})
        pump = asyncio.ensure_future(_pump(ws, sub))
        reader = asyncio.ensure_future(_drain_client(ws))
        done, pending = await asyncio.wait({pump, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        for task in done:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                task.result()
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
