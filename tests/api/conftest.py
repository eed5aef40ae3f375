"""API test harness: real uvicorn servers on free ports, in this test's PostgreSQL schema, over real HTTP.

`api_factory(**overrides)` starts one more API instance (several share the schema, like instances behind a load
balancer); `api` is one instance with default test settings. Until a Temporal fixture is requested, TEMPORAL_ADDRESS
points at a port nobody listens on, so workflow calls answer 503 `temporal_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
from temporalio.client import Client

from activities.resources import Resources
from api.app import create_app
from api.client_auth import ParentWalletAuth
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.custody import EnvKek
from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.db.models import NewSession
from ephemeral_vault.db.sessions import create_session, transition_status
from ephemeral_vault.settings import Settings
from tests.api.stack import SOL, Stack, funded
from tests.fixtures.temporal import DevServer
from worker import build_worker

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
        # Pinned so an operator's .env cannot change what the tests assume.
        "auth_domain": "ephemeral-vault",
        "auth_max_skew_seconds": 60,
        "api_max_body_bytes": 65536,
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


@pytest.fixture
async def stack(  # the whole stack behind the API: dev server (update-with-start) + real worker + chain
    api_factory: ApiFactory,
    db_pool: asyncpg.Pool,
    localnet_url: str,
    temporal_dev_server: DevServer,
    temporal_dev_client: Client,
) -> AsyncIterator[Stack]:
    task_queue = f"api-{uuid.uuid4()}"
    async with ChainClient(localnet_url, poll_interval_seconds=0.05, confirm_timeout_seconds=30) as chain:
        resources = Resources(
            pool=db_pool, chain=chain, kek=EnvKek({"k1": os.urandom(32)}, "k1"), cleaner=await funded(chain, SOL),
            temporal=temporal_dev_client, fee_float_lamports=5_000_000, approval_window_seconds=600,
            revoke_window_seconds=120, chain_poll_seconds=1, max_trades_per_run=500,
        )
        async with build_worker(temporal_dev_client, resources, task_queue):
            api = await api_factory(temporal_address=temporal_dev_server.address, temporal_task_queue=task_queue,
                                    solana_rpc_url=localnet_url)
            yield Stack(api=api, chain=chain, pool=db_pool, temporal=temporal_dev_client, task_queue=task_queue)
