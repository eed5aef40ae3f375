"""Helpers for the security and property tests (test_attack_classes.py, test_properties.py,
test_fuzz_instruction_data.py) that `harness.py` does not offer: crafted look-alike accounts, extra account metas,
System transfers inside a vault transaction, non-canonical PDA addresses, a fake Clock account, and the "no panic,
nothing moved" classification of a failed transaction.

Everything runs against the real program in LiteSVM; nothing here mocks the runtime.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from solders.account import Account
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from programs.ephemeral_vault import idl as idl_def
from tests.program.harness import ERROR_NAMES, PROGRAM_ID

SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")
BPF_LOADER_UPGRADEABLE = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")
CLOCK_SYSVAR = Pubkey.from_string("SysvarC1ock11111111111111111111111111111111")

# What a program abort looks like in the logs: none of these may ever appear for this program.
PANIC_MARKERS = (
    "Program failed to complete",
    "Access violation",
    "panicked",
    "exceeded maximum",
    "Unsupported",
    "divide by zero",
    "call depth",
    "invalid instruction",
)


def with_extra_accounts(ix: Instruction, *metas: AccountMeta) -> Instruction:
    """`ix` with `metas` appended after its declared accounts (an attacker may always add accounts)."""
    return Instruction(ix.program_id, ix.data, [*ix.accounts, *metas])


def with_account(ix: Instruction, index: int, key: Pubkey) -> Instruction:
    """`ix` with account `index` replaced by `key`, keeping that slot's signer/writable flags."""
    metas = list(ix.accounts)
    m = metas[index]
    metas[index] = AccountMeta(key, is_signer=m.is_signer, is_writable=m.is_writable)
    return Instruction(ix.program_id, ix.data, metas)


def transfer_ix(source: Pubkey, destination: Pubkey, lamports: int) -> Instruction:
    return transfer(TransferParams(from_pubkey=source, to_pubkey=destination, lamports=lamports))


def copy_account(svm: LiteSVM, source: Pubkey, *, owner: Pubkey, to: Pubkey | None = None) -> Pubkey:
    """A look-alike: the lamports and data of `source` under `owner`, written at `to` (default: over `source`)."""
    acct = svm.get_account(source)
    assert acct is not None, f"no account at {source}"
    target = to if to is not None else source
    svm.set_account(target, Account(acct.lamports, bytes(acct.data), owner, False, acct.rent_epoch))
    return target


def set_data(
    svm: LiteSVM, key: Pubkey, data: bytes, *, owner: Pubkey = PROGRAM_ID, lamports: int | None = None
) -> None:
    """Write `data` (with `owner`) at `key`: a crafted account, rent-exempt unless `lamports` says otherwise."""
    if lamports is None:
        lamports = svm.minimum_balance_for_rent_exemption(len(data))
    svm.set_account(key, Account(lamports, data, owner, False, 0))


def non_canonical_address(seeds: Sequence[bytes], program_id: Pubkey = PROGRAM_ID) -> tuple[Pubkey, int]:
    """The PDA for `seeds` with the highest off-curve bump below the canonical one (a valid PDA, not canonical)."""
    _, canonical = Pubkey.find_program_address(list(seeds), program_id)
    for bump in range(canonical - 1, -1, -1):
        try:
            return Pubkey.create_program_address([*seeds, bytes([bump])], program_id), bump
        except Exception:  # this bump lands on the curve; try the next lower one
            continue
    raise AssertionError("no non-canonical bump exists for these seeds")


def vault_seeds(parent: Pubkey, delegate: Pubkey) -> list[bytes]:
    return [idl_def.VAULT_SEED, bytes(parent), bytes(delegate)]


def delegation_seeds(vault: Pubkey) -> list[bytes]:
    return [idl_def.DELEGATION_SEED, bytes(vault)]


def clock_bytes(unix_timestamp: int, slot: int = 1, epoch: int = 0) -> bytes:
    """A Clock sysvar's bincode layout: slot, epoch_start_timestamp, epoch, leader_schedule_epoch, unix_timestamp."""
    return struct.pack("<QqQQq", slot, unix_timestamp, epoch, epoch + 1, unix_timestamp)


def fake_clock(svm: LiteSVM, unix_timestamp: int) -> Pubkey:
    """A Clock-looking account (sysvar-owned, Clock layout) at a fresh address, claiming `unix_timestamp`."""
    key = Keypair().pubkey()
    set_data(svm, key, clock_bytes(unix_timestamp), owner=SYSVAR_OWNER)
    return key


def logs_of(result: TransactionMetadata | FailedTransactionMetadata) -> list[str]:
    meta = result.meta() if isinstance(result, FailedTransactionMetadata) else result
    return list(meta.logs())


def program_error_name(result: FailedTransactionMetadata) -> str | None:
    """The program's named error of a failed transaction, or None when it failed some other way."""
    err = result.err()
    if isinstance(err, TransactionErrorInstructionError) and isinstance(err.err, InstructionErrorCustom):
        return ERROR_NAMES.get(err.err.code)
    return None


def panic_lines(result: TransactionMetadata | FailedTransactionMetadata) -> list[str]:
    return [line for line in logs_of(result) if any(marker in line for marker in PANIC_MARKERS)]


def balances(svm: LiteSVM, keys: Iterable[Pubkey]) -> dict[Pubkey, int]:
    return {k: svm.get_balance(k) or 0 for k in keys}


def system_account_is_empty(svm: LiteSVM, key: Pubkey) -> bool:
    """Closed: no account at all, or a System-owned account with no data (LiteSVM may keep a 0-lamport entry)."""
    acct = svm.get_account(key)
    return acct is None or (acct.owner == SYSTEM_PROGRAM_ID and len(acct.data) == 0)
