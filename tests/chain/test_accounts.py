"""Account decoding from bytes laid out by hand per docs/program-abi.md offsets, and its typed refusals."""

from __future__ import annotations

import hashlib
import struct

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from ephemeral_vault.chain.accounts import RawAccount, decode_delegation, decode_vault
from ephemeral_vault.chain.errors import AccountNotFound, AccountOwnerMismatch, AccountTypeMismatch
from ephemeral_vault.chain.program import default_program

PROGRAM = default_program()


def _vault_bytes(parent: Pubkey, delegate: Pubkey) -> bytes:
    data = (
        hashlib.sha256(b"account:EphemeralVault").digest()[:8]
        + bytes(parent)
        + bytes(delegate)
        + struct.pack("<qqQQQQq", 1_700_000_000, 1_700_003_600, 5_000_000, 3_000_000, 15_000, 3, 1_700_000_100)
        + bytes([1, 253])
    )
    assert len(data) == 130
    return data


def _delegation_bytes(vault: Pubkey, delegate: Pubkey, revoked_at: int = 0) -> bytes:
    data = (
        hashlib.sha256(b"account:VaultDelegation").digest()[:8]
        + bytes(vault)
        + bytes(delegate)
        + struct.pack("<qq", 1_700_000_001, revoked_at)
        + bytes([250])
    )
    assert len(data) == 89
    return data


def test_vault_decodes_at_the_abi_offsets() -> None:
    parent, delegate, address = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    raw = RawAccount(address=address, owner=PROGRAM.program_id, lamports=4_000_000, data=_vault_bytes(parent, delegate))
    vault = decode_vault(raw, address, PROGRAM)
    assert (vault.parent, vault.delegate) == (parent, delegate)
    assert (vault.created_at, vault.session_expiry) == (1_700_000_000, 1_700_003_600)
    assert (vault.max_deposit, vault.total_deposited, vault.total_spent) == (5_000_000, 3_000_000, 15_000)
    assert (vault.trade_count, vault.last_activity, vault.is_active, vault.bump) == (3, 1_700_000_100, True, 253)
    assert vault.lamports == 4_000_000


def test_delegation_decodes_at_the_abi_offsets() -> None:
    vault, delegate, address = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    raw = RawAccount(address, PROGRAM.program_id, 1_500_000, _delegation_bytes(vault, delegate, revoked_at=77))
    delegation = decode_delegation(raw, address, PROGRAM)
    assert (delegation.vault, delegation.delegate, delegation.approved_at) == (vault, delegate, 1_700_000_001)
    assert (delegation.revoked_at, delegation.is_revoked, delegation.bump) == (77, True, 250)


def test_missing_account_is_account_not_found() -> None:
    address = Keypair().pubkey()
    with pytest.raises(AccountNotFound, match="does not exist"):
        decode_vault(None, address, PROGRAM)


def test_a_system_account_at_the_pda_is_not_a_vault_yet() -> None:
    address = Keypair().pubkey()
    with pytest.raises(AccountNotFound, match="system account holding 5 lamports"):
        decode_vault(RawAccount(address, SYSTEM_PROGRAM_ID, 5, b""), address, PROGRAM)


def test_a_foreign_owned_account_is_refused_even_with_valid_bytes() -> None:
    address, parent, delegate = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    raw = RawAccount(address, Keypair().pubkey(), 1, _vault_bytes(parent, delegate))
    with pytest.raises(AccountOwnerMismatch, match="not by the program"):
        decode_vault(raw, address, PROGRAM)


def test_a_delegation_is_not_accepted_as_a_vault() -> None:
    address = Keypair().pubkey()
    raw = RawAccount(address, PROGRAM.program_id, 1, _delegation_bytes(Keypair().pubkey(), Keypair().pubkey()))
    with pytest.raises(AccountTypeMismatch, match="discriminator differs"):
        decode_vault(raw, address, PROGRAM)


def test_a_vault_with_the_wrong_length_is_refused() -> None:
    address = Keypair().pubkey()
    raw = RawAccount(address, PROGRAM.program_id, 1, _vault_bytes(Keypair().pubkey(), Keypair().pubkey()) + b"\x00")
    with pytest.raises(AccountTypeMismatch, match="131 bytes"):
        decode_vault(raw, address, PROGRAM)
