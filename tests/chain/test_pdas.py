"""PDA derivation matches an independent implementation of Solana's rule (sha256 + ed25519 off-curve check)."""

from __future__ import annotations

import hashlib

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from ephemeral_vault.chain.pdas import SessionAddresses, delegation_pda, vault_pda
from ephemeral_vault.settings import DEV_PROGRAM_ID

PROGRAM_ID = Pubkey.from_string(DEV_PROGRAM_ID)

# ed25519 (twisted Edwards) parameters, for the on-curve test a PDA must fail.
_P = 2**255 - 19
_D = (-121665 * pow(121666, -1, _P)) % _P


def _on_curve(point: bytes) -> bool:
    y = int.from_bytes(point, "little") & ((1 << 255) - 1)
    y2 = y * y % _P
    u = (y2 - 1) % _P
    v = (_D * y2 + 1) % _P
    x2 = u * pow(v, -1, _P) % _P
    return x2 == 0 or pow(x2, (_P - 1) // 2, _P) == 1


def _find_program_address(seeds: list[bytes], program_id: Pubkey) -> tuple[Pubkey, int]:
    for bump in range(255, -1, -1):
        digest = hashlib.sha256(b"".join(seeds) + bytes([bump]) + bytes(program_id) + b"ProgramDerivedAddress").digest()
        if not _on_curve(digest):
            return Pubkey(digest), bump
    raise AssertionError("no viable bump")


@pytest.mark.parametrize("seed", range(8))
def test_vault_pda_follows_the_vault_parent_delegate_seed_rule(seed: int) -> None:
    parent = Keypair.from_seed(bytes([seed]) * 32).pubkey()
    delegate = Keypair.from_seed(bytes([seed + 100]) * 32).pubkey()
    assert vault_pda(parent, delegate, PROGRAM_ID) == _find_program_address(
        [b"vault", bytes(parent), bytes(delegate)], PROGRAM_ID
    )


@pytest.mark.parametrize("seed", range(8))
def test_delegation_pda_follows_the_delegation_vault_seed_rule(seed: int) -> None:
    vault = Keypair.from_seed(bytes([seed + 7]) * 32).pubkey()
    assert delegation_pda(vault, PROGRAM_ID) == _find_program_address([b"delegation", bytes(vault)], PROGRAM_ID)


def test_swapping_parent_and_delegate_gives_a_different_vault() -> None:
    a, b = Keypair().pubkey(), Keypair().pubkey()
    assert vault_pda(a, b, PROGRAM_ID)[0] != vault_pda(b, a, PROGRAM_ID)[0]


def test_session_addresses_chain_vault_into_delegation() -> None:
    parent, delegate = Keypair().pubkey(), Keypair().pubkey()
    addrs = SessionAddresses.derive(parent, delegate, PROGRAM_ID)
    assert (addrs.vault, addrs.vault_bump) == vault_pda(parent, delegate, PROGRAM_ID)
    assert (addrs.delegation, addrs.delegation_bump) == delegation_pda(addrs.vault, PROGRAM_ID)


def test_the_independent_curve_check_accepts_real_public_keys() -> None:
    # Guards the reference implementation itself: a real ed25519 public key is on the curve.
    assert all(_on_curve(bytes(Keypair().pubkey())) for _ in range(16))
