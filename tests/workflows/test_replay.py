"""Replay: histories exported from real runs of every path (tests/workflows/histories, regenerated with
`EV_EXPORT_HISTORIES=1 pytest tests/workflows`) must replay against today's workflow code. A change that alters
the commands a recorded history expects (an activity added, removed or reordered, a timer moved) fails here.

`histories/before_local_activities/` keeps the histories recorded before the short steps became local activities
(workflows/session.py, LOCAL_STEPS_PATCH): sessions started by the earlier code must still replay, and finish, on
today's."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from ephemeral_vault.payload_converter import DATA_CONVERTER
from workflows.session import SessionWorkflow
from workflows.vault_sweep import VaultSweepWorkflow

HISTORIES = Path(__file__).parent / "histories"
REQUIRED = {
    "abandoned", "approve", "continue_as_new", "deposit", "expiry", "revoke", "trade_after_expiry",
    "trades_and_duplicates", "validator_rejections", "vault_sweep",
}  # fmt: skip


BEFORE_LOCAL_ACTIVITIES = HISTORIES / "before_local_activities"


def test_every_path_has_a_recorded_history() -> None:
    assert REQUIRED <= {p.stem for p in HISTORIES.glob("*.json")}
    assert REQUIRED <= {p.stem for p in BEFORE_LOCAL_ACTIVITIES.glob("*.json")}


def local_activity_types(history_json: str) -> list[str]:
    """The activity types a history ran as local activities (core SDK markers; their details are JSON payloads)."""
    found = []
    for event in json.loads(history_json)["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_local_activity":
            data = json.loads(base64.b64decode(marker["details"]["data"]["payloads"][0]["data"]))
            found.append(data["activity_type"])
    return found


def test_todays_histories_run_short_steps_as_local_activities() -> None:
    """The recorded histories are today's code's (exported after the change), the older ones the earlier code's."""
    today = {p.stem: local_activity_types(p.read_text()) for p in HISTORIES.glob("*.json")}
    assert {"load_session_policy", "provision_session_key", "build_session_opening_transaction"} <= set(
        today["approve"]
    )
    assert "transition_session_status" in today["revoke"] and "shred_session_key" in today["revoke"]
    assert not any(local_activity_types(p.read_text()) for p in BEFORE_LOCAL_ACTIVITIES.glob("*.json"))


@pytest.mark.parametrize(
    ("name", "text"),
    [(str(p.relative_to(HISTORIES).with_suffix("")), p.read_text()) for p in sorted(HISTORIES.rglob("*.json"))],
    ids=lambda v: v[:60],
)
async def test_recorded_history_replays_on_current_code(name: str, text: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{name}", text)

    replayer = Replayer(workflows=[SessionWorkflow, VaultSweepWorkflow], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)

    assert result.replay_failure is None, f"{name}: {result.replay_failure}"


async def test_a_changed_lifecycle_fails_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay check can fail: a timer inserted before provisioning is a command no recorded history has."""
    history = WorkflowHistory.from_json("replay-changed", (HISTORIES / "approve.json").read_text())
    original = SessionWorkflow._provision

    async def changed(self: SessionWorkflow) -> bool:
        await workflow.sleep(1)
        return await original(self)

    monkeypatch.setattr(SessionWorkflow, "_provision", changed)
    replayer = Replayer(workflows=[SessionWorkflow], workflow_runner=UnsandboxedWorkflowRunner(),
                        data_converter=DATA_CONVERTER)

    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)

    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()


def scheduled_activity_types(history_json: str) -> list[str]:
    return [event["activityTaskScheduledEventAttributes"]["activityType"]["name"]
            for event in json.loads(history_json)["events"] if "activityTaskScheduledEventAttributes" in event]


def test_sweeps_replay_with_and_without_the_anomaly_monitor() -> None:
    """Both sweep histories replay (test above): one recorded before the monitor existed (ANALYSIS_PATCH absent),
    one after."""
    before = scheduled_activity_types((HISTORIES / "vault_sweep.json").read_text())
    after = scheduled_activity_types((HISTORIES / "vault_sweep_analysis.json").read_text())
    assert "analyse_recent_sessions" not in before
    assert after[-1] == "analyse_recent_sessions"
