"""Fan-out of PostgreSQL session events to this instance's WebSocket subscribers.

Each API instance holds ONE dedicated connection that LISTENs on `ev_session_events` (the workflows' activities
NOTIFY there inside the transaction that changes a session, so a notification exists iff the change committed).
PostgreSQL delivers notifications to every listener in commit order, so clients connected to different instances see
the same events in the same order. Each payload names its `parent_wallet`; a subscriber only ever receives events of
its own wallet (and of one session when it asked for that).

A slow subscriber is never skipped over silently: when its queue is full it is dropped (the WebSocket closes with
1013 "try again later") so it can reconnect and re-read state instead of missing an event unknowingly. When the
listening connection itself is lost, every subscriber gets a `gap` message once the listener is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ephemeral_vault.db.events import CHANNEL, SessionEvent

log = logging.getLogger("api.events")

QUEUE_SIZE = 1000
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(eq=False)
class Subscription:
    wallet: str
    session_id: str | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, event: dict[str, Any]) -> bool:
        if event.get("parent_wallet") != self.wallet:
            return False
        return self.session_id is None or str(event.get("session_id")) == self.session_id


class EventHub:
    def __init__(self, connect: Callable[[], Any], *, on_event: Callable[[], None] | None = None) -> None:
        self._connect = connect
        self._on_event = on_event
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    async def wait_listening(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._listening.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ev-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 2)

    def subscribe(self, wallet: str, session_id: str | None = None) -> Subscription:
        sub = Subscription(wallet=wallet, session_id=session_id)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    # -- the listener ------------------------------------------------------------------------------------------------

    def _dispatch(self, event: dict[str, Any]) -> None:
        for sub in list(self._subscribers):
            if not sub.wants(event):
                continue
            try:
                sub.queue.put_nowait(("event", event))
            except asyncio.QueueFull:
                sub.overflowed.set()
                self._subscribers.discard(sub)
        if self._on_event is not None:
            self._on_event()

    def _on_notification(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            SessionEvent.from_json(payload)  # the writers' format (ephemeral_vault/db/events.py); refuse others
            event = json.loads(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed notification on %s (%d bytes)", CHANNEL, len(payload))
            return
        self._dispatch(event)

    async def _run(self) -> None:
        attempt = 0
        had_connection = False
        while True:
            lost = asyncio.Event()
            try:
                self._conn = await self._connect()
                self._conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await self._conn.add_listener(CHANNEL, self._on_notification)
            except Exception as err:  # whatever the cause, keep trying: WebSockets depend on this listener
                if self._conn is not None and not self._conn.is_closed():
                    self._conn.terminate()
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                log.warning("event listener cannot connect (%s); retrying in %.1f s", type(err).__name__, delay)
                await asyncio.sleep(delay)
                continue
            attempt = 0
            if had_connection:
                # Notifications sent while we were disconnected are lost: tell clients to re-read state.
                self._dispatch_gap()
            had_connection = True
            self._listening.set()
            await lost.wait()
            self._listening.clear()
            log.warning("event listener connection lost; reconnecting")

    def _dispatch_gap(self) -> None:
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(("gap", {}))
            except asyncio.QueueFull:
                sub.overflowed.set()
                self._subscribers.discard(sub)
