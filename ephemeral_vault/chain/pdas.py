"""Program-derived addresses of a session. Seeds are fixed by docs/program-abi.md."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

VAULT_SEED = b"vault"
DELEGATION_SEED = b"delegation"


def vault_pda(parent: Pubkey, delegate: Pubkey, program_id: Pubkey) -> tuple[Pubkey, int]:
    """`["vault", parent, delegate]` with its canonical bump: one vault per (parent, ephemeral key) pair."""
    return Pubkey.find_program_address([VAULT_SEED, bytes(parent), bytes(delegate)], program_id)


def delegation_pda(vault: Pubkey, program_id: Pubkey) -> tuple[Pubkey, int]:
    """`["delegation", vault]` with its canonical bump."""
    return Pubkey.find_program_address([DELEGATION_SEED, bytes(vault)], program_id)


@dataclass(frozen=True)
class SessionAddresses:
    """Every address a session touches, derived once."""

    program_id: Pubkey
    parent: Pubkey
    delegate: Pubkey
    vault: Pubkey
    vault_bump: int
    delegation: Pubkey
    delegation_bump: int

    @classmethod
    def derive(cls, parent: Pubkey, delegate: Pubkey, program_id: Pubkey) -> SessionAddresses:
        vault, vault_bump = vault_pda(parent, delegate, program_id)
        delegation, delegation_bump = delegation_pda(vault, program_id)
        return cls(
            program_id=program_id,
            parent=parent,
            delegate=delegate,
            vault=vault,
            vault_bump=vault_bump,
            delegation=delegation,
            delegation_bump=delegation_bump,
        )
