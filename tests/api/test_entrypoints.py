"""`python -m api` serves with settings from the environment, and `python -m api.sign` signs for curl — the
README's example, run as written."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from solders.keypair import Keypair

from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.db.migrate import apply_migrations
from ephemeral_vault.settings import REPO_ROOT
from tests.fixtures.postgres import connect_in_schema

STARTUP_ATTEMPTS = 300


@pytest.fixture(scope="module")
async def module_schema(pg_dsn: str) -> AsyncIterator[str]:
    """One migrated schema for this module's single server process (starting `python -m api` takes seconds)."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        conn = await connect_in_schema(pg_dsn, schema)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        yield schema
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await admin.close()


@pytest.fixture(scope="module")
def served_api(pg_dsn: str, module_schema: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("api")
    db_schema = module_schema
    port = free_tcp_port()
    separator = "&" if "?" in pg_dsn else "?"
    env = {
        **os.environ,
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "DATABASE_URL": f"{pg_dsn}{separator}search_path={db_schema}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_tcp_port()}",
        "PYTHONPATH": str(REPO_ROOT),
        "AUTH_DOMAIN": "ephemeral-vault",
        "AUTH_MAX_SKEW_SECONDS": "60",
        "RATE_LIMIT_PER_MINUTE": "1000",
    }
    log = (tmp_path / "api.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(STARTUP_ATTEMPTS):
            assert proc.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            raise AssertionError("python -m api never answered /healthz:\n" + (tmp_path / "api.log").read_text())
        yield base_url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


@pytest.fixture
def keypair_file(tmp_path: Path) -> tuple[Keypair, Path]:
    keypair = Keypair()
    path = tmp_path / "parent.json"
    path.write_text(json.dumps(list(bytes(keypair))))
    return keypair, path


def _sign(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "api.sign", *args], capture_output=True, text=True, check=True,
                            cwd=REPO_ROOT)
    return result.stdout.strip()


def test_python_m_api_answers_signed_requests(served_api: str, keypair_file: tuple[Keypair, Path]) -> None:
    keypair, path = keypair_file
    headers = json.loads(_sign("--keypair", str(path), "--format", "json", "GET", "/sessions?limit=5"))
    response = httpx.get(served_api + "/sessions?limit=5", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert headers["X-EV-Wallet"] == str(keypair.pubkey())


def test_readme_curl_example_gets_past_authentication(served_api: str, keypair_file: tuple[Keypair, Path]) -> None:
    _, path = keypair_file
    body = '{"session_duration_seconds":3600,"max_deposit_lamports":500000000,"initial_deposit_lamports":100000000}'
    script = (
        f"BODY='{body}'\n"
        f"eval \"curl -sS -X POST {served_api}/session/create -H 'Content-Type: application/json' "
        f"$({sys.executable} -m api.sign --keypair {path} POST /session/create \"$BODY\") --data-raw '$BODY'\""
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    # Temporal is down here, so the signed, valid request ends at the workflow call: proof it was authenticated.
    assert json.loads(result.stdout)["error"]["code"] == "temporal_unavailable", result.stdout


def test_curl_status_example_without_eval_gets_past_authentication(
    served_api: str, keypair_file: tuple[Keypair, Path]
) -> None:
    _, path = keypair_file
    target = "/session/status/3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"
    script = f"curl -sS {served_api}{target} $({sys.executable} -m api.sign --keypair {path} GET {target} '')"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert json.loads(result.stdout)["error"]["code"] == "session_not_found", result.stdout


def test_sign_refuses_a_file_that_is_not_a_keypair(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]")
    result = subprocess.run([sys.executable, "-m", "api.sign", "--keypair", str(bad), "GET", "/sessions"],
                            capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 2
    assert "not a Solana keypair file" in result.stderr
    assert result.stdout == ""
