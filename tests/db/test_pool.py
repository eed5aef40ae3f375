"""The pool hands connections back without asyncpg's reset statement, and still never hands out one left inside a
transaction. Both are read from the server (pg_stat_activity), not from the client's view of itself."""

from __future__ import annotations

import asyncpg

from tests.fixtures.postgres import make_pool


async def _backend(observer: asyncpg.Connection, pid: int) -> asyncpg.Record:
    row = await observer.fetchrow("SELECT state, query FROM pg_stat_activity WHERE pid = $1", pid)
    assert row is not None
    return row


async def test_released_connection_gets_no_reset_round_trip(db_pool: asyncpg.Pool, pg_dsn: str) -> None:
    observer = await asyncpg.connect(pg_dsn)
    try:
        async with db_pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.execute("SELECT 1 AS last_statement_before_release")
        backend = await _backend(observer, pid)
        # asyncpg's default reset would be the backend's last query here ("SELECT pg_advisory_unlock_all(); …").
        assert backend["query"] == "SELECT 1 AS last_statement_before_release"
        assert backend["state"] == "idle"
    finally:
        await observer.close()


async def test_a_transaction_left_open_is_rolled_back_on_release(db_schema: str, pg_dsn: str) -> None:
    observer = await asyncpg.connect(pg_dsn)
    pool = await make_pool(pg_dsn, db_schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            pid = conn.get_server_pid()
            await conn.execute("BEGIN")  # unmanaged: only the release can end it
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
            assert (await _backend(observer, pid))["state"] == "idle in transaction"
        backend = await _backend(observer, pid)
        assert backend["state"] == "idle"
        assert backend["query"] == "ROLLBACK"
        async with pool.acquire() as again:
            assert again.get_server_pid() == pid  # the pool's only connection, handed out again…
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None  # …without the work
    finally:
        await pool.close()
        await observer.close()
