"""On the real Temporal server (CLI dev server): update-with-start, search attributes and the static summary as
operators see them, the VaultSweep schedule, and scale + faults — two worker PROCESSES share the sessions, one is
SIGKILLed mid-flight, and every session still finishes with no on-chain effect duplicated."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from solders.pubkey import Pubkey
from temporalio.client import Client

from activities.resources import Resources
from ephemeral_vault.db import ledger, sessions
from ephemeral_vault.settings import REPO_ROOT
from tests.fixtures.temporal import DevServer
from tests.workflows.conftest import Harness, wallet_sign
from worker import build_worker
from workflows.client import create_session
from workflows.messages import (
    REVOKE_UPDATE,
    TRADE_UPDATE,
    VAULT_SWEEP_SCHEDULE_ID,
    RevokeRequest,
    RevokeResult,
    SessionState,
    TradeRequest,
    TradeResult,
)
from workflows.vault_sweep import ensure_vault_sweep_schedule


@pytest.fixture
async def dev_harness(temporal_dev_client: Client, resources: Resources, localnet_url: str) -> AsyncIterator[Harness]:
    task_queue = f"tq-{uuid.uuid4()}"
    resources.temporal = temporal_dev_client
    harness = Harness(temporal_dev_client, None, task_queue, resources, localnet_url, update_with_start=True)
    async with build_worker(temporal_dev_client, resources, task_queue):
        try:
            yield harness
        finally:
            await harness.terminate_leftovers()


async def wait_for_visibility(client: Client, query: str, expected: int) -> list[str]:
    for _ in range(600):  # visibility is eventually consistent; this only bounds a broken server
        ids = [w.id async for w in client.list_workflows(query)]
        if len(ids) >= expected:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query!r} never listed {expected} workflow(s)")


async def test_update_with_start_creates_once_and_operators_can_find_the_session(dev_harness: Harness, parent) -> None:
    req = dev_harness.request(parent)

    first, second = await asyncio.gather(
        create_session(dev_harness.client, req, dev_harness.task_queue),
        create_session(dev_harness.client, req, dev_harness.task_queue),
    )
    dev_harness.started.append(first.workflow_id)

    assert first == second  # the retried create joined the same workflow: one key, one row
    handle = dev_harness.client.get_workflow_handle(first.workflow_id)
    description = await handle.describe()
    assert req.session_id[:8] in (await description.static_summary() or "")
    assert req.parent_wallet in (await description.static_details() or "")
    created_ids = await wait_for_visibility(
        dev_harness.client, f'ParentWallet = "{req.parent_wallet}" AND SessionStatus = "CREATED"', 1
    )
    assert created_ids == [first.workflow_id]
    await handle.execute_update(
        "approve", {"vault_pda": first.vault_pda, "signed_transaction": wallet_sign(first.unsigned_transaction, parent)}
    )
    active_ids = await wait_for_visibility(
        dev_harness.client, f'VaultPda = "{first.vault_pda}" AND SessionStatus = "ACTIVE"', 1
    )
    assert active_ids == [first.workflow_id]


async def test_vault_sweep_schedule_is_created_once_and_updated_in_place(temporal_dev_client: Client) -> None:
    queue = f"tq-{uuid.uuid4()}"
    await ensure_vault_sweep_schedule(temporal_dev_client, queue, 300)
    await ensure_vault_sweep_schedule(temporal_dev_client, queue, 120)  # a second worker starting: no error

    description = await temporal_dev_client.get_schedule_handle(VAULT_SWEEP_SCHEDULE_ID).describe()

    assert [i.every.total_seconds() for i in description.schedule.spec.intervals] == [120]
    assert description.schedule.action.task_queue == queue  # type: ignore[union-attr]


def start_worker_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "worker.py")], cwd=REPO_ROOT, env=env,
        stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


async def trade_submitted_unconfirmed(pool: asyncpg.Pool) -> None:
    query = "SELECT count(*) FROM vault_transactions WHERE kind = 'trade' AND status = 'submitted'"
    while True:
        if await pool.fetchval(query):
            return
        await asyncio.sleep(0.01)


@pytest.mark.slow
async def test_two_workers_one_killed_mid_flight_every_session_finishes_without_duplicates(
    temporal_dev_server: DevServer,
    temporal_dev_client: Client,
    pg_dsn: str,
    db_schema: str,
    db_pool: asyncpg.Pool,
    resources: Resources,
    kek_bytes: bytes,
    localnet_url: str,
    parent,
    tmp_path: Path,
) -> None:
    task_queue = f"tq-{uuid.uuid4()}"
    cleaner_path = tmp_path / "cleaner.json"
    cleaner_path.write_text(json.dumps(list(bytes(resources.cleaner))))
    separator = "&" if "?" in pg_dsn else "?"
    env = {
        **os.environ,
        "DATABASE_URL": f"{pg_dsn}{separator}search_path={db_schema}",
        "TEMPORAL_ADDRESS": temporal_dev_server.address,
        "TEMPORAL_NAMESPACE": temporal_dev_server.namespace,
        "TEMPORAL_TASK_QUEUE": task_queue,
        "SOLANA_RPC_URL": localnet_url,
        "SOLANA_CONFIRM_POLL_SECONDS": "0.05",
        "KEK_PROVIDER": "env",
        "KEK_KEYS": "k1:" + base64.b64encode(kek_bytes).decode(),
        "KEK_ACTIVE_ID": "k1",
        "CLEANER_KEYPAIR_PATH": str(cleaner_path),
        "SESSION_FEE_FLOAT_LAMPORTS": "5000000",
        "VAULT_SWEEP_INTERVAL_SECONDS": "3600",
        "PYTHONUNBUFFERED": "1",
    }
    # Worker A alone takes every session and every trade; B starts only as A is killed, so the in-flight work on
    # A (workflow tasks in its cache, trade activities mid-confirmation) must be recovered by B.
    workers = [start_worker_process(env, tmp_path / "worker-a.log")]
    harness = Harness(temporal_dev_client, None, task_queue, resources, localnet_url, update_with_start=True)
    try:
        opened = [await harness.open(parent) for _ in range(4)]
        trade_ids = {c.session_id: [str(uuid.uuid4()) for _ in range(4)] for c, _, _ in opened}

        async def trade(handle, trade_id: str) -> TradeResult:
            return await handle.execute_update(
                TRADE_UPDATE, TradeRequest(trade_id=trade_id, fee_lamports=5_000), result_type=TradeResult
            )

        in_flight = [asyncio.create_task(trade(h, t)) for c, h, _ in opened for t in trade_ids[c.session_id]]
        # Kill A while a trade is mid-confirmation on it (recorded as submitted, not yet confirmed), so its activity
        # must be resumed on B by signature. Waiting for a few updates to complete instead raced: all 16 trades can
        # land in one 400 ms slot, between two looks, leaving nothing in flight to kill.
        await asyncio.wait_for(trade_submitted_unconfirmed(db_pool), timeout=60)
        workers.append(start_worker_process(env, tmp_path / "worker-b.log"))
        workers[0].send_signal(signal.SIGKILL)
        in_flight_at_kill = sum(not t.done() for t in in_flight)
        results = await asyncio.wait_for(asyncio.gather(*in_flight), timeout=120)
        duplicates = await asyncio.gather(*(trade(h, t) for c, h, _ in opened for t in trade_ids[c.session_id]))
        outcomes = []
        for _, handle, _ in opened:
            offer = await handle.execute_update(REVOKE_UPDATE, RevokeRequest(), result_type=RevokeResult)
            assert offer.unsigned_transaction is not None
            await handle.execute_update(
                REVOKE_UPDATE,
                RevokeRequest(signed_transaction=wallet_sign(offer.unsigned_transaction, parent)),
                result_type=RevokeResult,
            )
            outcomes.append(await handle.result())
        workers[1].send_signal(signal.SIGTERM)
        graceful_exit = await asyncio.to_thread(workers[1].wait, 60)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    assert workers[0].returncode == -signal.SIGKILL and graceful_exit == 0
    assert in_flight_at_kill > 0
    interrupted = 0
    for _, handle, _ in opened:
        async for event in handle.fetch_history_events():
            if event.HasField("activity_task_started_event_attributes"):
                interrupted += event.activity_task_started_event_attributes.attempt > 1
            interrupted += event.HasField("workflow_task_timed_out_event_attributes")
    # Worker A's death was felt: an activity it held was retried on B (resumed by signature), or a workflow task in
    # its sticky cache timed out and was replayed on B.
    assert interrupted > 0
    assert duplicates == results  # every retried trade id answered with its first result
    for (created, _, _), outcome in zip(opened, outcomes, strict=True):
        session_id = uuid.UUID(created.session_id)
        trades = await ledger.list_transactions(db_pool, session_id, kind="trade")
        confirmed = [t for t in trades if t.status == "confirmed"]
        assert sorted(str(t.trade_ref) for t in confirmed) == sorted(trade_ids[created.session_id])
        assert outcome.status is SessionState.CLEANED and outcome.trade_count == 4
        assert await resources.chain.raw_account(Pubkey.from_string(created.vault_pda)) is None
        assert (await sessions.get_session(db_pool, session_id)).status == "CLEANED"
        assert len(await ledger.list_cleanups(db_pool, session_id)) == 1
