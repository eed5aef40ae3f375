"""Instruction builders for every `ephemeral_vault` instruction, plus the compute-budget pair for priority fees.

Data is encoded by anchorpy's instruction coder from the IDL (`sha256("global:<name>")[:8]` + borsh args); account
metas come from the IDL's account list, in its order, with its writable/signer flags — so the order in
docs/program-abi.md is enforced by the same file the program's build generates, not restated here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyheck import snake
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from ephemeral_vault.chain.pdas import SessionAddresses, delegation_pda, vault_pda
from ephemeral_vault.chain.program import ProgramInterface, default_program

U64_MAX = 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U32_MAX = 2**32 - 1
TRADE_REF_LEN = 16


class InstructionArgumentError(ValueError):
    """An argument cannot be encoded as the IDL type (wrong type, out of range, wrong length)."""


def _u64(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InstructionArgumentError(f"{name} must be an int (u64), got {type(value).__name__}")
    if not 0 <= value <= U64_MAX:
        raise InstructionArgumentError(f"{name} must be in [0, 2**64-1], got {value}")
    return value


def _i64(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InstructionArgumentError(f"{name} must be an int (i64), got {type(value).__name__}")
    if not I64_MIN <= value <= I64_MAX:
        raise InstructionArgumentError(f"{name} must fit in i64, got {value}")
    return value


def _pubkey(name: str, value: Pubkey) -> Pubkey:
    if not isinstance(value, Pubkey):
        raise InstructionArgumentError(f"{name} must be a solders Pubkey, got {type(value).__name__}")
    return value


def _trade_ref(value: bytes) -> list[int]:
    if not isinstance(value, bytes | bytearray) or len(value) != TRADE_REF_LEN:
        raise InstructionArgumentError(f"trade_ref must be exactly {TRADE_REF_LEN} bytes (a UUID's bytes)")
    return list(value)


def build_instruction(
    program: ProgramInterface, name: str, args: Mapping[str, Any], accounts: Mapping[str, Pubkey]
) -> Instruction:
    """Encode instruction `name` (snake_case) with `args`; `accounts` maps the IDL's account names to keys.

    Every IDL account must be given and no other: a typo must fail here, not as an opaque on-chain error.
    """
    idl_ix = next((ix for ix in program.idl.instructions if snake(ix.name) == name), None)
    if idl_ix is None:
        raise InstructionArgumentError(f"the IDL has no instruction {name!r}")
    expected = [snake(acc.name) for acc in idl_ix.accounts]
    if set(accounts) != set(expected):
        raise InstructionArgumentError(f"{name} takes accounts {expected}, got {sorted(accounts)}")
    metas = [
        AccountMeta(
            _pubkey(snake(acc.name), accounts[snake(acc.name)]), is_signer=acc.is_signer, is_writable=acc.is_mut
        )
        for acc in idl_ix.accounts
    ]
    data = program.coder.instruction.encode(name, dict(args))
    return Instruction(program.program_id, data, metas)


def create_vault(
    parent: Pubkey,
    delegate: Pubkey,
    session_duration: int,
    max_deposit: int,
    program: ProgramInterface | None = None,
) -> Instruction:
    program = program or default_program()
    vault, _ = vault_pda(_pubkey("parent", parent), _pubkey("delegate", delegate), program.program_id)
    return build_instruction(
        program,
        "create_vault",
        {
            "session_duration": _i64("session_duration", session_duration),
            "max_deposit": _u64("max_deposit", max_deposit),
        },
        {"parent": parent, "delegate": delegate, "vault": vault, "system_program": SYSTEM_PROGRAM_ID},
    )


def approve_delegate(parent: Pubkey, delegate: Pubkey, program: ProgramInterface | None = None) -> Instruction:
    program = program or default_program()
    addrs = SessionAddresses.derive(_pubkey("parent", parent), _pubkey("delegate", delegate), program.program_id)
    return build_instruction(
        program,
        "approve_delegate",
        {"delegate": delegate},
        {"parent": parent, "vault": addrs.vault, "delegation": addrs.delegation, "system_program": SYSTEM_PROGRAM_ID},
    )


def auto_deposit_for_trade(
    parent: Pubkey, vault: Pubkey, amount: int, program: ProgramInterface | None = None
) -> Instruction:
    program = program or default_program()
    return build_instruction(
        program,
        "auto_deposit_for_trade",
        {"amount": _u64("amount", amount)},
        {"parent": parent, "vault": vault, "system_program": SYSTEM_PROGRAM_ID},
    )


def execute_trade(
    delegate: Pubkey, vault: Pubkey, fee_lamports: int, trade_ref: bytes, program: ProgramInterface | None = None
) -> Instruction:
    program = program or default_program()
    delegation, _ = delegation_pda(_pubkey("vault", vault), program.program_id)
    return build_instruction(
        program,
        "execute_trade",
        {"fee_lamports": _u64("fee_lamports", fee_lamports), "trade_ref": _trade_ref(trade_ref)},
        {"delegate": delegate, "vault": vault, "delegation": delegation},
    )


def revoke_access(parent: Pubkey, vault: Pubkey, program: ProgramInterface | None = None) -> Instruction:
    program = program or default_program()
    delegation, _ = delegation_pda(_pubkey("vault", vault), program.program_id)
    return build_instruction(program, "revoke_access", {}, {"parent": parent, "vault": vault, "delegation": delegation})


def cleanup_vault(
    cleaner: Pubkey, parent: Pubkey, vault: Pubkey, program: ProgramInterface | None = None
) -> Instruction:
    program = program or default_program()
    delegation, _ = delegation_pda(_pubkey("vault", vault), program.program_id)
    return build_instruction(
        program,
        "cleanup_vault",
        {},
        {"cleaner": cleaner, "parent": parent, "vault": vault, "delegation": delegation},
    )


def priority_fee_instructions(compute_unit_limit: int | None, micro_lamports_per_cu: int | None) -> list[Instruction]:
    """ComputeBudget instructions to put FIRST in a transaction: a CU limit (a tight limit lowers the priority fee,
    which is price x limit) and a price in micro-lamports per CU. `None` leaves the runtime default."""
    ixs: list[Instruction] = []
    if compute_unit_limit is not None:
        if isinstance(compute_unit_limit, bool) or not 0 < compute_unit_limit <= U32_MAX:
            raise InstructionArgumentError(f"compute_unit_limit must be in [1, 2**32-1], got {compute_unit_limit}")
        ixs.append(set_compute_unit_limit(compute_unit_limit))
    if micro_lamports_per_cu is not None:
        ixs.append(set_compute_unit_price(_u64("micro_lamports_per_cu", micro_lamports_per_cu)))
    return ixs
