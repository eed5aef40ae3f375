"""KEK rotation over the `session_keys` table of a real PostgreSQL (one migrated schema per test)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

import asyncpg
import pytest

from ephemeral_vault.custody import EnvKek, SealedKey, seal_new_session_key, sign_message
from ephemeral_vault.custody.rotate import ROTATION_ACTOR, rotate_session_keys
from ephemeral_vault.db.session_keys import load_session_key, shred_session_key, store_session_key
from ephemeral_vault.settings import REPO_ROOT
from tests.custody.helpers import assert_no_leak, kek_keys_text
from tests.db.factories import created_session
from tests.fixtures.postgres import connect_in_schema


async def _insert(conn: asyncpg.Connection, sealed: SealedKey, *, shredded: bool = False) -> None:
    """The session and its key, written through the data-access layer exactly as the create activity does."""
    await created_session(conn, id=sealed.session_id, ephemeral_pubkey=str(sealed.ephemeral_pubkey))
    stored = await store_session_key(conn, sealed.to_record())
    assert stored.created
    if shredded:
        await shred_session_key(conn, sealed.session_id)


async def _rows(conn: asyncpg.Connection) -> dict[uuid.UUID, asyncpg.Record]:
    return {r["session_id"]: r for r in await conn.fetch("SELECT * FROM session_keys")}


async def _rotate_command(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run `python -m ephemeral_vault.custody.rotate` as an operator would; returns (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ephemeral_vault.custody.rotate",
        *args,
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def _environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEK_", "PKCS11_", "DATABASE_URL"))}
    return env | overrides


@pytest.fixture
async def conn(pg_dsn: str, db_schema: str):
    connection = await connect_in_schema(pg_dsn, db_schema)
    yield connection
    await connection.close()


@pytest.fixture
def keys() -> dict[str, bytes]:
    return {"k1": os.urandom(32), "k2": os.urandom(32)}


async def test_rotation_rewraps_every_live_row_to_the_active_kek_and_a_rerun_changes_nothing(
    conn: asyncpg.Connection, keys: dict[str, bytes]
) -> None:
    old = EnvKek({"k1": keys["k1"]}, "k1")
    on_old = [seal_new_session_key(uuid.uuid4(), old)[0] for _ in range(5)]
    on_new = seal_new_session_key(uuid.uuid4(), EnvKek({"k2": keys["k2"]}, "k2"))[0]
    shredded = seal_new_session_key(uuid.uuid4(), old)[0]
    for sealed in on_old:
        await _insert(conn, sealed)
    await _insert(conn, on_new)
    await _insert(conn, shredded, shredded=True)

    report = await rotate_session_keys(conn, EnvKek(keys, "k2"), batch_size=2)

    assert (report.rewrapped, report.batches, report.failures) == (5, 3, [])
    assert (report.on_active_kek, report.shredded, report.total) == (6, 1, 7)
    rows = await _rows(conn)
    only_new = EnvKek({"k2": keys["k2"]}, "k2")
    for sealed in on_old:
        row = rows[sealed.session_id]
        assert row["kek_id"] == "k2" and row["rotated_at"] is not None
        assert bytes(row["secret_ciphertext"]) == sealed.secret_ciphertext
        assert bytes(row["wrapped_dek"]) != sealed.wrapped_dek
        assert sign_message(SealedKey.from_record(row), only_new, b"m").verify(sealed.ephemeral_pubkey, b"m")
    assert rows[on_new.session_id]["rotated_at"] is None  # already current: untouched
    assert rows[shredded.session_id]["wrapped_dek"] is None and rows[shredded.session_id]["kek_id"] == "k1"
    assert {r["kek_id"] for r in rows.values() if r["wrapped_dek"] is not None} == {"k2"}
    audited = await conn.fetch("SELECT session_id FROM audit_log WHERE action = 'session_key.rotated' AND actor = $1",
                               ROTATION_ACTOR)
    assert sorted(r["session_id"] for r in audited) == sorted(s.session_id for s in on_old)
    loaded = SealedKey.from_record(await load_session_key(conn, on_old[0].session_id))  # the DAL's record type
    assert sign_message(loaded, only_new, b"m").verify(on_old[0].ephemeral_pubkey, b"m")

    rerun = await rotate_session_keys(conn, EnvKek(keys, "k2"), batch_size=2)

    assert (rerun.rewrapped, rerun.batches, rerun.failures) == (0, 0, [])
    assert await _rows(conn) == rows


async def test_a_row_no_configured_kek_can_open_is_reported_and_left_as_it_was(
    conn: asyncpg.Connection, keys: dict[str, bytes]
) -> None:
    orphan = seal_new_session_key(uuid.uuid4(), EnvKek({"k0": os.urandom(32)}, "k0"))[0]
    healthy = seal_new_session_key(uuid.uuid4(), EnvKek({"k1": keys["k1"]}, "k1"))[0]
    await _insert(conn, orphan)
    await _insert(conn, healthy)

    report = await rotate_session_keys(conn, EnvKek(keys, "k2"))

    assert report.rewrapped == 1
    assert [f.session_id for f in report.failures] == [orphan.session_id]
    assert report.failures[0].error.startswith("UnknownKekIdError: ")
    rows = await _rows(conn)
    assert rows[orphan.session_id]["kek_id"] == "k0"
    assert bytes(rows[orphan.session_id]["wrapped_dek"]) == orphan.wrapped_dek
    assert rows[healthy.session_id]["kek_id"] == "k2"


async def test_rotate_command_rewraps_in_batches_prints_counts_and_leaks_nothing(
    conn: asyncpg.Connection, pg_dsn: str, db_schema: str, keys: dict[str, bytes]
) -> None:
    old = EnvKek({"k1": keys["k1"]}, "k1")
    sealed_rows = [seal_new_session_key(uuid.uuid4(), old)[0] for _ in range(3)]
    for sealed in sealed_rows:
        await _insert(conn, sealed)
    env = _environment(DATABASE_URL=pg_dsn, KEK_PROVIDER="env", KEK_KEYS=kek_keys_text(keys), KEK_ACTIVE_ID="k2")

    first = await _rotate_command(env, "--schema", db_schema, "--batch-size", "2")
    second = await _rotate_command(env, "--schema", db_schema, "--batch-size", "2")

    assert first[0] == 0, first[2]
    assert "rotate: active_kek_id=k2 rewrapped=3 failed=0 batches=2 on_active_kek=3 shredded=0 total=3" in first[1]
    assert second[0] == 0, second[2]
    assert "rewrapped=0 failed=0 batches=0 on_active_kek=3" in second[1]
    rows = await _rows(conn)
    secrets = [*keys.values(), *(s.wrapped_dek or b"" for s in sealed_rows)]
    secrets += [bytes(r["wrapped_dek"]) for r in rows.values()]
    for output in (*first[1:], *second[1:]):
        assert_no_leak(output, secrets)


async def test_rotate_command_with_a_bad_kek_configuration_fails_cleanly(pg_dsn: str, db_schema: str) -> None:
    env = _environment(DATABASE_URL=pg_dsn, KEK_KEYS="k1:not-base64!", KEK_ACTIVE_ID="k1")

    code, stdout, stderr = await _rotate_command(env, "--schema", db_schema)

    assert code == 2
    assert "rotate: KekConfigError: KEK_KEYS key 'k1' is not valid base64" in stderr
    assert "not-base64" not in stdout + stderr
