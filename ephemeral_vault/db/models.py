"""Rows as typed, immutable values. Lamports are int, times are aware datetimes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Self

import asyncpg

from ephemeral_vault.db.status import SessionStatus


class RowModel:
    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class NewSession:
    """What create_session needs; the row starts in CREATED."""

    id: uuid.UUID
    parent_wallet: str
    ephemeral_pubkey: str
    vault_pda: str
    delegation_pda: str
    max_deposit: int
    session_duration_s: int
    session_expiry: datetime
    workflow_id: str


@dataclass(frozen=True)
class Session(RowModel):
    id: uuid.UUID
    status: SessionStatus
    parent_wallet: str
    ephemeral_pubkey: str
    vault_pda: str
    delegation_pda: str
    max_deposit: int
    session_duration_s: int
    session_expiry: datetime
    workflow_id: str
    vault_balance: int | None
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    closed_at: datetime | None
    last_error: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SessionStatus(self.status))


@dataclass(frozen=True)
class SessionPage:
    items: list[Session]
    # pass back as `cursor` for the next page; None when this is the last page
    next_cursor: str | None


@dataclass(frozen=True)
class TransitionResult:
    session: Session
    # False when the session already had the target status (an idempotent retry): nothing was written
    changed: bool


@dataclass(frozen=True)
class NewSessionKey:
    """Encrypted key material for one session, as key custody produces it. There is no plaintext field on purpose."""

    session_id: uuid.UUID
    ephemeral_pubkey: str
    kek_id: str
    wrapped_dek: bytes | None = field(repr=False)
    dek_nonce: bytes | None = field(repr=False)
    secret_ciphertext: bytes = field(repr=False)
    secret_nonce: bytes = field(repr=False)
    alg: str


@dataclass(frozen=True)
class SessionKeyRecord(RowModel):
    session_id: uuid.UUID
    ephemeral_pubkey: str
    kek_id: str
    wrapped_dek: bytes | None = field(repr=False)
    dek_nonce: bytes | None = field(repr=False)
    secret_ciphertext: bytes = field(repr=False)
    secret_nonce: bytes = field(repr=False)
    alg: str
    created_at: datetime
    shredded_at: datetime | None
    rotated_at: datetime | None

    @property
    def is_shredded(self) -> bool:
        return self.shredded_at is not None

    def __getitem__(self, column: str) -> Any:
        """Row-style access, so custody's `SealedKey.from_record(record)` accepts this directly."""
        if column not in self.__dataclass_fields__:
            raise KeyError(column)
        return getattr(self, column)


@dataclass(frozen=True)
class StoredSessionKey:
    record: SessionKeyRecord
    # False when a key was already stored for the session (a retried activity): the stored one is returned, unchanged
    created: bool


TX_KINDS = frozenset({"create", "approve", "open", "deposit", "trade", "revoke", "cleanup", "sweep"})
TX_STATUSES = frozenset({"submitted", "confirmed", "failed"})


@dataclass(frozen=True)
class NewTransaction:
    signature: str
    session_id: uuid.UUID
    kind: str
    status: str = "submitted"
    lamports: int = 0
    fee: int = 0
    slot: int | None = None
    error: str | None = None
    trade_ref: uuid.UUID | None = None
    # when it happened, if known better than "now" (e.g. the block time); defaults to the database's now()
    at: datetime | None = None


@dataclass(frozen=True)
class VaultTransaction(RowModel):
    signature: str
    session_id: uuid.UUID
    kind: str
    lamports: int
    fee: int
    status: str
    slot: int | None
    error: str | None
    trade_ref: uuid.UUID | None
    created_at: datetime
    confirmed_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class RecordedTransaction:
    transaction: VaultTransaction
    # "inserted", "advanced" (status moved forward) or "unchanged" (a retry, or an attempt to move a final status)
    outcome: str


CLEANUP_TRIGGERS = frozenset({"timer", "sweep", "manual"})


@dataclass(frozen=True)
class NewCleanup:
    vault_pda: str
    signature: str
    refunded: int
    reward: int
    cleaner: str
    trigger: str
    session_id: uuid.UUID | None = None


@dataclass(frozen=True)
class CleanupEvent(RowModel):
    id: int
    session_id: uuid.UUID | None
    vault_pda: str
    signature: str
    refunded: int
    reward: int
    cleaner: str
    trigger: str
    at: datetime


DELEGATION_EVENTS = frozenset({"approved", "revoked"})


@dataclass(frozen=True)
class DelegationEvent(RowModel):
    id: int
    session_id: uuid.UUID
    event: str
    delegate: str
    delegation_pda: str
    signature: str | None
    slot: int | None
    at: datetime


@dataclass(frozen=True)
class AuditEntry(RowModel):
    id: int
    at: datetime
    actor: str
    action: str
    session_id: uuid.UUID | None
    details: dict[str, Any]

    def __post_init__(self) -> None:
        if isinstance(self.details, str):  # a connection without create_pool's jsonb codec
            object.__setattr__(self, "details", json.loads(self.details))
