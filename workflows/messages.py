"""Every message that crosses the SessionWorkflow boundary: workflow input, updates, queries, results, errors.

This module is the contract between the API and the workflows. It imports nothing from temporalio's worker side and
holds no secret: key material (plaintext, ciphertext, data key) never appears in any of these types — activities take
the session id and load the sealed key from PostgreSQL themselves, so nothing secret can reach Temporal history.

Conventions
- Public keys and signatures are base58 text; transactions are base64 of the wire format; money is integer lamports;
  times on chain are unix seconds (`int`), exactly as the program stores them.
- The workflow id of a session is ``session-<uuid>`` (``workflow_id_for``); the API picks the uuid, so a retried
  create call lands on the same workflow (update-with-start, conflict policy USE_EXISTING) and gets the same answer.
- Business rejections surface to the API as ``temporalio.exceptions.ApplicationError`` with ``non_retryable=True``
  and ``type`` one of ``ErrorType``'s values, or ``"ProgramError:<Name>"`` for an on-chain program error (names from
  docs/program-abi.md). ``http_status_for`` is the suggested HTTP mapping.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

# --- names -------------------------------------------------------------------------------------------------------

WORKFLOW_ID_PREFIX = "session-"
SESSION_WORKFLOW_NAME = "SessionWorkflow"
VAULT_SWEEP_WORKFLOW_NAME = "VaultSweepWorkflow"
VAULT_SWEEP_SCHEDULE_ID = "vault-sweep"

# Updates (validated before they are accepted; a rejected update leaves no trace in history).
CREATE_UPDATE = "create_session"  # no argument -> CreateSessionResult; sent with the start (update-with-start)
# no argument -> CreateSessionResult with a fresh unsigned opening transaction (the previous blockhash expired before
# the parent signed). Earlier offers stay acceptable for approve until their own blockhash expires.
REFRESH_OPENING_UPDATE = "refresh_opening"
APPROVE_UPDATE = "approve"  # ApproveRequest -> ApproveResult
QUOTE_DEPOSIT_UPDATE = "quote_deposit"  # DepositRequest -> DepositQuote
SUBMIT_DEPOSIT_UPDATE = "submit_deposit"  # SubmitDepositRequest -> DepositResult
TRADE_UPDATE = "trade"  # TradeRequest -> TradeResult
REVOKE_UPDATE = "revoke"  # RevokeRequest -> RevokeResult

# Queries.
STATUS_QUERY = "status"  # -> SessionStatus

# Search attributes (Keyword), registered on the server (the dev server fixture passes --search-attribute).
SA_SESSION_STATUS = "SessionStatus"
SA_PARENT_WALLET = "ParentWallet"
SA_VAULT_PDA = "VaultPda"


def workflow_id_for(session_id: str | uuid.UUID) -> str:
    """``session-<uuid>``; rejects anything that is not a UUID so ids cannot collide or smuggle text."""
    return WORKFLOW_ID_PREFIX + str(uuid.UUID(str(session_id)))


def session_id_from_workflow_id(workflow_id: str) -> str:
    if not workflow_id.startswith(WORKFLOW_ID_PREFIX):
        raise ValueError(f"not a session workflow id: {workflow_id!r}")
    return str(uuid.UUID(workflow_id[len(WORKFLOW_ID_PREFIX) :]))


class SessionState(StrEnum):
    """The lifecycle (DESIGN.md §4). The same strings are the ``sessions.status`` column and the search attribute."""

    CREATED = "CREATED"  # key provisioned, waiting for the parent to open the vault and approve
    ACTIVE = "ACTIVE"  # vault + delegation verified on chain; trades allowed until expiry
    REVOKED = "REVOKED"  # parent revoked: key shredded; waiting for / settling the on-chain revoke, then cleanup
    EXPIRED = "EXPIRED"  # session_expiry passed; cleanup in progress
    CLEANED = "CLEANED"  # vault closed on chain (confirmed), key shredded; the workflow has completed
    ABANDONED = "ABANDONED"  # never approved within the approval window (or revoked before approval); key shredded

    @property
    def is_final(self) -> bool:
        return self in (SessionState.CLEANED, SessionState.ABANDONED)


# --- errors ------------------------------------------------------------------------------------------------------


class ErrorType:
    """``ApplicationError.type`` strings of business rejections (all non-retryable)."""

    INVALID_REQUEST = "InvalidRequest"  # malformed field (bad UUID, bad base58/base64, out-of-range amount)
    INVALID_STATE = "InvalidState"  # the operation is not allowed in the session's current state
    SESSION_EXPIRED = "SessionExpired"  # the session has expired (by workflow time, before anything was signed)
    SESSION_REVOKED = "SessionRevoked"  # the parent revoked the session; the key is gone
    VAULT_MISMATCH = "VaultMismatch"  # the vault PDA in the request is not this session's
    VERIFICATION_FAILED = "VerificationFailed"  # on-chain vault/delegation fields differ from what the session expects
    VAULT_NOT_FOUND = "VaultNotFound"  # the vault (or delegation) account does not exist on chain (yet)
    INVALID_TRANSACTION = "InvalidTransaction"  # a parent-signed transaction is not the one expected (or unsigned)
    TRANSACTION_FAILED = "TransactionFailed"  # the chain rejected a transaction for a non-program reason
    DEPOSIT_UNAVAILABLE = "DepositUnavailable"  # nothing can be deposited (no headroom under max_deposit)
    KEY_UNAVAILABLE = "KeyUnavailable"  # the session key was shredded or cannot be decrypted
    PROGRAM_ERROR_PREFIX = "ProgramError:"  # + program error name, e.g. "ProgramError:FeeTooHigh"

    @staticmethod
    def program_error(name: str) -> str:
        return ErrorType.PROGRAM_ERROR_PREFIX + name


_HTTP_STATUS = {
    ErrorType.INVALID_REQUEST: 422,
    ErrorType.INVALID_STATE: 409,
    ErrorType.SESSION_EXPIRED: 410,
    ErrorType.SESSION_REVOKED: 410,
    ErrorType.VAULT_MISMATCH: 422,
    ErrorType.VERIFICATION_FAILED: 422,
    ErrorType.VAULT_NOT_FOUND: 409,
    ErrorType.INVALID_TRANSACTION: 422,
    ErrorType.TRANSACTION_FAILED: 502,
    ErrorType.DEPOSIT_UNAVAILABLE: 409,
    ErrorType.KEY_UNAVAILABLE: 410,
}


def http_status_for(error_type: str | None) -> int:
    """Suggested HTTP status for an ``ApplicationError.type``; unknown/None (infrastructure) is 503."""
    if error_type is None:
        return 503
    if error_type.startswith(ErrorType.PROGRAM_ERROR_PREFIX):
        name = error_type[len(ErrorType.PROGRAM_ERROR_PREFIX) :]
        return 410 if name in ("SessionExpired", "VaultInactive", "DelegationRevoked") else 422
    return _HTTP_STATUS.get(error_type, 503)


# --- create (update-with-start) -----------------------------------------------------------------------------------


@dataclass
class CreateSessionRequest:
    """What the API's create call carries. The API generates ``session_id`` (uuid4) before starting."""

    session_id: str
    parent_wallet: str  # base58
    session_duration_seconds: int  # program bounds: 60 ..= 86_400
    max_deposit_lamports: int  # 1 ..= 1_000 SOL
    # First deposit folded into the session-opening transaction (0 = none, the parent deposits later).
    initial_deposit_lamports: int = 0
    # Overrides of the server's settings (None = use APPROVAL_WINDOW_SECONDS etc.).
    approval_window_seconds: int | None = None


