"""VaultSweepWorkflow (the seed's VaultMonitor) and the Temporal Schedule that runs it every few minutes.

Each run also runs the anomaly rules over the sessions with recent transactions (off the trading path: a trade pays
nothing for it; a finding shows up within one sweep interval, as a row in `anomalies`, an event on the session's
stream and a warning in the worker's log).

A session workflow cleans its own vault; the sweep is the safety net for what no workflow owns any more: a vault
whose workflow was terminated, a session row left open by an operator's intervention, a vault a client opened on
chain without ever creating or approving a session. Why a Schedule and not a cron workflow: schedules can be paused,
triggered and inspected by operators, and overlapping runs are skipped by policy instead of piling up.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.chain import ChainActivities
    from activities.models import AnalysisInput, CleanupInput, FeeFloatInput, SessionRef
    from activities.sweep import SweepActivities
    from workflows.messages import (
        VAULT_SWEEP_SCHEDULE_ID,
        VAULT_SWEEP_WORKFLOW_NAME,
        VaultSweepInput,
        VaultSweepOutcome,
    )

SCAN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=5
)
# One orphan's failure must not block the others; the next scheduled sweep retries it anyway.
CLEANUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=3
)


ANALYSIS_PATCH = "anomaly-analysis-in-sweep"


@workflow.defn(name=VAULT_SWEEP_WORKFLOW_NAME)
class VaultSweepWorkflow:
    @workflow.run
    async def run(self, req: VaultSweepInput) -> VaultSweepOutcome:
        scan = await workflow.execute_activity_method(
            SweepActivities.find_orphaned_vaults,
            req,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=SCAN_RETRY,
        )
        cleaned, failed, signatures = 0, 0, []
        for orphan in scan.orphans:
            try:
                outcome = await workflow.execute_activity_method(
                    ChainActivities.cleanup_vault_onchain,
                    CleanupInput(
                        session_id=orphan.session_id,
                        parent_wallet=orphan.parent_wallet,
                        vault_pda=orphan.vault_pda,
                        trigger="sweep",
                    ),
                    start_to_close_timeout=timedelta(seconds=120),
                    heartbeat_timeout=timedelta(seconds=10),
                    retry_policy=CLEANUP_RETRY,
                )
                if orphan.session_id is not None:
                    try:
                        await workflow.execute_activity_method(
                            ChainActivities.sweep_fee_float,
                            FeeFloatInput(session_id=orphan.session_id, parent_wallet=orphan.parent_wallet),
                            start_to_close_timeout=timedelta(seconds=60),
                            retry_policy=CLEANUP_RETRY,
                        )
                    except ActivityError:
                        workflow.logger.warning("sweep: fee float of %s not swept", orphan.session_id)
                    await workflow.execute_activity_method(
                        SweepActivities.close_orphan_session,
                        SessionRef(session_id=orphan.session_id),
                        start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=CLEANUP_RETRY,
                    )
            except ActivityError as err:
                failed += 1
                workflow.logger.warning("sweep: cleanup of %s failed: %s", orphan.vault_pda, err.cause)
                continue
            cleaned += 1
            if outcome.signature:
                signatures.append(outcome.signature)
        analysed, raised = 0, 0
        # Sweeps recorded before the anomaly monitor existed replay without it.
        if workflow.patched(ANALYSIS_PATCH):
            try:
                analysis = await workflow.execute_activity_method(
                    SweepActivities.analyse_recent_sessions,
                    AnalysisInput(
                        since_unix=int(workflow.now().timestamp()) - req.analysis_lookback_seconds,
                        max_sessions=req.max_sessions_analysed,
                    ),
                    start_to_close_timeout=timedelta(seconds=120),
                    heartbeat_timeout=timedelta(seconds=30),
                    retry_policy=SCAN_RETRY,
                )
                analysed, raised = analysis.sessions_analysed, len(analysis.raised)
                for found in analysis.raised:
                    workflow.logger.warning("anomaly %s (%s) on session %s: %s", found.rule, found.severity,
                                            found.session_id, found.evidence_key)
            except ActivityError as err:  # the next sweep looks at the same window again
                workflow.logger.warning("sweep: anomaly analysis failed: %s", err.cause)
        return VaultSweepOutcome(
            examined=scan.examined,
            cleaned=cleaned,
            skipped_owned=scan.skipped_owned,
            failed=failed,
            signatures=signatures,
            sessions_analysed=analysed,
            anomalies_raised=raised,
        )


async def ensure_vault_sweep_schedule(client: Client, task_queue: str, interval_seconds: int) -> None:
    """Create the schedule, or bring an existing one's interval and task queue up to date (every worker calls this
    at start; the first creates, the others update to the same values)."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            VAULT_SWEEP_WORKFLOW_NAME,
            VaultSweepInput(analysis_lookback_seconds=3 * interval_seconds),
            id=f"{VAULT_SWEEP_SCHEDULE_ID}-run",
            task_queue=task_queue,
            static_summary="Vault sweep: clean expired or revoked vaults no session workflow owns; run the anomaly "
                           "rules over recently active sessions",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=interval_seconds))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(VAULT_SWEEP_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(VAULT_SWEEP_SCHEDULE_ID).update(replace)
