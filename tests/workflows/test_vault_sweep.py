"""VaultSweepWorkflow: cleans vaults expired on chain that no running SessionWorkflow owns — a vault a client opened
without the backend, a session whose workflow was terminated — and leaves owned ones to their workflow; runs the
anomaly rules over the sessions with recent transactions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from ephemeral_vault.analytics import list_anomalies
from ephemeral_vault.chain.session_tx import build_session_opening, verify_parent_signed
from ephemeral_vault.db import ledger, session_keys, sessions
from tests.db.factories import active_session, recorded_trade
from tests.workflows.conftest import MAX_DEPOSIT, Harness, wallet_sign, warp_chain
from workflows.messages import VaultSweepInput, VaultSweepOutcome
from workflows.vault_sweep import VaultSweepWorkflow


async def test_sweep_cleans_expired_vaults_that_no_workflow_owns(harness: Harness, parent) -> None:
    # A vault opened on chain by a client that never told the backend (no session row at all).
    stray_delegate = Keypair()
    offer = await build_session_opening(
        harness.chain,
        parent.pubkey(),
        stray_delegate.pubkey(),
        session_duration=60,
        max_deposit=MAX_DEPOSIT,
        initial_deposit=1_000_000,
    )
    await harness.chain.send_and_confirm(
        verify_parent_signed(offer.unsigned, wallet_sign(offer.unsigned.transaction_base64, parent))
    )
    # A session whose workflow an operator terminated while it was ACTIVE.
    orphan, orphan_handle, _ = await harness.open(parent, session_duration_seconds=60)
    await orphan_handle.terminate("operator intervention")
    # A session whose workflow is alive: the sweep must leave it alone.
    owned, _, _ = await harness.open(parent, session_duration_seconds=60)
    await warp_chain(harness.localnet_url, 65)

    assert harness.env is not None
    with harness.env.auto_time_skipping_disabled():  # keep the owned session's own timer from firing meanwhile
        handle = await harness.client.start_workflow(
            VaultSweepWorkflow.run, VaultSweepInput(), id=f"sweep-{uuid.uuid4()}", task_queue=harness.task_queue
        )
        outcome: VaultSweepOutcome = await handle.result()

    assert (outcome.cleaned, outcome.failed, outcome.skipped_owned) == (2, 0, 1)
    assert await harness.chain.raw_account(Pubkey.from_string(offer.vault)) is None
    assert await harness.chain.raw_account(Pubkey.from_string(orphan.vault_pda)) is None
    assert await harness.chain.raw_account(Pubkey.from_string(owned.vault_pda)) is not None
    orphan_id = uuid.UUID(orphan.session_id)
    assert (await sessions.get_session(harness.pool, orphan_id)).status == "CLEANED"
    assert (await session_keys.load_session_key(harness.pool, orphan_id)).is_shredded
    assert await harness.chain.balance(Pubkey.from_string(orphan.ephemeral_pubkey)) == 0  # fee float swept
    orphan_cleanup = await ledger.list_cleanups(harness.pool, orphan_id)
    assert [c.trigger for c in orphan_cleanup] == ["sweep"]
    assert len(outcome.signatures) == 2 and orphan_cleanup[0].signature in outcome.signatures
    await harness.export_history(handle, "vault_sweep")


async def test_sweep_runs_the_anomaly_rules_over_recently_active_sessions(harness: Harness) -> None:
    """A session whose last three transactions failed: the sweep raises one repeated_failures anomaly, a quiet
    session raises none, and the next sweep over the same history raises nothing new."""
    session = await active_session(harness.pool, session_expiry=datetime.now(UTC) + timedelta(days=30))
    quiet = await active_session(harness.pool, session_expiry=datetime.now(UTC) + timedelta(days=30))
    await recorded_trade(harness.pool, quiet.id)
    for _ in range(3):
        await recorded_trade(harness.pool, session.id, status="failed")
    # The time-skipping server's clock (the workflow's now) runs ahead of the database's by whatever earlier tests
    # skipped: look back that far, plus the hour these transactions are within.
    assert harness.env is not None
    ahead = (await harness.env.get_current_time()) - datetime.now(UTC)
    sweep_input = VaultSweepInput(analysis_lookback_seconds=int(ahead.total_seconds()) + 3_600)

    outcomes: list[VaultSweepOutcome] = []
    with harness.env.auto_time_skipping_disabled():
        for run in range(2):
            handle = await harness.client.start_workflow(
                VaultSweepWorkflow.run, sweep_input, id=f"sweep-{uuid.uuid4()}", task_queue=harness.task_queue
            )
            outcomes.append(await handle.result())
            if run == 0:
                await harness.export_history(handle, "vault_sweep_analysis")

    assert [(o.sessions_analysed, o.anomalies_raised) for o in outcomes] == [(2, 1), (2, 0)]
    found = await list_anomalies(harness.pool)
    assert [(a.session_id, a.rule, a.severity, a.details["failures"]) for a in found] == [
        (session.id, "repeated_failures", "medium", 3)
    ]
