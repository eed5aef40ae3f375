"""Events decode from synthetic `Program data:` lines built by hand from the ABI (discriminator + borsh)."""

from __future__ import annotations

import base64
import hashlib
import struct

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from ephemeral_vault.chain.events import (
    AccessRevoked,
    TradeExecuted,
    UnknownEvent,
    VaultCleaned,
    VaultCreated,
    decode_events,
)
from ephemeral_vault.chain.program import default_program

PROGRAM = default_program()
PID = str(PROGRAM.program_id)
SYSTEM = "11111111111111111111111111111111"


def _event(name: str, body: bytes) -> bytes:
    return hashlib.sha256(f"event:{name}".encode()).digest()[:8] + body


def _data_line(*slices: bytes) -> str:
    return "Program data: " + " ".join(base64.b64encode(s).decode() for s in slices)


def _keys(n: int) -> list[Pubkey]:
    return [Keypair().pubkey() for _ in range(n)]


def test_trade_executed_decodes_every_field() -> None:
    vault, delegate = _keys(2)
    ref = bytes(range(100, 116))
    payload = _event("TradeExecuted", bytes(vault) + bytes(delegate) + struct.pack("<QQQ", 5000, 15000, 3) + ref)
    logs = [f"Program {PID} invoke [1]", _data_line(payload), f"Program {PID} success"]
    assert decode_events(logs, PROGRAM) == [
        TradeExecuted(
            vault=vault, delegate=delegate, fee_lamports=5000, total_spent=15000, trade_count=3, trade_ref=ref
        )
    ]


def test_events_from_several_instructions_come_back_in_order() -> None:
    vault, parent, delegate, cleaner = _keys(4)
    created = _event(
        "VaultCreated", bytes(vault) + bytes(parent) + bytes(delegate) + struct.pack("<qQ", 1_800_000_000, 10)
    )
    revoked = _event("AccessRevoked", bytes(vault) + bytes(parent) + struct.pack("<Qq", 7, 1_700_000_000))
    cleaned = _event("VaultCleaned", bytes(vault) + bytes(parent) + bytes(cleaner) + struct.pack("<QQ", 900, 10_000))
    logs = [
        f"Program {PID} invoke [1]",
        f"Program {SYSTEM} invoke [2]",
        f"Program {SYSTEM} success",
        _data_line(created),
        f"Program {PID} consumed 4000 of 200000 compute units",
        f"Program {PID} success",
        f"Program {PID} invoke [1]",
        _data_line(revoked),
        f"Program {PID} success",
        f"Program {PID} invoke [1]",
        _data_line(cleaned),
        f"Program {PID} success",
    ]
    assert decode_events(logs, PROGRAM) == [
        VaultCreated(vault=vault, parent=parent, delegate=delegate, session_expiry=1_800_000_000, max_deposit=10),
        AccessRevoked(vault=vault, parent=parent, refunded=7, revoked_at=1_700_000_000),
        VaultCleaned(vault=vault, parent=parent, cleaner=cleaner, refunded=900, reward=10_000),
    ]


def test_data_logged_by_another_program_is_not_ours() -> None:
    vault, parent = _keys(2)
    look_alike = _event("AccessRevoked", bytes(vault) + bytes(parent) + struct.pack("<Qq", 1, 1))
    other = str(Keypair().pubkey())
    logs = [
        f"Program {other} invoke [1]",
        _data_line(look_alike),
        f"Program {other} success",
        f"Program {PID} invoke [1]",
        f"Program {other} invoke [2]",
        _data_line(look_alike),  # inside a CPI callee's frame
        f"Program {other} success",
        f"Program {PID} success",
    ]
    assert decode_events(logs, PROGRAM) == []


def test_an_event_emitted_as_discriminator_and_body_slices_decodes() -> None:
    vault, parent = _keys(2)
    payload = _event("AccessRevoked", bytes(vault) + bytes(parent) + struct.pack("<Qq", 42, 99))
    logs = [f"Program {PID} invoke [1]", _data_line(payload[:8], payload[8:]), f"Program {PID} success"]
    assert decode_events(logs, PROGRAM) == [AccessRevoked(vault=vault, parent=parent, refunded=42, revoked_at=99)]


def test_undecodable_data_from_our_program_is_kept_as_unknown() -> None:
    foreign = hashlib.sha256(b"event:Nope").digest()[:8] + b"\x01\x02"
    truncated = _event("TradeExecuted", b"\x00" * 10)
    logs = [
        f"Program {PID} invoke [1]",
        _data_line(foreign),
        _data_line(truncated),
        "Program data: !!!not-base64!!!",
        f"Program {PID} failed: custom program error: 0x1773",
    ]
    assert decode_events(logs, PROGRAM) == [UnknownEvent(data=foreign), UnknownEvent(data=truncated)]


def test_no_logs_no_events() -> None:
    assert decode_events([], PROGRAM) == []
