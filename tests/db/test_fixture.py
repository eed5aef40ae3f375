import asyncpg

from tests.fixtures.postgres import start_throwaway_embedded_server


async def test_db_pool_is_bound_to_a_fresh_migrated_schema(db_pool: asyncpg.Pool, db_schema: str) -> None:
    async with db_pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_schema()") == db_schema
        assert await conn.fetchval("SELECT count(*) FROM sessions") == 0
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") > 0


async def test_embedded_server_starts_serves_restarts_with_its_data_and_stops() -> None:
    server, _root = start_throwaway_embedded_server()
    try:
        conn = await asyncpg.connect(server.dsn())
        try:
            assert int(await conn.fetchval("SHOW server_version_num")) >= 180000
            await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        finally:
            await conn.close()
        assert server.start() == server.dsn()  # already running: reused, not a second server on the busy port

        server.stop()
        assert not server.is_running()
        server.start()
        conn = await asyncpg.connect(server.dsn())
        try:
            assert await conn.fetchval("SELECT x FROM kept") == 42
        finally:
            await conn.close()
    finally:
        server.stop()
    assert not server.is_running()
