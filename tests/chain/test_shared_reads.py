"""Fewer round trips to the node, counted where they arrive: a fault proxy (passing everything) in front of the local
node counts each JSON-RPC method. Backend-signed transactions share a blockhash for its reuse window and still land;
an offer for the parent always gets the newest; an expired shared blockhash is dropped; a vault, its delegation and
the chain clock come back in one request; an opening asks for the blockhash and (once a minute) the rent, nothing
else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer

from ephemeral_vault.chain.accounts import decode_delegation, decode_vault
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import BlockhashExpired
from ephemeral_vault.chain.session_tx import InvalidSessionParameters, build_revoke, build_session_opening
from localnet.faultproxy import FaultProxy
from tests.chain.conftest import FEE_FLOAT, MAX_DEPOSIT, a_trade, funded, open_session, sign_then_outlive

WINDOW = 10.0  # long enough that nothing in a test outlives it


@pytest_asyncio.fixture
async def counted(proxy: FaultProxy) -> AsyncIterator[ChainClient]:
    """A chain client whose every request passes through (and is counted by) `proxy`."""
    async with ChainClient(
        proxy.url, poll_interval_seconds=0.05, confirm_timeout_seconds=30, blockhash_reuse_seconds=WINDOW
    ) as client:
        yield client


def _transfer(payer: Keypair) -> list:
    return [transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Pubkey.new_unique(), lamports=1_000_000))]


async def test_backend_signed_transactions_share_one_blockhash_and_each_lands(
    counted: ChainClient, proxy: FaultProxy
) -> None:
    payer = await funded(counted)
    proxy.stats.by_method.clear()

    first = await counted.sign(_transfer(payer), payer)
    second = await counted.sign(_transfer(payer), payer)
    results = [await counted.send_and_confirm(first), await counted.send_and_confirm(second)]

    assert first.transaction().message.recent_blockhash == second.transaction().message.recent_blockhash
    assert proxy.stats.by_method["getLatestBlockhash"] == 1
    assert {r.signature for r in results} == {first.signature, second.signature} and first.signature != second.signature


async def test_an_offer_for_the_parent_always_asks_for_the_newest_blockhash(
    counted: ChainClient, proxy: FaultProxy
) -> None:
    s = await open_session(counted)
    await counted.shared_blockhash()
    proxy.stats.by_method.clear()

    await build_revoke(counted, s.parent.pubkey(), s.addrs.vault)
    await build_revoke(counted, s.parent.pubkey(), s.addrs.vault)

    assert proxy.stats.by_method["getLatestBlockhash"] == 2


async def test_a_shared_blockhash_that_expired_is_dropped_and_the_next_transaction_lands(
    counted: ChainClient, localnet_url: str
) -> None:
    s = await open_session(counted)
    stale = await sign_then_outlive(counted, localnet_url, s, a_trade(s))

    with pytest.raises(BlockhashExpired):
        await counted.send_and_confirm(stale)
    again = await counted.sign(a_trade(s), s.delegate)

    assert again.transaction().message.recent_blockhash != stale.transaction().message.recent_blockhash
    assert (await counted.send_and_confirm(again)).signature == again.signature


async def test_a_vault_its_delegation_and_the_clock_come_back_in_one_request(
    counted: ChainClient, proxy: FaultProxy
) -> None:
    s = await open_session(counted)
    before = await counted.clock_unix_timestamp()
    proxy.stats.by_method.clear()

    view = await counted.vault_view(s.addrs.vault)

    assert proxy.stats.by_method == {"getMultipleAccounts": 1}
    after = await counted.clock_unix_timestamp()
    assert before <= view.chain_time <= after
    assert view.delegation_address == s.addrs.delegation
    vault = decode_vault(view.vault, s.addrs.vault, counted.program)
    delegation = decode_delegation(view.delegation, s.addrs.delegation, counted.program)
    assert (vault.parent, delegation.delegate) == (s.parent.pubkey(), s.delegate.pubkey())


async def test_a_vault_that_is_not_there_reads_as_none(counted: ChainClient) -> None:
    view = await counted.vault_view(Pubkey.new_unique())
    assert view.vault is None and view.delegation is None and view.chain_time > 0


async def _opening(chain: ChainClient, fee_float: int) -> None:
    await build_session_opening(chain, Keypair().pubkey(), Keypair().pubkey(), session_duration=3600,
                                max_deposit=MAX_DEPOSIT, fee_float_lamports=fee_float)


async def test_an_opening_reads_the_newest_blockhash_and_remembers_the_rent(
    counted: ChainClient, proxy: FaultProxy
) -> None:
    await _opening(counted, FEE_FLOAT)
    await _opening(counted, FEE_FLOAT)
    assert proxy.stats.by_method == {"getLatestBlockhash": 2, "getMinimumBalanceForRentExemption": 1}


async def test_a_fee_float_below_the_rent_exempt_minimum_is_refused_before_signing(counted: ChainClient) -> None:
    minimum = await counted.minimum_balance_for_rent_exemption(0)
    with pytest.raises(InvalidSessionParameters, match=f"fee float {minimum - 1} is below .* minimum {minimum}"):
        await _opening(counted, minimum - 1)
    await _opening(counted, minimum)  # exactly the minimum is enough
