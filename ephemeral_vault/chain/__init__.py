"""The backend's one chain client: instruction builders, account/event decoding, safe send-and-confirm.

Import from the submodules (each has one job) or from here:

    from ephemeral_vault.chain import ChainClient, SignedTx, ProgramError
"""

from ephemeral_vault.chain.accounts import DelegationAccount, RawAccount, VaultAccount
from ephemeral_vault.chain.client import ChainClient, SignatureStatus, sign_transaction
from ephemeral_vault.chain.errors import (
    AccountError,
    AccountNotFound,
    AccountOwnerMismatch,
    AccountTypeMismatch,
    BlockhashExpired,
    ChainError,
    FinalChainError,
    InsufficientFunds,
    MalformedTransaction,
    NotYetExpired,
    ProgramError,
    RetryableRpcError,
    RpcRequestRejected,
    SignatureVerificationFailed,
    SignedTransactionMismatch,
    SignerKeypairsMismatch,
    TransactionFailed,
    is_retryable,
)
from ephemeral_vault.chain.events import (
    AccessRevoked,
    AutoDeposit,
    DelegateApproved,
    TradeExecuted,
    UnknownEvent,
    VaultCleaned,
    VaultCreated,
    VaultEvent,
    decode_events,
)
from ephemeral_vault.chain.pdas import SessionAddresses, delegation_pda, vault_pda
from ephemeral_vault.chain.program import ProgramInterface, default_program, load_program_interface
from ephemeral_vault.chain.send import BlockhashInfo, SignedTx, TxResult
from ephemeral_vault.chain.session_tx import (
    InvalidSessionParameters,
    PriorityFee,
    SessionOpening,
    UnsignedTx,
    build_deposit,
    build_revoke,
    build_session_opening,
    verify_parent_signed,
)
from ephemeral_vault.chain.verify import ExpectedSession, Mismatch, verify_session

__all__ = [
    "AccessRevoked",
    "AccountError",
    "AccountNotFound",
    "AccountOwnerMismatch",
    "AccountTypeMismatch",
    "AutoDeposit",
    "BlockhashExpired",
    "BlockhashInfo",
    "ChainClient",
    "ChainError",
    "DelegateApproved",
    "DelegationAccount",
    "ExpectedSession",
    "FinalChainError",
    "InsufficientFunds",
    "InvalidSessionParameters",
    "MalformedTransaction",
    "Mismatch",
    "NotYetExpired",
    "PriorityFee",
    "ProgramError",
    "ProgramInterface",
    "RawAccount",
    "RetryableRpcError",
    "RpcRequestRejected",
    "SessionAddresses",
    "SessionOpening",
    "SignatureStatus",
    "SignatureVerificationFailed",
    "SignedTransactionMismatch",
    "SignedTx",
    "SignerKeypairsMismatch",
    "TradeExecuted",
    "TransactionFailed",
    "TxResult",
    "UnknownEvent",
    "UnsignedTx",
    "VaultAccount",
    "VaultCleaned",
    "VaultCreated",
    "VaultEvent",
    "build_deposit",
    "build_revoke",
    "build_session_opening",
    "decode_events",
    "default_program",
    "delegation_pda",
    "is_retryable",
    "load_program_interface",
    "sign_transaction",
    "vault_pda",
    "verify_parent_signed",
    "verify_session",
]
