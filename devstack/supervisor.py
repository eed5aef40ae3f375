"""A small process supervisor: start services in order, wait for each to be ready, stop them all cleanly.

Why not honcho/supervisord: the stack needs ordered start-up with readiness probes (PostgreSQL before migrations,
Temporal before the worker, the chain before the API) and one Ctrl-C that stops everything in reverse order. That is
sixty lines, and it keeps `make run` free of another daemon to install.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ReadyProbe = Callable[[], Awaitable[bool]]


@dataclass
class Service:
    name: str
    argv: list[str]
    ready: ReadyProbe
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 120.0
    log_path: Path | None = None
    process: asyncio.subprocess.Process | None = None


def tcp_probe(host: str, port: int) -> ReadyProbe:
    async def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe


class Supervisor:
    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.services: list[Service] = []

    async def start(self, service: Service) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        service.log_path = self.log_dir / f"{service.name}.log"
        log = service.log_path.open("ab")
        env = {**os.environ, **service.env}
        # A new process group per child, so Ctrl-C in the terminal reaches only us and we stop children in order.
        service.process = await asyncio.create_subprocess_exec(
            *service.argv, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env, start_new_session=True
        )
        self.services.append(service)
        started = time.monotonic()
        dots = 0
        while not await service.ready():
            if service.process.returncode is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode}; see {service.log_path}")
            if time.monotonic() - started > service.ready_timeout_s:
                raise RuntimeError(
                    f"{service.name} not ready after {service.ready_timeout_s:.0f}s; see {service.log_path}"
                )
            dots += 1
            if dots % 10 == 0:
                print(f"  … waiting for {service.name} ({time.monotonic() - started:.0f}s)", flush=True)
            await asyncio.sleep(0.3)
        print(f"  ✓ {service.name} ready ({time.monotonic() - started:.1f}s, log {service.log_path})", flush=True)

    async def wait_any_exit(self) -> Service:
        """Block until one supervised process exits (a crash is a reason to stop the stack, loudly)."""
        waits = {asyncio.ensure_future(s.process.wait()): s for s in self.services if s.process}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        return waits[next(iter(done))]

    async def stop_all(self, grace_s: float = 15.0) -> None:
        for service in reversed(self.services):
            proc = service.process
            if proc is None or proc.returncode is not None:
                continue
            print(f"  stopping {service.name}", flush=True)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]
