"""Typed chain errors, split by what a caller (a Temporal activity) should do about them.

* `RetryableRpcError` — the request may succeed if repeated unchanged (connection refused, timeout, HTTP 429/5xx,
  node behind, blockhash not yet seen by this node). Resending a signed transaction is safe: the send path
  recognises a signature that already landed.
* `BlockhashExpired` — this signed transaction can provably never land; rebuild it with a fresh blockhash (the
  parent must re-sign what the parent signed; `ChainClient.rebuild_expired` re-signs backend transactions).
* `FinalChainError` — repeating the same request cannot succeed: a program error (decoded to the IDL name and
  code), insufficient funds, a bad signature, a malformed transaction, a rejected request.
* `AccountError` — a fetched account is missing, foreign or not of the expected type.

No exception here ever carries key material: only public keys, signatures, codes and program logs.
"""

from __future__ import annotations


class ChainError(Exception):
    """Base of every error raised by `ephemeral_vault.chain`."""


class RetryableRpcError(ChainError):
    """Transient: the same request may succeed later."""


class FinalChainError(ChainError):
    """Permanent for this transaction or request: retrying it unchanged cannot succeed."""

    def __init__(self, message: str, *, signature: str | None = None, logs: list[str] | None = None) -> None:
        super().__init__(message)
        self.signature = signature
        self.logs = list(logs or [])


class ProgramError(FinalChainError):
    """A custom error of the `ephemeral_vault` program, named as in the IDL (`SessionExpired`, code 6019)."""

    def __init__(
        self,
        name: str,
        code: int,
        *,
        message: str = "",
        instruction_index: int | None = None,
        signature: str | None = None,
        logs: list[str] | None = None,
    ) -> None:
        where = f" in instruction {instruction_index}" if instruction_index is not None else ""
        super().__init__(f"{name} ({code}){where}: {message or name}", signature=signature, logs=logs)
        self.name = name
        self.code = code
        self.instruction_index = instruction_index

    def __repr__(self) -> str:
        return f"ProgramError(name={self.name!r}, code={self.code}, instruction_index={self.instruction_index})"


class InsufficientFunds(FinalChainError):
    """The fee payer cannot pay the fee, or a transfer/rent payment exceeds a balance."""


class SignatureVerificationFailed(FinalChainError):
    """A signature is missing or does not verify against the message."""


class MalformedTransaction(FinalChainError):
    """The node could not decode or sanitize the transaction."""


class TransactionFailed(FinalChainError):
    """Any other runtime rejection, named by the runtime's error kind (`kind`)."""

    def __init__(
        self,
        kind: str,
        *,
        instruction_index: int | None = None,
        signature: str | None = None,
        logs: list[str] | None = None,
    ) -> None:
        where = f" in instruction {instruction_index}" if instruction_index is not None else ""
        super().__init__(f"transaction failed: {kind}{where}", signature=signature, logs=logs)
        self.kind = kind
        self.instruction_index = instruction_index


class RpcRequestRejected(FinalChainError):
    """The RPC endpoint refused the request itself (HTTP 4xx other than 408/429, invalid params, unknown method)."""


class BlockhashExpired(ChainError):
    """The transaction's blockhash is past `last_valid_block_height` and its signature is not on chain: it can never
    land. Rebuild with a fresh blockhash and sign again."""

    def __init__(self, signature: str, last_valid_block_height: int, block_height: int) -> None:
        super().__init__(
            f"transaction {signature} expired: block height {block_height} > last valid {last_valid_block_height}; "
            "rebuild it with a fresh blockhash"
        )
        self.signature = signature
        self.last_valid_block_height = last_valid_block_height
        self.block_height = block_height


class NotYetExpired(ChainError):
    """Refusal to rebuild: the old transaction may still land, so signing a replacement could double its effect."""


class AccountError(ChainError):
    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class AccountNotFound(AccountError):
    """No account at the address (never created, or closed)."""


class AccountOwnerMismatch(AccountError):
    """The account exists but another program owns it."""


class AccountTypeMismatch(AccountError):
    """Owned by the program, but the discriminator or size is not the expected account type."""


class SignerKeypairsMismatch(ChainError, ValueError):
    """The keypairs handed to a signing call are not exactly the transaction's required signers (a caller bug)."""


class SignedTransactionMismatch(ChainError):
    """A transaction returned by a wallet is not exactly the one offered for signing, or is not properly signed."""


def is_retryable(exc: BaseException) -> bool:
    """True when repeating the same activity attempt may succeed (what a Temporal retry policy should retry)."""
    return isinstance(exc, RetryableRpcError)