@dataclass
class CreateSessionResult:
    session_id: str
    workflow_id: str
    status: SessionState
    ephemeral_pubkey: str
    vault_pda: str
    delegation_pda: str
    # Estimated from the time of create; the authoritative value is the vault's `session_expiry` once opened.
    session_expiry: int
    approval_deadline: int  # unix seconds (workflow clock): approve before this or the session is ABANDONED
    # Unsigned session-opening transaction (create_vault + approve_delegate [+ auto_deposit] + the delegate's fee
    # float), base64 wire format, parent as fee payer. The parent signs it once and returns it with `approve`.
    unsigned_transaction: str
    fee_float_lamports: int


# --- approve ------------------------------------------------------------------------------------------------------


@dataclass
class ApproveRequest:
    vault_pda: str
    # The parent-signed session-opening transaction for the backend to submit; None = the parent submitted it.
    signed_transaction: str | None = None


@dataclass
class ApproveResult:
    session_id: str
    status: SessionState
    vault_pda: str
    delegation_pda: str
    session_expiry: int  # from the vault account (chain clock)
    total_deposited: int
    signature: str | None = None  # of the submitted opening transaction, when the backend submitted it


# --- deposit ------------------------------------------------------------------------------------------------------


@dataclass
class DepositRequest:
    """Size a deposit: either for ``expected_trades`` (AutoDepositCalculator) or an explicit ``amount_lamports``."""

    expected_trades: int | None = None
    amount_lamports: int | None = None


@dataclass
class DepositQuote:
    session_id: str
    amount_lamports: int
    unsigned_transaction: str  # base64, auto_deposit_for_trade signed by the parent
    vault_balance: int
    headroom_lamports: int  # max_deposit - total_deposited before this deposit
    fee_per_trade_lamports: int  # the calculator's per-trade estimate (0 for an explicit amount)
    expected_trades: int | None = None


