"""Request and response bodies. Every route declares its response model, so the OpenAPI document is the contract.

Units follow workflows/messages.py: public keys and signatures are base58 text, transactions base64 of the wire
format, money integer lamports, on-chain times unix seconds.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# Program bounds (docs/program-abi.md): checked here so a bad value is a 422 naming the field, before any workflow.
from ephemeral_vault.program_limits import (
    MAX_DEPOSIT_LIMIT,
    MAX_FEE_PER_TRADE,
    MAX_SESSION_DURATION,
    MIN_SESSION_DURATION,
)
from workflows.messages import SessionState

MAX_EXPECTED_TRADES = 100_000
# A Solana transaction is at most 1232 bytes on the wire: 1644 characters of base64.
MAX_TRANSACTION_B64 = 1644

_BASE58 = re.compile(r"^[1-9A-HJ-NP-Za-km-z]+$")

EXAMPLE_SESSION_ID = "3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c"
EXAMPLE_PARENT = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
EXAMPLE_EPHEMERAL = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
EXAMPLE_VAULT = "5Q544fKrFoe6tsEbD7S8EmxGTJYAKtTVhAW5Q5pge4j1"
EXAMPLE_DELEGATION = "HN7cABqLq46Es1jh92dQQisAq662SmxELLLsHHe4YWrH"
EXAMPLE_SIGNATURE = "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
EXAMPLE_TX = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAEC"


def _check_base58_pubkey(value: str) -> str:
    if not (32 <= len(value) <= 44 and _BASE58.match(value)):
        raise ValueError("must be a base58 public key (32 bytes)")
    try:
        from solders.pubkey import Pubkey

        Pubkey.from_string(value)
    except ValueError as err:
        raise ValueError("must be a base58 public key (32 bytes)") from err
    return value


def _check_base64_transaction(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("must be a base64-encoded transaction") from err
    if not raw:
        raise ValueError("must be a base64-encoded transaction")
    return value


Base58Pubkey = Annotated[
    str, Field(min_length=32, max_length=44, examples=[EXAMPLE_VAULT]), AfterValidator(_check_base58_pubkey)
]
Base64Transaction = Annotated[
    str,
    Field(min_length=4, max_length=MAX_TRANSACTION_B64, description="base64 of a signed transaction (wire format)"),
    AfterValidator(_check_base64_transaction),
]
Lamports = Annotated[int, Field(ge=0, le=2**63 - 1, description="lamports (1 SOL = 1e9)")]


class _Strict(BaseModel):
    # Unknown fields are refused (a typo is a 422, not a silently ignored option).
    model_config = ConfigDict(extra="forbid")


# --- errors -------------------------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable code", examples=["session_not_found"])
    message: str = Field(description="what went wrong, for humans", examples=["no session 3f1c… for this wallet"])
    field: str | None = Field(default=None, description="the offending input, when one is to blame",
                              examples=["body.max_deposit_lamports"])
    details: dict[str, Any] | None = Field(default=None, description="structured context (current_status, …)")


class ErrorResponse(BaseModel):
    """The one error shape of every non-2xx answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": {
        "code": "invalid_state", "message": "approve is not allowed in state ACTIVE", "field": None,
        "details": {"current_status": "ACTIVE"}}}]})

    error: ErrorBody


# --- create -------------------------------------------------------------------------------------------------------


