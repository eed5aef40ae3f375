"""Session-opening composition and on-chain comparison, on values built by hand (no node needed)."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import Transaction

from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.accounts import RawAccount
from ephemeral_vault.chain.client import sign_transaction
from ephemeral_vault.chain.errors import SignerKeypairsMismatch
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.chain.program import default_program
from ephemeral_vault.chain.send import BlockhashInfo
from ephemeral_vault.chain.session_tx import (
    InvalidSessionParameters,
    PriorityFee,
    session_opening_instructions,
    unsigned_transaction,
    verify_parent_signed,
)
from ephemeral_vault.chain.verify import ExpectedSession, compare_session

PROGRAM = default_program()
COMPUTE_BUDGET_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")


def _opening(parent: Pubkey, delegate: Pubkey, **overrides: object) -> list:
    args: dict = {"session_duration": 3600, "max_deposit": 1_000, "initial_deposit": 500, "fee_float_lamports": 900_000}
    args.update(overrides)
    return session_opening_instructions(parent, delegate, program=PROGRAM, **args)


def test_session_opening_is_budget_create_approve_deposit_then_fee_float() -> None:
    parent, delegate = Keypair().pubkey(), Keypair().pubkey()
    instructions = _opening(parent, delegate, priority=PriorityFee(100_000, 10))
    programs = [ix.program_id for ix in instructions]
    assert programs == [COMPUTE_BUDGET_ID] * 2 + [PROGRAM.program_id] * 3 + [SYSTEM_PROGRAM_ID]
    discriminators = [bytes(ix.data[:8]) for ix in instructions[2:5]]
    names = ["create_vault", "approve_delegate", "auto_deposit_for_trade"]
    assert discriminators == [hashlib.sha256(f"global:{n}".encode()).digest()[:8] for n in names]
    transfer = instructions[-1]
    assert [m.pubkey for m in transfer.accounts] == [parent, delegate]
    assert bytes(transfer.data) == struct.pack("<IQ", 2, 900_000)  # SystemInstruction::Transfer


def test_zero_deposit_and_zero_float_leave_those_instructions_out() -> None:
    instructions = _opening(Keypair().pubkey(), Keypair().pubkey(), initial_deposit=0, fee_float_lamports=0)
    assert len(instructions) == 2


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"initial_deposit": 1_001}, "exceeds max_deposit"),
        ({"initial_deposit": -1}, "must be >= 0"),
        ({"fee_float_lamports": -5}, "must be >= 0"),
    ],
)
def test_impossible_openings_are_refused_before_signing(overrides: dict, fragment: str) -> None:
    with pytest.raises(InvalidSessionParameters, match=fragment):
        _opening(Keypair().pubkey(), Keypair().pubkey(), **overrides)


def test_the_parent_cannot_be_its_own_delegate() -> None:
    parent = Keypair().pubkey()
    with pytest.raises(InvalidSessionParameters, match="fresh ephemeral key"):
        _opening(parent, parent)


def test_the_offer_needs_only_the_parent_and_round_trips_through_a_wallet() -> None:
    parent, delegate = Keypair(), Keypair().pubkey()
    offer = unsigned_transaction(
        _opening(parent.pubkey(), delegate), parent.pubkey(), BlockhashInfo(Hash.new_unique(), 77)
    )
    assert offer.required_signers == (str(parent.pubkey()),) and offer.fee_payer == str(parent.pubkey())
    tx = Transaction.from_bytes(base64.b64decode(offer.transaction_base64))
    tx.partial_sign([parent], tx.message.recent_blockhash)
    signed = verify_parent_signed(offer, base64.b64encode(bytes(tx)).decode())
    assert signed.signature == str(tx.signatures[0]) and signed.last_valid_block_height == 77


# --- compare_session ------------------------------------------------------------------------------------------------


def _vault_raw(addrs: SessionAddresses, *, is_active: bool = True, bump: int | None = None) -> RawAccount:
    data = (
        hashlib.sha256(b"account:EphemeralVault").digest()[:8]
        + bytes(addrs.parent)
        + bytes(addrs.delegate)
        + struct.pack("<qqQQQQq", 1_000, 4_600, 1_000, 500, 0, 0, 1_000)
        + bytes([int(is_active), addrs.vault_bump if bump is None else bump])
    )
    return RawAccount(addrs.vault, PROGRAM.program_id, 2_000_000, data)


def _delegation_raw(addrs: SessionAddresses, *, vault: Pubkey | None = None, revoked_at: int = 0) -> RawAccount:
    data = (
        hashlib.sha256(b"account:VaultDelegation").digest()[:8]
        + bytes(vault or addrs.vault)
        + bytes(addrs.delegate)
        + struct.pack("<qq", 1_000, revoked_at)
        + bytes([addrs.delegation_bump])
    )
    return RawAccount(addrs.delegation, PROGRAM.program_id, 1_500_000, data)


@pytest.fixture
def addrs() -> SessionAddresses:
    return SessionAddresses.derive(Keypair().pubkey(), Keypair().pubkey(), PROGRAM.program_id)


def _expected(addrs: SessionAddresses, **overrides: object) -> ExpectedSession:
    args: dict = {"parent": addrs.parent, "delegate": addrs.delegate, "max_deposit": 1_000, "session_expiry": 4_600}
    args.update(overrides)
    return ExpectedSession(**args)


def test_a_matching_session_has_no_mismatch(addrs: SessionAddresses) -> None:
    expected = _expected(addrs, session_duration=3_600, min_total_deposited=500)
    assert compare_session(expected, _vault_raw(addrs), _delegation_raw(addrs), PROGRAM) == []


def test_inactive_vault_revoked_delegation_and_foreign_vault_link_are_each_reported(addrs: SessionAddresses) -> None:
    found = compare_session(
        _expected(addrs),
        _vault_raw(addrs, is_active=False),
        _delegation_raw(addrs, vault=Keypair().pubkey(), revoked_at=5),
        PROGRAM,
    )
    assert {(m.account, m.field) for m in found} == {
        ("vault", "is_active"),
        ("delegation", "vault"),
        ("delegation", "revoked_at"),
    }


def test_a_non_canonical_bump_is_reported(addrs: SessionAddresses) -> None:
    found = compare_session(
        _expected(addrs), _vault_raw(addrs, bump=addrs.vault_bump - 1), _delegation_raw(addrs), PROGRAM
    )
    assert [(m.field, m.expected) for m in found] == [("bump", str(addrs.vault_bump))]


def test_expiry_outside_the_tolerance_is_reported_inside_is_not(addrs: SessionAddresses) -> None:
    inside = _expected(addrs, session_expiry=4_600 - 120, expiry_tolerance_seconds=120)
    outside = _expected(addrs, session_expiry=4_600 - 121, expiry_tolerance_seconds=120)
    assert compare_session(inside, _vault_raw(addrs), _delegation_raw(addrs), PROGRAM) == []
    assert [m.field for m in compare_session(outside, _vault_raw(addrs), _delegation_raw(addrs), PROGRAM)] == [
        "session_expiry"
    ]


def test_a_foreign_account_at_the_vault_address_is_a_mismatch_not_missing(addrs: SessionAddresses) -> None:
    foreign = RawAccount(addrs.vault, Keypair().pubkey(), 1, _vault_raw(addrs).data)
    (problem,) = compare_session(_expected(addrs), foreign, _delegation_raw(addrs), PROGRAM)
    assert problem.field == "account" and not problem.is_missing and "owned by" in problem.actual


def test_signing_with_the_wrong_keypairs_names_what_is_missing_and_what_is_extra() -> None:
    delegate, stranger = Keypair(), Keypair()
    trade = ixs.execute_trade(delegate.pubkey(), Keypair().pubkey(), 1, bytes(16), PROGRAM)
    blockhash = BlockhashInfo(Hash.new_unique(), 10)
    with pytest.raises(SignerKeypairsMismatch, match=f"not needed \\['{stranger.pubkey()}'\\]"):
        sign_transaction([trade], delegate, [stranger], blockhash)
    payer = Keypair()
    with pytest.raises(SignerKeypairsMismatch, match=f"missing \\['{delegate.pubkey()}'\\]"):
        sign_transaction([trade], payer, [], blockhash)
