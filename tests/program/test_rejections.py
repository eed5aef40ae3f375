"""Each rule of each instruction, violated on its own, returns its named error (mapped through the IDL) and changes
no account (the fee payer pays exactly its signature fees). Everything else about the transaction is valid, so the
named rule is the only reason it can fail.

A few states the program never produces itself (a live vault with a revoked delegation, a vault holding less than
its accounting says) are written into the account with `h.set_field` / `h.set_lamports`: the rule must hold even
if such a state were ever met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from solders.account import Account
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from programs.ephemeral_vault import idl as idl_def
from tests.program.conftest import DEPOSIT, MAX_DEPOSIT, SESSION_DURATION
from tests.program.harness import (
    CONSTANTS,
    PROGRAM_ID,
    Session,
    VaultHarness,
    truncated_accounts,
    with_data,
    with_meta,
)

U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1


@dataclass(frozen=True)
class World:
    """The session under test plus what an attacker or a mistaken client has at hand."""

    h: VaultHarness
    s: Session
    # funded, unrelated to the session; pays fees when the session's signer must not sign
    stranger: Keypair = field(repr=False)
    other: Session  # a complete, funded session of another parent (its accounts are valid, just not ours)


Attempt = tuple[Instruction, list[Keypair]]
Case = Callable[[World], Attempt]


def run(world: World, case: Case, error: str) -> None:
    ix, signers = case(world)
    world.h.expect_error(ix, signers, error)


def open_session(h: VaultHarness, parent: Keypair, delegate: Keypair | None = None, deposit: int = DEPOSIT) -> Session:
    s = h.new_session(parent, delegate)
    h.send(h.create_vault_ix(s, SESSION_DURATION, MAX_DEPOSIT), [parent])
    h.send(h.approve_delegate_ix(s), [parent])
    if deposit:
        h.send(h.deposit_ix(s, deposit), [parent])
    return s


def fresh_world(h: VaultHarness, s: Session) -> World:
    stranger = h.funded_keypair()
    other = open_session(h, h.funded_keypair(), h.funded_keypair())
    return World(h, s, stranger, other)


def non_canonical_vault_address(h: VaultHarness, s: Session) -> Pubkey:
    """The vault PDA for the same seeds with the next lower bump that is off the curve."""
    seeds = [idl_def.VAULT_SEED, bytes(s.parent.pubkey()), bytes(s.delegate.pubkey())]
    for bump in range(s.vault_bump - 1, -1, -1):
        try:
            return Pubkey.create_program_address([*seeds, bytes([bump])], h.program_id)
        except Exception:
            continue
    raise AssertionError("no non-canonical bump exists for these seeds")


# ---- any instruction --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x01\x02\x03", bytes(8), b"\xff" * 40], ids=["empty", "3-bytes", "zero", "ff"])
def test_unknown_or_short_discriminator_is_invalid_instruction_data(
    h: VaultHarness, open_vault: Session, data: bytes
) -> None:
    ix = with_data(h.deposit_ix(open_vault, 1), data)
    h.expect_error(ix, [open_vault.parent], "InvalidInstructionData")


# ---- create_vault -----------------------------------------------------------------------------------------------

CREATE_CASES: dict[str, tuple[Case, str]] = {
    "three-accounts": (lambda w: (truncated_accounts(w.h.create_vault_ix(w.s), 3), [w.s.parent]), "MissingAccounts"),
    "short-data": (
        lambda w: (with_data(w.h.create_vault_ix(w.s), bytes(w.h.create_vault_ix(w.s).data)[:-1]), [w.s.parent]),
        "InvalidInstructionData",
    ),
    "trailing-data": (
        lambda w: (with_data(w.h.create_vault_ix(w.s), bytes(w.h.create_vault_ix(w.s).data) + b"\0"), [w.s.parent]),
        "InvalidInstructionData",
    ),
    "parent-not-signer": (
        lambda w: (with_meta(w.h.create_vault_ix(w.s), 0, signer=False), [w.stranger]),
        "MissingSigner",
    ),
    "parent-read-only": (
        lambda w: (with_meta(w.h.create_vault_ix(w.s), 0, writable=False), [w.stranger, w.s.parent]),
        "AccountNotWritable",
    ),
    "vault-read-only": (
        lambda w: (with_meta(w.h.create_vault_ix(w.s), 2, writable=False), [w.s.parent]),
        "AccountNotWritable",
    ),
    "vault-is-parent": (
        lambda w: (w.h.create_vault_ix(w.s, vault=w.s.parent.pubkey()), [w.s.parent]),
        "DuplicateAccount",
    ),
    "fake-system-program": (
        lambda w: (w.h.create_vault_ix(w.s, system_program=PROGRAM_ID), [w.s.parent]),
        "InvalidSystemProgram",
    ),
    "duration-below-min": (
        lambda w: (w.h.create_vault_ix(w.s, CONSTANTS["MIN_SESSION_DURATION"] - 1), [w.s.parent]),
        "InvalidSessionDuration",
    ),
    "duration-above-max": (
        lambda w: (w.h.create_vault_ix(w.s, CONSTANTS["MAX_SESSION_DURATION"] + 1), [w.s.parent]),
        "InvalidSessionDuration",
    ),
    "negative-duration": (lambda w: (w.h.create_vault_ix(w.s, -3_600), [w.s.parent]), "InvalidSessionDuration"),
    "zero-max-deposit": (lambda w: (w.h.create_vault_ix(w.s, 3_600, 0), [w.s.parent]), "InvalidMaxDeposit"),
    "max-deposit-above-limit": (
        lambda w: (w.h.create_vault_ix(w.s, 3_600, CONSTANTS["MAX_DEPOSIT_LIMIT"] + 1), [w.s.parent]),
        "InvalidMaxDeposit",
    ),
    "vault-not-a-pda": (lambda w: (w.h.create_vault_ix(w.s, vault=Keypair().pubkey()), [w.s.parent]), "InvalidPda"),
    "vault-non-canonical-bump": (
        lambda w: (w.h.create_vault_ix(w.s, vault=non_canonical_vault_address(w.h, w.s)), [w.s.parent]),
        "InvalidPda",
    ),
    "vault-of-another-delegate": (
        lambda w: (
            w.h.create_vault_ix(w.s, vault=w.h.vault_address(w.s.parent.pubkey(), w.stranger.pubkey())[0]),
            [w.s.parent],
        ),
        "InvalidPda",
    ),
}


@pytest.mark.parametrize("case", CREATE_CASES, ids=lambda c: f"{c}-{CREATE_CASES[c][1]}")
def test_create_vault_rejects(h: VaultHarness, session: Session, case: str) -> None:
    run(fresh_world(h, session), *CREATE_CASES[case])


def test_create_vault_twice_is_vault_already_exists(h: VaultHarness, open_vault: Session) -> None:
    h.expect_error(h.create_vault_ix(open_vault), [open_vault.parent], "VaultAlreadyExists")


def test_create_vault_over_a_system_account_holding_data_is_vault_already_exists(
    h: VaultHarness, session: Session
) -> None:
    h.svm.set_account(session.vault, Account(10_000_000, bytes(16), SYSTEM_PROGRAM_ID))
    h.expect_error(h.create_vault_ix(session), [session.parent], "VaultAlreadyExists")


def test_create_vault_at_an_address_owned_by_another_program_is_invalid_owner(
    h: VaultHarness, session: Session
) -> None:
    h.svm.set_account(session.vault, Account(10_000_000, b"", Keypair().pubkey()))
    h.expect_error(h.create_vault_ix(session), [session.parent], "InvalidAccountOwner")


def test_create_vault_whose_expiry_overflows_i64_is_arithmetic_overflow(h: VaultHarness, session: Session) -> None:
    h.set_time(I64_MAX - 10)
    h.expect_error(h.create_vault_ix(session, 3_600), [session.parent], "ArithmeticOverflow")


# ---- approve_delegate -------------------------------------------------------------------------------------------

APPROVE_CASES: dict[str, tuple[Case, str]] = {
    "three-accounts": (
        lambda w: (truncated_accounts(w.h.approve_delegate_ix(w.s), 3), [w.s.parent]),
        "MissingAccounts",
    ),
    "trailing-data": (
        lambda w: (
            with_data(w.h.approve_delegate_ix(w.s), bytes(w.h.approve_delegate_ix(w.s).data) + b"\0"),
            [w.s.parent],
        ),
        "InvalidInstructionData",
    ),
    "parent-not-signer": (
        lambda w: (with_meta(w.h.approve_delegate_ix(w.s), 0, signer=False), [w.stranger]),
        "MissingSigner",
    ),
    "parent-read-only": (
        lambda w: (with_meta(w.h.approve_delegate_ix(w.s), 0, writable=False), [w.stranger, w.s.parent]),
        "AccountNotWritable",
    ),
    "delegation-read-only": (
        lambda w: (with_meta(w.h.approve_delegate_ix(w.s), 2, writable=False), [w.s.parent]),
        "AccountNotWritable",
    ),
    "delegation-is-parent": (
        lambda w: (w.h.approve_delegate_ix(w.s, delegation=w.s.parent.pubkey()), [w.s.parent]),
        "DuplicateAccount",
    ),
    "fake-system-program": (
        lambda w: (w.h.approve_delegate_ix(w.s, system_program=PROGRAM_ID), [w.s.parent]),
        "InvalidSystemProgram",
    ),
    "vault-not-program-owned": (
        lambda w: (w.h.approve_delegate_ix(w.s, vault=w.stranger.pubkey()), [w.s.parent]),
        "InvalidAccountOwner",
    ),
    "vault-is-a-delegation": (
        lambda w: (w.h.approve_delegate_ix(w.s, vault=w.other.delegation), [w.s.parent]),
        "InvalidDiscriminator",
    ),
    "parent-not-the-vaults": (
        lambda w: (w.h.approve_delegate_ix(w.s, parent=w.stranger.pubkey()), [w.stranger]),
        "ParentMismatch",
    ),
    "delegate-not-the-vaults": (
        lambda w: (w.h.approve_delegate_ix(w.s, delegate=w.stranger.pubkey()), [w.s.parent]),
        "DelegateMismatch",
    ),
    "delegation-not-the-pda": (
        lambda w: (w.h.approve_delegate_ix(w.s, delegation=Keypair().pubkey()), [w.s.parent]),
        "InvalidPda",
    ),
    "delegation-pda-of-another-vault": (
        lambda w: (w.h.approve_delegate_ix(w.s, delegation=w.h.delegation_address(w.other.vault)[0]), [w.s.parent]),
        "InvalidPda",
    ),
}


@pytest.mark.parametrize("case", APPROVE_CASES, ids=lambda c: f"{c}-{APPROVE_CASES[c][1]}")
def test_approve_delegate_rejects(h: VaultHarness, open_vault: Session, case: str) -> None:
    run(fresh_world(h, open_vault), *APPROVE_CASES[case])


def test_approve_delegate_twice_is_delegation_already_exists(h: VaultHarness, approved: Session) -> None:
    h.expect_error(h.approve_delegate_ix(approved), [approved.parent], "DelegationAlreadyExists")


def test_approve_delegate_after_revoke_is_vault_inactive(h: VaultHarness, open_vault: Session) -> None:
    h.send(h.revoke_access_ix(open_vault), [open_vault.parent])
    h.expect_error(h.approve_delegate_ix(open_vault), [open_vault.parent], "VaultInactive")


def test_approve_delegate_after_expiry_is_session_expired(h: VaultHarness, open_vault: Session) -> None:
    h.advance(SESSION_DURATION)
    h.expect_error(h.approve_delegate_ix(open_vault), [open_vault.parent], "SessionExpired")


def test_approve_delegate_with_a_vault_too_short_for_its_type_is_invalid_discriminator(
    h: VaultHarness, open_vault: Session
) -> None:
    acct = h.account(open_vault.vault)
    h.svm.set_account(open_vault.vault, Account(acct.lamports, bytes(acct.data)[:100], PROGRAM_ID))
    h.expect_error(h.approve_delegate_ix(open_vault), [open_vault.parent], "InvalidDiscriminator")


def test_approve_delegate_at_a_pda_owned_by_another_program_is_invalid_owner(
    h: VaultHarness, open_vault: Session
) -> None:
    h.svm.set_account(open_vault.delegation, Account(10_000_000, b"", Keypair().pubkey()))
    h.expect_error(h.approve_delegate_ix(open_vault), [open_vault.parent], "InvalidAccountOwner")


# ---- auto_deposit_for_trade -------------------------------------------------------------------------------------

DEPOSIT_CASES: dict[str, tuple[Case, str]] = {
    "two-accounts": (lambda w: (truncated_accounts(w.h.deposit_ix(w.s, 1), 2), [w.s.parent]), "MissingAccounts"),
    "short-data": (
        lambda w: (with_data(w.h.deposit_ix(w.s, 1), bytes(w.h.deposit_ix(w.s, 1).data)[:12]), [w.s.parent]),
        "InvalidInstructionData",
    ),
    "parent-not-signer": (
        lambda w: (with_meta(w.h.deposit_ix(w.s, 1), 0, signer=False), [w.stranger]),
        "MissingSigner",
    ),
    "parent-read-only": (
        lambda w: (with_meta(w.h.deposit_ix(w.s, 1), 0, writable=False), [w.stranger, w.s.parent]),
        "AccountNotWritable",
    ),
    "vault-read-only": (
        lambda w: (with_meta(w.h.deposit_ix(w.s, 1), 1, writable=False), [w.s.parent]),
        "AccountNotWritable",
    ),
    "vault-is-parent": (
        lambda w: (w.h.deposit_ix(w.s, 1, vault=w.s.parent.pubkey()), [w.s.parent]),
        "DuplicateAccount",
    ),
    "fake-system-program": (
        lambda w: (w.h.deposit_ix(w.s, 1, system_program=PROGRAM_ID), [w.s.parent]),
        "InvalidSystemProgram",
    ),
    "vault-not-program-owned": (
        lambda w: (w.h.deposit_ix(w.s, 1, vault=w.stranger.pubkey()), [w.s.parent]),
        "InvalidAccountOwner",
    ),
    "vault-is-a-delegation": (
        lambda w: (w.h.deposit_ix(w.s, 1, vault=w.s.delegation), [w.s.parent]),
        "InvalidDiscriminator",
    ),
    "parent-not-the-vaults": (
        lambda w: (w.h.deposit_ix(w.s, 1, parent=w.stranger.pubkey()), [w.stranger]),
        "ParentMismatch",
    ),
    "zero-amount": (lambda w: (w.h.deposit_ix(w.s, 0), [w.s.parent]), "InvalidAmount"),
    "above-cap": (lambda w: (w.h.deposit_ix(w.s, MAX_DEPOSIT - DEPOSIT + 1), [w.s.parent]), "DepositCapExceeded"),
    "total-overflows-u64": (lambda w: (w.h.deposit_ix(w.s, U64_MAX), [w.s.parent]), "ArithmeticOverflow"),
}


@pytest.mark.parametrize("case", DEPOSIT_CASES, ids=lambda c: f"{c}-{DEPOSIT_CASES[c][1]}")
def test_deposit_rejects(h: VaultHarness, funded: Session, case: str) -> None:
    run(fresh_world(h, funded), *DEPOSIT_CASES[case])


def test_deposit_after_revoke_is_vault_inactive(h: VaultHarness, funded: Session) -> None:
    h.send(h.revoke_access_ix(funded), [funded.parent])
    h.expect_error(h.deposit_ix(funded, 1), [funded.parent], "VaultInactive")


def test_deposit_after_expiry_is_session_expired(h: VaultHarness, funded: Session) -> None:
    h.advance(SESSION_DURATION)
    h.expect_error(h.deposit_ix(funded, 1), [funded.parent], "SessionExpired")


# ---- execute_trade ----------------------------------------------------------------------------------------------

TRADE_CASES: dict[str, tuple[Case, str]] = {
    "two-accounts": (lambda w: (truncated_accounts(w.h.execute_trade_ix(w.s), 2), [w.s.delegate]), "MissingAccounts"),
    "short-data": (
        lambda w: (with_data(w.h.execute_trade_ix(w.s), bytes(w.h.execute_trade_ix(w.s).data)[:16]), [w.s.delegate]),
        "InvalidInstructionData",
    ),
    "delegate-not-signer": (
        lambda w: (with_meta(w.h.execute_trade_ix(w.s), 0, signer=False), [w.stranger]),
        "MissingSigner",
    ),
    "delegate-read-only": (
        lambda w: (with_meta(w.h.execute_trade_ix(w.s), 0, writable=False), [w.stranger, w.s.delegate]),
        "AccountNotWritable",
    ),
    "vault-read-only": (
        lambda w: (with_meta(w.h.execute_trade_ix(w.s), 1, writable=False), [w.s.delegate]),
        "AccountNotWritable",
    ),
    "vault-is-delegate": (
        lambda w: (w.h.execute_trade_ix(w.s, vault=w.s.delegate.pubkey()), [w.s.delegate]),
        "DuplicateAccount",
    ),
    "vault-not-program-owned": (
        lambda w: (w.h.execute_trade_ix(w.s, vault=w.stranger.pubkey()), [w.s.delegate]),
        "InvalidAccountOwner",
    ),
    "delegation-not-program-owned": (
        lambda w: (w.h.execute_trade_ix(w.s, delegation=w.stranger.pubkey()), [w.s.delegate]),
        "InvalidAccountOwner",
    ),
    "vault-is-a-delegation": (
        lambda w: (w.h.execute_trade_ix(w.s, vault=w.other.delegation), [w.s.delegate]),
        "InvalidDiscriminator",
    ),
    "delegation-is-a-vault": (
        lambda w: (w.h.execute_trade_ix(w.s, delegation=w.other.vault), [w.s.delegate]),
        "InvalidDiscriminator",
    ),
    "signer-not-the-delegate": (
        lambda w: (w.h.execute_trade_ix(w.s, delegate=w.stranger.pubkey()), [w.stranger]),
        "DelegateMismatch",
    ),
    "fee-above-max": (
        lambda w: (w.h.execute_trade_ix(w.s, CONSTANTS["MAX_FEE_PER_TRADE"] + 1), [w.s.delegate]),
        "FeeTooHigh",
    ),
}


@pytest.mark.parametrize("case", TRADE_CASES, ids=lambda c: f"{c}-{TRADE_CASES[c][1]}")
def test_execute_trade_rejects(h: VaultHarness, funded: Session, case: str) -> None:
    run(fresh_world(h, funded), *TRADE_CASES[case])


def test_execute_trade_with_another_sessions_delegation_for_the_same_delegate_is_vault_mismatch(
    h: VaultHarness, funded: Session
) -> None:
    # Another parent opened a session for the same delegate key: its delegation names the delegate correctly but
    # belongs to a different vault.
    second = open_session(h, h.funded_keypair(), funded.delegate)
    ix = h.execute_trade_ix(funded, delegation=second.delegation)
    h.expect_error(ix, [funded.delegate], "VaultMismatch")


def test_execute_trade_when_the_delegation_names_another_delegate_is_delegate_mismatch(
    h: VaultHarness, funded: Session
) -> None:
    h.set_field(funded.delegation, "delegate", Keypair().pubkey())
    h.expect_error(h.execute_trade_ix(funded), [funded.delegate], "DelegateMismatch")


def test_execute_trade_on_a_revoked_session_is_delegation_revoked(h: VaultHarness, funded: Session) -> None:
    h.send(h.revoke_access_ix(funded), [funded.parent])
    h.expect_error(h.execute_trade_ix(funded), [funded.delegate], "DelegationRevoked")


def test_execute_trade_on_a_revoked_delegation_of_a_live_vault_is_delegation_revoked(
    h: VaultHarness, funded: Session
) -> None:
    h.set_field(funded.delegation, "revoked_at", h.now())
    h.expect_error(h.execute_trade_ix(funded), [funded.delegate], "DelegationRevoked")


def test_execute_trade_on_an_inactive_vault_with_a_live_delegation_is_vault_inactive(
    h: VaultHarness, funded: Session
) -> None:
    h.set_field(funded.vault, "is_active", False)
    h.expect_error(h.execute_trade_ix(funded), [funded.delegate], "VaultInactive")


def test_execute_trade_after_expiry_is_session_expired(h: VaultHarness, funded: Session) -> None:
    h.advance(SESSION_DURATION)
    h.expect_error(h.execute_trade_ix(funded), [funded.delegate], "SessionExpired")


def test_execute_trade_spending_more_than_deposited_is_spend_exceeds_deposits(
    h: VaultHarness, approved: Session
) -> None:
    h.send(h.deposit_ix(approved, 4_999), [approved.parent])
    h.expect_error(h.execute_trade_ix(approved, 5_000), [approved.delegate], "SpendExceedsDeposits")


def test_execute_trade_that_would_leave_the_vault_below_rent_is_insufficient_vault_balance(
    h: VaultHarness, funded: Session
) -> None:
    rent = h.rent_minimum(CONSTANTS["EPHEMERAL_VAULT_SIZE"])
    h.set_lamports(funded.vault, rent + 100)  # less than the accounting says is there
    h.expect_error(h.execute_trade_ix(funded, 101), [funded.delegate], "InsufficientVaultBalance")


def test_execute_trade_whose_total_spent_overflows_is_arithmetic_overflow(h: VaultHarness, funded: Session) -> None:
    h.set_field(funded.vault, "total_spent", U64_MAX)
    h.expect_error(h.execute_trade_ix(funded, 1), [funded.delegate], "ArithmeticOverflow")


# ---- revoke_access ----------------------------------------------------------------------------------------------

REVOKE_CASES: dict[str, tuple[Case, str]] = {
    "two-accounts": (lambda w: (truncated_accounts(w.h.revoke_access_ix(w.s), 2), [w.s.parent]), "MissingAccounts"),
    "trailing-data": (
        lambda w: (with_data(w.h.revoke_access_ix(w.s), bytes(w.h.revoke_access_ix(w.s).data) + b"\0"), [w.s.parent]),
        "InvalidInstructionData",
    ),
    "parent-not-signer": (
        lambda w: (with_meta(w.h.revoke_access_ix(w.s), 0, signer=False), [w.stranger]),
        "MissingSigner",
    ),
    "parent-read-only": (
        lambda w: (with_meta(w.h.revoke_access_ix(w.s), 0, writable=False), [w.stranger, w.s.parent]),
        "AccountNotWritable",
    ),
    "vault-read-only": (
        lambda w: (with_meta(w.h.revoke_access_ix(w.s), 1, writable=False), [w.s.parent]),
        "AccountNotWritable",
    ),
    "delegation-read-only": (
        lambda w: (with_meta(w.h.revoke_access_ix(w.s), 2, writable=False), [w.s.parent]),
        "AccountNotWritable",
    ),
    "delegation-is-vault": (
        lambda w: (w.h.revoke_access_ix(w.s, delegation=w.s.vault), [w.s.parent]),
        "DuplicateAccount",
    ),
    "delegation-is-parent": (
        lambda w: (w.h.revoke_access_ix(w.s, delegation=w.s.parent.pubkey()), [w.s.parent]),
        "DuplicateAccount",
    ),
    "vault-not-program-owned": (
        lambda w: (w.h.revoke_access_ix(w.s, vault=w.stranger.pubkey()), [w.s.parent]),
        "InvalidAccountOwner",
    ),
    "vault-is-a-delegation": (
        lambda w: (w.h.revoke_access_ix(w.s, vault=w.other.delegation), [w.s.parent]),
        "InvalidDiscriminator",
    ),
    "parent-not-the-vaults": (
        lambda w: (w.h.revoke_access_ix(w.s, parent=w.stranger.pubkey()), [w.stranger]),
        "ParentMismatch",
    ),
    "delegation-of-another-vault": (
        lambda w: (w.h.revoke_access_ix(w.s, delegation=w.other.delegation), [w.s.parent]),
        "VaultMismatch",
    ),
    "delegation-is-a-vault": (
        lambda w: (w.h.revoke_access_ix(w.s, delegation=w.other.vault), [w.s.parent]),
        "InvalidDiscriminator",
    ),
    "delegation-not-the-pda": (
        lambda w: (w.h.revoke_access_ix(w.s, delegation=Keypair().pubkey()), [w.s.parent]),
        "InvalidPda",
    ),
}


@pytest.mark.parametrize("case", REVOKE_CASES, ids=lambda c: f"{c}-{REVOKE_CASES[c][1]}")
def test_revoke_access_rejects(h: VaultHarness, funded: Session, case: str) -> None:
    run(fresh_world(h, funded), *REVOKE_CASES[case])


def test_revoke_twice_is_vault_inactive(h: VaultHarness, funded: Session) -> None:
    h.send(h.revoke_access_ix(funded), [funded.parent])
    h.expect_error(h.revoke_access_ix(funded), [funded.parent], "VaultInactive")


def test_revoke_with_a_delegation_owned_by_another_program_is_invalid_owner(
    h: VaultHarness, open_vault: Session
) -> None:
    h.svm.set_account(open_vault.delegation, Account(10_000_000, b"", Keypair().pubkey()))
    h.expect_error(h.revoke_access_ix(open_vault), [open_vault.parent], "InvalidAccountOwner")


# ---- cleanup_vault ----------------------------------------------------------------------------------------------


def _cleanup(w: World, **override: Pubkey) -> Instruction:
    return w.h.cleanup_vault_ix(w.s, w.stranger.pubkey(), **override)


CLEANUP_CASES: dict[str, tuple[Case, str]] = {
    "three-accounts": (lambda w: (truncated_accounts(_cleanup(w), 3), [w.stranger]), "MissingAccounts"),
    "trailing-data": (
        lambda w: (with_data(_cleanup(w), bytes(_cleanup(w).data) + b"\0"), [w.stranger]),
        "InvalidInstructionData",
    ),
    "cleaner-not-signer": (lambda w: (with_meta(_cleanup(w), 0, signer=False), [w.other.parent]), "MissingSigner"),
    "cleaner-read-only": (
        lambda w: (with_meta(_cleanup(w), 0, writable=False), [w.other.parent, w.stranger]),
        "AccountNotWritable",
    ),
    "parent-read-only": (lambda w: (with_meta(_cleanup(w), 1, writable=False), [w.stranger]), "AccountNotWritable"),
    "vault-read-only": (lambda w: (with_meta(_cleanup(w), 2, writable=False), [w.stranger]), "AccountNotWritable"),
    "delegation-read-only": (
        lambda w: (with_meta(_cleanup(w), 3, writable=False), [w.stranger]),
        "AccountNotWritable",
    ),
    "cleaner-is-parent": (
        lambda w: (w.h.cleanup_vault_ix(w.s, w.s.parent.pubkey()), [w.s.parent]),
        "DuplicateAccount",
    ),
    "delegation-is-vault": (lambda w: (_cleanup(w, delegation=w.s.vault), [w.stranger]), "DuplicateAccount"),
    "vault-not-program-owned": (
        lambda w: (_cleanup(w, vault=w.other.parent.pubkey()), [w.stranger]),
        "InvalidAccountOwner",
    ),
    "vault-is-a-delegation": (lambda w: (_cleanup(w, vault=w.other.delegation), [w.stranger]), "InvalidDiscriminator"),
    "parent-not-the-vaults": (
        lambda w: (_cleanup(w, parent=w.other.parent.pubkey()), [w.stranger]),
        "ParentMismatch",
    ),
    "delegation-of-another-vault": (
        lambda w: (_cleanup(w, delegation=w.other.delegation), [w.stranger]),
        "VaultMismatch",
    ),
    "delegation-is-a-vault": (
        lambda w: (_cleanup(w, delegation=w.other.vault), [w.stranger]),
        "InvalidDiscriminator",
    ),
    "delegation-not-the-pda": (lambda w: (_cleanup(w, delegation=Keypair().pubkey()), [w.stranger]), "InvalidPda"),
}


@pytest.mark.parametrize("case", CLEANUP_CASES, ids=lambda c: f"{c}-{CLEANUP_CASES[c][1]}")
def test_cleanup_vault_rejects(h: VaultHarness, funded: Session, case: str) -> None:
    world = fresh_world(h, funded)
    h.advance(SESSION_DURATION)  # expired, so only the named rule stands in the way
    run(world, *CLEANUP_CASES[case])


def test_cleanup_of_a_live_session_is_session_not_expired(h: VaultHarness, funded: Session, cleaner: Keypair) -> None:
    h.advance(SESSION_DURATION - 1)
    h.expect_error(h.cleanup_vault_ix(funded, cleaner.pubkey()), [cleaner], "SessionNotExpired")


def test_cleanup_with_a_delegation_owned_by_another_program_is_invalid_owner(
    h: VaultHarness, open_vault: Session, cleaner: Keypair
) -> None:
    h.advance(SESSION_DURATION)
    h.svm.set_account(open_vault.delegation, Account(10_000_000, b"", Keypair().pubkey()))
    h.expect_error(h.cleanup_vault_ix(open_vault, cleaner.pubkey()), [cleaner], "InvalidAccountOwner")
