"""Key activities: provision the session's ephemeral key (sealed, stored with the session row), shred it.

The plaintext secret exists only inside custody's calls; what leaves these activities is the public key.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from solders.pubkey import Pubkey
from temporalio import activity

from activities.errors import business
from activities.models import ProvisionedSession, ProvisionSessionInput, SessionRef, ShredResult
from activities.resources import Resources
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.custody import seal_new_session_key
from ephemeral_vault.db import session_keys, sessions
from ephemeral_vault.db.errors import InvalidRecordError
from ephemeral_vault.db.models import NewSession
from workflows.messages import ErrorType


class KeyActivities:
    def __init__(self, resources: Resources) -> None:
        self.r = resources

    @activity.defn
    async def provision_session_key(self, req: ProvisionSessionInput) -> ProvisionedSession:
        """Generate + seal the ephemeral keypair and write the `sessions` row and the sealed key in ONE transaction.

        Idempotent: a retry (or a second worker racing on a timed-out attempt) finds the committed row and returns
        the same public key — the first key is the one the parent will delegate to, so it is never replaced.
        """
        session_id = uuid.UUID(req.session_id)
        existing = await sessions.find_session(self.r.pool, session_id)
        if existing is not None:
            return ProvisionedSession(
                ephemeral_pubkey=existing.ephemeral_pubkey,
                vault_pda=existing.vault_pda,
                delegation_pda=existing.delegation_pda,
                estimated_expiry=int(existing.session_expiry.timestamp()),
                created=False,
            )
        try:
            parent = Pubkey.from_string(req.parent_wallet)
        except ValueError:
            raise business(ErrorType.INVALID_REQUEST, "parent_wallet is not a base58 public key") from None
        sealed, pubkey = seal_new_session_key(session_id, self.r.kek)
        addrs = SessionAddresses.derive(parent, pubkey, self.r.chain.program.program_id)
        expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=req.session_duration_seconds)
        new = NewSession(
            id=session_id,
            parent_wallet=req.parent_wallet,
            ephemeral_pubkey=str(pubkey),
            vault_pda=str(addrs.vault),
            delegation_pda=str(addrs.delegation),
            max_deposit=req.max_deposit_lamports,
            session_duration_s=req.session_duration_seconds,
            session_expiry=expiry,
            workflow_id=req.workflow_id,
        )
        try:
            async with self.r.pool.acquire() as conn, conn.transaction():
                session, created = await sessions.create_session(conn, new, actor="workflow")
                if created:
                    await session_keys.store_session_key(conn, sealed.to_record(), actor="workflow")
        except InvalidRecordError as exc:
            raise business(ErrorType.INVALID_REQUEST, str(exc)) from None
        del sealed
        return ProvisionedSession(
            ephemeral_pubkey=session.ephemeral_pubkey,
            vault_pda=session.vault_pda,
            delegation_pda=session.delegation_pda,
            estimated_expiry=int(session.session_expiry.timestamp()),
            created=created,
        )

    @activity.defn
    async def shred_session_key(self, ref: SessionRef) -> ShredResult:
        """Crypto-shred: delete the wrapped data key. Idempotent (a second call finds it already shredded)."""
        shredded_at = await session_keys.shred_session_key(self.r.pool, uuid.UUID(ref.session_id), actor="workflow")
        return ShredResult(session_id=ref.session_id, shredded=shredded_at is not None)
