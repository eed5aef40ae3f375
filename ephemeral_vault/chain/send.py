"""The pure half of sending: the signed-transaction envelope, the typed result, and error classification.

Classification answers one question for every failure: can repeating the same request succeed? Program errors are
decoded to their IDL name and code only when the failing instruction is our program's; a custom code raised by the
System Program (directly or through our program's CPI) is named by the System Program's own table.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from solana.rpc.core import RPCException, RPCNoResultException
from solders.errors import SerdeJSONError
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.errors import (
    BlockCleanedUpMessage,
    BlockNotAvailableMessage,
    BlockStatusNotAvailableYetMessage,
    InternalErrorMessage,
    InvalidParamsMessage,
    InvalidRequestMessage,
    LongTermStorageSlotSkippedMessage,
    MethodNotFoundMessage,
    MinContextSlotNotReachedMessage,
    NodeUnhealthyMessage,
    ParseErrorMessage,
    SendTransactionPreflightFailureMessage,
    SlotSkippedMessage,
    TransactionPrecompileVerificationFailureMessage,
    UnsupportedTransactionVersionMessage,
)

# Not re-exported by solders' Python modules, only by the native extension.
from solders.solders import RpcCustomErrorFieldless
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import Transaction
from solders.transaction_status import (
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorInsufficientFundsForRent,
    TransactionErrorProgramExecutionTemporarilyRestricted,
)

from ephemeral_vault.chain.errors import (
    ChainError,
    FinalChainError,
    InsufficientFunds,
    MalformedTransaction,
    ProgramError,
    RetryableRpcError,
    RpcRequestRejected,
    SignatureVerificationFailed,
    TransactionFailed,
)
from ephemeral_vault.chain.events import UnknownEvent, VaultEvent
from ephemeral_vault.chain.program import ProgramInterface
from ephemeral_vault.chain.transport import RpcHttpStatusError, RpcTimeout, RpcTransportError, RpcUnreachable

# System Program custom errors (SystemError enum order). 1 is what an overdrawn transfer returns.
SYSTEM_ERRORS = {
    0: "AccountAlreadyInUse",
    1: "ResultWithNegativeLamports",
    2: "InvalidProgramId",
    3: "InvalidAccountDataLength",
    4: "MaxSeedLengthExceeded",
    5: "AddressWithSeedMismatch",
    6: "NonceNoRecentBlockhashes",
    7: "NonceBlockhashNotExpired",
    8: "NonceUnexpectedBlockhashValue",
}

# Runtime rejections that depend on load, not on the transaction: the same bytes may land later.
_RETRYABLE_TX_ERRORS = {
    "AccountInUse",
    "AccountBorrowOutstanding",
    "ClusterMaintenance",
    "ProgramCacheHitMaxLimit",
    "WouldExceedMaxBlockCostLimit",
    "WouldExceedMaxAccountCostLimit",
    "WouldExceedMaxVoteCostLimit",
    "WouldExceedAccountDataBlockLimit",
    "BlockhashNotFound",  # at send time: this node has not seen the blockhash yet (or it expired: checked by caller)
}
_SIGNATURE_TX_ERRORS = {"SignatureFailure", "MissingSignatureForFee"}
_FUNDS_TX_ERRORS = {"InsufficientFundsForFee", "AccountNotFound", "InvalidAccountForFee", "InvalidRentPayingAccount"}
_MALFORMED_TX_ERRORS = {
    "SanitizeFailure",
    "UnsupportedVersion",
    "InvalidAccountIndex",
    "AccountLoadedTwice",
    "TooManyAccountLocks",
    "InvalidWritableAccount",
    "InvalidProgramForExecution",
    "ProgramAccountNotFound",
}


class _AlreadyProcessed(ChainError):
    """The node says this exact transaction was already processed: not a failure, go confirm it."""


@dataclass(frozen=True)
class SignedTx:
    """A fully signed legacy transaction in wire format, with what is needed to send it safely again later.

    Plain str/int fields so an activity can persist it (or hand it to Temporal) before sending: the signature is
    known before anything goes on the wire, which is what makes a resend recognisable.
    """

    transaction_base64: str
    signature: str
    last_valid_block_height: int

    @classmethod
    def from_transaction(cls, tx: Transaction, last_valid_block_height: int) -> SignedTx:
        if not tx.is_signed():
            raise SignatureVerificationFailed("the transaction is missing signatures")
        return cls(
            transaction_base64=base64.b64encode(bytes(tx)).decode(),
            signature=str(tx.signatures[0]),
            last_valid_block_height=last_valid_block_height,
        )

    def wire(self) -> bytes:
        return base64.b64decode(self.transaction_base64)

    def transaction(self) -> Transaction:
        return decode_transaction(self.transaction_base64)


def decode_transaction(tx_base64: str) -> Transaction:
    """A legacy transaction from base64 wire format; `MalformedTransaction` for anything else."""
    try:
        raw = base64.b64decode(tx_base64, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise MalformedTransaction("transaction is not valid base64") from exc
    try:
        tx = Transaction.from_bytes(raw)
    except Exception as exc:  # solders raises its own ValueError subclasses on short/garbled input
        raise MalformedTransaction("bytes are not a legacy Solana transaction in wire format") from exc
    if bytes(tx) != raw:
        raise MalformedTransaction("transaction has trailing or non-canonical bytes")
    return tx


@dataclass(frozen=True)
class BlockhashInfo:
    blockhash: Hash
    last_valid_block_height: int


@dataclass(frozen=True)
class TxResult:
    """A confirmed, successful transaction as read back from `getTransaction`."""

    signature: str
    slot: int
    fee: int
    compute_units_consumed: int | None
    block_time: int | None
    logs: list[str] = field(default_factory=list)
    events: list[VaultEvent | UnknownEvent] = field(default_factory=list)


def _fieldless_name(value: object) -> str:
    return str(value).rsplit(".", 1)[-1]


def classify_transaction_error(
    err: object,
    *,
    program: ProgramInterface,
    instruction_programs: list[Pubkey | None] | None,
    signature: str | None = None,
    logs: list[str] | None = None,
) -> ChainError:
    """Map a runtime `TransactionError` (solders type) to the typed error a caller acts on.

    `instruction_programs[i]` is the program id of top-level instruction i (from the transaction's message); it
    decides whose table a custom error code is read from.
    """
    if isinstance(err, TransactionErrorInstructionError):
        index, inner = err.index, err.err
        ix_program = (
            instruction_programs[index] if instruction_programs and 0 <= index < len(instruction_programs) else None
        )
        if isinstance(inner, InstructionErrorCustom):
            return _classify_custom(inner.code, index, ix_program, program, signature, logs)
        if isinstance(inner, InstructionErrorFieldless):
            name = _fieldless_name(inner)
            if name == "InsufficientFunds":
                return InsufficientFunds(f"instruction {index}: insufficient funds", signature=signature, logs=logs)
            if name == "MissingRequiredSignature":
                return SignatureVerificationFailed(
                    f"instruction {index}: a required signer did not sign", signature=signature, logs=logs
                )
            return TransactionFailed(name, instruction_index=index, signature=signature, logs=logs)
        return TransactionFailed(f"{type(inner).__name__}", instruction_index=index, signature=signature, logs=logs)
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return InsufficientFunds(
            f"account {err.account_index} would not be rent-exempt after the transaction",
            signature=signature,
            logs=logs,
        )
    if isinstance(err, TransactionErrorProgramExecutionTemporarilyRestricted):
        return RetryableRpcError("program execution temporarily restricted")
    if isinstance(err, TransactionErrorFieldless):
        name = _fieldless_name(err)
        if name == "AlreadyProcessed":
            return _AlreadyProcessed(name)
        if name in _RETRYABLE_TX_ERRORS:
            return RetryableRpcError(f"transaction not accepted now: {name}")
        if name in _SIGNATURE_TX_ERRORS:
            return SignatureVerificationFailed(f"signature check failed: {name}", signature=signature, logs=logs)
        if name in _FUNDS_TX_ERRORS:
            return InsufficientFunds(f"fee payer cannot pay: {name}", signature=signature, logs=logs)
        if name in _MALFORMED_TX_ERRORS:
            return MalformedTransaction(f"transaction rejected as malformed: {name}", signature=signature, logs=logs)
        return TransactionFailed(name, signature=signature, logs=logs)
    return TransactionFailed(type(err).__name__, signature=signature, logs=logs)


def _classify_custom(
    code: int,
    index: int,
    ix_program: Pubkey | None,
    program: ProgramInterface,
    signature: str | None,
    logs: list[str] | None,
) -> FinalChainError:
    ours = ix_program == program.program_id or ix_program is None
    idl_error = program.error_for_code(code) if ours else None
    if idl_error is not None:
        return ProgramError(
            idl_error.name,
            code,
            message=idl_error.message,
            instruction_index=index,
            signature=signature,
            logs=logs,
        )
    # A code below our range in our instruction comes from the System Program through our CPI.
    if ix_program == SYSTEM_PROGRAM_ID or (ours and code in SYSTEM_ERRORS):
        name = SYSTEM_ERRORS.get(code, f"Custom({code})")
        if name == "ResultWithNegativeLamports":
            return InsufficientFunds(
                f"instruction {index}: a transfer exceeds the payer's balance", signature=signature, logs=logs
            )
        return TransactionFailed(f"SystemError.{name}", instruction_index=index, signature=signature, logs=logs)
    return TransactionFailed(
        f"Custom({code}) from {ix_program}", instruction_index=index, signature=signature, logs=logs
    )


def classify_rpc_exception(
    exc: BaseException,
    *,
    program: ProgramInterface,
    instruction_programs: list[Pubkey | None] | None = None,
    sending: bool = False,
    signature: str | None = None,
) -> ChainError:
    """Map whatever one request raised (solana-py, solders, the transport) to a typed error.

    `sending` marks a sendTransaction: invalid params then means the transaction bytes themselves were rejected.
    """
    if isinstance(exc, ChainError):
        return exc
    if isinstance(exc, RpcTransportError):
        return _classify_transport(exc)
    if isinstance(exc, RPCNoResultException):
        return RetryableRpcError(f"RPC returned no result: {exc}")
    if isinstance(exc, RPCException):
        payload = exc.args[0] if exc.args else None
        return _classify_rpc_error_payload(
            payload, program=program, instruction_programs=instruction_programs, sending=sending, signature=signature
        )
    if type(exc).__name__ == "PanicException":
        # solders panics (a BaseException from pyo3) instead of raising when a response lacks a field it requires.
        return RetryableRpcError("unparseable RPC response (the decoder rejected its shape)")
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        return RetryableRpcError(f"connection problem: {type(exc).__name__}")
    if isinstance(exc, ValueError | SerdeJSONError):
        # solders could not parse the response body: a proxy page, a truncated body, a half-up node. (A body that is
        # not JSON at all raises SerdeJSONError, which is not a ValueError.)
        return RetryableRpcError(f"unparseable RPC response: {exc}")
    raise exc


def _classify_transport(cause: BaseException) -> ChainError:
    if isinstance(cause, RpcHttpStatusError):
        if cause.status in (408, 429) or cause.status >= 500:
            return RetryableRpcError(f"RPC endpoint answered HTTP {cause.status}")
        return RpcRequestRejected(f"RPC endpoint refused the request: HTTP {cause.status}")
    if isinstance(cause, RpcTimeout):
        return RetryableRpcError("RPC request timed out")
    if isinstance(cause, RpcUnreachable):
        return RetryableRpcError(str(cause))
    return RetryableRpcError(f"RPC transport error ({type(cause).__name__})")


def _classify_rpc_error_payload(
    payload: object,
    *,
    program: ProgramInterface,
    instruction_programs: list[Pubkey | None] | None,
    sending: bool,
    signature: str | None,
) -> ChainError:
    if isinstance(payload, SendTransactionPreflightFailureMessage):
        sim = payload.data
        if sim.err is None:
            return RetryableRpcError(f"preflight failed without an error: {payload.message}")
        return classify_transaction_error(
            sim.err,
            program=program,
            instruction_programs=instruction_programs,
            signature=signature,
            logs=list(sim.logs or []),
        )
    if isinstance(payload, RpcCustomErrorFieldless):
        name = _fieldless_name(payload)
        if name in ("TransactionSignatureVerificationFailure", "TransactionSignatureLenMismatch"):
            return SignatureVerificationFailed(f"node rejected the signatures: {name}", signature=signature)
        return RetryableRpcError(f"node cannot answer now: {name}")
    if isinstance(payload, TransactionPrecompileVerificationFailureMessage):
        return SignatureVerificationFailed(payload.message, signature=signature)
    if isinstance(payload, UnsupportedTransactionVersionMessage):
        return MalformedTransaction(payload.message, signature=signature)
    if isinstance(payload, InvalidParamsMessage):
        if sending:
            return MalformedTransaction(
                f"node could not decode the transaction: {payload.message}", signature=signature
            )
        return RpcRequestRejected(f"invalid RPC params: {payload.message}")
    if isinstance(payload, ParseErrorMessage | InvalidRequestMessage | MethodNotFoundMessage):
        return RpcRequestRejected(f"RPC request rejected: {payload.message}")
    if isinstance(
        payload,
        NodeUnhealthyMessage
        | BlockNotAvailableMessage
        | BlockStatusNotAvailableYetMessage
        | MinContextSlotNotReachedMessage
        | SlotSkippedMessage
        | LongTermStorageSlotSkippedMessage
        | BlockCleanedUpMessage
        | InternalErrorMessage,
    ):
        return RetryableRpcError(f"node cannot answer now: {payload.message}")
    # solders collapses an error code it does not know to the bare int.
    return RetryableRpcError(f"unrecognised RPC error: {payload!r}")
