"""Every SessionWorkflow path on the time-skipping test server, with the real activities against PostgreSQL and the
local chain over HTTP. Time skips only while a test awaits the workflow's result (or calls env.sleep)."""

from __future__ import annotations

import uuid

from solders.pubkey import Pubkey

from ephemeral_vault.db import session_keys, sessions
from tests.workflows.conftest import DURATION, INITIAL_DEPOSIT, Harness
from workflows.messages import (
    STATUS_QUERY,
    SessionState,
    SessionStatus,
)


async def test_approve_verifies_the_vault_on_chain_and_activates_the_session(harness: Harness, parent) -> None:
    created, handle, approved = await harness.open(parent)

    assert approved.status is SessionState.ACTIVE
    assert approved.vault_pda == created.vault_pda and approved.signature
    assert approved.total_deposited == INITIAL_DEPOSIT
    vault = await harness.chain.fetch_vault(Pubkey.from_string(created.vault_pda))
    assert approved.session_expiry == vault.session_expiry == vault.created_at + DURATION
    row = await sessions.get_session(harness.pool, uuid.UUID(created.session_id))
    assert row.status == "ACTIVE" and int(row.session_expiry.timestamp()) == vault.session_expiry
    status = await handle.query(STATUS_QUERY, result_type=SessionStatus)
    assert status.status is SessionState.ACTIVE and status.ephemeral_pubkey == created.ephemeral_pubkey
    await handle.terminate("test over")


async def test_session_never_approved_is_abandoned_and_its_key_shredded(harness: Harness, parent) -> None:
    created, handle = await harness.create(parent)

    outcome = await harness.finish(handle)  # time skips past the approval window

    assert outcome.status is SessionState.ABANDONED
    row = await sessions.get_session(harness.pool, uuid.UUID(created.session_id))
    assert row.status == "ABANDONED"
    key = await session_keys.load_session_key(harness.pool, uuid.UUID(created.session_id))
    assert key.is_shredded and key.wrapped_dek is None
    await harness.export_history(handle, "abandoned")