class CreateSessionBody(_Strict):
    """Open a session for the signing wallet (X-EV-Wallet is the parent)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "session_duration_seconds": 3600, "max_deposit_lamports": 500_000_000,
        "initial_deposit_lamports": 100_000_000, "idempotency_key": "order-batch-42"}]})

    session_duration_seconds: int = Field(ge=MIN_SESSION_DURATION, le=MAX_SESSION_DURATION,
                                          description="session length; program bounds 60..=86400")
    max_deposit_lamports: int = Field(ge=1, le=MAX_DEPOSIT_LIMIT, description="cap on all deposits (≤ 1000 SOL)")
    initial_deposit_lamports: int = Field(default=0, ge=0, le=MAX_DEPOSIT_LIMIT,
                                          description="first deposit, folded into the opening transaction")
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$",
        description="retrying create with the same key (same wallet) returns the same session instead of a new one",
    )

    @model_validator(mode="after")
    def _deposit_within_cap(self) -> CreateSessionBody:
        if self.initial_deposit_lamports > self.max_deposit_lamports:
            raise ValueError("initial_deposit_lamports must not exceed max_deposit_lamports")
        return self


class CreateSessionResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "session_id": EXAMPLE_SESSION_ID, "status": "CREATED", "ephemeral_pubkey": EXAMPLE_EPHEMERAL,
        "vault_pda": EXAMPLE_VAULT, "delegation_pda": EXAMPLE_DELEGATION, "session_expiry": 1764303600,
        "approval_deadline": 1764300900, "unsigned_transaction": EXAMPLE_TX, "fee_float_lamports": 5_000_000}]})

    session_id: UUID
    status: SessionState
    ephemeral_pubkey: str = Field(description="the delegate: the backend-held session key")
    vault_pda: str
    delegation_pda: str
    session_expiry: int = Field(description="estimated expiry (unix s); the vault's own value is authoritative")
    approval_deadline: int = Field(description="approve before this (unix s) or the session is ABANDONED")
    unsigned_transaction: str = Field(description="session-opening transaction (base64) for the parent to sign once")
    fee_float_lamports: int = Field(description="SOL sent to the delegate for transaction fees, swept back at the end")


class RefreshOpeningBody(_Strict):
    """A fresh opening transaction when the parent did not sign the offered one before its blockhash expired."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"session_id": EXAMPLE_SESSION_ID}]})

    session_id: UUID


# --- approve ------------------------------------------------------------------------------------------------------


class ApproveBody(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "session_id": EXAMPLE_SESSION_ID, "vault_pda": EXAMPLE_VAULT, "signed_transaction": EXAMPLE_TX}]})

    session_id: UUID
    vault_pda: Base58Pubkey
    signed_transaction: Base64Transaction | None = Field(
        default=None, description="the parent-signed opening transaction for the backend to submit; omit if the "
                                  "parent submitted it")


class ApproveResponse(BaseModel):
    session_id: UUID
    status: SessionState
    vault_pda: str
    delegation_pda: str
    session_expiry: int = Field(description="from the vault account (unix s, chain clock)")
    total_deposited: int
    signature: str | None = Field(default=None, description="of the opening transaction when the backend sent it")


# --- deposit ------------------------------------------------------------------------------------------------------


class DepositBody(_Strict):
    """Size a deposit: for `expected_trades` (from the live fee market) or an explicit `amount_lamports`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"session_id": EXAMPLE_SESSION_ID, "expected_trades": 50},
        {"session_id": EXAMPLE_SESSION_ID, "amount_lamports": 20_000_000}]})

    session_id: UUID
    expected_trades: int | None = Field(default=None, ge=1, le=MAX_EXPECTED_TRADES)
    amount_lamports: int | None = Field(default=None, ge=1, le=MAX_DEPOSIT_LIMIT)

    @model_validator(mode="after")
    def _exactly_one(self) -> DepositBody:
        if (self.expected_trades is None) == (self.amount_lamports is None):
            raise ValueError("give exactly one of expected_trades and amount_lamports")
        return self


class DepositQuoteResponse(BaseModel):
    session_id: UUID
    amount_lamports: int
    unsigned_transaction: str = Field(description="auto_deposit_for_trade (base64) for the parent to sign")
    vault_balance: int
    headroom_lamports: int = Field(description="max_deposit - total_deposited before this deposit")
    fee_per_trade_lamports: int = Field(description="per-trade fee estimate (0 for an explicit amount)")
    expected_trades: int | None = None


class SubmitDepositBody(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "session_id": EXAMPLE_SESSION_ID, "signed_transaction": EXAMPLE_TX}]})

    session_id: UUID
    signed_transaction: Base64Transaction


class DepositResponse(BaseModel):
    session_id: UUID
    signature: str
    amount_lamports: int
    total_deposited: int
    slot: int


# --- trade --------------------------------------------------------------------------------------------------------


class TradeBody(_Strict):
    """One trade, sent by the DEX integration (service token). `trade_id` is the idempotency key."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "session_id": EXAMPLE_SESSION_ID, "trade_id": "0b8f2c1e-3d4a-4b5c-8d6e-7f8091a2b3c4", "fee_lamports": 5000,
        "market": "SOL-USDC", "side": "buy", "size": 1_000_000}]})

    session_id: UUID
    trade_id: UUID
    fee_lamports: int = Field(ge=0, le=MAX_FEE_PER_TRADE, description="fee reimbursed vault → delegate")
    market: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9/_.:-]*$")
    side: Literal["", "buy", "sell"] = ""
    size: int = Field(default=0, ge=0, le=2**63 - 1)


