"""Workflow tests: the REAL activities against this test's PostgreSQL schema and the local chain over HTTP, a worker
in this process on the time-skipping test server (or the dev server), and a parent wallet that signs like one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from solders.keypair import Keypair
from solders.transaction import Transaction
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.resources import Resources
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.custody import EnvKek
from worker import build_worker
from workflows.client import create_session
from workflows.messages import (
    APPROVE_UPDATE,
    STATUS_QUERY,
    ApproveRequest,
    ApproveResult,
    CreateSessionRequest,
    CreateSessionResult,
    SessionOutcome,
    SessionStatus,
    workflow_id_for,
)

SOL = 1_000_000_000
DURATION = 3_600
MAX_DEPOSIT = 2 * SOL
INITIAL_DEPOSIT = SOL // 2
FEE_FLOAT = 5_000_000
HISTORIES = Path(__file__).parent / "histories"


async def rpc_call(url: str, method: str, params: list[Any]) -> Any:
    async with httpx.AsyncClient() as http:
        body = (await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).json()
    assert "error" not in body, body
    return body["result"]


async def warp_chain(url: str, seconds: int) -> int:
    """Move the local node's Clock forward (the time-skipping server only moves Temporal's clock)."""
    return (await rpc_call(url, "localnet_warpClock", [seconds]))["unixTimestamp"]


def wallet_sign(transaction_base64: str, *keypairs: Keypair) -> str:
    """What a wallet's signTransaction does: sign the offered bytes, return them base64."""
    tx = Transaction.from_bytes(base64.b64decode(transaction_base64))
    tx.partial_sign(list(keypairs), tx.message.recent_blockhash)
    return base64.b64encode(bytes(tx)).decode()


@pytest.fixture
async def chain(localnet_url: str) -> AsyncIterator[ChainClient]:
    async with ChainClient(localnet_url, poll_interval_seconds=0.05, confirm_timeout_seconds=30) as client:
        yield client


async def funded(chain: ChainClient, lamports: int = 10 * SOL) -> Keypair:
    kp = Keypair()
    await chain.request_airdrop(kp.pubkey(), lamports)
    return kp


@pytest.fixture
def kek_bytes() -> bytes:
    return os.urandom(32)


@pytest.fixture
def kek(kek_bytes: bytes) -> EnvKek:
    return EnvKek({"k1": kek_bytes}, "k1")


@pytest.fixture
async def parent(chain: ChainClient) -> Keypair:
    return await funded(chain)


@pytest.fixture
async def resources(db_pool: asyncpg.Pool, chain: ChainClient, kek: EnvKek) -> Resources:
    return Resources(
        pool=db_pool,
        chain=chain,
        kek=kek,
        cleaner=await funded(chain, SOL),
        fee_float_lamports=FEE_FLOAT,
        approval_window_seconds=600,
        revoke_window_seconds=120,
        chain_poll_seconds=5,
        max_trades_per_run=500,
    )


@dataclass
class Harness:
    """One test's world: a Temporal client, a task queue with a worker on it, the chain, the database."""

    client: Client
    env: WorkflowEnvironment | None
    task_queue: str
    resources: Resources
    localnet_url: str
    update_with_start: bool
    started: list[str] = field(default_factory=list)

    @property
    def chain(self) -> ChainClient:
        return self.resources.chain

    @property
    def pool(self) -> asyncpg.Pool:
        return self.resources.pool

    def request(self, parent: Keypair, **overrides: Any) -> CreateSessionRequest:
        fields: dict[str, Any] = {
            "session_id": str(uuid.uuid4()),
            "parent_wallet": str(parent.pubkey()),
            "session_duration_seconds": DURATION,
            "max_deposit_lamports": MAX_DEPOSIT,
            "initial_deposit_lamports": INITIAL_DEPOSIT,
        }
        fields.update(overrides)
        return CreateSessionRequest(**fields)

    async def create(self, parent: Keypair, **overrides: Any) -> tuple[CreateSessionResult, WorkflowHandle]:
        req = self.request(parent, **overrides)
        self.started.append(workflow_id_for(req.session_id))
        created = await create_session(self.client, req, self.task_queue, update_with_start=self.update_with_start)
        return created, self.client.get_workflow_handle(workflow_id_for(req.session_id), result_type=SessionOutcome)

    async def terminate_leftovers(self) -> None:
        """A workflow left running after its worker is gone would block time skipping for every later test."""
        for workflow_id in self.started:
            handle = self.client.get_workflow_handle(workflow_id)
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test teardown")

    async def open(
        self, parent: Keypair, **overrides: Any
    ) -> tuple[CreateSessionResult, WorkflowHandle, ApproveResult]:
        """Create, let the parent sign the opening transaction, approve with it (the backend submits)."""
        created, handle = await self.create(parent, **overrides)
        approved = await handle.execute_update(
            APPROVE_UPDATE,
            ApproveRequest(
                vault_pda=created.vault_pda, signed_transaction=wallet_sign(created.unsigned_transaction, parent)
            ),
            result_type=ApproveResult,
        )
        return created, handle, approved

    async def finish(self, handle: WorkflowHandle) -> SessionOutcome:
        """The workflow's result; on the time-skipping server, time skips to each next timer meanwhile."""
        if self.env is not None and self.env.supports_time_skipping_v1:
            async with self.env.time_skipping_unlocked():  # type: ignore[attr-defined]
                return await handle.result()
        return await handle.result()

    async def skip_until(self, handle: WorkflowHandle, condition: Callable[[SessionStatus], bool]) -> SessionStatus:
        """Let time skip (time-skipping server) until the status query satisfies `condition`."""
        assert self.env is not None and self.env.supports_time_skipping_v1
        async with self.env.time_skipping_unlocked():  # type: ignore[attr-defined]
            for _ in range(2400):  # a bound for a broken workflow, not a timing expectation
                status = await handle.query(STATUS_QUERY, result_type=SessionStatus)
                if condition(status):
                    return status
                await asyncio.sleep(0.05)
        raise AssertionError(f"status never satisfied the condition: {status}")

    async def export_history(self, handle: WorkflowHandle, name: str) -> None:
        """With EV_EXPORT_HISTORIES=1, keep this run's history for the replay test (tests/workflows/histories)."""
        if os.environ.get("EV_EXPORT_HISTORIES") != "1":
            return
        history = await handle.fetch_history()
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}.json").write_text(json.dumps(json.loads(history.to_json()), separators=(",", ":")) + "\n")


@pytest.fixture
async def harness(temporal_env: WorkflowEnvironment, resources: Resources, localnet_url: str) -> AsyncIterator[Harness]:
    task_queue = f"tq-{uuid.uuid4()}"
    resources.temporal = temporal_env.client
    harness = Harness(temporal_env.client, temporal_env, task_queue, resources, localnet_url, update_with_start=False)
    async with build_worker(temporal_env.client, resources, task_queue):
        try:
            yield harness
        finally:
            await harness.terminate_leftovers()
