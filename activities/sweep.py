"""VaultSweep activities (the seed's VaultMonitor): find vaults that are expired or revoked ON CHAIN, or sessions the
database still holds open past expiry, that no running SessionWorkflow owns — and close the orphaned session rows;
run the anomaly rules (ephemeral_vault/analytics.py) over the sessions with recent transactions.

The cleanup itself is `ChainActivities.cleanup_vault_onchain` (trigger "sweep"), the same idempotent activity the
session workflow uses, so a sweep racing a workflow can only find the vault already closed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities.errors import from_chain_error
from activities.models import AnalysisInput, AnalysisOutcome, OrphanScan, OrphanVault, RaisedAnomaly, SessionRef
from activities.resources import Resources
from ephemeral_vault.analytics import analyse_session, sessions_with_activity_since
from ephemeral_vault.chain.errors import ChainError
from ephemeral_vault.db import session_keys, sessions
from ephemeral_vault.db.errors import InvalidStatusTransitionError
from ephemeral_vault.db.status import SessionStatus as DbStatus
from workflows.messages import VaultSweepInput


class SweepActivities:
    def __init__(self, resources: Resources) -> None:
        self.r = resources

    async def _owned_by_running_workflow(self, workflow_id: str) -> bool:
        if self.r.temporal is None:
            return False
        try:
            desc = await self.r.temporal.get_workflow_handle(workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return desc.status == WorkflowExecutionStatus.RUNNING

    @activity.defn
    async def find_orphaned_vaults(self, req: VaultSweepInput) -> OrphanScan:
        try:
            now = await self.r.chain.clock_unix_timestamp()
            vaults = await self.r.chain.program_vaults()
        except ChainError as exc:
            raise from_chain_error(exc) from None
        due = [v for v in vaults if not v.is_active or v.session_expiry <= now]
        by_vault: dict[str, tuple[str, str]] = {}
        if due:
            rows = await self.r.pool.fetch(
                "SELECT id, vault_pda, workflow_id FROM sessions WHERE vault_pda = ANY($1::text[])",
                [str(v.address) for v in due],
            )
            by_vault = {r["vault_pda"]: (str(r["id"]), r["workflow_id"]) for r in rows}
        orphans: list[OrphanVault] = []
        skipped = 0
        for vault in due:
            session = by_vault.get(str(vault.address))
            if session is not None and await self._owned_by_running_workflow(session[1]):
                skipped += 1
                continue
            orphans.append(
                OrphanVault(
                    vault_pda=str(vault.address),
                    parent_wallet=str(vault.parent),
                    session_id=session[0] if session else None,
                    reason="revoked on chain" if not vault.is_active else "expired on chain",
                )
            )
            if len(orphans) >= req.max_vaults:
                break
        # Sessions the database still holds open past expiry whose vault is already gone from chain: only the row
        # needs closing (nothing to clean on chain).
        on_chain = {str(v.address) for v in vaults}
        for row in await sessions.list_expired_sessions(
            self.r.pool, now=datetime.fromtimestamp(now, UTC), limit=req.max_vaults
        ):
            if row.vault_pda in on_chain or any(o.vault_pda == row.vault_pda for o in orphans):
                continue
            if await self._owned_by_running_workflow(row.workflow_id):
                skipped += 1
                continue
            orphans.append(
                OrphanVault(
                    vault_pda=row.vault_pda,
                    parent_wallet=row.parent_wallet,
                    session_id=str(row.id),
                    reason="open in the database, gone from chain",
                )
            )
        return OrphanScan(orphans=orphans, examined=len(vaults), skipped_owned=skipped)

    @activity.defn
    async def close_orphan_session(self, ref: SessionRef) -> None:
        """After the sweep cleaned (or found gone) an orphan's vault: shred its key, mark the row CLEANED."""
        session_id = uuid.UUID(ref.session_id)
        await session_keys.shred_session_key(self.r.pool, session_id, actor="sweep")
        current = await sessions.get_session(self.r.pool, session_id)
        steps = {
            DbStatus.ACTIVE: [DbStatus.EXPIRED, DbStatus.CLEANED],
            DbStatus.EXPIRED: [DbStatus.CLEANED],
            DbStatus.REVOKED: [DbStatus.CLEANED],
        }.get(current.status, [])
        for step in steps:
            try:
                await sessions.transition_status(
                    self.r.pool, session_id, step, actor="sweep", details={"by": "vault sweep"}
                )
            except InvalidStatusTransitionError:
                return

    @activity.defn
    async def analyse_recent_sessions(self, req: AnalysisInput) -> AnalysisOutcome:
        """Refresh metrics and run the anomaly rules for each session with a transaction since `since_unix`. The
        rules are idempotent (a finding is keyed by its evidence), so overlapping windows only cost a re-read; each
        session is its own transaction, and a retry after a failure part-way redoes the same work."""
        since = datetime.fromtimestamp(req.since_unix, UTC)
        session_ids = await sessions_with_activity_since(self.r.pool, since, limit=req.max_sessions)
        raised: list[RaisedAnomaly] = []
        for session_id in session_ids:
            activity.heartbeat(str(session_id))
            analysis = await analyse_session(self.r.pool, session_id)
            raised.extend(
                RaisedAnomaly(session_id=str(a.session_id), rule=a.rule, severity=a.severity,
                              evidence_key=a.evidence_key)
                for a in analysis.raised
            )
        return AnalysisOutcome(sessions_analysed=len(session_ids), raised=raised)