class TradeResponse(BaseModel):
    session_id: UUID
    trade_id: UUID
    signature: str
    slot: int
    fee_lamports: int
    total_spent: int
    trade_count: int


# --- revoke -------------------------------------------------------------------------------------------------------


class RevokeBody(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "session_id": EXAMPLE_SESSION_ID, "reason": "done trading"}]})

    session_id: UUID
    signed_transaction: Base64Transaction | None = Field(
        default=None, description="parent-signed revoke_access; omit to receive it unsigned")
    reason: str = Field(default="", max_length=200)


class RevokeResponse(BaseModel):
    session_id: UUID
    status: SessionState
    key_shredded: bool
    revoked_on_chain: bool
    signature: str | None = None
    unsigned_transaction: str | None = Field(default=None, description="revoke_access for the parent to sign")


# --- status / list ------------------------------------------------------------------------------------------------


class SessionStatusResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "session_id": EXAMPLE_SESSION_ID, "status": "ACTIVE", "parent_wallet": EXAMPLE_PARENT,
        "ephemeral_pubkey": EXAMPLE_EPHEMERAL, "vault_pda": EXAMPLE_VAULT, "delegation_pda": EXAMPLE_DELEGATION,
        "session_expiry": 1764303600, "max_deposit": 500_000_000, "total_deposited": 100_000_000,
        "total_spent": 15_000, "trade_count": 3, "key_shredded": False, "revoked_on_chain": False,
        "cleanup_signature": None, "last_error": None, "source": "workflow"}]})

    session_id: UUID
    status: SessionState
    parent_wallet: str
    ephemeral_pubkey: str | None
    vault_pda: str | None
    delegation_pda: str | None
    session_expiry: int | None
    max_deposit: int
    total_deposited: int = 0
    total_spent: int = 0
    trade_count: int = 0
    key_shredded: bool = False
    revoked_on_chain: bool = False
    cleanup_signature: str | None = None
    last_error: str | None = None
    source: Literal["workflow", "database"] = Field(
        description="`workflow`: live query; `database`: the workflow is gone (past retention), last recorded row")


class SessionSummary(BaseModel):
    session_id: UUID
    status: SessionState
    ephemeral_pubkey: str
    vault_pda: str
    delegation_pda: str
    max_deposit: int
    session_expiry: int = Field(description="unix s")
    vault_balance: int | None = Field(description="last observed vault balance; null before the first observation")
    created_at: int = Field(description="unix s")


class SessionListResponse(BaseModel):
    sessions: list[SessionSummary]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


Severity = Literal["low", "medium", "high", "critical"]


class AnomalyItem(BaseModel):
    """A finding of the anomaly rules (ephemeral_vault/analytics.py), raised by the vault sweep's monitor."""

    rule: str = Field(description="trade_velocity, fee_spike, repeated_failures, deposit_cap, "
                                  "activity_after_revocation or activity_after_expiry")
    severity: Severity
    evidence_key: str = Field(description="what the finding is about (a window, a signature); one row per evidence")
    details: dict[str, Any]
    created_at: int = Field(description="unix s")
    updated_at: int = Field(description="unix s; later than created_at when the evidence grew (it may escalate)")


class AnomalyListResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"session_id": EXAMPLE_SESSION_ID, "anomalies": [{
        "rule": "repeated_failures", "severity": "medium", "evidence_key": EXAMPLE_SIGNATURE,
        "details": {"failures": 3}, "created_at": 1764300000, "updated_at": 1764300000}]}]})

    session_id: UUID
    anomalies: list[AnomalyItem] = Field(description="newest first")


# --- health -------------------------------------------------------------------------------------------------------


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadinessCheck(BaseModel):
    ok: bool
    error: str | None = Field(default=None, description="short reason when not ok (no internals)")


class ReadinessResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "status": "ready", "checks": {"postgres": {"ok": True, "error": None}, "temporal": {"ok": True, "error": None}}
    }]})

    status: Literal["ready", "not_ready"]
    checks: dict[str, ReadinessCheck]
