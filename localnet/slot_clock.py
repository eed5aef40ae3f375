"""Wall time → (slot, unix_timestamp), the way a validator's clock moves.

Slots advance every `slot_ms` of wall time (0 = only when told to). The Clock's unix_timestamp follows the wall clock
plus an offset that the non-standard `localnet_warpClock` / `localnet_advanceSlots` methods grow; it never runs
backwards, because programs (ours included) compare it against stored expiries.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockReading:
    slot: int
    unix_timestamp: int


class SlotClock:
    def __init__(self, start_slot: int, slot_ms: int, time_offset: float = 0.0, slot_offset: int = 0) -> None:
        if slot_ms < 0:
            raise ValueError("slot_ms must be >= 0")
        self.slot_ms = slot_ms
        self._start_slot = start_slot
        self._started = time.monotonic()
        self._slot_offset = slot_offset
        self._time_offset = time_offset
        self._guard = threading.Lock()

    @property
    def time_offset(self) -> float:
        return self._time_offset

    def read(self) -> ClockReading:
        with self._guard:
            elapsed = time.monotonic() - self._started
            ticks = int(elapsed * 1000 // self.slot_ms) if self.slot_ms else 0
            slot = self._start_slot + ticks + self._slot_offset
            return ClockReading(slot=slot, unix_timestamp=int(time.time() + self._time_offset))

    def warp_seconds(self, seconds: float) -> ClockReading:
        if seconds < 0:
            raise ValueError("the clock cannot be moved backwards")
        with self._guard:
            self._time_offset += seconds
        return self.read()

    def warp_to_timestamp(self, unix_timestamp: int) -> ClockReading:
        current = self.read().unix_timestamp
        if unix_timestamp < current:
            raise ValueError(f"the clock cannot be moved backwards (now {current}, asked for {unix_timestamp})")
        return self.warp_seconds(unix_timestamp - current)

    def advance_slots(self, slots: int) -> ClockReading:
        """Skip `slots` slots; the timestamp moves with them, as it would on a cluster."""
        if slots < 0:
            raise ValueError("slots cannot be moved backwards")
        with self._guard:
            self._slot_offset += slots
            self._time_offset += slots * self.slot_ms / 1000
        return self.read()
