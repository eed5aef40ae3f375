"""Replay: histories exported from real runs of every path (tests/workflows/histories, regenerated with
`EV_EXPORT_HISTORIES=1 pytest tests/workflows`) must replay against today's workflow code. A change that alters
the commands a recorded history expects (an activity added, removed or reordered, a timer moved) fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

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


async def test_a_changed_lifecycle_fails_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay check can fail: a timer inserted before provisioning is a command no recorded history has."""
    history = WorkflowHistory.from_json("replay-changed", (HISTORIES / "approve.json").read_text())
    original = SessionWorkflow._provision

    async def changed(self: SessionWorkflow) -> bool:
        await workflow.sleep(1)
        return await original(self)

    monkeypatch.setattr(SessionWorkflow, "_provision", changed)
    replayer = Replayer(workflows=[SessionWorkflow], workflow_runner=UnsandboxedWorkflowRunner())

    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)

    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
