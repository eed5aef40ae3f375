"""`make run`: the whole stack on embedded defaults, supervised, with readiness checks and a clean Ctrl-C.

Order: PostgreSQL (DATABASE_URL or embedded) → migrations → Temporal dev server (UI :8233, search attributes
registered) → local chain with the program → worker → API. Everything logs to var/log/<service>.log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from devstack.dev_env import DEV_ENV_PATH, ensure_dev_env, fund_cleaner
from devstack.supervisor import ReadyProbe, Service, Supervisor, python_argv, tcp_probe
from devstack.temporal import TEMPORAL_CLI, dev_server_argv
from ephemeral_vault.db.embedded import EmbeddedPostgres
from ephemeral_vault.settings import PROGRAM_SO, REPO_ROOT, Settings, settings_or_exit

VAR = REPO_ROOT / "var"


def http_probe(url: str, body: bytes | None = None) -> ReadyProbe:
    async def probe() -> bool:
        def fetch() -> bool:
            req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
            try:
                with urllib.request.urlopen(req, timeout=1.0) as resp:  # noqa: S310 (our own localhost URL)
                    return 200 <= resp.status < 300
            except OSError:
                return False

        return await asyncio.to_thread(fetch)

    return probe


def worker_polling_probe(settings: Settings) -> ReadyProbe:
    """Ready when a worker polls the task queue (asked through the Temporal CLI, so no SDK client is held open)."""

    async def probe() -> bool:
        proc = await asyncio.create_subprocess_exec(
            str(TEMPORAL_CLI), "task-queue", "describe",
            "--address", settings.temporal_address, "--namespace", settings.temporal_namespace,
            "--task-queue", settings.temporal_task_queue, "--output", "json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await proc.communicate()
        return proc.returncode == 0 and b'"identity"' in out

    return probe


def temporal_argv(settings: Settings) -> list[str]:
    host, _, port = settings.temporal_address.rpartition(":")
    return dev_server_argv(
        port=int(port),
        ip=host or "127.0.0.1",
        ui_port=settings.temporal_ui_port,
        namespace=settings.temporal_namespace,
        db_file=VAR / "temporal.db",
    )


def ensure_database(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The DSN, and the embedded server when this run started it (so Ctrl-C stops it too; one found already
    running belongs to someone else and is left alone)."""
    if settings.database_url:
        print("  ✓ PostgreSQL from DATABASE_URL", flush=True)
        return settings.database_url, None
    server = EmbeddedPostgres(settings.embedded_pg_dir, settings.embedded_pg_port)
    owned = not server.is_running()
    dsn = server.start()
    print(f"  ✓ embedded PostgreSQL ready ({settings.embedded_pg_dir}, {dsn})", flush=True)
    return dsn, server if owned else None


async def run_stack() -> int:
    settings = settings_or_exit()
    VAR.mkdir(exist_ok=True)
    if not PROGRAM_SO.exists():
        print(f"missing {PROGRAM_SO}: run `make program`", file=sys.stderr)
        return 2
    print("Ephemeral Vault — starting the local stack", flush=True)
    dsn, owned_postgres = await asyncio.to_thread(ensure_database, settings)
    try:
        return await run_services(settings, dsn)
    finally:
        if owned_postgres is not None:
            print("  stopping PostgreSQL", flush=True)
            await asyncio.to_thread(owned_postgres.stop)


async def run_services(settings: Settings, dsn: str) -> int:
    sup = Supervisor(VAR / "log")
    dev_values, generated = ensure_dev_env(settings)
    env = {"DATABASE_URL": dsn, **dev_values}
    os.environ.update(env)
    if generated:
        print(f"  ✓ generated dev {', '.join(generated)} in {DEV_ENV_PATH} (mode 0600)", flush=True)

    rc = await (await asyncio.create_subprocess_exec(*python_argv("-m", "ephemeral_vault.db.migrate"))).wait()
    if rc != 0:
        print("migrations failed", file=sys.stderr)
        return rc
    print("  ✓ migrations applied", flush=True)

    t_host, _, t_port = settings.temporal_address.rpartition(":")
    rpc_probe_body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).encode()
    services = [
        Service("temporal", temporal_argv(settings), tcp_probe(t_host, int(t_port))),
        Service(
            "localnet",
            python_argv(
                "-m", "localnet", "--host", settings.localnet_host, "--port", str(settings.localnet_port),
                # make run keeps the chain across restarts, like the database and Temporal beside it.
                "--ledger", str(settings.localnet_ledger_dir or VAR / "ledger"),
            ),
            http_probe(f"http://{settings.localnet_host}:{settings.localnet_port}", rpc_probe_body),
        ),
        Service("worker", python_argv(str(REPO_ROOT / "worker.py")), worker_polling_probe(settings), env=env),
        Service(
            "api",
            python_argv("-m", "api"),
            http_probe(f"http://{settings.api_host}:{settings.api_port}/readyz"),
            env=env,
        ),
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        for service in services:
            await service_start_or_stop(sup, service, stop)
            if stop.is_set():
                return 130
            if service.name == "localnet":
                cleaner = await fund_cleaner(settings, f"http://{settings.localnet_host}:{settings.localnet_port}")
                print(f"  ✓ cleaner {cleaner} funded on the local chain", flush=True)
        print_where_things_are(settings, dsn)
        exited = asyncio.ensure_future(sup.wait_any_exit())
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if exited in done:
            crashed = exited.result()
            print(f"{crashed.name} exited unexpectedly; see {crashed.log_path}. Stopping.", file=sys.stderr)
            return 1
        return 0
    finally:
        print("Stopping…", flush=True)
        await sup.stop_all()
        print("Stopped.", flush=True)


async def service_start_or_stop(sup: Supervisor, service: Service, stop: asyncio.Event) -> None:
    start = asyncio.ensure_future(sup.start(service))
    halt = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({start, halt}, return_when=asyncio.FIRST_COMPLETED)
    if start in done:
        halt.cancel()
        start.result()
    else:
        start.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await start


def without_password(dsn: str) -> str:
    """The DSN as operators need it, minus the password a DATABASE_URL may carry (terminals end up in logs)."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def print_where_things_are(settings: Settings, dsn: str) -> None:
    api = f"http://{settings.api_host}:{settings.api_port}"
    print(
        f"""
Ephemeral Vault is running. Ctrl-C stops everything.
  API            {api}   (OpenAPI docs: {api}/docs, metrics: {api}/metrics)
  WebSocket      ws://{settings.api_host}:{settings.api_port}/ws/session
  Temporal UI    http://127.0.0.1:{settings.temporal_ui_port}   (filter: SessionStatus="ACTIVE")
  Temporal       {settings.temporal_address}  namespace={settings.temporal_namespace}
                 task queue {settings.temporal_task_queue}
  Solana RPC     http://{settings.localnet_host}:{settings.localnet_port}   program {settings.program_id}
  PostgreSQL     {without_password(dsn)}
  Logs           {VAR / "log"}
Try `make demo` in another terminal.""",
        flush=True,
    )


def main() -> None:
    sys.exit(asyncio.run(run_stack()))


if __name__ == "__main__":
    main()