@dataclass
class SubmitDepositRequest:
    signed_transaction: str  # base64, the quote's transaction signed by the parent


@dataclass
class DepositResult:
    session_id: str
    signature: str
    amount_lamports: int
    total_deposited: int
    slot: int


# --- trade --------------------------------------------------------------------------------------------------------


@dataclass
class TradeRequest:
    """One trade. ``trade_id`` (UUID, client-chosen) is the idempotency key and the on-chain ``trade_ref``: the same
    id sent twice returns the first result and never trades twice."""

    trade_id: str
    fee_lamports: int  # 0 ..= MAX_FEE_PER_TRADE (1_000_000)
    # The modelled DEX leg (as in the seed): recorded with the transaction, not interpreted on chain.
    market: str = ""
    side: str = ""
    size: int = 0


@dataclass
class TradeResult:
    session_id: str
    trade_id: str
    signature: str
    slot: int
    fee_lamports: int
    total_spent: int
    trade_count: int


# --- revoke -------------------------------------------------------------------------------------------------------


@dataclass
class RevokeRequest:
    """Revoke. The key is shredded at once whatever else happens. ``signed_transaction`` is the parent-signed
    ``revoke_access`` (base64); without it the result carries the unsigned one to sign, and the workflow watches the
    chain for the vault going inactive (the parent may also submit it themselves) for REVOKE_WINDOW_SECONDS, after
    which the vault is recovered by cleanup at expiry."""

    signed_transaction: str | None = None
    reason: str = ""


@dataclass
class RevokeResult:
    session_id: str
    status: SessionState
    key_shredded: bool
    revoked_on_chain: bool
    signature: str | None = None
    unsigned_transaction: str | None = None  # revoke_access for the parent to sign, while not revoked on chain


# --- query --------------------------------------------------------------------------------------------------------


@dataclass
class SessionStatus:
    session_id: str
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
    run_trades: int = 0  # trades handled by this workflow run (continue-as-new resets it)


# --- workflow input / output --------------------------------------------------------------------------------------


@dataclass
class TradeOutcome:
    """A finished trade remembered for de-duplication (result or the business error it ended with)."""

    trade_id: str
    result: TradeResult | None = None
    error_type: str | None = None
    error_message: str | None = None


@dataclass
class OfferedTransaction:
    """An unsigned transaction offered to the parent (public data: the message, the blockhash, the signers). Kept by
    the workflow so the parent-signed copy can be checked byte for byte against it."""

    transaction_base64: str
    message_base64: str
    fee_payer: str
    required_signers: list[str]
    recent_blockhash: str
    last_valid_block_height: int


@dataclass
class SessionPolicy:
    """Server settings captured once per session (an activity reads them) so every replay sees the same values."""

    approval_window_seconds: int
    revoke_window_seconds: int
    chain_poll_seconds: int
    max_trades_per_run: int
    fee_float_lamports: int


@dataclass
class CarriedState:
    """Everything a continued-as-new run needs to pick up where the last one stopped."""

    status: SessionStatus
    policy: SessionPolicy
    created: CreateSessionResult
    approval_signature: str | None = None
    trades: list[TradeOutcome] = field(default_factory=list)
    expiry_deadline: float | None = None  # the expiry timer's target on the workflow clock (unix seconds)
    deposit_offer: OfferedTransaction | None = None  # a quoted deposit not yet submitted
    deposit_amount: int = 0


@dataclass
class SessionWorkflowInput:
    request: CreateSessionRequest
    carried: CarriedState | None = None


@dataclass
class SessionOutcome:
    """The workflow's result."""

    session_id: str
    status: SessionState
    trade_count: int
    total_deposited: int
    total_spent: int
    refunded_lamports: int | None = None
    cleanup_signature: str | None = None
    cleaned_by: str | None = None  # "workflow" or another cleaner's pubkey if someone else closed the vault


# --- vault sweep --------------------------------------------------------------------------------------------------


@dataclass
class VaultSweepInput:
    max_vaults: int = 50
    # The anomaly rules run over sessions with a transaction in this many seconds before the sweep (the schedule
    # sets three sweep intervals: a sweep that was skipped or failed is covered by the next; re-reading is harmless).
    analysis_lookback_seconds: int = 900
    max_sessions_analysed: int = 500


@dataclass
class VaultSweepOutcome:
    examined: int
    cleaned: int
    skipped_owned: int
    failed: int
    signatures: list[str] = field(default_factory=list)
    sessions_analysed: int = 0
    anomalies_raised: int = 0  # new or escalated by this sweep (each is also a row in `anomalies` and an event)
