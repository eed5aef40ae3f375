import dataclasses
import os
import uuid

import asyncpg
import pytest

from ephemeral_vault.db.audit import list_audit
from ephemeral_vault.db.errors import InvalidRecordError, SessionKeyNotFoundError, SessionNotFoundError
from ephemeral_vault.db.models import NewSessionKey, Session
from ephemeral_vault.db.session_keys import (
    load_session_key,
    record_key_rotation,
    shred_session_key,
    store_session_key,
)
from tests.db.factories import created_session, pubkey


def sealed(session: Session, **overrides: object) -> NewSessionKey:
    values: dict[str, object] = {
        "session_id": session.id,
        "ephemeral_pubkey": session.ephemeral_pubkey,
        "kek_id": "env-1",
        "wrapped_dek": os.urandom(60),
        "dek_nonce": None,
        "secret_ciphertext": os.urandom(80),
        "secret_nonce": os.urandom(12),
        "alg": "ev-envelope-v1",
    }
    values.update(overrides)
    return NewSessionKey(**values)  # type: ignore[arg-type]


async def test_store_then_load_returns_the_same_ciphertext(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    key = sealed(session)

    stored = await store_session_key(db_pool, key)
    loaded = await load_session_key(db_pool, session.id)

    assert stored.created
    assert (loaded.secret_ciphertext, loaded.secret_nonce, loaded.wrapped_dek) == (
        key.secret_ciphertext, key.secret_nonce, key.wrapped_dek
    )
    assert loaded["kek_id"] == "env-1"  # row-style access for custody's SealedKey.from_record
    assert key.secret_ciphertext.hex() not in repr(loaded)


async def test_a_retried_store_keeps_the_first_key(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    first = sealed(session)
    await store_session_key(db_pool, first)

    retry = await store_session_key(db_pool, sealed(session))  # a new encryption of the same session's key

    assert not retry.created
    assert retry.record.secret_ciphertext == first.secret_ciphertext
    assert await db_pool.fetchval("SELECT count(*) FROM session_keys") == 1


async def test_a_mapping_record_is_accepted(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    stored = await store_session_key(db_pool, dataclasses.asdict(sealed(session)))
    assert stored.created


async def test_a_key_for_another_pubkey_or_no_session_is_refused(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    with pytest.raises(InvalidRecordError, match="is not session"):
        await store_session_key(db_pool, sealed(session, ephemeral_pubkey=pubkey()))
    ghost = dataclasses.replace(session, id=uuid.uuid4())
    with pytest.raises(SessionNotFoundError):
        await store_session_key(db_pool, sealed(ghost))
    assert await db_pool.fetchval("SELECT count(*) FROM session_keys") == 0


async def test_a_64_byte_value_is_refused_as_a_possible_plaintext_secret(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    secret = os.urandom(64)
    with pytest.raises(InvalidRecordError, match="refusing plaintext") as caught:
        await store_session_key(db_pool, sealed(session, secret_ciphertext=secret))
    assert secret.hex() not in str(caught.value) and repr(secret) not in str(caught.value)
    assert await db_pool.fetchval("SELECT count(*) FROM session_keys") == 0


async def test_shredding_removes_the_wrapped_key_once_and_is_idempotent(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    await store_session_key(db_pool, sealed(session, dek_nonce=os.urandom(12)))

    first = await shred_session_key(db_pool, session.id)
    again = await shred_session_key(db_pool, session.id)
    loaded = await load_session_key(db_pool, session.id)

    assert first is not None and again == first
    assert loaded.is_shredded and loaded.wrapped_dek is None and loaded.dek_nonce is None
    shreds = [a for a in await list_audit(db_pool, session.id) if a.action == "session_key.shredded"]
    assert len(shreds) == 1


async def test_a_shredded_key_cannot_be_rotated_back_to_life(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    await store_session_key(db_pool, sealed(session))
    rotated = await record_key_rotation(db_pool, session.id, kek_id="env-2", wrapped_dek=os.urandom(60),
                                        dek_nonce=None)
    assert rotated.kek_id == "env-2" and rotated.rotated_at is not None

    await shred_session_key(db_pool, session.id)
    with pytest.raises(InvalidRecordError, match="stays shredded"):
        await record_key_rotation(db_pool, session.id, kek_id="env-3", wrapped_dek=os.urandom(60), dek_nonce=None)
    assert (await load_session_key(db_pool, session.id)).wrapped_dek is None


async def test_shredding_without_a_stored_key_is_a_no_op_and_loading_it_is_an_error(db_pool: asyncpg.Pool) -> None:
    session = await created_session(db_pool)
    assert await shred_session_key(db_pool, session.id) is None
    with pytest.raises(SessionKeyNotFoundError):
        await load_session_key(db_pool, session.id)
