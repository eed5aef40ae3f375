"""Inputs and outputs of the activities: plain dataclasses of str/int/bool, nothing secret.

Kept apart from the activity implementations so the workflow sandbox can import them without importing asyncpg,
solders or the custody code. Every activity takes the session id (never key material) and loads what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.messages import OfferedTransaction as OfferedTransaction  # re-exported for the activities

# --- keys ---------------------------------------------------------------------------------------------------------


@dataclass
class ProvisionSessionInput:
    session_id: str
    workflow_id: str
    parent_wallet: str
    session_duration_seconds: int
    max_deposit_lamports: int


@dataclass
class ProvisionedSession:
    ephemeral_pubkey: str
    vault_pda: str
    delegation_pda: str
    estimated_expiry: int  # unix seconds: wall clock at provisioning + duration (the vault's value replaces it)
    created: bool  # False when a retried attempt found the session already provisioned


@dataclass
class SessionRef:
    session_id: str


@dataclass
class ShredResult:
    session_id: str
    shredded: bool  # the key is (now, or already was) unusable


# --- database -----------------------------------------------------------------------------------------------------


@dataclass
class StatusChange:
    session_id: str
    status: str  # workflows.messages.SessionState value
    session_expiry: int | None = None  # adopted from the chain on activation
    last_error: str | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class DelegationRecord:
    session_id: str
    event: str  # "approved" | "revoked"
    delegate: str
    delegation_pda: str
    signature: str | None = None


# --- chain --------------------------------------------------------------------------------------------------------


@dataclass
class SessionOpeningInput:
    session_id: str
    parent_wallet: str
    ephemeral_pubkey: str
    session_duration_seconds: int
    max_deposit_lamports: int
    initial_deposit_lamports: int
    fee_float_lamports: int


@dataclass
class SubmitSignedInput:
    session_id: str
    kind: str  # vault_transactions.kind: "open" | "deposit" | "revoke"
    offered: OfferedTransaction
    signed_transaction: str
    lamports: int = 0
    # Earlier offers of the same intent that are still acceptable (a refreshed opening transaction).
    alternatives: list[OfferedTransaction] = field(default_factory=list)


@dataclass
class SubmittedTransaction:
    signature: str
    slot: int
    fee: int


@dataclass
class VerifyVaultInput:
    session_id: str
    parent_wallet: str
    ephemeral_pubkey: str
    max_deposit_lamports: int
    session_duration_seconds: int
    claimed_vault: str


@dataclass
class VaultSnapshot:
    """The vault (and delegation) as read from chain, with the chain's clock at the time of reading."""

    exists: bool
    chain_time: int  # the Clock sysvar's unix_timestamp
    is_active: bool = False
    session_expiry: int = 0
    created_at: int = 0
    total_deposited: int = 0
    total_spent: int = 0
    trade_count: int = 0
    lamports: int = 0
    delegation_revoked: bool = False


@dataclass
class QuoteDepositInput:
    session_id: str
    parent_wallet: str
    vault_pda: str
    expected_trades: int | None = None
    amount_lamports: int | None = None


@dataclass
class DepositOffer:
    amount_lamports: int
    offered: OfferedTransaction
    vault_balance: int
    headroom_lamports: int
    fee_per_trade_lamports: int


@dataclass
class TradeInput:
    session_id: str
    trade_id: str
    fee_lamports: int
    vault_pda: str


@dataclass
class TradeOnchain:
    signature: str
    slot: int
    fee_lamports: int
    total_spent: int
    trade_count: int


@dataclass
class RevokeOfferInput:
    session_id: str
    parent_wallet: str
    vault_pda: str


@dataclass
class ObserveVaultInput:
    session_id: str
    vault_pda: str


@dataclass
class CleanupInput:
    session_id: str | None
    parent_wallet: str
    vault_pda: str
    trigger: str  # cleanup_events.trigger: "timer" | "sweep" | "manual"


@dataclass
class CleanupOutcome:
    vault_pda: str
    closed: bool  # the vault no longer exists on chain (confirmed)
    signature: str | None = None  # our cleanup transaction, when we closed it
    refunded: int = 0
    reward: int = 0
    cleaner: str | None = None


@dataclass
class FeeFloatInput:
    session_id: str
    parent_wallet: str


@dataclass
class FeeFloatSweep:
    swept_lamports: int
    signature: str | None = None


# --- vault sweep --------------------------------------------------------------------------------------------------


@dataclass
class OrphanVault:
    vault_pda: str
    parent_wallet: str
    session_id: str | None  # None: a vault on chain the database does not know
    reason: str


@dataclass
class OrphanScan:
    orphans: list[OrphanVault]
    examined: int
    skipped_owned: int


@dataclass
class AnalysisInput:
    since_unix: int  # sessions with a transaction recorded or updated since then
    max_sessions: int


@dataclass
class RaisedAnomaly:
    session_id: str
    rule: str
    severity: str
    evidence_key: str


@dataclass
class AnalysisOutcome:
    sessions_analysed: int
    raised: list[RaisedAnomaly] = field(default_factory=list)  # new or escalated by this run
