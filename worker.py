"""The Temporal worker: runs SessionWorkflow, VaultSweepWorkflow and every activity on TEMPORAL_TASK_QUEUE.

    python worker.py

Start as many as you like (they share the task queue; any of them can continue any session). At start: migrations
(advisory-locked, so concurrent workers are safe), the cleaner keypair (a dev one is generated when missing), the
VaultSweep schedule. On SIGTERM/SIGINT the worker stops polling and lets running activities finish (graceful
shutdown, bounded by WORKER_GRACEFUL_SHUTDOWN_SECONDS); workflows need no draining — their state is in Temporal.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import py_compile
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client, TLSConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import PollerBehaviorSimpleMaximum, UnsandboxedWorkflowRunner, Worker

from activities.chain import ChainActivities
from activities.database import DatabaseActivities
from activities.heartbeat import HeartbeatInterceptor
from activities.keys import KeyActivities
from activities.resources import Resources, load_or_create_cleaner_keypair
from activities.sweep import SweepActivities
from ephemeral_vault.payload_converter import DATA_CONVERTER
from ephemeral_vault.sandbox_runner import ContextFreeSandboxedRunner
from ephemeral_vault.settings import Settings, settings_or_exit
from workflows.session import SessionWorkflow
from workflows.vault_sweep import VaultSweepWorkflow, ensure_vault_sweep_schedule

log = logging.getLogger("worker")
GRACEFUL_SHUTDOWN = timedelta(seconds=30)


def activities_of(resources: Resources) -> list[Any]:
    keys, db, chain, sweep = (
        KeyActivities(resources),
        DatabaseActivities(resources),
        ChainActivities(resources),
        SweepActivities(resources),
    )
    return [
        keys.provision_session_key,
        keys.shred_session_key,
        db.load_session_policy,
        db.transition_session_status,
        db.record_delegation_event,
        chain.build_session_opening_transaction,
        chain.submit_signed_transaction,
        chain.verify_vault_onchain,
        chain.observe_vault,
        chain.quote_deposit,
        chain.execute_trade_onchain,
        chain.build_revoke_transaction,
        chain.cleanup_vault_onchain,
        chain.sweep_fee_float,
        sweep.find_orphaned_vaults,
        sweep.close_orphan_session,
        sweep.analyse_recent_sessions,
    ]


WORKFLOWS: Sequence[type] = (SessionWorkflow, VaultSweepWorkflow)


def cache_workflow_bytecode(workflows: Sequence[type]) -> list[str]:
    """Write the bytecode of the workflow modules (and their packages) once, before the first workflow task.

    The sandbox re-imports a workflow's module for every new workflow run, through the ordinary import system. With
    no .pyc on disk (PYTHONDONTWRITEBYTECODE=1, usual in containers and set on our build machines) every re-import
    compiled workflows/session.py from source: ~13 ms of worker CPU per session, about half of what creating the
    sandboxed instance costs (measured: docs/benchmarks.md). Bytecode that exists is read even when writing is
    disabled, so it is written here: beside the source when the tree is writable, else under a private pycache
    prefix. Returns the files written.
    """
    sources: list[str] = []
    for cls in workflows:
        parts = cls.__module__.split(".")
        for depth in range(1, len(parts) + 1):
            file = getattr(sys.modules.get(".".join(parts[:depth])), "__file__", None)
            if file and file.endswith(".py") and file not in sources:
                sources.append(file)

    def compile_one(source: str) -> str:
        # cache_from_source honours sys.pycache_prefix, which the import system reads the bytecode back through.
        return py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True)

    written = []
    for source in sources:
        try:
            written.append(compile_one(source))
        except OSError:  # a read-only tree (an image built without bytecode): somewhere private instead
            if sys.pycache_prefix is None:
                sys.pycache_prefix = tempfile.mkdtemp(prefix="ev-worker-pycache-")
            written.append(compile_one(source))
    return written


def workflow_runner_options(settings: Settings) -> dict[str, Any]:
    """Temporal's sandbox (the default, as `ContextFreeSandboxedRunner`: build_worker) re-imports workflow modules
    per run and proxies their module access, to catch non-deterministic calls; WORKER_WORKFLOW_SANDBOX=false trades
    that guard for less CPU (docs/benchmarks.md). Replay tests of every recorded path run either way."""
    if settings.worker_workflow_sandbox:
        return {}
    log.warning("workflows run WITHOUT Temporal's sandbox (WORKER_WORKFLOW_SANDBOX=false)")
    return {"workflow_runner": UnsandboxedWorkflowRunner()}


def workflow_task_options(settings: Settings) -> dict[str, Any]:
    """Every create starts a new workflow, whose first workflow task comes through the task queue's normal side; the
    rest of a session's tasks come through the worker's sticky queue. The SDK's default (5 pollers, at most a fifth
    of them on the normal side) polls the normal side with ONE poller, and creates queue behind it. 20 pollers split
    evenly (ratio 0.5: up to 10 on each side), measured on the bench stack: create p99 at 10 clients 1,095-1,237 ms
    -> 981-1,136 ms, a bare update-with-start's p99 at 10 clients 4.2-4.4 s -> 0.6-0.7 s. Letting the normal side
    take all 20 (ratio 1.0) helped creates a little more but doubled the time running sessions' tasks queued (651 ->
    1,131 ms mean at 100 sessions): sticky polls ran short (docs/benchmarks.md). An idle poll is one long-poll.

    A task on the sticky queue waits WORKER_STICKY_SCHEDULE_TO_START_SECONDS for this worker; then the server times it
    out and reschedules it on the normal side, where it carries the whole history. The SDK's 10 s is shorter than a
    saturated worker's queue (1,000 sessions on 2 cores): the worker was busy, not gone, and each timeout added two
    events and a full-history task to a stack already out of CPU. The cost of waiting longer falls on a worker that
    died: the tasks already queued for it wait out the timeout (new ones go to the normal side once the server has
    seen no poll from it for 10 s).

    The worker keeps WORKER_MAX_CACHED_WORKFLOWS running sessions in memory; past that it evicts the least recently
    used, whose next task replays its whole history. The SDK's 1,000 has no room beside 1,000 live sessions for the
    vault sweep: at 1,000 benchmark sessions it forced 55-148 evictions per wave, each a replay. Sessions live for
    hours, so a worker holding more sessions than its cache replays on nearly every task once their order cycles;
    2,000 costs ~0.2 MiB per session held: at 1,000 sessions the worker's RSS was 321 MiB with the SDK's cache and
    340 MiB with this one (docs/benchmarks.md)."""
    return {
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(settings.worker_workflow_task_pollers),
        "nonsticky_to_sticky_poll_ratio": 0.5,
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=settings.worker_sticky_schedule_to_start_seconds),
        "max_cached_workflows": settings.worker_max_cached_workflows,
    }


def build_worker(client: Client, resources: Resources, task_queue: str, **kwargs: Any) -> Worker:
    cache_workflow_bytecode(WORKFLOWS)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(WORKFLOWS),
        activities=activities_of(resources),
        graceful_shutdown_timeout=kwargs.pop("graceful_shutdown_timeout", GRACEFUL_SHUTDOWN),
        interceptors=[HeartbeatInterceptor(), *kwargs.pop("interceptors", [])],
        # The sandbox, minus its per-payload round trips into it (ephemeral_vault/sandbox_runner.py).
        workflow_runner=kwargs.pop("workflow_runner", None) or ContextFreeSandboxedRunner(client.data_converter),
        **kwargs,
    )


def metrics_runtime(settings: Settings) -> Runtime | None:
    """The SDK's own metrics (workflow-task latencies, sticky-cache hits, misses and evictions, slots in use) served
    for Prometheus at WORKER_METRICS_ADDRESS: what an operator reads first when sessions slow down."""
    address = settings.worker_metrics_address
    if address is None:
        return None
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except ValueError as exc:  # the exporter binds at once: a port in use, an address not on this machine
        raise SystemExit(f"WORKER_METRICS_ADDRESS {address}: {exc}") from None


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    tls: bool | TLSConfig = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_api_key is not None:
        tls = True
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        identity=f"ev-worker@{socket.gethostname()}:{os.getpid()}",
        data_converter=DATA_CONVERTER,
        runtime=runtime,
    )


async def open_resources(settings: Settings, dsn: str, temporal: Client | None) -> Resources:
    from ephemeral_vault.chain.client import ChainClient
    from ephemeral_vault.custody import kek_from_settings
    from ephemeral_vault.db.pool import create_pool

    pool = await create_pool(dsn, max_size=max(5, settings.worker_max_concurrent_activities // 2))
    return Resources(
        pool=pool,
        chain=ChainClient(settings.solana_rpc_url),
        kek=kek_from_settings(settings),
        cleaner=load_or_create_cleaner_keypair(settings.cleaner_keypair_path),
        temporal=temporal,
        fee_float_lamports=settings.session_fee_float_lamports,
        approval_window_seconds=settings.approval_window_seconds,
        revoke_window_seconds=settings.revoke_window_seconds,
        chain_poll_seconds=settings.chain_poll_seconds,
        max_trades_per_run=settings.max_trades_per_run,
    )


CLEANER_MIN_LAMPORTS = 10_000_000  # ~2,000 cleanup fees


async def ensure_cleaner_funded(resources: Resources) -> None:
    """The cleaner pays each cleanup's fee (and earns a capped reward). On a local chain or devnet a fresh dev key is
    topped up by airdrop; on mainnet the airdrop fails and the operator is told to fund it."""
    from ephemeral_vault.chain.errors import ChainError

    pubkey = resources.cleaner.pubkey()
    try:
        if await resources.chain.balance(pubkey) >= CLEANER_MIN_LAMPORTS:
            return
        await resources.chain.request_airdrop(pubkey, 1_000_000_000)
        log.info("cleaner %s funded by airdrop", pubkey)
    except ChainError as exc:
        log.warning(
            "cleaner %s holds under %d lamports and no airdrop is available (%s): fund it",
            pubkey,
            CLEANER_MIN_LAMPORTS,
            type(exc).__name__,
        )


async def ensure_search_attributes(client: Client) -> None:
    """Operators filter sessions by these; a cluster without them would fail every workflow task that upserts one."""
    from temporalio.service import RPCError

    from workflows.client import register_search_attributes

    try:
        added = await register_search_attributes(client)
    except RPCError as exc:  # Temporal Cloud: attributes are managed in its console, the call is refused
        log.warning("could not register search attributes (%s): register them for namespace %s", exc, client.namespace)
        return
    if added:
        log.info("registered search attributes %s", added)


async def migrate(dsn: str) -> list[str]:
    import asyncpg

    from ephemeral_vault.db.migrate import apply_migrations

    conn = await asyncpg.connect(dsn)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from ephemeral_vault.db.embedded import EmbeddedPostgres

    return EmbeddedPostgres(settings.embedded_pg_dir, settings.embedded_pg_port).start()


async def run(settings: Settings) -> int:
    from ephemeral_vault.chain.client import redact_url

    dsn = database_url(settings)
    applied = await migrate(dsn)
    log.info("migrations applied: %s", applied or "none (up to date)")
    client = await connect_temporal(settings, metrics_runtime(settings))
    await ensure_search_attributes(client)
    resources = await open_resources(settings, dsn, client)
    log.info(
        "cleaner key %s; rpc %s; task queue %s",
        resources.cleaner.pubkey(),
        redact_url(settings.solana_rpc_url),  # hosted RPC URLs carry API keys
        settings.temporal_task_queue,
    )
    await ensure_cleaner_funded(resources)
    await ensure_vault_sweep_schedule(client, settings.temporal_task_queue, settings.vault_sweep_interval_seconds)
    worker = build_worker(
        client,
        resources,
        settings.temporal_task_queue,
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        **workflow_task_options(settings),
        **workflow_runner_options(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with worker:
            log.info("worker polling %s", settings.temporal_task_queue)
            await stop.wait()
            log.info("shutting down: finishing running activities (up to %s)", GRACEFUL_SHUTDOWN)
    finally:
        await resources.chain.close()
        await resources.pool.close()
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The chain client sends through aiohttp, which logs no request lines. httpx, should anything in the worker use
    # it, logs every request line at INFO with the full URL, which for hosted RPC providers carries an API key
    # (`?api-key=…`). Warnings and errors still come through.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(run(settings_or_exit()))


if __name__ == "__main__":
    sys.exit(main())
