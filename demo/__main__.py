"""`make demo` / `python -m demo [--expire] [--trades N]`: play a frontend against the stack `make run` started.

Where the stack is comes from the same settings as `make run` (API_HOST/API_PORT, SOLANA_RPC_URL or
LOCALNET_HOST/LOCALNET_PORT, TEMPORAL_ADDRESS, TEMPORAL_UI_PORT, TEMPORAL_TASK_QUEUE); the DEX integration's bearer
token from API_SERVICE_TOKEN or `var/devstack.env` (written by `make run`). Exit status: 0 done, 2 the stack is not
running, 1 a step failed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from rich.console import Console

from demo.flow import MIN_SESSION_SECONDS, DemoError, DemoOptions, DemoTarget, Reporter, StackNotRunning, run_demo
from devstack.dev_env import DEV_ENV_PATH, read_env_file
from ephemeral_vault.chain.client import redact_url
from ephemeral_vault.settings import Settings, settings_or_exit


def target_from_settings(settings: Settings) -> DemoTarget:
    token = settings.api_service_token.get_secret_value() if settings.api_service_token else None
    token = token or read_env_file(DEV_ENV_PATH).get("API_SERVICE_TOKEN")
    rpc_url = os.environ.get("SOLANA_RPC_URL") or f"http://{settings.localnet_host}:{settings.localnet_port}"
    return DemoTarget(
        api_url=f"http://{settings.api_host}:{settings.api_port}",
        rpc_url=rpc_url,
        service_token=token,
        temporal_ui_url=f"http://127.0.0.1:{settings.temporal_ui_port}",
        namespace=settings.temporal_namespace,
        temporal_address=settings.temporal_address,
        task_queue=settings.temporal_task_queue,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=3, help="trades through the trade endpoint (default 3)")
    parser.add_argument("--expire", action="store_true",
                        help=f"let the session expire ({MIN_SESSION_SECONDS}s) instead of revoking it")
    parser.add_argument("--session-seconds", type=int, default=None,
                        help=f"session duration (default 3600, or {MIN_SESSION_SECONDS} with --expire)")
    parser.add_argument("--api-url", default=None, help="override the API base URL")
    parser.add_argument("--rpc-url", default=None, help="override the chain's JSON-RPC URL")
    args = parser.parse_args(argv)
    if args.trades < 1:
        parser.error("--trades must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    target = target_from_settings(settings_or_exit())
    if args.api_url or args.rpc_url:
        target = DemoTarget(**{**target.__dict__, "api_url": args.api_url or target.api_url,
                               "rpc_url": args.rpc_url or target.rpc_url})
    options = DemoOptions(trades=args.trades, expire=args.expire, session_seconds=args.session_seconds)
    console = Console(highlight=False, soft_wrap=True)
    mode = "expire" if options.expire else "revoke"
    console.print(f"[bold]Ephemeral Vault demo[/] — API {target.api_url}, chain {redact_url(target.rpc_url)}, "
                  f"{options.trades} trades, then {mode}")
    try:
        result = asyncio.run(run_demo(target, options, Reporter(console)))
    except StackNotRunning as exc:
        console.print(f"\n[bold red]The stack is not running:[/] {exc}")
        return 2
    except DemoError as exc:
        console.print(f"\n[bold red]Demo failed:[/] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("\ninterrupted")
        return 130
    console.print(f"\n[bold green]Done:[/] session {result.session_id} {result.final_status} "
                  f"after {result.trade_count} trades.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
