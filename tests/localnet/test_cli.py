"""`python -m localnet` with bad flags or an unusable start-up environment: a precise one-line error on stderr, exit 2,
no traceback. Flag values are argparse errors (`error: argument --flag: …`); start-up failures name the flag or file."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.settings import REPO_ROOT
from localnet.ledger import LEDGER_FILE


def run_localnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localnet", "--no-program", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )


def one_free_port() -> list[str]:
    """RPC and PubSub on one free port: a start-up test must not trip over a neighbour holding port + 1."""
    port = str(free_tcp_port())
    return ["--host", "127.0.0.1", "--port", port, "--ws-port", port]


def last_line(run: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stdout == "", run.stdout  # it never got as far as announcing itself
    return run.stderr.strip().splitlines()[-1]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize(("args", "message"), [
    (["--slot-ms", "-5"], "error: argument --slot-ms: -5 must be >= 0"),
    (["--port", "70000"], "error: argument --port: 70000 is not a TCP port (1..65535)"),
    (["--port", "0"], "error: argument --port: 0 is not a TCP port (1..65535)"),
    (["--port", "abc"], "error: argument --port: 'abc' is not an integer"),
    (["--port", "8899", "--ws-port", "65536"], "error: argument --ws-port: 65536 is not a TCP port (1..65535)"),
    (["--port", "65535"], "error: argument --ws-port: the default (--port + 1) is past 65535; give --ws-port"),
    (["--max-body-bytes", "0"], "error: argument --max-body-bytes: 0 must be >= 1"),
])
def test_bad_flag_values_are_argparse_errors(args: list[str], message: str) -> None:
    run = run_localnet(*args)
    assert run.returncode == 2
    assert last_line(run) == f"python -m localnet: {message}"


def test_a_port_in_use_is_one_clear_line(taken_port: int) -> None:
    ws_port = free_tcp_port()
    run = run_localnet("--host", "127.0.0.1", "--port", str(taken_port), "--ws-port", str(ws_port))
    assert run.returncode == 2
    assert last_line(run) == (f"localnet: cannot listen on 127.0.0.1 port {taken_port}, {ws_port} "
                              "(--port/--ws-port, --host): Address already in use")


def test_a_ledger_that_is_a_regular_file_is_refused(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.write_text("not a directory")
    run = run_localnet(*one_free_port(), "--ledger", str(ledger))
    assert run.returncode == 2
    assert last_line(run) == f"python -m localnet: error: argument --ledger: {ledger} exists and is not a directory"


def test_a_ledger_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    ledger = tmp_path / "file" / "ledger"
    run = run_localnet(*one_free_port(), "--ledger", str(ledger))
    assert run.returncode == 2
    assert last_line(run) == f"localnet: --ledger {ledger}: Not a directory"


def test_a_corrupt_ledger_file_is_named(tmp_path: Path) -> None:
    (tmp_path / LEDGER_FILE).write_bytes(b"this is not an SQLite database" * 200)
    run = run_localnet(*one_free_port(), "--ledger", str(tmp_path))
    assert run.returncode == 2
    assert last_line(run) == (f"localnet: --ledger: {tmp_path / LEDGER_FILE} is not a usable ledger "
                              "(file is not a database)")
