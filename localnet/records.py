"""What the node remembers about a transaction that landed: enough for getTransaction and getSignatureStatuses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

_ROW_COLUMNS = frozenset({"signature", "slot", "block_time", "wire"})  # stored in their own columns


@dataclass
class TransactionRecord:
    signature: str
    slot: int
    block_time: int
    wire: bytes  # the transaction exactly as the client sent it
    err: Any  # validator JSON form, None on success
    fee: int
    pre_balances: list[int]
    post_balances: list[int]
    log_messages: list[str]
    compute_units_consumed: int
    inner_instructions: list[dict[str, Any]]
    return_data: dict[str, Any] | None
    loaded_writable: list[str] = field(default_factory=list)
    loaded_readonly: list[str] = field(default_factory=list)
    account_keys: list[str] = field(default_factory=list)  # static keys, then loaded writable, then loaded readonly
    compute_unit_price: int = 0  # micro-lamports, from ComputeBudget SetComputeUnitPrice

    def meta_json(self) -> str:
        # Shallow on purpose: dataclasses.asdict deep-copies every list and was a fifth of the send path's time.
        meta = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _ROW_COLUMNS}
        return json.dumps(meta)

    @classmethod
    def from_row(cls, signature: str, slot: int, block_time: int, wire: bytes, meta_json: str) -> TransactionRecord:
        return cls(signature=signature, slot=slot, block_time=block_time, wire=wire, **json.loads(meta_json))
