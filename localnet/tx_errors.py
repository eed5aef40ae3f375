"""Transaction errors in the two forms a validator shows them: serde JSON (`err`) and the human message.

The JSON form is what `getSignatureStatuses`, `getTransaction` and `simulateTransaction` put in `err`; the message is
what `sendTransaction` puts after "Transaction simulation failed: ". Both follow agave's `TransactionError` so client
libraries (web3.js, solana-py) that pattern-match on them behave as they would against a validator.
"""

from __future__ import annotations

import json
import re
from typing import Any

from solders.rpc.responses import RpcSimulateTransactionResult

# agave's `Display` strings for the errors a client can meet on a local chain.
_TRANSACTION_MESSAGES: dict[str, str] = {
    "AccountInUse": "Account in use",
    "AccountLoadedTwice": "Account loaded twice",
    "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
    "ProgramAccountNotFound": "Attempt to load a program that does not exist",
    "InsufficientFundsForFee": "Insufficient funds for fee",
    "InvalidAccountForFee": "This account may not be used to pay transaction fees",
    "AlreadyProcessed": "This transaction has already been processed",
    "BlockhashNotFound": "Blockhash not found",
    "CallChainTooDeep": "Loader call chain is too deep",
    "MissingSignatureForFee": "Transaction requires a fee but has no signature present",
    "InvalidAccountIndex": "Transaction contains an invalid account reference",
    "SignatureFailure": "Transaction did not pass signature verification",
    "InvalidProgramForExecution": "This program may not be used for executing instructions",
    "SanitizeFailure": "Transaction failed to sanitize accounts offsets correctly",
    "AccountBorrowOutstanding": "Transaction processing left an account with an outstanding borrowed reference",
    "UnsupportedVersion": "Transaction version is unsupported",
    "InvalidWritableAccount": "Transaction loads a writable account that cannot be written",
    "TooManyAccountLocks": "Transaction locked too many accounts",
    "AddressLookupTableNotFound": "Transaction loads an address table account that doesn't exist",
    "InvalidAddressLookupTableOwner": "Transaction loads an address table account with an invalid owner",
    "InvalidAddressLookupTableData": "Transaction loads an address table account with invalid data",
    "InvalidAddressLookupTableIndex": "Transaction address table lookup uses an invalid index",
    "InvalidRentPayingAccount": "Transaction leaves an account with a lower balance than rent-exempt minimum",
    "InvalidLoadedAccountsDataSizeLimit": "LoadedAccountsDataSizeLimit set for transaction must be greater than 0.",
    "MaxLoadedAccountsDataSizeExceeded": "Transaction exceeded max loaded accounts data size cap",
}

_INSTRUCTION_MESSAGES: dict[str, str] = {
    "GenericError": "generic instruction error",
    "InvalidArgument": "invalid program argument",
    "InvalidInstructionData": "invalid instruction data",
    "InvalidAccountData": "invalid account data for instruction",
    "AccountDataTooSmall": "account data too small for instruction",
    "InsufficientFunds": "insufficient funds for instruction",
    "IncorrectProgramId": "incorrect program id for instruction",
    "MissingRequiredSignature": "missing required signature for instruction",
    "AccountAlreadyInitialized": "instruction requires an uninitialized account",
    "UninitializedAccount": "instruction requires an initialized account",
    "UnbalancedInstruction": "sum of account balances before and after instruction do not match",
    "ModifiedProgramId": "instruction illegally modified the program id of an account",
    "ExternalAccountLamportSpend": "instruction spent from the balance of an account it does not own",
    "ExternalAccountDataModified": "instruction modified data of an account it does not own",
    "ReadonlyLamportChange": "instruction changed the balance of a read-only account",
    "ReadonlyDataModified": "instruction modified data of a read-only account",
    "DuplicateAccountIndex": "instruction contains duplicate accounts",
    "ExecutableModified": "instruction changed executable bit of an account",
    "NotEnoughAccountKeys": "insufficient account keys for instruction",
    "AccountDataSizeChanged": "program other than the account's owner changed the size of the account data",
    "AccountNotExecutable": "instruction expected an executable account",
    "ProgramFailedToComplete": "Program failed to complete",
    "ProgramFailedToCompile": "Program failed to compile",
    "ComputationalBudgetExceeded": "Computational budget exceeded",
    "PrivilegeEscalation": "Cross-program invocation with unauthorized signer or writable account",
    "MissingAccount": "An account required by the instruction is missing",
    "InvalidSeeds": "Provided seeds do not result in a valid address",
    "InvalidRealloc": "Failed to reallocate account data",
    "Immutable": "Account is immutable",
    "IncorrectAuthority": "Incorrect authority provided",
    "AccountNotRentExempt": "An account does not have enough lamports to be rent-exempt",
    "InvalidAccountOwner": "Invalid account owner",
    "ArithmeticOverflow": "Program arithmetic overflowed",
    "UnsupportedSysvar": "Unsupported sysvar",
    "MaxAccountsDataAllocationsExceeded": "Accounts data allocations exceeded the maximum allowed per transaction",
    "MaxInstructionTraceLengthExceeded": "Max instruction trace length exceeded",
    "BuiltinProgramsMustConsumeComputeUnits": "Builtin programs must consume compute units",
}


def error_json(err: object | None) -> Any:
    """A solders `TransactionErrorType` as the validator's serde JSON (None stays None)."""
    if err is None:
        return None
    carrier = RpcSimulateTransactionResult(err=err, logs=None, accounts=None, units_consumed=None)  # type: ignore[arg-type]
    return json.loads(carrier.to_json())["err"]


def _split_camel(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


def _instruction_message(err: Any) -> str:
    if isinstance(err, str):
        return _INSTRUCTION_MESSAGES.get(err, _split_camel(err))
    if isinstance(err, dict) and len(err) == 1:
        ((kind, value),) = err.items()
        if kind == "Custom":
            return f"custom program error: {int(value):#x}"
        if kind == "BorshIoError":
            return f"Failed to serialize or deserialize account data: {value}"
        return f"{_split_camel(kind)}: {value}"
    return str(err)


def error_message(err: Any) -> str:
    """agave's Display text for a transaction error given in its JSON form."""
    if isinstance(err, str):
        return _TRANSACTION_MESSAGES.get(err, _split_camel(err))
    if isinstance(err, dict) and len(err) == 1:
        ((kind, value),) = err.items()
        if kind == "InstructionError":
            index, inner = value
            return f"Error processing Instruction {index}: {_instruction_message(inner)}"
        if kind == "InsufficientFundsForRent":
            return f"Transaction results in an account ({value['account_index']}) with insufficient funds for rent"
        if kind == "DuplicateInstruction":
            return f"Transaction contains a duplicate instruction ({value}) that is not allowed"
        if kind == "ProgramExecutionTemporarilyRestricted":
            return (
                f"Execution of the program referenced by account at index {value['account_index']} "
                "is temporarily restricted."
            )
    return str(err)
