"""How activities fail: business rejections become non-retryable ApplicationErrors with a `type` the API maps to HTTP
(workflows.messages.ErrorType); transient trouble stays retryable so the activity's retry policy handles it.

Messages carry public keys, signatures and program error names only — never key material — because a failure's
message and details land in Temporal history.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from ephemeral_vault.chain.errors import (
    BlockhashExpired,
    ChainError,
    FinalChainError,
    InsufficientFunds,
    ProgramError,
    RetryableRpcError,
    SignedTransactionMismatch,
)
from ephemeral_vault.custody import CustodyError, KekUnavailableError, KeyShreddedError
from workflows.messages import ErrorType


def business(error_type: str, message: str, **details: object) -> ApplicationError:
    """A rejection the caller must see; retrying cannot change the answer."""
    return ApplicationError(message, details or None, type=error_type, non_retryable=True)


def retryable(error_type: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=False)


def from_chain_error(exc: ChainError) -> Exception:
    """Map a chain error to what the activity should raise."""
    if isinstance(exc, ProgramError):
        return business(ErrorType.program_error(exc.name), str(exc), code=exc.code, signature=exc.signature)
    if isinstance(exc, SignedTransactionMismatch):
        return business(ErrorType.INVALID_TRANSACTION, str(exc))
    if isinstance(exc, BlockhashExpired):
        return business(
            ErrorType.INVALID_TRANSACTION,
            "the signed transaction's blockhash expired before it landed; request a fresh transaction and sign again",
        )
    if isinstance(exc, InsufficientFunds):
        return business(ErrorType.TRANSACTION_FAILED, str(exc), signature=exc.signature)
    if isinstance(exc, FinalChainError):
        return business(ErrorType.TRANSACTION_FAILED, str(exc), signature=exc.signature)
    if isinstance(exc, RetryableRpcError):
        return retryable("ChainUnavailable", str(exc))
    return retryable("ChainError", str(exc))


def from_custody_error(exc: CustodyError, session_id: str) -> Exception:
    if isinstance(exc, KeyShreddedError):
        return business(ErrorType.KEY_UNAVAILABLE, f"session {session_id}: the session key was shredded")
    if isinstance(exc, KekUnavailableError):
        return retryable("KekUnavailable", f"session {session_id}: the KEK provider is unavailable")
    # Tampered/mismatched ciphertext, unknown KEK id: an operator problem, not something a retry fixes.
    return business(ErrorType.KEY_UNAVAILABLE, f"session {session_id}: {type(exc).__name__}")
