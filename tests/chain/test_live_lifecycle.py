"""Every program instruction through the chain client against the real program on the local node over HTTP."""

from __future__ import annotations

import uuid

import pytest
from solders.keypair import Keypair

from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import AccountNotFound, ProgramError
from ephemeral_vault.chain.events import (
    AccessRevoked,
    AutoDeposit,
    DelegateApproved,
    TradeExecuted,
    VaultCleaned,
    VaultCreated,
)
from ephemeral_vault.chain.session_tx import build_deposit, build_revoke, verify_parent_signed
from ephemeral_vault.chain.verify import ExpectedSession, verify_session
from tests.chain.conftest import (
    DURATION,
    FEE_FLOAT,
    INITIAL_DEPOSIT,
    MAX_DEPOSIT,
    funded,
    localnet_call,
    open_session,
    wallet_sign,
)


async def test_session_opening_signed_by_the_parent_creates_approves_deposits_and_floats(chain: ChainClient) -> None:
    s = await open_session(chain)

    kinds = [type(e) for e in s.opening.events]
    assert kinds == [VaultCreated, DelegateApproved, AutoDeposit]
    created = s.opening.events[0]
    assert (created.vault, created.parent, created.delegate) == (s.addrs.vault, s.parent.pubkey(), s.delegate.pubkey())
    assert s.opening.events[2].total_deposited == INITIAL_DEPOSIT
    assert s.opening.fee > 0 and s.opening.compute_units_consumed and s.opening.compute_units_consumed > 0
    assert await chain.balance(s.delegate.pubkey()) == FEE_FLOAT
    vault = await chain.fetch_vault(s.addrs.vault)
    assert vault.session_expiry - vault.created_at == DURATION and vault.is_active


async def test_verify_session_accepts_the_opened_session(chain: ChainClient) -> None:
    s = await open_session(chain)
    vault = await chain.fetch_vault(s.addrs.vault)
    expected = ExpectedSession(
        parent=s.parent.pubkey(),
        delegate=s.delegate.pubkey(),
        max_deposit=MAX_DEPOSIT,
        session_expiry=vault.created_at + DURATION,
        session_duration=DURATION,
        min_total_deposited=INITIAL_DEPOSIT,
        claimed_vault=s.addrs.vault,
    )
    assert await verify_session(chain, expected) == []


async def test_verify_session_lists_every_field_that_differs(chain: ChainClient) -> None:
    s = await open_session(chain)
    expected = ExpectedSession(
        parent=s.parent.pubkey(),
        delegate=s.delegate.pubkey(),
        max_deposit=MAX_DEPOSIT + 1,
        session_duration=DURATION - 1,
        claimed_vault=Keypair().pubkey(),
    )
    fields = {(m.account, m.field) for m in await verify_session(chain, expected)}
    assert fields == {("vault", "address"), ("vault", "max_deposit"), ("vault", "session_expiry - created_at")}


async def test_verify_session_reports_missing_accounts(chain: ChainClient) -> None:
    expected = ExpectedSession(parent=Keypair().pubkey(), delegate=Keypair().pubkey(), max_deposit=1)
    mismatches = await verify_session(chain, expected)
    assert [(m.account, m.is_missing) for m in mismatches] == [("vault", True), ("delegation", True)]


async def test_trades_signed_by_the_ephemeral_key_reimburse_fees_and_echo_trade_ref(chain: ChainClient) -> None:
    s = await open_session(chain)
    refs = [uuid.uuid4().bytes for _ in range(2)]
    results = [
        await chain.submit([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 7_000, ref)], s.delegate)
        for ref in refs
    ]

    trades = [r.events[0] for r in results]
    assert [type(t) for t in trades] == [TradeExecuted, TradeExecuted]
    assert [t.trade_ref for t in trades] == refs
    assert [(t.total_spent, t.trade_count) for t in trades] == [(7_000, 1), (14_000, 2)]
    vault = await chain.fetch_vault(s.addrs.vault)
    assert (vault.total_spent, vault.trade_count) == (14_000, 2)
    # The delegate paid two signature fees and was reimbursed 7_000 per trade.
    assert await chain.balance(s.delegate.pubkey()) == FEE_FLOAT - sum(r.fee for r in results) + 14_000


async def test_parent_signed_deposit_adds_to_the_vault(chain: ChainClient) -> None:
    s = await open_session(chain)
    offer = await build_deposit(chain, s.parent.pubkey(), s.addrs.vault, 300_000_000)
    result = await chain.send_and_confirm(verify_parent_signed(offer, wallet_sign(offer, s.parent)))
    assert result.events == [AutoDeposit(vault=s.addrs.vault, amount=300_000_000, total_deposited=800_000_000)]


async def test_revoke_refunds_the_parent_and_cleanup_closes_both_accounts(chain: ChainClient) -> None:
    s = await open_session(chain)
    offer = await build_revoke(chain, s.parent.pubkey(), s.addrs.vault)
    revoked = await chain.send_and_confirm(verify_parent_signed(offer, wallet_sign(offer, s.parent)))
    (event,) = revoked.events
    assert isinstance(event, AccessRevoked) and event.refunded == INITIAL_DEPOSIT
    assert (await chain.fetch_delegation(s.addrs.delegation)).is_revoked

    with pytest.raises(ProgramError) as refused:
        await chain.submit([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 1, bytes(16))], s.delegate)
    assert refused.value.name in ("VaultInactive", "DelegationRevoked")

    cleaner = await funded(chain, 1_000_000_000)
    cleaned = await chain.submit([ixs.cleanup_vault(cleaner.pubkey(), s.parent.pubkey(), s.addrs.vault)], cleaner)
    assert [type(e) for e in cleaned.events] == [VaultCleaned]
    with pytest.raises(AccountNotFound):
        await chain.fetch_vault(s.addrs.vault)
    with pytest.raises(AccountNotFound):
        await chain.fetch_delegation(s.addrs.delegation)


async def test_after_the_clock_passes_expiry_trades_fail_and_anyone_can_clean_up(
    chain: ChainClient, localnet_url: str
) -> None:
    s = await open_session(chain, duration=60)
    await localnet_call(localnet_url, "localnet_warpClock", [{"seconds": 61}])

    with pytest.raises(ProgramError) as expired:
        await chain.submit([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 1, bytes(16))], s.delegate)
    assert (expired.value.name, expired.value.code) == ("SessionExpired", 6019)

    cleaner = await funded(chain, 1_000_000_000)
    parent_before = await chain.balance(s.parent.pubkey())
    cleaned = await chain.submit([ixs.cleanup_vault(cleaner.pubkey(), s.parent.pubkey(), s.addrs.vault)], cleaner)
    (event,) = cleaned.events
    assert isinstance(event, VaultCleaned) and event.cleaner == cleaner.pubkey()
    assert await chain.balance(s.parent.pubkey()) == parent_before + event.refunded


async def test_program_vaults_lists_open_vaults_from_get_program_accounts(chain: ChainClient) -> None:
    s = await open_session(chain)
    assert s.addrs.vault in {v.address for v in await chain.program_vaults()}
