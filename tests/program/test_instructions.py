"""Every instruction's success path on the real .so: every account field, every lamport (fees included) and every
event, decoded through the IDL with anchorpy. Rejections are in test_rejections.py."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rent import Rent
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from tests.program.conftest import DEPOSIT, MAX_DEPOSIT, SESSION_DURATION, START_TIME
from tests.program.harness import CONSTANTS, PROGRAM_ID, Session, VaultHarness

BPF_LOADER_UPGRADEABLE = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
VAULT_LEN = CONSTANTS["EPHEMERAL_VAULT_SIZE"]
DELEGATION_LEN = CONSTANTS["VAULT_DELEGATION_SIZE"]
REWARD_CAP = CONSTANTS["CLEANUP_REWARD_CAP"]


def assert_closed(h: VaultHarness, key: Pubkey) -> None:
    """Closed (or never created) = no lamports, no data, owned by the System Program; LiteSVM reports such an
    address either as absent or as that empty account."""
    acct = h.account(key)
    if acct is not None:
        assert (acct.lamports, bytes(acct.data), acct.owner) == (0, b"", SYSTEM_PROGRAM_ID)


def test_program_is_deployed_through_the_upgradeable_loader(h: VaultHarness) -> None:
    program = h.account(PROGRAM_ID)
    assert program is not None
    assert program.owner == BPF_LOADER_UPGRADEABLE
    assert program.executable


# ---- create_vault ---------------------------------------------------------------------------------------------------


def test_create_vault_records_the_session_and_charges_the_parent_rent_and_fee(
    h: VaultHarness, session: Session
) -> None:
    parent_before = h.lamports(session.parent.pubkey())
    rent = h.rent_minimum(VAULT_LEN)

    sent = h.send(h.create_vault_ix(session, SESSION_DURATION, MAX_DEPOSIT), [session.parent])

    assert h.lamports(session.parent.pubkey()) == parent_before - rent - sent.fee
    vault_acct = h.account(session.vault)
    assert vault_acct is not None
    assert (vault_acct.lamports, vault_acct.owner, len(vault_acct.data)) == (rent, PROGRAM_ID, VAULT_LEN)
    v = h.decode(session.vault)
    assert v.parent == session.parent.pubkey()
    assert v.delegate == session.delegate.pubkey()
    assert v.created_at == START_TIME
    assert v.session_expiry == START_TIME + SESSION_DURATION
    assert v.max_deposit == MAX_DEPOSIT
    assert (v.total_deposited, v.total_spent, v.trade_count) == (0, 0, 0)
    assert v.last_activity == START_TIME
    assert v.is_active is True
    assert v.bump == session.vault_bump
    e = sent.event("VaultCreated")
    assert (e.vault, e.parent, e.delegate) == (session.vault, session.parent.pubkey(), session.delegate.pubkey())
    assert (e.session_expiry, e.max_deposit) == (START_TIME + SESSION_DURATION, MAX_DEPOSIT)


def test_create_vault_on_a_prefunded_address_only_tops_it_up_to_rent(h: VaultHarness, session: Session) -> None:
    h.svm.airdrop(session.vault, 1_000)  # anyone can send lamports to a PDA address before it exists
    parent_before = h.lamports(session.parent.pubkey())
    rent = h.rent_minimum(VAULT_LEN)

    sent = h.send(h.create_vault_ix(session), [session.parent])

    assert h.lamports(session.parent.pubkey()) == parent_before - (rent - 1_000) - sent.fee
    assert h.lamports(session.vault) == rent
    assert h.decode(session.vault).parent == session.parent.pubkey()
    assert h.account(session.vault).owner == PROGRAM_ID


def test_create_vault_on_an_address_prefunded_beyond_rent_charges_the_parent_only_the_fee(
    h: VaultHarness, session: Session
) -> None:
    rent = h.rent_minimum(VAULT_LEN)
    h.svm.airdrop(session.vault, rent + 7)
    parent_before = h.lamports(session.parent.pubkey())

    sent = h.send(h.create_vault_ix(session), [session.parent])

    assert h.lamports(session.parent.pubkey()) == parent_before - sent.fee
    assert h.lamports(session.vault) == rent + 7
    assert h.decode(session.vault).is_active is True


def test_create_vault_accepts_the_duration_and_deposit_bounds(h: VaultHarness, parent: Keypair) -> None:
    shortest = h.new_session(parent)
    longest = h.new_session(parent)
    h.send(h.create_vault_ix(shortest, CONSTANTS["MIN_SESSION_DURATION"], 1), [parent])
    h.send(h.create_vault_ix(longest, CONSTANTS["MAX_SESSION_DURATION"], CONSTANTS["MAX_DEPOSIT_LIMIT"]), [parent])
    assert h.decode(shortest.vault).session_expiry == START_TIME + CONSTANTS["MIN_SESSION_DURATION"]
    assert h.decode(shortest.vault).max_deposit == 1
    assert h.decode(longest.vault).session_expiry == START_TIME + CONSTANTS["MAX_SESSION_DURATION"]
    assert h.decode(longest.vault).max_deposit == CONSTANTS["MAX_DEPOSIT_LIMIT"]


# ---- approve_delegate -----------------------------------------------------------------------------------------------


def test_approve_delegate_creates_the_delegation_paid_by_the_parent(h: VaultHarness, open_vault: Session) -> None:
    s = open_vault
    h.advance(10)
    parent_before = h.lamports(s.parent.pubkey())
    vault_before = h.account(s.vault)
    rent = h.rent_minimum(DELEGATION_LEN)

    sent = h.send(h.approve_delegate_ix(s), [s.parent])

    assert h.lamports(s.parent.pubkey()) == parent_before - rent - sent.fee
    acct = h.account(s.delegation)
    assert acct is not None
    assert (acct.lamports, acct.owner, len(acct.data)) == (rent, PROGRAM_ID, DELEGATION_LEN)
    d = h.decode(s.delegation)
    assert (d.vault, d.delegate) == (s.vault, s.delegate.pubkey())
    assert (d.approved_at, d.revoked_at, d.bump) == (START_TIME + 10, 0, s.delegation_bump)
    assert h.account(s.vault) == vault_before  # the vault is read, never written
    e = sent.event("DelegateApproved")
    assert (e.vault, e.delegate, e.approved_at) == (s.vault, s.delegate.pubkey(), START_TIME + 10)


def test_approve_delegate_on_a_prefunded_address_only_tops_it_up_to_rent(h: VaultHarness, open_vault: Session) -> None:
    s = open_vault
    h.svm.airdrop(s.delegation, 2_000)
    parent_before = h.lamports(s.parent.pubkey())
    rent = h.rent_minimum(DELEGATION_LEN)

    sent = h.send(h.approve_delegate_ix(s), [s.parent])

    assert h.lamports(s.parent.pubkey()) == parent_before - (rent - 2_000) - sent.fee
    assert h.lamports(s.delegation) == rent
    assert h.decode(s.delegation).delegate == s.delegate.pubkey()


# ---- auto_deposit_for_trade -----------------------------------------------------------------------------------------


def test_deposit_moves_lamports_from_parent_to_vault_and_counts_them(h: VaultHarness, approved: Session) -> None:
    s = approved
    parent_before, vault_before = h.lamports(s.parent.pubkey()), h.lamports(s.vault)

    first = h.send(h.deposit_ix(s, 300_000), [s.parent])
    second = h.send(h.deposit_ix(s, 200_000), [s.parent])

    assert h.lamports(s.parent.pubkey()) == parent_before - 500_000 - first.fee - second.fee
    assert h.lamports(s.vault) == vault_before + 500_000
    assert h.decode(s.vault).total_deposited == 500_000
    e = second.event("AutoDeposit")
    assert (e.vault, e.amount, e.total_deposited) == (s.vault, 200_000, 500_000)


def test_deposit_up_to_exactly_max_deposit_is_accepted(h: VaultHarness, approved: Session) -> None:
    s = approved
    h.send(h.deposit_ix(s, MAX_DEPOSIT - 1), [s.parent])
    sent = h.send(h.deposit_ix(s, 1), [s.parent])
    assert h.decode(s.vault).total_deposited == MAX_DEPOSIT
    assert sent.event("AutoDeposit").total_deposited == MAX_DEPOSIT


def test_deposit_into_an_unapproved_vault_is_accepted(h: VaultHarness, open_vault: Session) -> None:
    """Approval gates trading, not funding: the one-pop-up opening transaction may deposit in any order."""
    h.send(h.deposit_ix(open_vault, 1_000), [open_vault.parent])
    assert h.decode(open_vault.vault).total_deposited == 1_000


# ---- execute_trade --------------------------------------------------------------------------------------------------


def test_execute_trade_reimburses_the_fee_to_the_delegate_and_counts_the_trade(
    h: VaultHarness, funded: Session
) -> None:
    s = funded
    h.advance(42)
    delegate_before, vault_before = h.lamports(s.delegate.pubkey()), h.lamports(s.vault)
    trade_ref = bytes(range(16))

    sent = h.send(h.execute_trade_ix(s, 7_500, trade_ref), [s.delegate])

    assert h.lamports(s.delegate.pubkey()) == delegate_before - sent.fee + 7_500
    assert h.lamports(s.vault) == vault_before - 7_500
    v = h.decode(s.vault)
    assert (v.total_spent, v.trade_count, v.last_activity) == (7_500, 1, START_TIME + 42)
    assert (v.total_deposited, v.created_at, v.is_active) == (DEPOSIT, START_TIME, True)
    e = sent.event("TradeExecuted")
    assert (e.vault, e.delegate) == (s.vault, s.delegate.pubkey())
    assert (e.fee_lamports, e.total_spent, e.trade_count) == (7_500, 7_500, 1)
    assert bytes(e.trade_ref) == trade_ref


def test_trades_accumulate_spend_and_count(h: VaultHarness, funded: Session) -> None:
    s = funded
    vault_before = h.lamports(s.vault)
    for i in range(3):
        h.send(h.execute_trade_ix(s, 1_000 * (i + 1), bytes([i]) * 16), [s.delegate])
    v = h.decode(s.vault)
    assert (v.total_spent, v.trade_count) == (6_000, 3)
    assert h.lamports(s.vault) == vault_before - 6_000


def test_execute_trade_may_spend_the_whole_deposit_down_to_rent(h: VaultHarness, approved: Session) -> None:
    s = approved
    h.send(h.deposit_ix(s, CONSTANTS["MAX_FEE_PER_TRADE"]), [s.parent])
    h.send(h.execute_trade_ix(s, CONSTANTS["MAX_FEE_PER_TRADE"]), [s.delegate])
    assert h.lamports(s.vault) == h.rent_minimum(VAULT_LEN)
    assert h.decode(s.vault).total_spent == CONSTANTS["MAX_FEE_PER_TRADE"]


# ---- revoke_access --------------------------------------------------------------------------------------------------


def test_revoke_refunds_everything_above_rent_and_revokes_the_delegation(h: VaultHarness, funded: Session) -> None:
    s = funded
    h.advance(100)
    parent_before = h.lamports(s.parent.pubkey())
    delegation_before = h.account(s.delegation)

    sent = h.send(h.revoke_access_ix(s), [s.parent])

    assert h.lamports(s.parent.pubkey()) == parent_before + DEPOSIT - sent.fee
    assert h.lamports(s.vault) == h.rent_minimum(VAULT_LEN)
    v = h.decode(s.vault)
    assert v.is_active is False
    assert (v.total_deposited, v.total_spent) == (DEPOSIT, 0)  # history is kept for the cleaner and the backend
    d = h.decode(s.delegation)
    assert d.revoked_at == START_TIME + 100
    assert h.lamports(s.delegation) == delegation_before.lamports
    e = sent.event("AccessRevoked")
    assert (e.vault, e.parent, e.refunded, e.revoked_at) == (s.vault, s.parent.pubkey(), DEPOSIT, START_TIME + 100)


def test_revoke_after_expiry_is_allowed(h: VaultHarness, funded: Session) -> None:
    h.advance(SESSION_DURATION + 1)
    sent = h.send(h.revoke_access_ix(funded), [funded.parent])
    assert sent.event("AccessRevoked").refunded == DEPOSIT
    assert h.decode(funded.vault).is_active is False


def test_revoke_of_a_never_approved_session_leaves_the_delegation_address_untouched(
    h: VaultHarness, open_vault: Session
) -> None:
    s = open_vault
    h.send(h.deposit_ix(s, 5_000), [s.parent])
    parent_before = h.lamports(s.parent.pubkey())

    sent = h.send(h.revoke_access_ix(s), [s.parent])

    assert h.lamports(s.parent.pubkey()) == parent_before + 5_000 - sent.fee
    assert_closed(h, s.delegation)
    assert h.decode(s.vault).is_active is False


# ---- cleanup_vault --------------------------------------------------------------------------------------------------


def test_cleanup_after_expiry_pays_the_capped_reward_and_closes_both_accounts(
    h: VaultHarness, funded: Session, cleaner: Keypair
) -> None:
    s = funded
    h.send(h.execute_trade_ix(s, 5_000), [s.delegate])
    h.set_time(START_TIME + SESSION_DURATION)  # expiry is inclusive: now >= session_expiry
    held = h.lamports(s.vault) + h.lamports(s.delegation)
    parent_before, cleaner_before = h.lamports(s.parent.pubkey()), h.lamports(cleaner.pubkey())

    sent = h.send(h.cleanup_vault_ix(s, cleaner.pubkey()), [cleaner])

    assert h.lamports(cleaner.pubkey()) == cleaner_before + REWARD_CAP - sent.fee
    assert h.lamports(s.parent.pubkey()) == parent_before + held - REWARD_CAP
    assert_closed(h, s.vault)
    assert_closed(h, s.delegation)
    e = sent.event("VaultCleaned")
    assert (e.vault, e.parent, e.cleaner) == (s.vault, s.parent.pubkey(), cleaner.pubkey())
    assert (e.refunded, e.reward) == (held - REWARD_CAP, REWARD_CAP)


def test_cleanup_after_revoke_needs_no_expiry(h: VaultHarness, funded: Session, cleaner: Keypair) -> None:
    s = funded
    h.send(h.revoke_access_ix(s), [s.parent])
    held = h.lamports(s.vault) + h.lamports(s.delegation)
    parent_before = h.lamports(s.parent.pubkey())

    sent = h.send(h.cleanup_vault_ix(s, cleaner.pubkey()), [cleaner])

    assert h.lamports(s.parent.pubkey()) == parent_before + held - REWARD_CAP
    assert sent.event("VaultCleaned").reward == REWARD_CAP
    assert_closed(h, s.vault)
    assert_closed(h, s.delegation)


def test_cleanup_of_a_never_approved_session_closes_the_vault(
    h: VaultHarness, open_vault: Session, cleaner: Keypair
) -> None:
    s = open_vault
    h.advance(SESSION_DURATION)
    held = h.lamports(s.vault)
    parent_before, cleaner_before = h.lamports(s.parent.pubkey()), h.lamports(cleaner.pubkey())

    sent = h.send(h.cleanup_vault_ix(s, cleaner.pubkey()), [cleaner])

    assert h.lamports(cleaner.pubkey()) == cleaner_before + REWARD_CAP - sent.fee
    assert h.lamports(s.parent.pubkey()) == parent_before + held - REWARD_CAP
    assert_closed(h, s.vault)
    assert_closed(h, s.delegation)
    assert sent.event("VaultCleaned").refunded == held - REWARD_CAP


def test_a_cleaned_session_can_be_opened_again_at_the_same_address(
    h: VaultHarness, open_vault: Session, cleaner: Keypair
) -> None:
    """Closing really frees the PDA: the same parent/delegate pair can create a fresh vault later."""
    s = open_vault
    h.advance(SESSION_DURATION)
    h.send(h.cleanup_vault_ix(s, cleaner.pubkey()), [cleaner])
    h.send(h.create_vault_ix(s, SESSION_DURATION, 5), [s.parent])
    v = h.decode(s.vault)
    assert (v.max_deposit, v.total_deposited, v.is_active) == (5, 0, True)
    assert v.created_at == START_TIME + SESSION_DURATION


@pytest.mark.parametrize(
    ("lamports_per_byte_year", "threshold"),
    [(3_480, 2.0), (6_960, 1.0), (1_000, 1.5), (3_480, 0.5), (258_001, 1.1)],
    ids=["default", "simd-0194", "one-and-a-half", "half", "non-dyadic"],
)
def test_create_vault_funds_exactly_the_clusters_rent_minimum(
    h: VaultHarness, session: Session, lamports_per_byte_year: int, threshold: float
) -> None:
    """The program reads Rent through the syscall and applies the f64 threshold in integer arithmetic: the vault
    must hold exactly what the runtime computes for the same parameters."""
    h.svm.set_rent(Rent(lamports_per_byte_year, threshold, 50))
    h.send(h.create_vault_ix(session), [session.parent])
    assert h.lamports(session.vault) == h.svm.minimum_balance_for_rent_exemption(VAULT_LEN)
