"""Chain activities turn the ChainClient's typed errors into the ApplicationErrors the workflow's retry policies
expect, here with the real activity against the local chain behind the fault-injecting RPC proxy."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.chain import ChainActivities
from activities.models import QuoteDepositInput
from ephemeral_vault.chain.client import ChainClient
from localnet.faultproxy import FaultProxy
from tests.workflows.conftest import Harness


async def test_an_unavailable_fee_market_makes_the_deposit_quote_retryable_then_it_succeeds(
    harness: Harness, parent, localnet_url: str
) -> None:
    created, handle, _ = await harness.open(parent)
    proxy = FaultProxy(localnet_url)
    await proxy.start()
    try:
        async with ChainClient(proxy.url, poll_interval_seconds=0.05, confirm_timeout_seconds=30) as chain:
            activities = ChainActivities(dataclasses.replace(harness.resources, chain=chain))
            req = QuoteDepositInput(
                session_id=created.session_id,
                parent_wallet=str(parent.pubkey()),
                vault_pda=created.vault_pda,
                expected_trades=3,
            )
            proxy.set_fault(mode="error", status=503, methods=["getRecentPrioritizationFees"])
            with pytest.raises(ApplicationError) as refused:
                await ActivityEnvironment().run(activities.quote_deposit, req)
            proxy.clear()
            offer = await ActivityEnvironment().run(activities.quote_deposit, req)
    finally:
        await proxy.stop()
        await handle.terminate("test over")

    assert refused.value.type == "ChainUnavailable" and not refused.value.non_retryable
    assert offer.fee_per_trade_lamports > 0  # sized from the fee market once it answers again
