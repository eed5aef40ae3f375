"""`python -m bench {orchestration,api,chain,all}`: benchmark figures, each beside a baseline measured in the same
run. Nothing here asserts a timing; it prints tables (and `--json FILE` writes the figures).

Scale: concurrent sessions for `orchestration` default to 10,100,1000 (`--sessions`), or 10,50 with
BENCH_SCALE=small; `api` runs 1, 10 and 50 clients (fewer requests each with BENCH_SCALE=small).
`--profile-worker FILE` runs the real worker under cProfile and prints its top functions (main thread: activities,
the event loop and the SDK's Python side; workflow code runs on executor threads and is not in it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench import api_bench, orchestration
from bench.stack import bench_stack
from ephemeral_vault.payload_converter import DATA_CONVERTER
from ephemeral_vault.settings import REPO_ROOT

MIN_PER_CLIENT, MIN_PER_CLIENT_SMALL = 20, 2


def log(message: str) -> None:
    print(message, flush=True)


def small() -> bool:
    return os.environ.get("BENCH_SCALE", "").lower() == "small"


def _at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
    return value


def positive_int(text: str) -> int:
    return _at_least(text, 1)


def non_negative_int(text: str) -> int:
    return _at_least(text, 0)


def positive_int_list(text: str) -> list[int]:
    """`10,100,1000`: comma-separated counts, each at least 1."""
    return [positive_int(part) for part in text.split(",")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("area", choices=["orchestration", "api", "chain", "all"])
    parser.add_argument("--sessions", type=positive_int_list, default=None,
                        help="concurrent sessions per level (default 10,100,1000; BENCH_SCALE=small: 10,50)")
    parser.add_argument("--trades", type=non_negative_int, default=3, help="trades per lifecycle (default 3)")
    parser.add_argument("--rounds", type=positive_int, default=None,
                        help="lifecycle + ceiling waves per orchestration level, the ratio their median (default "
                             f"{orchestration.DEFAULT_ROUNDS} up to {orchestration.ROUNDED_UP_TO} sessions, 1 above)")
    parser.add_argument("--clients", type=positive_int_list, default=[1, 10, 50],
                        help="API client counts (default 1,10,50)")
    parser.add_argument("--requests", type=positive_int, default=None,
                        help="API requests per level (default 200, BENCH_SCALE=small: 50); at least 20 per client "
                             "(small: 2)")
    parser.add_argument("--profile-worker", type=Path, default=None, help="cProfile the real worker into FILE")
    parser.add_argument("--unsandboxed-worker", action="store_true",
                        help="run the worker with WORKER_WORKFLOW_SANDBOX=false")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    return parser.parse_args(argv)


async def run_stack_benches(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    sessions = args.sessions or ([10, 50] if small() else [10, 100, 1000])
    clients = args.clients
    total = args.requests or (50 if small() else 200)
    log("Starting the embedded stack on free ports (PostgreSQL, Temporal dev server, local chain, worker, API, "
        "baselines) …")
    async with bench_stack(profile_worker=args.profile_worker, unsandboxed=args.unsandboxed_worker) as stack:
        client = await Client.connect(stack.temporal_address, data_converter=DATA_CONVERTER)  # as the API
        if args.area in ("orchestration", "all"):
            log("\n== Orchestration ==")
            levels = []
            for concurrency in sessions:
                rounds = orchestration.rounds_for(concurrency, args.rounds)
                level = await orchestration.run_level(stack, client, concurrency, args.trades, log, rounds)
                levels.append(level)
            figures["orchestration"] = [lv.as_dict() for lv in levels]
            print("\n" + orchestration.render(levels), flush=True)
            for line in orchestration.level_notes(levels):
                log(line)
        if args.area in ("api", "all"):
            log("\n== API ==")
            # At least MIN_PER_CLIENT requests per client: 200 requests over 50 clients was 4 each, and its p99 the
            # second-slowest of 200 answers, nearly all from the moment every client starts at once.
            floor = MIN_PER_CLIENT_SMALL if small() else MIN_PER_CLIENT
            api_levels = [(c, max(floor, total // c)) for c in clients]
            results = await api_bench.run(stack, client, api_levels, log)
            figures["api"] = [r.as_dict() for r in results]
            print("\n" + api_bench.render(results), flush=True)
        log("\nStopping the stack …")
    if args.profile_worker is not None and args.profile_worker.exists():
        print(f"\nWorker profile (cProfile, main thread; {args.profile_worker}), top 25 by own time:", flush=True)
        pstats.Stats(str(args.profile_worker), stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return figures


def run_chain() -> dict[str, Any]:
    """Fold in `make bench-program` (CU per instruction), `make bench-localnet` (node tx/s) and
    `make bench-rpc-transport` (CPU per JSON-RPC request)."""
    figures: dict[str, Any] = {}
    benches = (("program", "tests.program.bench_program"), ("localnet", "localnet.bench"),
               ("rpc_transport", "bench.rpc_transport"))
    for name, module in benches:
        log(f"\n== Chain: python -m {module} ==")
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", module], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=False)
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
        figures[name] = {"returncode": proc.returncode, "output": proc.stdout,
                         "seconds": time.perf_counter() - started}
    return figures


def _interrupt_on_sigterm() -> None:
    """`kill` and `timeout` send SIGTERM, whose default ends the process at once and leaves the stack it started
    (PostgreSQL, Temporal, …) running. Treat it as Ctrl-C: the stack's teardown runs and stops every process."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _interrupt_on_sigterm()
    figures: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count()}
    if args.area in ("chain", "all"):
        figures["chain"] = run_chain()
    if args.area in ("orchestration", "api", "all"):
        figures.update(asyncio.run(run_stack_benches(args)))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
        log(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
