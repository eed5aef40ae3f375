"""The schema's own guarantees, exercised with raw SQL (no repository code in between)."""

import uuid

import asyncpg
import pytest

from ephemeral_vault.db.status import ALLOWED_TRANSITIONS, SessionStatus, transition_allowed
from tests.db.factories import INSERT_SESSION_SQL, insert_args, pubkey, session_row

# The shortest allowed path from CREATED to each status.
PATH_TO = {
    SessionStatus.CREATED: [],
    SessionStatus.ACTIVE: [SessionStatus.ACTIVE],
    SessionStatus.ABANDONED: [SessionStatus.ABANDONED],
    SessionStatus.REVOKED: [SessionStatus.ACTIVE, SessionStatus.REVOKED],
    SessionStatus.EXPIRED: [SessionStatus.ACTIVE, SessionStatus.EXPIRED],
    SessionStatus.CLEANED: [SessionStatus.ACTIVE, SessionStatus.EXPIRED, SessionStatus.CLEANED],
}
PAIRS = [(a, b) for a in SessionStatus for b in SessionStatus if a != b]


async def insert_session(conn: asyncpg.Connection, **overrides: object) -> uuid.UUID:
    row = session_row(**overrides)
    await conn.execute(INSERT_SESSION_SQL, *insert_args(row))
    return row["id"]


def test_python_transition_table_covers_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(SessionStatus)


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
async def test_trigger_and_python_agree_on_every_transition(
    db_pool: asyncpg.Pool, current: SessionStatus, target: SessionStatus
) -> None:
    async with db_pool.acquire() as conn:
        session_id = await insert_session(conn)
        for step in PATH_TO[current]:
            await conn.execute("UPDATE sessions SET status = $2 WHERE id = $1", session_id, step)

        update = conn.execute("UPDATE sessions SET status = $2 WHERE id = $1", session_id, target)
        if transition_allowed(current, target):
            await update
            assert await conn.fetchval("SELECT status FROM sessions WHERE id = $1", session_id) == target
        else:
            with pytest.raises(asyncpg.PostgresError, match=f"cannot go from {current} to {target}") as caught:
                await update
            assert caught.value.sqlstate == "EV001"
            assert await conn.fetchval("SELECT status FROM sessions WHERE id = $1", session_id) == current


async def test_a_session_must_be_inserted_as_created(db_pool: asyncpg.Pool) -> None:
    row = session_row()
    sql = INSERT_SESSION_SQL.replace("workflow_id)", "workflow_id, status)").replace("$9)", "$9, 'ACTIVE')")
    with pytest.raises(asyncpg.PostgresError, match="must start in CREATED") as caught:
        await db_pool.execute(sql, *insert_args(row))
    assert caught.value.sqlstate == "EV001"


async def test_activation_and_closing_times_are_stamped_by_the_trigger(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        session_id = await insert_session(conn)
        await conn.execute("UPDATE sessions SET status = 'ACTIVE' WHERE id = $1", session_id)
        await conn.execute("UPDATE sessions SET status = 'REVOKED' WHERE id = $1", session_id)
        await conn.execute("UPDATE sessions SET status = 'CLEANED' WHERE id = $1", session_id)
        row = await conn.fetchrow("SELECT activated_at, closed_at FROM sessions WHERE id = $1", session_id)
    assert row["activated_at"] is not None and row["closed_at"] is not None


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        ("parent_wallet", "0" * 44, "sessions_parent_wallet_base58"),  # '0' is not in the base58 alphabet
        ("parent_wallet", "1" * 31, "sessions_parent_wallet_base58"),  # too short
        ("vault_pda", "l" + pubkey()[1:], "sessions_vault_pda_base58"),  # 'l' is not in the alphabet
        ("max_deposit", -1, "sessions_max_deposit_positive"),
        ("max_deposit", 0, "sessions_max_deposit_positive"),
        ("session_duration_s", 0, "sessions_duration_positive"),
    ],
)
async def test_check_constraints_reject_bad_sessions(
    db_pool: asyncpg.Pool, column: str, value: object, constraint: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as caught:
        await db_pool.execute(INSERT_SESSION_SQL, *insert_args(session_row(**{column: value})))
    assert caught.value.constraint_name == constraint
    assert await db_pool.fetchval("SELECT count(*) FROM sessions") == 0


async def test_negative_vault_balance_is_rejected(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        session_id = await insert_session(conn)
        with pytest.raises(asyncpg.CheckViolationError, match="sessions_vault_balance_nonnegative"):
            await conn.execute("UPDATE sessions SET vault_balance = -1 WHERE id = $1", session_id)


async def test_session_key_must_carry_the_sessions_own_pubkey_and_never_a_raw_secret(db_pool: asyncpg.Pool) -> None:
    insert_key = """
        INSERT INTO session_keys (session_id, ephemeral_pubkey, kek_id, wrapped_dek, dek_nonce,
                                  secret_ciphertext, secret_nonce, alg)
        VALUES ($1, $2, 'kek-1', $3, $4, $5, $6, 'AES-256-GCM')
    """
    async with db_pool.acquire() as conn:
        row = session_row()
        await conn.execute(INSERT_SESSION_SQL, *insert_args(row))
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(insert_key, row["id"], pubkey(), b"w" * 40, b"n" * 12, b"c" * 80, b"n" * 12)
        with pytest.raises(asyncpg.CheckViolationError, match="session_keys_ciphertext_not_raw_secret"):
            await conn.execute(insert_key, row["id"], row["ephemeral_pubkey"], b"w" * 40, b"n" * 12, b"s" * 64,
                               b"n" * 12)
        await conn.execute(insert_key, row["id"], row["ephemeral_pubkey"], b"w" * 40, b"n" * 12, b"c" * 80, b"n" * 12)
        with pytest.raises(asyncpg.CheckViolationError, match="session_keys_shredded_has_no_dek"):
            await conn.execute("UPDATE session_keys SET shredded_at = now() WHERE session_id = $1", row["id"])

        await conn.execute("DELETE FROM sessions WHERE id = $1", row["id"])
        assert await conn.fetchval("SELECT count(*) FROM session_keys") == 0
