import base64
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ephemeral_vault.db.audit import list_audit
from ephemeral_vault.db.errors import (
    ConflictingWriteError,
    InvalidRecordError,
    InvalidStatusTransitionError,
    SessionNotFoundError,
)
from ephemeral_vault.db.sessions import (
    create_session,
    get_session,
    list_expired_sessions,
    list_sessions_by_parent,
    record_session_error,
    record_vault_balance,
    transition_status,
)
from ephemeral_vault.db.status import SessionStatus
from tests.db.factories import active_session, created_session, new_session, pubkey


async def test_create_session_stores_a_created_session_with_an_audit_row(db_pool: asyncpg.Pool) -> None:
    new = new_session()
    session, created = await create_session(db_pool, new, actor="api")

    assert created
    assert session.status is SessionStatus.CREATED
    assert await get_session(db_pool, new.id) == session
    assert [(a.actor, a.action) for a in await list_audit(db_pool, new.id)] == [("api", "session.created")]


async def test_create_session_is_idempotent_on_id(db_pool: asyncpg.Pool) -> None:
    new = new_session()
    first, _ = await create_session(db_pool, new)
    again, created = await create_session(db_pool, new)

    assert not created and again == first
    assert await db_pool.fetchval("SELECT count(*) FROM sessions") == 1
    assert len(await list_audit(db_pool, new.id)) == 1


async def test_reusing_a_session_id_with_other_content_is_refused(db_pool: asyncpg.Pool) -> None:
    new = new_session()
    await create_session(db_pool, new)
    with pytest.raises(ConflictingWriteError, match="max_deposit"):
        await create_session(db_pool, dataclasses.replace(new, max_deposit=new.max_deposit + 1))


async def test_a_second_session_cannot_reuse_an_ephemeral_key(db_pool: asyncpg.Pool) -> None:
    first = await created_session(db_pool)
    with pytest.raises(ConflictingWriteError, match="sessions_ephemeral_pubkey_unique"):
        await create_session(db_pool, new_session(ephemeral_pubkey=first.ephemeral_pubkey))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("parent_wallet", "0OIl" * 10, "parent_wallet: '0OIl"),
        ("vault_pda", "abc", "vault_pda: 'abc' is not a base58 public key"),
        ("max_deposit", -5, "max_deposit: -5 is out of range"),
        ("max_deposit", 2**64, "max_deposit: 18446744073709551616 is out of range"),
        ("session_duration_s", 0, "session_duration_s: 0 must be a positive integer"),
        ("session_expiry", datetime(2030, 1, 1), "session_expiry: must be a timezone-aware datetime"),
        ("workflow_id", "", "workflow_id: must be a non-empty string"),
    ],
)
async def test_bad_session_input_is_refused_before_any_write(
    db_pool: asyncpg.Pool, field: str, value: object, message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message.replace("(", r"\(")) as caught:
        await create_session(db_pool, new_session(**{field: value}))
    assert caught.value.field == field
    assert await db_pool.fetchval("SELECT count(*) FROM sessions") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM audit_log") == 0


async def test_transition_moves_status_writes_audit_and_is_idempotent(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    chain_expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)

    first = await transition_status(db_pool, session.id, "ACTIVE", actor="worker", session_expiry=chain_expiry)
    retry = await transition_status(db_pool, session.id, SessionStatus.ACTIVE, actor="worker")

    assert first.changed and not retry.changed
    assert retry.session.status is SessionStatus.ACTIVE
    assert retry.session.session_expiry == chain_expiry
    assert retry.session.activated_at is not None
    actions = [(a.action, a.details.get("to")) for a in await list_audit(db_pool, session.id)]
    assert actions == [("session.created", None), ("session.status", "ACTIVE")]


async def test_an_empty_actor_is_audited_as_unknown_by_every_writer(db_pool: asyncpg.Pool) -> None:
    """The status change writes its audit row inside PostgreSQL (migration 0005), the creation from Python: both name
    an actor nobody gave the same way."""
    session, _ = await create_session(db_pool, new_session(), actor="")
    await transition_status(db_pool, session.id, SessionStatus.ABANDONED, actor="")

    audited = [(a.action, a.actor) for a in await list_audit(db_pool, session.id)]
    assert audited == [("session.created", "unknown"), ("session.status", "unknown")]


