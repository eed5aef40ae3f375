import asyncio
import uuid

import asyncpg
import pytest

from ephemeral_vault.db.connection import transaction
from ephemeral_vault.db.events import (
    SessionEvent,
    SessionEventStream,
    listen_session_events,
    notify_session_event,
    notify_session_event_from_row,
)
from ephemeral_vault.db.ledger import record_transaction
from ephemeral_vault.db.models import NewTransaction
from ephemeral_vault.db.sessions import record_vault_balance, transition_status
from ephemeral_vault.db.status import SessionStatus
from tests.db.factories import created_session, new_session, signature

# Bound on waiting for one event; exceeded only when the event never comes (the test then fails, as it should).
NEVER = 30


async def next_event(events: SessionEventStream) -> SessionEvent:
    return await asyncio.wait_for(anext(events), NEVER)


async def test_state_changes_are_notified_with_their_payload(pg_dsn: str, db_pool: asyncpg.Pool) -> None:
    new = new_session()
    async with listen_session_events(pg_dsn, session_id=new.id) as events:
        session = await created_session(db_pool, **new.__dict__)
        await transition_status(db_pool, session.id, SessionStatus.ACTIVE)
        sig = signature()
        await record_transaction(db_pool, NewTransaction(signature=sig, session_id=session.id, kind="deposit",
                                                         lamports=7, status="confirmed"))
        await record_vault_balance(db_pool, session.id, 1_000_007)

        received = [await next_event(events) for _ in range(4)]

    assert [(e.kind, e.status) for e in received] == [
        ("session", "CREATED"), ("session", "ACTIVE"), ("transaction", "ACTIVE"), ("balance", "ACTIVE")
    ]
    assert all(e.session_id == session.id and e.parent_wallet == session.parent_wallet for e in received)
    assert received[2].data == {"signature": sig, "tx_kind": "deposit", "tx_status": "confirmed", "lamports": 7,
                                "fee": 0}
    assert received[3].data == {"vault_balance": 1_000_007}
    assert [e.seq for e in received] == sorted(e.seq for e in received)


async def test_a_rolled_back_change_is_never_notified(pg_dsn: str, db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    async with listen_session_events(pg_dsn, session_id=session.id) as events:
        with pytest.raises(RuntimeError, match="abort"):
            async with transaction(db_pool) as conn:
                await transition_status(conn, session.id, SessionStatus.ACTIVE)
                raise RuntimeError("abort")
        await transition_status(db_pool, session.id, SessionStatus.ABANDONED)

        only = await next_event(events)

    assert only.status == "ABANDONED"  # the ACTIVE that was rolled back never arrived first


async def test_listener_filters_by_parent(pg_dsn: str, db_pool: asyncpg.Pool) -> None:
    mine = new_session()
    async with listen_session_events(pg_dsn, parent_wallet=mine.parent_wallet) as events:
        await created_session(db_pool)  # someone else's
        await created_session(db_pool, **mine.__dict__)
        event = await next_event(events)
    assert event.session_id == mine.id


async def test_a_lost_listener_connection_ends_the_stream_with_a_clear_error(pg_dsn: str) -> None:
    admin = await asyncpg.connect(pg_dsn)
    try:
        async with listen_session_events(pg_dsn) as events:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", events.server_pid)
            with pytest.raises(ConnectionError, match="was closed"):
                await asyncio.wait_for(anext(events), NEVER)
    finally:
        await admin.close()


async def test_the_notified_payload_is_the_event_the_writer_was_given(pg_dsn: str, db_pool: asyncpg.Pool) -> None:
    """The payload is built in SQL (one round trip per event); what a listener decodes must equal what the writer got
    back — every field, the data's exact integers, and no `data` at all when there is none."""
    session = await created_session(db_pool)
    data = {"lamports": 18_446_744_073_709_551_615, "note": "ünïcode \"quoted\"", "nested": {"ok": True}}
    async with listen_session_events(pg_dsn, session_id=session.id) as events:
        async with transaction(db_pool) as conn:
            sent = await notify_session_event(conn, session_id=session.id, parent_wallet=session.parent_wallet,
                                              kind="balance", status="ACTIVE", data=data)
            from_row = await notify_session_event_from_row(conn, session_id=session.id, kind="session")
            missing = await notify_session_event_from_row(conn, session_id=uuid.uuid4(), kind="session")
        received = [await next_event(events) for _ in range(2)]
    assert missing is None
    assert from_row is not None and from_row.status == "CREATED" and from_row.data == {}
    assert from_row.parent_wallet == session.parent_wallet
    assert received == [sent, from_row]
    assert received[0].data == data
