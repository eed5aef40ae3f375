"""`make demo` as a test: the demo's own flow (`demo.flow.run_demo`) against a stack the fixtures start — the API
(real uvicorn), the Temporal dev server with a real worker, PostgreSQL and the local chain — and `python -m demo`'s
answer when no stack is running."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from rich.console import Console

from demo.flow import DemoOptions, DemoTarget, Reporter, StackNotRunning, run_demo
from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.settings import REPO_ROOT
from tests.api.conftest import SERVICE_TOKEN, api_factory, stack
from tests.api.stack import SOL, Stack

__all__ = ["api_factory", "stack"]  # fixtures, imported so pytest finds them here


async def test_demo_opens_trades_revokes_and_the_parent_gets_the_rest_back(stack: Stack) -> None:
    target = DemoTarget(
        api_url=stack.api.base_url, rpc_url=stack.chain.rpc_url, service_token=SERVICE_TOKEN,
        temporal_address=stack.temporal.service_client.config.target_host, task_queue=stack.task_queue,
    )
    printed = io.StringIO()
    result = await run_demo(target, DemoOptions(trades=3), Reporter(Console(file=printed, soft_wrap=True)))
    output = printed.getvalue()

    assert (result.final_status, result.trade_count, result.total_spent) == ("CLEANED", 3, 15_000)
    assert len(set(result.trade_signatures)) == 3
    final, traded = result.balances["final"], result.balances["traded"]
    assert final.vault is None  # closed: rent and leftovers went to the parent
    assert traded.vault is not None and traded.parent is not None and final.parent is not None
    assert final.parent >= traded.parent + traded.vault - SOL // 100  # everything back but fees and the reward
    assert not final.delegate  # the fee float was swept back too
    assert f"/namespaces/default/workflows/session-{result.session_id}" in output
    assert "query=ParentWallet" in output and "CLEANED" in output
    assert SERVICE_TOKEN not in output


async def test_demo_says_the_stack_is_not_running() -> None:
    dead = f"http://127.0.0.1:{free_tcp_port()}"
    with pytest.raises(StackNotRunning, match="make run"):
        await run_demo(DemoTarget(api_url=dead, rpc_url=dead, service_token="x"), DemoOptions(),
                       Reporter(Console(file=io.StringIO())))


def test_make_demo_exits_2_with_a_clear_message_when_nothing_runs() -> None:
    dead = f"http://127.0.0.1:{free_tcp_port()}"
    proc = subprocess.run(
        [sys.executable, "-m", "demo", "--api-url", dead, "--rpc-url", dead],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "The stack is not running" in proc.stdout and "make run" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
