"""Replay: histories exported from real runs of every path (tests/workflows/histories, regenerated with
`EV_EXPORT_HISTORIES=1 pytest tests/workflows`) must replay against today's workflow code. A change that alters
the commands a recorded history expects (an activity added, removed or reordered, a timer moved) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from workflows.session import SessionWorkflow
from workflows.vault_sweep import VaultSweepWorkflow

HISTORIES = Path(__file__).parent / "histories"
REQUIRED = {
    "abandoned", "approve", "continue_as_new", "deposit", "expiry", "revoke", "trade_after_expiry",
    "trades_and_duplicates", "validator_rejections", "vault_sweep",
}  # fmt: skip


def test_every_path_has_a_recorded_history() -> None:
    assert REQUIRED <= {p.stem for p in HISTORIES.glob("*.json")}


@pytest.mark.parametrize(
    ("name", "text"), [(p.stem, p.read_text()) for p in sorted(HISTORIES.glob("*.json"))], ids=lambda v: v[:40]
)
async def test_recorded_history_replays_on_current_code(name: str, text: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", text)

    result = await Replayer(workflows=[SessionWorkflow, VaultSweepWorkflow]).replay_workflow(
        history, raise_on_replay_failure=False
    )

    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
