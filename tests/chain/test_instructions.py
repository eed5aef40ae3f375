"""Instruction bytes follow the Anchor rule (sha256("global:<name>")[:8] + borsh args) and account lists follow
docs/program-abi.md, checked against values computed here independently of anchorpy."""

from __future__ import annotations

import hashlib
import struct

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.instructions import InstructionArgumentError
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.chain.program import default_program

PROGRAM = default_program()
COMPUTE_BUDGET_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")


def _disc(name: str) -> bytes:
    return hashlib.sha256(f"global:{name}".encode()).digest()[:8]


def _metas(ix: object) -> list[tuple[Pubkey, bool, bool]]:
    return [(m.pubkey, m.is_writable, m.is_signer) for m in ix.accounts]  # type: ignore[attr-defined]


@pytest.fixture
def session() -> SessionAddresses:
    return SessionAddresses.derive(Keypair().pubkey(), Keypair().pubkey(), PROGRAM.program_id)


def test_create_vault_encodes_duration_i64_and_max_deposit_u64(session: SessionAddresses) -> None:
    ix = ixs.create_vault(session.parent, session.delegate, 3600, 2_000_000_000, PROGRAM)
    assert ix.program_id == PROGRAM.program_id
    assert bytes(ix.data) == _disc("create_vault") + struct.pack("<qQ", 3600, 2_000_000_000)
    assert _metas(ix) == [
        (session.parent, True, True),
        (session.delegate, False, False),
        (session.vault, True, False),
        (SYSTEM_PROGRAM_ID, False, False),
    ]


def test_approve_delegate_carries_the_delegate_pubkey(session: SessionAddresses) -> None:
    ix = ixs.approve_delegate(session.parent, session.delegate, PROGRAM)
    assert bytes(ix.data) == _disc("approve_delegate") + bytes(session.delegate)
    assert _metas(ix) == [
        (session.parent, True, True),
        (session.vault, False, False),
        (session.delegation, True, False),
        (SYSTEM_PROGRAM_ID, False, False),
    ]


def test_auto_deposit_encodes_the_amount(session: SessionAddresses) -> None:
    ix = ixs.auto_deposit_for_trade(session.parent, session.vault, 123_456_789, PROGRAM)
    assert bytes(ix.data) == _disc("auto_deposit_for_trade") + struct.pack("<Q", 123_456_789)
    assert _metas(ix) == [
        (session.parent, True, True),
        (session.vault, True, False),
        (SYSTEM_PROGRAM_ID, False, False),
    ]


def test_execute_trade_encodes_fee_and_trade_ref(session: SessionAddresses) -> None:
    ref = bytes(range(16))
    ix = ixs.execute_trade(session.delegate, session.vault, 5_000, ref, PROGRAM)
    assert bytes(ix.data) == _disc("execute_trade") + struct.pack("<Q", 5_000) + ref
    assert _metas(ix) == [
        (session.delegate, True, True),
        (session.vault, True, False),
        (session.delegation, False, False),
    ]


def test_revoke_access_has_no_args(session: SessionAddresses) -> None:
    ix = ixs.revoke_access(session.parent, session.vault, PROGRAM)
    assert bytes(ix.data) == _disc("revoke_access")
    assert _metas(ix) == [
        (session.parent, True, True),
        (session.vault, True, False),
        (session.delegation, True, False),
    ]


def test_cleanup_vault_lists_cleaner_parent_vault_delegation(session: SessionAddresses) -> None:
    cleaner = Keypair().pubkey()
    ix = ixs.cleanup_vault(cleaner, session.parent, session.vault, PROGRAM)
    assert bytes(ix.data) == _disc("cleanup_vault")
    assert _metas(ix) == [
        (cleaner, True, True),
        (session.parent, True, False),
        (session.vault, True, False),
        (session.delegation, True, False),
    ]


def test_priority_fee_instructions_are_set_limit_then_set_price() -> None:
    limit, price = ixs.priority_fee_instructions(200_000, 5_000)
    assert limit.program_id == COMPUTE_BUDGET_ID and price.program_id == COMPUTE_BUDGET_ID
    assert bytes(limit.data) == bytes([2]) + struct.pack("<I", 200_000)
    assert bytes(price.data) == bytes([3]) + struct.pack("<Q", 5_000)
    assert ixs.priority_fee_instructions(None, None) == []


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda s: ixs.auto_deposit_for_trade(s.parent, s.vault, -1, PROGRAM), "amount must be in [0, 2**64-1]"),
        (lambda s: ixs.auto_deposit_for_trade(s.parent, s.vault, 2**64, PROGRAM), "amount must be in [0, 2**64-1]"),
        (lambda s: ixs.auto_deposit_for_trade(s.parent, s.vault, 1.5, PROGRAM), "amount must be an int"),
        (lambda s: ixs.create_vault(s.parent, s.delegate, 2**63, 1, PROGRAM), "session_duration must fit in i64"),
        (lambda s: ixs.execute_trade(s.delegate, s.vault, 1, b"short", PROGRAM), "exactly 16 bytes"),
        (lambda s: ixs.execute_trade(s.delegate, s.vault, True, bytes(16), PROGRAM), "fee_lamports must be an int"),
        (lambda s: ixs.revoke_access(str(s.parent), s.vault, PROGRAM), "must be a solders Pubkey"),
        (lambda s: ixs.priority_fee_instructions(0, None), "compute_unit_limit must be in"),
    ],
)
def test_unencodable_arguments_raise_a_precise_error(session: SessionAddresses, call: object, fragment: str) -> None:
    with pytest.raises(InstructionArgumentError, match=fragment.replace("[", r"\[").replace("*", r"\*")):
        call(session)  # type: ignore[operator]


def test_a_misnamed_account_is_refused_before_encoding(session: SessionAddresses) -> None:
    with pytest.raises(InstructionArgumentError, match="takes accounts"):
        ixs.build_instruction(PROGRAM, "revoke_access", {}, {"parent": session.parent, "vault": session.vault})
