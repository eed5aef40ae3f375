"""Unsigned transactions the PARENT signs (session opening, deposit, revoke), and the check of what comes back.

The session-opening transaction is the one wallet pop-up of DESIGN.md §4 step 1: create_vault + approve_delegate
[+ the first auto_deposit_for_trade] + a System transfer of the delegate's fee float (parent → ephemeral key), with
the parent as fee payer. The backend never holds the parent's key, so these are offered unsigned (base64 wire format,
zeroed signature slots) and the wallet's answer is checked byte for byte against the offer before it is submitted:
a wallet or a man in the middle that changed one instruction, account or the blockhash is refused.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from dataclasses import dataclass

from solders.instruction import Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import ChainError, SignedTransactionMismatch
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.chain.program import ProgramInterface, default_program
from ephemeral_vault.chain.send import BlockhashInfo, SignedTx, decode_transaction


class InvalidSessionParameters(ValueError):
    """Session-opening values the program (or the runtime) would certainly reject; caught before anyone signs."""


@dataclass(frozen=True)
class PriorityFee:
    """ComputeBudget settings: `compute_unit_limit` caps CUs (and so the priority fee = price x limit)."""

    compute_unit_limit: int | None = None
    micro_lamports_per_cu: int | None = None

    def instructions(self) -> list[Instruction]:
        return ixs.priority_fee_instructions(self.compute_unit_limit, self.micro_lamports_per_cu)


@dataclass(frozen=True)
class UnsignedTx:
    """A transaction offered for signing. Plain fields: it is stored with the session and travels through Temporal."""

    transaction_base64: str  # wire format with zeroed signatures: what a wallet's signTransaction takes
    message_base64: str  # the exact bytes every required signer signs
    fee_payer: str
    required_signers: tuple[str, ...]
    recent_blockhash: str
    last_valid_block_height: int


@dataclass(frozen=True)
class SessionOpening:
    unsigned: UnsignedTx
    vault: str
    delegation: str
    initial_deposit_lamports: int
    fee_float_lamports: int


def unsigned_transaction(
    instructions: Sequence[Instruction], fee_payer: Pubkey, blockhash: BlockhashInfo
) -> UnsignedTx:
    message = Message.new_with_blockhash(list(instructions), fee_payer, blockhash.blockhash)
    tx = Transaction.new_unsigned(message)
    signers = message.account_keys[: message.header.num_required_signatures]
    return UnsignedTx(
        transaction_base64=base64.b64encode(bytes(tx)).decode(),
        message_base64=base64.b64encode(bytes(message)).decode(),
        fee_payer=str(fee_payer),
        required_signers=tuple(str(k) for k in signers),
        recent_blockhash=str(blockhash.blockhash),
        last_valid_block_height=blockhash.last_valid_block_height,
    )


def session_opening_instructions(
    parent: Pubkey,
    delegate: Pubkey,
    *,
    session_duration: int,
    max_deposit: int,
    initial_deposit: int,
    fee_float_lamports: int,
    priority: PriorityFee | None = None,
    program: ProgramInterface | None = None,
) -> list[Instruction]:
    """In order: compute budget, create_vault, approve_delegate, auto_deposit (if > 0), fee-float transfer (if > 0)."""
    program = program or default_program()
    if initial_deposit < 0 or fee_float_lamports < 0:
        raise InvalidSessionParameters("initial_deposit and fee_float_lamports must be >= 0")
    if initial_deposit > max_deposit:
        raise InvalidSessionParameters(f"initial_deposit {initial_deposit} exceeds max_deposit {max_deposit}")
    if parent == delegate:
        raise InvalidSessionParameters("the delegate must be a fresh ephemeral key, not the parent")
    addrs = SessionAddresses.derive(parent, delegate, program.program_id)
    out = list(priority.instructions()) if priority else []
    out.append(ixs.create_vault(parent, delegate, session_duration, max_deposit, program))
    out.append(ixs.approve_delegate(parent, delegate, program))
    if initial_deposit > 0:
        out.append(ixs.auto_deposit_for_trade(parent, addrs.vault, initial_deposit, program))
    if fee_float_lamports > 0:
        out.append(transfer(TransferParams(from_pubkey=parent, to_pubkey=delegate, lamports=fee_float_lamports)))
    return out


async def build_session_opening(
    chain: ChainClient,
    parent: Pubkey,
    delegate: Pubkey,
    *,
    session_duration: int,
    max_deposit: int,
    initial_deposit: int = 0,
    fee_float_lamports: int = 0,
    priority: PriorityFee | None = None,
) -> SessionOpening:
    """The unsigned session-opening transaction for the parent's wallet, on a fresh blockhash.

    A non-zero fee float must make the new ephemeral account rent-exempt on its own, or the runtime would reject the
    whole transaction with InsufficientFundsForRent after the parent signed it. (Lamports someone else may already
    have sent the key are not counted: the check can only be stricter for it, and it saves reading the balance.)
    """
    # Independent reads: one round trip's wait (the create call waits on them); the rent is usually remembered.
    if fee_float_lamports > 0:
        rent_minimum, blockhash = await asyncio.gather(
            chain.minimum_balance_for_rent_exemption(0), chain.latest_blockhash()
        )
        if fee_float_lamports < rent_minimum:
            raise InvalidSessionParameters(
                f"fee float {fee_float_lamports} is below the ephemeral key's rent-exempt minimum {rent_minimum}"
            )
    else:
        blockhash = await chain.latest_blockhash()
    instructions = session_opening_instructions(
        parent,
        delegate,
        session_duration=session_duration,
        max_deposit=max_deposit,
        initial_deposit=initial_deposit,
        fee_float_lamports=fee_float_lamports,
        priority=priority,
        program=chain.program,
    )
    addrs = SessionAddresses.derive(parent, delegate, chain.program.program_id)
    return SessionOpening(
        unsigned=unsigned_transaction(instructions, parent, blockhash),
        vault=str(addrs.vault),
        delegation=str(addrs.delegation),
        initial_deposit_lamports=initial_deposit,
        fee_float_lamports=fee_float_lamports,
    )


async def build_deposit(
    chain: ChainClient, parent: Pubkey, vault: Pubkey, amount: int, priority: PriorityFee | None = None
) -> UnsignedTx:
    """auto_deposit_for_trade for the parent to sign."""
    instructions = [
        *(priority.instructions() if priority else []),
        ixs.auto_deposit_for_trade(parent, vault, amount, chain.program),
    ]
    return unsigned_transaction(instructions, parent, await chain.latest_blockhash())


async def build_revoke(
    chain: ChainClient, parent: Pubkey, vault: Pubkey, priority: PriorityFee | None = None
) -> UnsignedTx:
    """revoke_access for the parent to sign."""
    instructions = [*(priority.instructions() if priority else []), ixs.revoke_access(parent, vault, chain.program)]
    return unsigned_transaction(instructions, parent, await chain.latest_blockhash())


def verify_parent_signed(offered: UnsignedTx, signed_base64: str) -> SignedTx:
    """Accept a wallet's signed transaction only if it is exactly `offered`, fully and validly signed.

    Same message bytes (instructions, accounts, flags, blockhash), one valid signature per required signer in
    order. Returns the `SignedTx` to persist and send; raises `SignedTransactionMismatch` with the precise reason.
    """
    try:
        tx = decode_transaction(signed_base64)
    except ChainError as exc:
        raise SignedTransactionMismatch(f"signed transaction is unreadable: {exc}") from exc
    message_bytes = bytes(tx.message)
    if message_bytes != base64.b64decode(offered.message_base64):
        raise SignedTransactionMismatch(
            "the signed transaction's message differs from the one offered (instructions, accounts or blockhash)"
        )
    required = [Pubkey.from_string(k) for k in offered.required_signers]
    if len(tx.signatures) != len(required):
        raise SignedTransactionMismatch(f"expected {len(required)} signature(s), found {len(tx.signatures)}")
    for signer, signature in zip(required, tx.signatures, strict=True):
        if signature == Signature.default():
            raise SignedTransactionMismatch(f"{signer} has not signed")
        if not signature.verify(signer, message_bytes):
            raise SignedTransactionMismatch(f"the signature in {signer}'s slot is not {signer}'s over this message")
    return SignedTx.from_transaction(tx, offered.last_valid_block_height)
