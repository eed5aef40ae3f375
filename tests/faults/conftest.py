"""Fault-test world: infrastructure these tests own (so they may break it) and real worker subprocesses.

Package scope (started once for tests/faults, in parallel): an embedded PostgreSQL, a Temporal dev server on a SQLite
file, a local node with a ledger directory. Function scope (`world`): a fresh database on that server, a task queue of
its own, a fault proxy in front of the node, a funded cleaner key, a KEK, and `python worker.py` subprocesses
configured only through their environment — so SIGKILL is a real crash. Teardown kills every process the test
started, even when the test failed or timed out, and restarts any service a test left down.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from solders.keypair import Keypair
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.settings import DEV_PROGRAM_ID, PROGRAM_SO
from localnet.faultproxy import FaultProxy
from tests.faults.processes import LocalnetProcess, OwnedPostgres, TemporalDevProcess, WorkerProcess
from tests.faults.scenario import (
    EXPIRY_WARP,
    SOL,
    Driver,
    SessionRun,
    audit,
    describe,
    fund,
    plan_sessions,
    run_sessions,
)

# Bounds on hangs (never expectations about speed): a scenario that has not finished by then is reported stuck.
# The standard scenario: ten sessions in flight (four of them expiring), three trades each.
SESSIONS = 10
EXPIRING = 4
TRADES = 3
SCENARIO_TIMEOUT_SECONDS = 240
AUDIT_TIMEOUT_SECONDS = 120
# 50 ms slots: a blockhash lives 7.5 s and finalizes in 1.6 s, so proving that a dropped transaction can never land
# (what a retried trade waits for) takes seconds, not the minute it takes on a real cluster. An offer that expires
# before its signed copy gets through (a slow step under load, a fault) is re-offered and signed again by the driver.
NODE_SLOT_MS = 50


@dataclass
class Infra:
    root: Path
    pg: OwnedPostgres
    temporal: TemporalDevProcess
    node: LocalnetProcess


@pytest.fixture(scope="package")
def infra() -> Iterator[Infra]:
    if not PROGRAM_SO.is_file():
        pytest.fail(f"{PROGRAM_SO} is missing: run `make program` first")
    root = Path(tempfile.mkdtemp(prefix="ev-faults-"))
    root.chmod(0o755)  # the unprivileged PostgreSQL user must be able to enter it
    pg, temporal = OwnedPostgres(root / "pg"), TemporalDevProcess(root / "temporal")
    node = LocalnetProcess(root / "node", slot_ms=NODE_SLOT_MS)
    infra = Infra(root, pg, temporal, node)
    try:
        with ThreadPoolExecutor(3) as pool:
            for started in [pool.submit(pg.start), pool.submit(temporal.start), pool.submit(node.start)]:
                started.result()
        yield infra
    finally:
        for stop in (infra.node.stop, infra.temporal.stop, infra.pg.stop):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(root, ignore_errors=True)


async def connect_temporal(address: str) -> Client:
    for _ in range(300):
        try:
            client = await Client.connect(address)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return client
        except Exception:  # anything means "not yet"
            await asyncio.sleep(0.1)
    raise RuntimeError(f"temporal at {address} never became ready")


@dataclass
class World:
    infra: Infra
    database: str
    task_queue: str
    proxy: FaultProxy
    chain: ChainClient
    client: Client
    cleaner: Keypair = field(repr=False)
    cleaner_path: Path
    kek_keys: str
    workers: list[WorkerProcess] = field(default_factory=list)
    driver: Driver | None = None

    @property
    def dsn(self) -> str:
        return self.infra.pg.dsn(self.database)

    def worker_env(self, *, via_proxy: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TEMPORAL_", "SOLANA_", "KEK_"))}
        env.update(
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.dsn,
            TEMPORAL_ADDRESS=self.infra.temporal.address,
            TEMPORAL_NAMESPACE="default",
            TEMPORAL_TASK_QUEUE=self.task_queue,
            SOLANA_RPC_URL=self.proxy.url if via_proxy else self.infra.node.url,
            SOLANA_RPC_TIMEOUT_SECONDS="2",
            SOLANA_CONFIRM_POLL_SECONDS="0.1",
            SOLANA_CONFIRM_TIMEOUT_SECONDS="20",
            KEK_PROVIDER="env",
            KEK_KEYS=self.kek_keys,
            KEK_ACTIVE_ID="k1",
            CLEANER_KEYPAIR_PATH=str(self.cleaner_path),
            CHAIN_POLL_SECONDS="1",
            REVOKE_WINDOW_SECONDS="120",
            APPROVAL_WINDOW_SECONDS="600",
            # The sweep is not under test here; at 300 s its runs would land at random points of some tests.
            VAULT_SWEEP_INTERVAL_SECONDS="3600",
            # Pinned so that an operator's .env cannot change what the audit expects.
            PROGRAM_ID=DEV_PROGRAM_ID,
            SESSION_FEE_FLOAT_LAMPORTS="5000000",
            MAX_TRADES_PER_RUN="500",
            WORKER_MAX_CONCURRENT_ACTIVITIES="50",
        )
        return env

    async def start_worker(self, name: str, *, via_proxy: bool = True) -> WorkerProcess:
        log = self.infra.root / f"{self.task_queue}-{name}.log"
        worker = WorkerProcess(name, self.worker_env(via_proxy=via_proxy), log)
        self.workers.append(worker)
        await self.restart_worker(worker)
        return worker

    async def restart_worker(self, worker: WorkerProcess) -> None:
        worker.start()
        await asyncio.to_thread(worker.wait_ready)

    async def prepare(
        self,
        workers: list[str],
        *,
        sessions: int = SESSIONS,
        expiring: int = EXPIRING,
        trades: int = TRADES,
        via_proxy: bool = True,
        expiry_warp: int = EXPIRY_WARP,
    ) -> tuple[list[WorkerProcess], list[SessionRun]]:
        """Start the workers while the parents are funded; plan the sessions."""
        started, parents = await asyncio.gather(
            asyncio.gather(*(self.start_worker(name, via_proxy=via_proxy) for name in workers)),
            fund(self.chain, sessions),
        )
        self.driver = Driver(self.client, self.task_queue, self.chain, self.infra.node.url, expiry_warp=expiry_warp)
        self.driver.progress.note("workers polling, parents funded")
        return list(started), plan_sessions(parents, expiring=expiring, trades=trades)

    async def run(self, runs: list[SessionRun], fault: Coroutine[Any, Any, None] | None = None) -> None:
        """Every session to its end while `fault` breaks things; a stuck scenario fails with where each session is."""
        assert self.driver is not None
        self.driver.progress.note("running")
        jobs = [run_sessions(self.driver, runs)] + ([fault] if fault is not None else [])
        try:
            async with asyncio.timeout(SCENARIO_TIMEOUT_SECONDS):
                # A task group: when one job fails, the others are cancelled (no session keeps retrying after the
                # test has ended).
                async with asyncio.TaskGroup() as group:
                    for job in jobs:
                        group.create_task(job)
            self.driver.progress.note("all sessions ended")
        except ExceptionGroup as group:
            first: BaseException = group
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None  # the first failure, readable (the other jobs were cancelled because of it)
        except TimeoutError:
            stuck = await self.describe_stuck(runs)
            pytest.fail(
                f"sessions stuck after {SCENARIO_TIMEOUT_SECONDS} s:\n{describe(runs)}\n{stuck}\n{self.diagnostics()}"
            )

    async def describe_stuck(self, runs: list[SessionRun]) -> str:
        """What Temporal says about each unfinished session: status, pending activities, the last history events."""
        lines = []
        for run in runs:
            if run.stage == "done":
                continue
            try:
                handle = self.client.get_workflow_handle(run.workflow_id)
                desc = await handle.describe()
                lines.append(f"session {run.index}: workflow {desc.status}")
                for act in desc.raw_description.pending_activities:
                    failure = act.last_failure.message[:300] if act.HasField("last_failure") else ""
                    name = act.activity_type.name
                    lines.append(f"  pending {name} attempt {act.attempt} state {act.state} {failure}")
                events = [e async for e in handle.fetch_history_events()]
                for event in events[-12:]:
                    lines.append(f"  #{event.event_id} {event.WhichOneof('attributes')}")
            except Exception as exc:  # diagnostics must not hide the failure
                lines.append(f"session {run.index}: cannot describe ({exc!r})")
        return "\n".join(lines)

    async def audit(self, runs: list[SessionRun]) -> list[str]:
        assert self.driver is not None
        db = await asyncpg.connect(self.dsn)
        try:
            async with asyncio.timeout(AUDIT_TIMEOUT_SECONDS):
                return await audit(self.driver, runs, db, self.cleaner.pubkey())
        finally:
            await db.close()

    async def assert_nothing_lost(self, runs: list[SessionRun]) -> None:
        """The audit finds no disagreement between what each session was told, the chain and the database; the
        report (retries, proxy counters, ledger rows, timeline) is printed either way."""
        problems = await self.audit(runs)
        assert not problems, "\n".join(problems) + "\n" + self.report(runs)
        print(self.report(runs))

    def report(self, runs: list[SessionRun]) -> str:
        assert self.driver is not None
        progress = self.driver.progress
        ok = sum(len(r.succeeded_trades()) for r in runs)
        proxy = self.proxy.stats.to_json()
        proxy["dropped_signatures"] = len(proxy["dropped_signatures"])
        return (
            f"{len(runs)} sessions, {ok}/{sum(len(r.trades) for r in runs)} trades executed; "
            f"client transport retries {dict(progress.transport_retries)}, "
            f"business retries {dict(progress.business_retries)}, proxy {proxy}\n"
            f"vault_transactions: {dict(sorted(progress.ledger_rows.items()))}\n{self.timeline()}"
        )

    def timeline(self) -> str:
        assert self.driver is not None
        return "\n".join(self.driver.progress.timeline)

    def diagnostics(self) -> str:
        return "\n".join(f"--- worker {w.name} (starts {w.starts}) ---\n{w.log_tail()}" for w in self.workers)


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    database = f"faults_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(infra.pg.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    proxy = FaultProxy(infra.node.url)
    await proxy.start()
    cleaner = Keypair()
    cleaner_path = infra.root / f"cleaner-{database}.json"
    cleaner_path.write_text(json.dumps(list(bytes(cleaner))))
    cleaner_path.chmod(0o600)
    chain = ChainClient(infra.node.url, poll_interval_seconds=0.05, confirm_timeout_seconds=30)
    client = await connect_temporal(infra.temporal.address)
    await fund_cleaner(chain, cleaner)
    world = World(
        infra=infra,
        database=database,
        task_queue=f"faults-{uuid.uuid4()}",
        proxy=proxy,
        chain=chain,
        client=client,
        cleaner=cleaner,
        cleaner_path=cleaner_path,
        kek_keys="k1:" + base64.b64encode(os.urandom(32)).decode(),
    )
    try:
        yield world
    finally:
        for worker in world.workers:
            if worker.running:
                worker.sigkill()
        await proxy.stop()
        await chain.close()
        # Restarted infrastructure must be up again for the next test; a test that left it down is repaired here.
        if infra.node.proc is None or infra.node.proc.poll() is not None:
            infra.node.start()
        if infra.temporal.proc is None or infra.temporal.proc.poll() is not None:
            infra.temporal.start()
        if not infra.pg.server.is_running():
            infra.pg.start()
        with contextlib.suppress(Exception):
            admin = await asyncpg.connect(infra.pg.dsn())
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await admin.close()


async def fund_cleaner(chain: ChainClient, cleaner: Keypair) -> None:
    await chain.request_airdrop(cleaner.pubkey(), SOL)


__all__ = ["Infra", "World", "fund"]
