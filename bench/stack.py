"""The embedded stack the benchmarks measure, started on free ports in a temporary directory (a running `make run`
is left alone): embedded PostgreSQL (same settings as `make run`: fsync on), the Temporal dev server with the WAL
pragmas, the local chain with the program, the real worker (`worker.py`) and API (`python -m api`) as processes,
and the baselines — a worker for the trivial workflow and the bare FastAPI app — as processes of their own.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from devstack.__main__ import http_probe, worker_polling_probe
from devstack.supervisor import Service, Supervisor, python_argv, tcp_probe
from devstack.temporal import dev_server_argv
from ephemeral_vault.db.embedded import EmbeddedPostgres, free_tcp_port
from ephemeral_vault.settings import PROGRAM_SO, REPO_ROOT, Settings
from localnet.ports import free_port_pair

TASK_QUEUE = "ephemeral-vault"
TRIVIAL_TASK_QUEUE = "bench-trivial"



@dataclass
class BenchStack:
    root: Path
    dsn: str
    temporal_address: str
    rpc_url: str
    api_url: str
    bare_url: str
    service_token: str = field(repr=False)
    supervisor: Supervisor
    postgres: EmbeddedPostgres
    profile_path: Path | None = None
    pids: dict[str, int] = field(default_factory=dict)
    # Prometheus endpoints by service name: each worker's Temporal SDK metrics (WORKER_METRICS_ADDRESS) and the
    # Temporal server's own
    metrics_urls: dict[str, str] = field(default_factory=dict)

    async def metrics(self, service: str, by_label: str | None = None) -> dict[str, float]:
        """A service's metrics summed over their labels (but `by_label`; see prometheus_sums), read from its
        Prometheus endpoint — a worker's workflow tasks and sticky-cache hits, the server's cache misses; empty if it
        cannot be read."""
        url = self.metrics_urls.get(service)
        if url is None:
            return {}
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                text = (await http.get(url)).text
        except httpx.HTTPError:
            return {}
        return prometheus_sums(text, by_label)

    def processes(self) -> dict[str, list[psutil.Process]]:
        """Each service's processes (PostgreSQL: the postmaster and its backends)."""
        found: dict[str, list[psutil.Process]] = {}
        for name, pid in self.pids.items():
            try:
                proc = psutil.Process(pid)
                found[name] = [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                found[name] = []
        pg_pid = _postmaster_pid(self.postgres.data_dir)
        if pg_pid is not None:
            with _suppress_gone():
                pm = psutil.Process(pg_pid)
                found["postgres"] = [pm, *pm.children(recursive=True)]
        found["bench driver"] = [psutil.Process(os.getpid())]
        return found

    def cpu_seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, procs in self.processes().items():
            total = 0.0
            for proc in procs:
                with _suppress_gone():
                    times = proc.cpu_times()
                    total += times.user + times.system
            totals[name] = total
        return totals

    async def wait_until_idle(self, *, below_cores: float = 0.25, window_s: float = 1.0,
                              max_wait_s: float = 120.0) -> float:
        """Wait until the stack's processes together use less than `below_cores` of CPU over `window_s` (the local
        chain's slots and the servers' polling keep an idle stack at about 0.1 here), so work one measurement left
        queued — a bare start's workflows still to run — does not land in the next one. Returns the seconds waited."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        while loop.time() - started < max_wait_s:
            before = self.cpu_seconds()
            await asyncio.sleep(window_s)
            after = self.cpu_seconds()
            busy = sum(after[name] - before.get(name, 0.0) for name in after if name != "bench driver") / window_s
            if busy < below_cores:
                break
        return loop.time() - started

    def rss_mib(self, name: str) -> float:
        total = 0
        for proc in self.processes().get(name, []):
            with _suppress_gone():
                total += proc.memory_info().rss
        return total / 2**20


class _suppress_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        return isinstance(exc, psutil.NoSuchProcess | psutil.AccessDenied | psutil.ZombieProcess)


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def prometheus_sums(text: str, by_label: str | None = None) -> dict[str, float]:
    """Prometheus text exposition → each sample name's value summed over its label sets; with `by_label`, samples
    carrying that label are summed per value of it, keyed `name{label="value"}`."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_and_labels, _, value = line.rpartition(" ")
        name = name_and_labels.split("{", 1)[0]
        if by_label is not None and (kept := re.search(rf'[{{,]{re.escape(by_label)}="([^"]*)"', name_and_labels)):
            name = f'{name}{{{by_label}="{kept.group(1)}"}}'
        try:
            sums[name] = sums.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return sums


def temporal_argv(root: Path, port: int, metrics_port: int) -> list[str]:
    return dev_server_argv(  # as `make run`, headless
        port=port, http_port=free_tcp_port(), metrics_port=metrics_port, db_file=root / "temporal.db"
    )


@asynccontextmanager
async def bench_stack(*, profile_worker: Path | None = None, unsandboxed: bool = False) -> AsyncIterator[BenchStack]:
    if not PROGRAM_SO.exists():
        raise RuntimeError(f"missing {PROGRAM_SO}: run `make program`")
    root = Path(tempfile.mkdtemp(prefix="ev-bench-"))
    os.chmod(root, 0o755)  # noqa: S103 (the embedded server runs as an unprivileged user when we are root)
    postgres = EmbeddedPostgres(root / "pg", free_tcp_port())
    sup = Supervisor(root / "log")
    try:
        dsn = await asyncio.to_thread(postgres.start)
        t_port, rpc_port, api_port, bare_port = free_tcp_port(), free_port_pair(), free_tcp_port(), free_tcp_port()
        t_metrics_port = free_tcp_port()
        temporal_address = f"127.0.0.1:{t_port}"
        rpc_url = f"http://127.0.0.1:{rpc_port}"
        token = secrets.token_urlsafe(24)
        env = {
            "DATABASE_URL": dsn,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_TASK_QUEUE": TASK_QUEUE,
            "SOLANA_RPC_URL": rpc_url,
            "KEK_PROVIDER": "env",
            "KEK_KEYS": f"bench:{base64.b64encode(os.urandom(32)).decode()}",
            "KEK_ACTIVE_ID": "bench",
            "API_SERVICE_TOKEN": token,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(api_port),
            "RATE_LIMIT_PER_MINUTE": "100000000",  # load generators reuse wallets
            "CLEANER_KEYPAIR_PATH": str(root / "cleaner.json"),
            "PYTHONUNBUFFERED": "1",
        }
        settings = Settings(temporal_address=temporal_address, temporal_task_queue=TASK_QUEUE)
        profile_path = profile_worker  # cProfile writes it when the worker exits (main thread: the activities)
        worker_argv = python_argv(str(REPO_ROOT / "worker.py"))
        worker_metrics, trivial_metrics = f"127.0.0.1:{free_tcp_port()}", f"127.0.0.1:{free_tcp_port()}"
        worker_env = {**env, "WORKER_WORKFLOW_SANDBOX": "false" if unsandboxed else "true",
                      "WORKER_METRICS_ADDRESS": worker_metrics}
        if profile_path is not None:
            worker_argv = python_argv("-m", "cProfile", "-o", str(profile_path), str(REPO_ROOT / "worker.py"))
        rpc_probe = b'{"jsonrpc":"2.0","id":1,"method":"getHealth"}'
        trivial_settings = Settings(temporal_address=temporal_address, temporal_task_queue=TRIVIAL_TASK_QUEUE)
        services = [
            Service("temporal", temporal_argv(root, t_port, t_metrics_port), tcp_probe("127.0.0.1", t_port)),
            Service("localnet", python_argv("-m", "localnet", "--host", "127.0.0.1", "--port", str(rpc_port)),
                    http_probe(rpc_url, rpc_probe)),
            Service("worker", worker_argv, worker_polling_probe(settings), env=worker_env),
            Service("api", python_argv("-m", "api"), http_probe(f"http://127.0.0.1:{api_port}/readyz"), env=env),
            Service("trivial worker", python_argv("-m", "bench.trivial", "worker"),
                    worker_polling_probe(trivial_settings), env={**env, "WORKER_METRICS_ADDRESS": trivial_metrics}),
            Service("bare api", python_argv("-m", "bench.trivial", "api", "--port", str(bare_port)),
                    http_probe(f"http://127.0.0.1:{bare_port}/healthz"), env=env),
        ]
        stack = BenchStack(
            root=root, dsn=dsn, temporal_address=temporal_address, rpc_url=rpc_url,
            api_url=f"http://127.0.0.1:{api_port}", bare_url=f"http://127.0.0.1:{bare_port}", service_token=token,
            supervisor=sup, postgres=postgres, profile_path=profile_path,
            metrics_urls={"worker": f"http://{worker_metrics}/metrics",
                          "trivial worker": f"http://{trivial_metrics}/metrics",
                          "temporal": f"http://127.0.0.1:{t_metrics_port}/metrics"},
        )
        for service in services:
            if service.name == "worker":
                await _fund_cleaner(rpc_url, root / "cleaner.json")
            await sup.start(service)
            assert service.process is not None
            stack.pids[service.name] = service.process.pid
        yield stack
    finally:
        await sup.stop_all()
        # Blocking, not to_thread: after Ctrl-C/SIGTERM this finally runs inside a cancelled task, and an awaited
        # thread would be abandoned when asyncio.run shuts down, leaving PostgreSQL running.
        postgres.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


async def _fund_cleaner(rpc_url: str, path: Path) -> None:
    from activities.resources import load_or_create_cleaner_keypair
    from ephemeral_vault.chain.client import ChainClient

    cleaner = load_or_create_cleaner_keypair(path)
    async with ChainClient(rpc_url, poll_interval_seconds=0.05) as chain:
        await chain.request_airdrop(cleaner.pubkey(), 100 * 1_000_000_000)