async def test_cleaned_session_cannot_become_active_again(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    await transition_status(db_pool, session.id, SessionStatus.EXPIRED)
    await transition_status(db_pool, session.id, SessionStatus.CLEANED)

    with pytest.raises(InvalidStatusTransitionError, match="cannot go from CLEANED to ACTIVE") as caught:
        await transition_status(db_pool, session.id, SessionStatus.ACTIVE)
    assert (caught.value.current, caught.value.target) == ("CLEANED", "ACTIVE")
    assert (await get_session(db_pool, session.id)).status is SessionStatus.CLEANED
    assert len(await list_audit(db_pool, session.id)) == 4  # created + 3 transitions; the refusal wrote nothing


async def test_unknown_status_and_unknown_session_are_typed_errors(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    with pytest.raises(InvalidRecordError, match="'PAUSED' is not a session status"):
        await transition_status(db_pool, session.id, "PAUSED")
    with pytest.raises(SessionNotFoundError):
        await transition_status(db_pool, uuid.uuid4(), SessionStatus.ACTIVE)
    with pytest.raises(SessionNotFoundError):
        await get_session(db_pool, uuid.uuid4())


async def test_sessions_by_parent_are_paged_newest_first(db_pool: asyncpg.Pool) -> None:
    parent = pubkey()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ids = []
    for i in range(5):
        session = await created_session(db_pool, parent_wallet=parent)
        await db_pool.execute("UPDATE sessions SET created_at = $2 WHERE id = $1", session.id,
                              base + timedelta(minutes=i))
        ids.append(session.id)
    await created_session(db_pool)  # another parent's

    first = await list_sessions_by_parent(db_pool, parent, limit=2)
    second = await list_sessions_by_parent(db_pool, parent, limit=2, cursor=first.next_cursor)
    third = await list_sessions_by_parent(db_pool, parent, limit=2, cursor=second.next_cursor)

    assert [s.id for s in first.items + second.items + third.items] == ids[::-1]
    assert third.next_cursor is None
    only_created = await list_sessions_by_parent(db_pool, parent, statuses=frozenset({SessionStatus.ACTIVE}))
    assert only_created.items == []


async def test_a_forged_cursor_is_a_clear_error(db_pool: asyncpg.Pool) -> None:
    with pytest.raises(InvalidRecordError, match="cursor"):
        await list_sessions_by_parent(db_pool, pubkey(), cursor="bm90IGEgY3Vyc29y")


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize("raw", [
    "0001-01-01T00:00:00+14:00|00000000-0000-0000-0000-000000000000",  # before year 1 in UTC: cannot be encoded
    "9999-12-31T23:59:59-14:00|00000000-0000-0000-0000-000000000000",  # after year 9999 in UTC
    "2026-01-01T12:00:00+02:00|00000000-0000-0000-0000-000000000000",  # valid time, but not how cursors are written
    "2026-01-01T10:00:00+00:00|{00000000-0000-0000-0000-000000000000}",  # a UUID spelling cursors never use
])
async def test_a_cursor_that_is_not_canonical_is_a_clear_error(db_pool: asyncpg.Pool, raw: str) -> None:
    with pytest.raises(InvalidRecordError, match="cursor"):
        await list_sessions_by_parent(db_pool, pubkey(), cursor=_cursor(raw))


async def test_a_returned_cursor_round_trips_through_strict_decoding(db_pool: asyncpg.Pool) -> None:
    parent = pubkey()
    for _ in range(2):
        await created_session(db_pool, parent_wallet=parent)
    first = await list_sessions_by_parent(db_pool, parent, limit=1)
    assert first.next_cursor is not None
    second = await list_sessions_by_parent(db_pool, parent, limit=1, cursor=first.next_cursor)
    assert len(second.items) == 1 and second.items[0].id != first.items[0].id


async def test_expired_sessions_are_listed_for_the_sweeper(db_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    past = now - timedelta(minutes=5)
    expired_active = await active_session(db_pool, session_expiry=past)
    revoked = await active_session(db_pool, session_expiry=past - timedelta(minutes=1))
    await transition_status(db_pool, revoked.id, SessionStatus.REVOKED)
    await active_session(db_pool, session_expiry=now + timedelta(hours=1))  # not expired yet
    await created_session(db_pool, session_expiry=past)  # never on chain: nothing to sweep
    done = await active_session(db_pool, session_expiry=past)
    await transition_status(db_pool, done.id, SessionStatus.EXPIRED)
    await transition_status(db_pool, done.id, SessionStatus.CLEANED)

    listed = await list_expired_sessions(db_pool, now=now)

    assert [s.id for s in listed] == [revoked.id, expired_active.id]


async def test_vault_balance_rejects_negative_lamports(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    assert (await record_vault_balance(db_pool, session.id, 5_000_000)).vault_balance == 5_000_000
    with pytest.raises(InvalidRecordError, match="vault_balance: -1 is out of range"):
        await record_vault_balance(db_pool, session.id, -1)
    assert (await get_session(db_pool, session.id)).vault_balance == 5_000_000


async def test_the_last_error_is_kept_without_changing_status(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    await record_session_error(db_pool, session.id, "rpc timeout")
    stored = await get_session(db_pool, session.id)
    assert (stored.status, stored.last_error) == (SessionStatus.ACTIVE, "rpc timeout")
    with pytest.raises(SessionNotFoundError):
        await record_session_error(db_pool, uuid.uuid4(), "x")


async def test_a_secret_passed_by_mistake_as_a_pubkey_is_not_echoed(db_pool: asyncpg.Pool) -> None:
    from solders.keypair import Keypair

    secret_b58 = str(Keypair())  # base58 of the 64-byte secret: what a mixed-up argument would carry
    with pytest.raises(InvalidRecordError) as caught:
        await create_session(db_pool, new_session(ephemeral_pubkey=secret_b58))
    assert secret_b58 not in str(caught.value) and secret_b58 not in repr(caught.value)
    assert "88-character" in str(caught.value) or "87-character" in str(caught.value)
