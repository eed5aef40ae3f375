"""Fees: what LiteSVM charges, and the per-slot record behind getRecentPrioritizationFees."""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

from solders.message import Message, MessageV0
from solders.pubkey import Pubkey

LAMPORTS_PER_SIGNATURE = 5000
COMPUTE_BUDGET_PROGRAM_ID = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
SET_COMPUTE_UNIT_PRICE = 3
# A validator's prioritization-fee cache covers the last 150 blocks.
RECENT_SLOTS = 150


def signature_fee(message: Message | MessageV0) -> int:
    """The fee LiteSVM charges: 5,000 lamports per required signature.

    LiteSVM (solders 0.26) does not charge the prioritization fee (compute-unit price times limit) that a validator
    adds; reporting what was actually debited keeps pre/post balances and `fee` consistent.
    """
    return LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures


def compute_unit_price(message: Message | MessageV0) -> int:
    """The SetComputeUnitPrice value in micro-lamports (0 when absent), as the fee cache records it."""
    keys = message.account_keys
    for ix in message.instructions:
        index = ix.program_id_index
        if index < len(keys) and keys[index] == COMPUTE_BUDGET_PROGRAM_ID:
            data = bytes(ix.data)
            if len(data) == 9 and data[0] == SET_COMPUTE_UNIT_PRICE:
                return int(struct.unpack_from("<Q", data, 1)[0])
    return 0


@dataclass
class _SlotFees:
    min_transaction_fee: int | None = None
    min_fee_by_writable_account: dict[str, int] = field(default_factory=dict)


class PrioritizationFeeRecord:
    """Per slot: the lowest compute-unit price of any transaction, and per writable account the lowest price of the
    transactions that write it — the two numbers a validator's PrioritizationFeeCache keeps."""

    def __init__(self) -> None:
        self._slots: OrderedDict[int, _SlotFees] = OrderedDict()

    def record(self, slot: int, price: int, writable_accounts: list[str]) -> None:
        fees = self._slots.get(slot)
        if fees is None:
            fees = self._slots[slot] = _SlotFees()
            while len(self._slots) > RECENT_SLOTS:
                self._slots.popitem(last=False)
        if fees.min_transaction_fee is None or price < fees.min_transaction_fee:
            fees.min_transaction_fee = price
        for account in writable_accounts:
            known = fees.min_fee_by_writable_account.get(account)
            if known is None or price < known:
                fees.min_fee_by_writable_account[account] = price

    def recent(self, current_slot: int, accounts: list[str]) -> list[dict[str, int]]:
        """One entry per slot of the last 150 (0 for slots without transactions), oldest first."""
        out = []
        for slot in range(max(0, current_slot - RECENT_SLOTS + 1), current_slot + 1):
            fees = self._slots.get(slot)
            fee = 0
            if fees is not None:
                fee = fees.min_transaction_fee or 0
                for account in accounts:
                    fee = max(fee, fees.min_fee_by_writable_account.get(account, 0))
            out.append({"slot": slot, "prioritizationFee": fee})
        return out
