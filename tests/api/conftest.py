"""API test harness: real uvicorn servers on free ports, in this test's PostgreSQL schema, over real HTTP.

`api_factory(**overrides)` starts one more API instance (several share the schema, like instances behind a load
balancer); `api` is one instance with default test settings. Until a Temporal fixture is requested, TEMPORAL_ADDRESS
points at a port nobody listens on, so workflow calls answer 503 `temporal_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from api.app import create_app
from api.client_auth import ParentWalletAuth
from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.db.models import NewSession
from ephemeral_vault.db.sessions import create_session, transition_status
from ephemeral_vault.settings import Settings

SERVICE_TOKEN = "test-service-token-" + "x" * 16


@dataclass
class ApiInstance:
    app: FastAPI
    server: uvicorn.Server
    task: asyncio.Task[None]
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def client(self, keypair: Keypair | None = None, **kwargs: object) -> httpx.AsyncClient:
        auth = ParentWalletAuth(keypair) if keypair is not None else None
        return httpx.AsyncClient(base_url=self.base_url, auth=auth, timeout=30, **kwargs)  # type: ignore[arg-type]


def api_settings(pg_dsn: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": pg_dsn,
        "temporal_address": f"127.0.0.1:{free_tcp_port()}",  # nothing listens: Temporal is "down"
        "api_service_token": SecretStr(SERVICE_TOKEN),
        "rate_limit_per_minute": 10_000,
        "api_workflow_timeout_seconds": 20.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def start_api(settings: Settings, schema: str) -> ApiInstance:
    app = create_app(settings, db_schema=schema)
    port = free_tcp_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            ws="websockets-sansio")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # pytest owns the signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited before it started")
        await asyncio.sleep(0.02)
    return ApiInstance(app=app, server=server, task=task, port=port)


async def stop_api(instance: ApiInstance) -> None:
    instance.server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(instance.task, 15)


ApiFactory = Callable[..., Awaitable[ApiInstance]]


@pytest.fixture
async def api_factory(pg_dsn: str, db_schema: str) -> AsyncIterator[ApiFactory]:
    started: list[ApiInstance] = []

    async def factory(**overrides: object) -> ApiInstance:
        instance = await start_api(api_settings(pg_dsn, **overrides), db_schema)
        started.append(instance)
        return instance

    try:
        yield factory
    finally:
        for instance in started:
            await stop_api(instance)


@pytest.fixture
async def api(api_factory: ApiFactory) -> ApiInstance:
    return await api_factory()


@pytest.fixture
def parent() -> Keypair:
    return Keypair()


@pytest.fixture
def other_parent() -> Keypair:
    return Keypair()


async def insert_session_row(pool: asyncpg.Pool, parent_wallet: str, *, status: str = "CREATED") -> uuid.UUID:
    """Arrange a session through the data-access layer (what the create activity writes; NOTIFYs included), for
    tests that need no workflow."""
    session_id = uuid.uuid4()
    await create_session(pool, NewSession(
        id=session_id, parent_wallet=parent_wallet, ephemeral_pubkey=str(Pubkey.new_unique()),
        vault_pda=str(Pubkey.new_unique()), delegation_pda=str(Pubkey.new_unique()), max_deposit=1_000_000_000,
        session_duration_s=3600, session_expiry=datetime.now(UTC) + timedelta(hours=1),
        workflow_id=f"session-{session_id}",
    ))
    path = {"CREATED": [], "ACTIVE": ["ACTIVE"], "REVOKED": ["ACTIVE", "REVOKED"], "EXPIRED": ["ACTIVE", "EXPIRED"],
            "CLEANED": ["ACTIVE", "REVOKED", "CLEANED"], "ABANDONED": ["ABANDONED"]}[status]
    for step in path:
        await transition_status(pool, session_id, step)
    return session_id


def random_nonce() -> str:
    return secrets.token_hex(12)
