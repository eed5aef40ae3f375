"""Database activities: lifecycle transitions (validated + NOTIFY by the repository), delegation history, policy.

Each is idempotent because the repository is: a transition to the status a session already has writes nothing, a
delegation event is recorded once per session.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio import activity

from activities.models import DelegationRecord, StatusChange
from activities.resources import Resources
from ephemeral_vault.db import ledger, sessions
from ephemeral_vault.db.errors import InvalidStatusTransitionError
from workflows.messages import SessionPolicy


class DatabaseActivities:
    def __init__(self, resources: Resources) -> None:
        self.r = resources

    @activity.defn
    async def load_session_policy(self) -> SessionPolicy:
        """The server's settings, read once per session so every replay (on any worker) sees the same values."""
        return SessionPolicy(
            approval_window_seconds=self.r.approval_window_seconds,
            revoke_window_seconds=self.r.revoke_window_seconds,
            chain_poll_seconds=self.r.chain_poll_seconds,
            max_trades_per_run=self.r.max_trades_per_run,
            fee_float_lamports=self.r.fee_float_lamports,
        )

    @activity.defn
    async def transition_session_status(self, change: StatusChange) -> None:
        session_id = uuid.UUID(change.session_id)
        expiry = None if change.session_expiry is None else datetime.fromtimestamp(change.session_expiry, UTC)
        try:
            await sessions.transition_status(
                self.r.pool,
                session_id,
                change.status,
                actor="workflow",
                details=dict(change.details),
                last_error=change.last_error,
                session_expiry=expiry,
            )
        except InvalidStatusTransitionError:
            # The row moved on without this workflow (e.g. the sweep cleaned an orphan it thought abandoned): the
            # database keeps the furthest state; the workflow's own state is what it reports.
            current = await sessions.get_session(self.r.pool, session_id)
            activity.logger.warning(
                "session %s: %s -> %s not allowed; kept %s", session_id, current.status, change.status, current.status
            )

    @activity.defn
    async def record_delegation_event(self, rec: DelegationRecord) -> None:
        await ledger.record_delegation(
            self.r.pool,
            uuid.UUID(rec.session_id),
            rec.event,
            delegate=rec.delegate,
            delegation_pda=rec.delegation_pda,
            signature=rec.signature,
            actor="workflow",
        )
