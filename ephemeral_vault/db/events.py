"""Session events over PostgreSQL LISTEN/NOTIFY, so every API instance can push state changes to its WebSocket clients.

Writers call `notify_session_event` inside the transaction that makes the change: PostgreSQL delivers the NOTIFY at
commit and drops it on rollback, so a client never hears of a change that did not happen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

CHANNEL = "ev_session_events"
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionEvent:
    """One state change. `kind` is what changed: `session` (created or status moved), `transaction`, `balance`,
    `cleanup`, `anomaly`; `status` is the session's status after the change; `data` holds kind-specific fields
    (signature, tx_kind, tx_status, lamports, vault_balance, rule, severity). `seq` increases per database schema.

    On the wire (the NOTIFY payload, forwarded as is to WebSocket clients) it is a JSON object with these fields, `at`
    in ISO 8601 and `data` left out when empty. The database builds it (`session_event_notify`, migration 0004, whose
    comment calls this shape `SessionEvent.to_json`'s: that method went once nothing but a test used it)."""

    seq: int
    session_id: uuid.UUID
    parent_wallet: str
    kind: str
    status: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, payload: str) -> SessionEvent:
        raw = json.loads(payload)
        return cls(
            seq=int(raw["seq"]),
            session_id=uuid.UUID(raw["session_id"]),
            parent_wallet=str(raw["parent_wallet"]),
            kind=str(raw["kind"]),
            status=str(raw["status"]),
            at=datetime.fromisoformat(raw["at"]),
            data=dict(raw.get("data") or {}),
        )


# One round trip per event: the sequence number, the time and the NOTIFY are one function in the database
# (`session_event_notify`, migration 0004: recording a transaction calls it there too), which builds the payload
# `SessionEvent` describes; `SessionEvent.from_json` reads it back, and tests/db/test_events.py holds the two
# together. The `_from_row` form reads the session's parent wallet and status in the same statement.
_NOTIFY_GIVEN = """
SELECT seq, at, $5::text AS parent_wallet, $6::text AS status
FROM session_event_notify($1, $2, $3, $4::text::jsonb, $5, $6)
"""
_NOTIFY_FROM_ROW = """
WITH s AS MATERIALIZED (SELECT id, parent_wallet, status FROM sessions WHERE id = $2)
SELECT e.seq, e.at, s.parent_wallet, s.status
FROM s, session_event_notify($1, s.id, $3, $4::text::jsonb, s.parent_wallet, s.status) e
"""


def _event(row: asyncpg.Record, session_id: uuid.UUID, kind: str, data: dict[str, Any] | None) -> SessionEvent:
    return SessionEvent(seq=row["seq"], session_id=session_id, parent_wallet=row["parent_wallet"], kind=kind,
                        status=row["status"], at=row["at"], data=data or {})


async def notify_session_event(
    conn: asyncpg.Connection,
    *,
    session_id: uuid.UUID,
    parent_wallet: str,
    kind: str,
    status: str,
    data: dict[str, Any] | None = None,
) -> SessionEvent:
    """Queue the event on `conn`'s current transaction (call it inside one)."""
    row = await conn.fetchrow(_NOTIFY_GIVEN, CHANNEL, session_id, kind, _data_json(data), parent_wallet, status)
    return _event(row, session_id, kind, data)


async def notify_session_event_from_row(
    conn: asyncpg.Connection, *, session_id: uuid.UUID, kind: str, data: dict[str, Any] | None = None
) -> SessionEvent | None:
    """As `notify_session_event`, with the parent wallet and the status read from the session's row in the same
    statement (as the transaction sees it). None, and no event, when there is no such session."""
    row = await conn.fetchrow(_NOTIFY_FROM_ROW, CHANNEL, session_id, kind, _data_json(data))
    return None if row is None else _event(row, session_id, kind, data)


def _data_json(data: dict[str, Any] | None) -> str | None:
    return json.dumps(data, separators=(",", ":")) if data else None


class ListenerClosedError(ConnectionError):
    """The listening connection was lost; events may have been missed (re-read state, then listen again)."""


class SessionEventStream:
    """Async iterator over events received after LISTEN took effect, optionally only one parent's or one session's."""

    _CLOSED = object()

    def __init__(self, *, parent_wallet: str | None, session_id: uuid.UUID | None) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._parent_wallet = parent_wallet
        self._session_id = session_id
        # the listening backend's pid (operators can find it in pg_stat_activity); set once connected
        self.server_pid: int | None = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = SessionEvent.from_json(payload)
        except (ValueError, KeyError, TypeError):
            _log.warning("ignoring a malformed %s payload (%d bytes)", CHANNEL, len(payload))
            return
        if self._parent_wallet is not None and event.parent_wallet != self._parent_wallet:
            return
        if self._session_id is not None and event.session_id != self._session_id:
            return
        self._queue.put_nowait(event)

    def _on_terminate(self, _conn: object) -> None:
        self._queue.put_nowait(self._CLOSED)

    def __aiter__(self) -> SessionEventStream:
        return self

    async def __anext__(self) -> SessionEvent:
        item = await self._queue.get()
        if item is self._CLOSED:
            self._queue.put_nowait(item)  # stay closed for any later reader
            raise ListenerClosedError(f"the connection listening on {CHANNEL} was closed")
        assert isinstance(item, SessionEvent)
        return item


@asynccontextmanager
async def listen_session_events(
    dsn: str, *, parent_wallet: str | None = None, session_id: uuid.UUID | None = None
) -> AsyncIterator[SessionEventStream]:
    """`async with listen_session_events(dsn) as events: async for event in events: ...`

    LISTEN is in effect when the block is entered, so nothing committed after that point is missed. One dedicated
    connection per listener (LISTEN state is per connection; a pooled connection would lose it)."""
    conn = await asyncpg.connect(dsn)
    stream = SessionEventStream(parent_wallet=parent_wallet, session_id=session_id)
    try:
        conn.add_termination_listener(stream._on_terminate)
        await conn.add_listener(CHANNEL, stream._on_notify)
        stream.server_pid = conn.get_server_pid()
        yield stream
    finally:
        if not conn.is_closed():
            conn.remove_termination_listener(stream._on_terminate)
            await conn.close()
