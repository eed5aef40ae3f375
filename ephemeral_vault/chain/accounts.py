"""Typed views of the program's two account types, decoded with anchorpy's account coder from the IDL.

Decoding checks, in order: the account exists, our program owns it, its 8-byte discriminator is the expected type's
(`sha256("account:<Type>")[:8]`) and its length is the type's exact size. Each failure is its own typed error, so a
caller can tell "not created yet" from "someone passed a foreign account".
"""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from ephemeral_vault.chain.errors import AccountNotFound, AccountOwnerMismatch, AccountTypeMismatch
from ephemeral_vault.chain.program import ProgramInterface, default_program

EPHEMERAL_VAULT = "EphemeralVault"
VAULT_DELEGATION = "VaultDelegation"


def account_discriminator(type_name: str) -> bytes:
    return sha256(f"account:{type_name}".encode()).digest()[:8]


@dataclass(frozen=True)
class RawAccount:
    """An account as fetched (address, owner, lamports, data), before decoding."""

    address: Pubkey
    owner: Pubkey
    lamports: int
    data: bytes


@dataclass(frozen=True)
class VaultAccount:
    address: Pubkey
    lamports: int
    parent: Pubkey
    delegate: Pubkey
    created_at: int
    session_expiry: int
    max_deposit: int
    total_deposited: int
    total_spent: int
    trade_count: int
    last_activity: int
    is_active: bool
    bump: int


@dataclass(frozen=True)
class DelegationAccount:
    address: Pubkey
    lamports: int
    vault: Pubkey
    delegate: Pubkey
    approved_at: int
    revoked_at: int
    bump: int

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at != 0


def _decode(raw: RawAccount | None, address: Pubkey, type_name: str, program: ProgramInterface) -> Any:
    if raw is None:
        raise AccountNotFound(f"no {type_name} at {address}: the account does not exist", address=str(address))
    if raw.owner == SYSTEM_PROGRAM_ID and not raw.data:
        # A closed or never-created PDA that someone sent lamports to: still "not created" for our purposes.
        raise AccountNotFound(
            f"no {type_name} at {address}: a system account holding {raw.lamports} lamports", address=str(address)
        )
    if raw.owner != program.program_id:
        raise AccountOwnerMismatch(
            f"{address} is owned by {raw.owner}, not by the program {program.program_id}", address=str(address)
        )
    if raw.data[:8] != account_discriminator(type_name):
        raise AccountTypeMismatch(f"{address} is not a {type_name} (discriminator differs)", address=str(address))
    size = program.constant("EPHEMERAL_VAULT_SIZE" if type_name == EPHEMERAL_VAULT else "VAULT_DELEGATION_SIZE")
    if len(raw.data) != size:
        raise AccountTypeMismatch(
            f"{address} holds {len(raw.data)} bytes, a {type_name} is {size}", address=str(address)
        )
    return program.coder.accounts.decode(raw.data)


def decode_vault(raw: RawAccount | None, address: Pubkey, program: ProgramInterface | None = None) -> VaultAccount:
    program = program or default_program()
    d = _decode(raw, address, EPHEMERAL_VAULT, program)
    assert raw is not None  # _decode raised otherwise
    return VaultAccount(
        address=address,
        lamports=raw.lamports,
        parent=d.parent,
        delegate=d.delegate,
        created_at=d.created_at,
        session_expiry=d.session_expiry,
        max_deposit=d.max_deposit,
        total_deposited=d.total_deposited,
        total_spent=d.total_spent,
        trade_count=d.trade_count,
        last_activity=d.last_activity,
        is_active=d.is_active,
        bump=d.bump,
    )


def decode_delegation(
    raw: RawAccount | None, address: Pubkey, program: ProgramInterface | None = None
) -> DelegationAccount:
    program = program or default_program()
    d = _decode(raw, address, VAULT_DELEGATION, program)
    assert raw is not None
    return DelegationAccount(
        address=address,
        lamports=raw.lamports,
        vault=d.vault,
        delegate=d.delegate,
        approved_at=d.approved_at,
        revoked_at=d.revoked_at,
        bump=d.bump,
    )
