"""Which blockhashes are still valid, as a validator's BlockhashQueue decides it.

LiteSVM only knows its latest blockhash; a validator accepts any blockhash issued in the last 150 slots
(MAX_PROCESSING_AGE). The node issues one blockhash per slot it reaches and records the slot, so validity and
`lastValidBlockHeight` (issue height + 150) are answered here. Block height equals slot: there are no skipped slots.
"""

from __future__ import annotations

import bisect

MAX_PROCESSING_AGE = 150
# A validator remembers ~300 recent blockhashes; older entries can be forgotten.
RETAINED_SLOTS = 300


class BlockhashRegistry:
    def __init__(self) -> None:
        self._slot_of: dict[str, int] = {}
        self._slots: list[int] = []  # ascending, parallel to _hashes
        self._hashes: list[str] = []

    def issue(self, blockhash: str, slot: int) -> None:
        if blockhash in self._slot_of:
            return
        if self._slots and slot < self._slots[-1]:
            raise ValueError(f"blockhash issued for slot {slot} after slot {self._slots[-1]}")
        self._slot_of[blockhash] = slot
        self._slots.append(slot)
        self._hashes.append(blockhash)
        self._forget_before(slot - RETAINED_SLOTS)

    def _forget_before(self, slot: int) -> None:
        cut = bisect.bisect_left(self._slots, slot)
        # keep at least the newest entry so there is always a latest blockhash
        cut = min(cut, len(self._slots) - 1)
        for old in self._hashes[:cut]:
            del self._slot_of[old]
        del self._slots[:cut]
        del self._hashes[:cut]

    def issued_slot(self, blockhash: str) -> int | None:
        return self._slot_of.get(blockhash)

    def is_valid(self, blockhash: str, current_slot: int) -> bool:
        slot = self._slot_of.get(blockhash)
        return slot is not None and current_slot - slot <= MAX_PROCESSING_AGE

    def latest_at(self, slot: int) -> tuple[str, int]:
        """The newest blockhash issued at or before `slot` (the view of a bank at that slot)."""
        index = bisect.bisect_right(self._slots, slot) - 1
        index = max(index, 0)
        return self._hashes[index], self._slots[index]

    @staticmethod
    def last_valid_block_height(issued_slot: int) -> int:
        return issued_slot + MAX_PROCESSING_AGE

    def entries(self) -> list[tuple[str, int]]:
        return list(zip(self._hashes, self._slots, strict=True))
