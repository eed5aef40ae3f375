"""Decode `ephemeral_vault` events from a transaction's log messages.

The program emits each event with `sol_log_data`, which the runtime logs as `Program data: <base64>` inside the
program's invoke frame. Only data lines logged while OUR program is the innermost executing program are ours: a
line inside another program's frame (a CPI callee, or another top-level instruction) could carry bytes that happen
to share a discriminator. The walk below keeps the invoke stack from the runtime's `invoke [n]` /
`success` / `failed` lines.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from ephemeral_vault.chain.program import ProgramInterface, default_program

PROGRAM_DATA_PREFIX = "Program data: "
_INVOKE = re.compile(r"^Program (\w+) invoke \[\d+\]$")
_EXIT = re.compile(r"^Program (\w+) (success|failed: .*)$")


@dataclass(frozen=True)
class VaultCreated:
    vault: Pubkey
    parent: Pubkey
    delegate: Pubkey
    session_expiry: int
    max_deposit: int


@dataclass(frozen=True)
class DelegateApproved:
    vault: Pubkey
    delegate: Pubkey
    approved_at: int


@dataclass(frozen=True)
class AutoDeposit:
    vault: Pubkey
    amount: int
    total_deposited: int


@dataclass(frozen=True)
class TradeExecuted:
    vault: Pubkey
    delegate: Pubkey
    fee_lamports: int
    total_spent: int
    trade_count: int
    trade_ref: bytes


@dataclass(frozen=True)
class AccessRevoked:
    vault: Pubkey
    parent: Pubkey
    refunded: int
    revoked_at: int


@dataclass(frozen=True)
class VaultCleaned:
    vault: Pubkey
    parent: Pubkey
    cleaner: Pubkey
    refunded: int
    reward: int


@dataclass(frozen=True)
class UnknownEvent:
    """A data line from our program that does not decode as an IDL event. Kept, not raised: the transaction has
    landed, and failing here would make a caller retry something that already happened."""

    data: bytes


VaultEvent = VaultCreated | DelegateApproved | AutoDeposit | TradeExecuted | AccessRevoked | VaultCleaned
EVENT_TYPES: dict[str, type[VaultEvent]] = {
    cls.__name__: cls
    for cls in (VaultCreated, DelegateApproved, AutoDeposit, TradeExecuted, AccessRevoked, VaultCleaned)
}


def _from_container(cls: type[VaultEvent], decoded: Any) -> VaultEvent:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = getattr(decoded, f.name)
        values[f.name] = bytes(value) if f.type == "bytes" else value
    return cls(**values)


def decode_event_data(data: bytes, program: ProgramInterface | None = None) -> VaultEvent | UnknownEvent:
    """Decode one event payload (8-byte discriminator + borsh fields)."""
    program = program or default_program()
    try:
        event = program.coder.events.parse(data)
    except Exception:  # construct raises assorted StreamError/ValueError on short or foreign data
        return UnknownEvent(data=data)
    cls = EVENT_TYPES.get(event.name) if event is not None else None
    if cls is None:
        return UnknownEvent(data=data)
    return _from_container(cls, event.data)


def decode_events(logs: list[str], program: ProgramInterface | None = None) -> list[VaultEvent | UnknownEvent]:
    """Every event our program emitted in `logs` (a transaction's `logMessages`), in order."""
    program = program or default_program()
    our_id = str(program.program_id)
    stack: list[str] = []
    events: list[VaultEvent | UnknownEvent] = []
    for line in logs:
        if invoke := _INVOKE.match(line):
            stack.append(invoke.group(1))
        elif (exit_ := _EXIT.match(line)) and stack and stack[-1] == exit_.group(1):
            stack.pop()
        elif line.startswith(PROGRAM_DATA_PREFIX) and stack and stack[-1] == our_id:
            # sol_log_data logs each slice as its own base64 field, space-separated; an event may be emitted as one
            # slice or as discriminator + body slices, so the slices are concatenated.
            try:
                data = b"".join(
                    base64.b64decode(part, validate=True) for part in line[len(PROGRAM_DATA_PREFIX) :].split(" ")
                )
            except binascii.Error:
                continue
            events.append(decode_event_data(data, program))
    return events


def events_of_type(events: list[VaultEvent | UnknownEvent], cls: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, cls)]
