import asyncio
import os
import re
import shutil
import sys
from pathlib import Path

import asyncpg
import pytest

from ephemeral_vault.db.migrate import (
    MIGRATIONS_DIR,
    MigrationChecksumError,
    MigrationError,
    apply_migrations,
    discover_migrations,
)
from ephemeral_vault.settings import REPO_ROOT
from tests.fixtures.postgres import connect_in_schema

ALL_FILES = [m.filename for m in discover_migrations()]


def copy_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, target)
    return target


async def recorded(conn: asyncpg.Connection) -> list[str]:
    return [r["filename"] for r in await conn.fetch("SELECT filename FROM schema_migrations ORDER BY version")]


async def test_applies_every_file_once_and_then_nothing(pg_dsn: str, blank_schema: str) -> None:
    conn = await connect_in_schema(pg_dsn, blank_schema)
    try:
        assert await apply_migrations(conn) == ALL_FILES
        assert await apply_migrations(conn) == []
        assert await recorded(conn) == ALL_FILES
    finally:
        await conn.close()


async def test_two_concurrent_runners_apply_each_file_once(pg_dsn: str, blank_schema: str) -> None:
    blocker, first, second = [await connect_in_schema(pg_dsn, blank_schema) for _ in range(3)]
    try:
        # Hold the runners' lock so both are provably waiting on it at the same time before either proceeds.
        await blocker.execute("SELECT pg_advisory_lock(x'45564D47'::int, hashtext($1))", blank_schema)
        runs = [asyncio.create_task(apply_migrations(c)) for c in (first, second)]
        runner_pids = [first.get_server_pid(), second.get_server_pid()]
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = ANY($1)"
        for _ in range(10_000):  # a bound, not a timing assumption: fails only if the runners never queue up
            if await blocker.fetchval(waiting, runner_pids) == 2:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the two runners never both waited for the migration lock")
        await blocker.execute("SELECT pg_advisory_unlock(x'45564D47'::int, hashtext($1))", blank_schema)
        results = await asyncio.gather(*runs)

        assert sorted(results, key=len) == [[], ALL_FILES]
        assert await recorded(blocker) == ALL_FILES
    finally:
        for c in (blocker, first, second):
            await c.close()


async def test_an_edited_applied_migration_is_refused_naming_the_file(
    pg_dsn: str, blank_schema: str, tmp_path: Path
) -> None:
    directory = copy_migrations(tmp_path)
    conn = await connect_in_schema(pg_dsn, blank_schema)
    try:
        await apply_migrations(conn, directory)
        edited = directory / ALL_FILES[0]
        edited.write_text(edited.read_text() + "\n-- a harmless-looking edit\n")
        (directory / "9999_later.sql").write_text("CREATE TABLE later (x int);")

        with pytest.raises(MigrationChecksumError, match=ALL_FILES[0]):
            await apply_migrations(conn, directory)
        # nothing after the refusal ran
        assert await conn.fetchval("SELECT to_regclass('later')") is None
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_behind_and_is_retried(
    pg_dsn: str, blank_schema: str, tmp_path: Path
) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "0001_good.sql").write_text("CREATE TABLE good (x int);")
    (directory / "0002_bad.sql").write_text("CREATE TABLE half (x int); SELECT no_such_function();")
    conn = await connect_in_schema(pg_dsn, blank_schema)
    try:
        with pytest.raises(MigrationError, match=re.escape("0002_bad.sql")):
            await apply_migrations(conn, directory)
        assert await recorded(conn) == ["0001_good.sql"]
        assert await conn.fetchval("SELECT to_regclass('half')") is None

        (directory / "0002_bad.sql").write_text("CREATE TABLE half (x int);")
        assert await apply_migrations(conn, directory) == ["0002_bad.sql"]
    finally:
        await conn.close()


@pytest.mark.parametrize("name", ["1_short.sql", "0003-dash.sql", "0003_Upper.sql"])
def test_badly_named_files_are_an_error(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=re.escape(name)):
        discover_migrations(tmp_path)


def test_two_files_with_one_version_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=re.escape("0001_b.sql: version 0001 is also used by 0001_a.sql")):
        discover_migrations(tmp_path)


async def test_cli_migrates_the_configured_database(pg_dsn: str, blank_schema: str) -> None:
    # asyncpg passes unknown DSN query parameters as server settings: this confines the CLI to our schema.
    sep = "&" if "?" in pg_dsn else "?"
    env = {**os.environ, "DATABASE_URL": f"{pg_dsn}{sep}search_path={blank_schema}"}
    first_rc, first_out, first_err = await run_cli(env)
    second_rc, second_out, _ = await run_cli(env)
    assert first_rc == 0, first_err
    assert all(name in first_out for name in ALL_FILES)
    assert second_rc == 0 and "nothing (up to date)" in second_out


async def run_cli(env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ephemeral_vault.db.migrate",
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()
