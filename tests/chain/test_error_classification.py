"""Failures are classified by what a retry could achieve. Inputs are the exact error values solana-py/solders
produce (parsed from the JSON-RPC shapes an agave validator sends); the live-node tests cover the same paths end to
end."""

from __future__ import annotations

import json

import pytest
from solana.rpc.core import RPCException
from solders.keypair import Keypair
from solders.rpc.responses import SendTransactionResp
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction_status import (
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorInsufficientFundsForRent,
)

from ephemeral_vault.chain.client import redact_url
from ephemeral_vault.chain.errors import (
    FinalChainError,
    InsufficientFunds,
    MalformedTransaction,
    ProgramError,
    RetryableRpcError,
    RpcRequestRejected,
    SignatureVerificationFailed,
    TransactionFailed,
    is_retryable,
)
from ephemeral_vault.chain.program import default_program
from ephemeral_vault.chain.send import classify_rpc_exception, classify_transaction_error
from ephemeral_vault.chain.transport import RpcHttpStatusError, RpcTimeout, RpcUnreachable

PROGRAM = default_program()
OURS = PROGRAM.program_id
COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111"


def _classify(err: object, programs: list[object] | None = None) -> object:
    return classify_transaction_error(err, program=PROGRAM, instruction_programs=programs, signature="sig")


def _rpc_error(error: dict[str, object]) -> RPCException:
    parsed = SendTransactionResp.from_json(json.dumps({"jsonrpc": "2.0", "id": 1, "error": error}))
    return RPCException(parsed)


def test_our_custom_code_is_named_from_the_idl() -> None:
    err = TransactionErrorInstructionError(2, InstructionErrorCustom(6019))
    exc = _classify(err, [Keypair().pubkey(), Keypair().pubkey(), OURS])
    assert isinstance(exc, ProgramError)
    assert (exc.name, exc.code, exc.instruction_index) == ("SessionExpired", 6019, 2)
    assert isinstance(exc, FinalChainError) and not is_retryable(exc)


def test_every_idl_error_code_maps_to_its_name() -> None:
    names = {}
    for code in range(6000, 6026):
        exc = _classify(TransactionErrorInstructionError(0, InstructionErrorCustom(code)), [OURS])
        assert isinstance(exc, ProgramError)
        names[code] = exc.name
    assert names[6017] == "DepositCapExceeded" and names[6022] == "FeeTooHigh" and len(set(names.values())) == 26


def test_a_custom_code_from_another_program_is_not_read_as_ours() -> None:
    exc = _classify(TransactionErrorInstructionError(0, InstructionErrorCustom(6019)), [Keypair().pubkey()])
    assert isinstance(exc, TransactionFailed) and not isinstance(exc, ProgramError)


def test_an_overdrawn_system_transfer_is_insufficient_funds() -> None:
    direct = _classify(TransactionErrorInstructionError(1, InstructionErrorCustom(1)), [OURS, SYSTEM_PROGRAM_ID])
    via_cpi = _classify(TransactionErrorInstructionError(0, InstructionErrorCustom(1)), [OURS])
    assert isinstance(direct, InsufficientFunds) and isinstance(via_cpi, InsufficientFunds)


@pytest.mark.parametrize(
    ("err", "cls"),
    [
        (TransactionErrorFieldless.InsufficientFundsForFee, InsufficientFunds),
        (TransactionErrorFieldless.AccountNotFound, InsufficientFunds),
        (TransactionErrorInsufficientFundsForRent(1), InsufficientFunds),
        (TransactionErrorInstructionError(0, InstructionErrorFieldless.InsufficientFunds), InsufficientFunds),
        (TransactionErrorFieldless.SignatureFailure, SignatureVerificationFailed),
        (
            TransactionErrorInstructionError(0, InstructionErrorFieldless.MissingRequiredSignature),
            SignatureVerificationFailed,
        ),
        (TransactionErrorFieldless.SanitizeFailure, MalformedTransaction),
        (TransactionErrorFieldless.BlockhashNotFound, RetryableRpcError),
        (TransactionErrorFieldless.WouldExceedMaxBlockCostLimit, RetryableRpcError),
        (TransactionErrorInstructionError(0, InstructionErrorFieldless.ComputationalBudgetExceeded), TransactionFailed),
    ],
)
def test_runtime_errors_are_classified(err: object, cls: type) -> None:
    assert type(_classify(err, [OURS])) is cls


def test_preflight_program_failure_keeps_name_and_logs() -> None:
    exc = classify_rpc_exception(
        _rpc_error(
            {
                "code": -32002,
                "message": "Transaction simulation failed: custom program error: 0x1776",
                "data": {"err": {"InstructionError": [0, {"Custom": 6022}]}, "logs": ["Program log: fee too high"]},
            }
        ),
        program=PROGRAM,
        instruction_programs=[OURS],
        sending=True,
    )
    assert isinstance(exc, ProgramError) and exc.name == "FeeTooHigh" and exc.logs == ["Program log: fee too high"]


@pytest.mark.parametrize(
    ("error", "cls"),
    [
        ({"code": -32003, "message": "Transaction signature verification failure"}, SignatureVerificationFailed),
        ({"code": -32602, "message": "failed to deserialize VersionedTransaction: io error"}, MalformedTransaction),
        ({"code": -32005, "message": "Node is behind by 42 slots", "data": {"numSlotsBehind": 42}}, RetryableRpcError),
        (
            {"code": -32016, "message": "Minimum context slot has not been reached", "data": {"contextSlot": 5}},
            RetryableRpcError,
        ),
        ({"code": -32601, "message": "Method not found"}, RpcRequestRejected),
        ({"code": -32000, "message": "something a node made up"}, RetryableRpcError),
    ],
)
def test_rpc_error_responses_are_classified(error: dict[str, object], cls: type) -> None:
    assert type(classify_rpc_exception(_rpc_error(error), program=PROGRAM, sending=True)) is cls


@pytest.mark.parametrize(
    ("status", "cls"),
    [(408, RetryableRpcError), (429, RetryableRpcError), (503, RetryableRpcError), (403, RpcRequestRejected)],
)
def test_http_status_decides_transport_retry(status: int, cls: type) -> None:
    assert type(classify_rpc_exception(RpcHttpStatusError(status), program=PROGRAM)) is cls


@pytest.mark.parametrize("cause", [RpcUnreachable("cannot reach the RPC endpoint (x)"), RpcTimeout("slow")])
def test_connection_failures_and_timeouts_are_retryable(cause: Exception) -> None:
    assert is_retryable(classify_rpc_exception(cause, program=PROGRAM))


def test_program_error_repr_carries_no_more_than_name_code_and_index() -> None:
    exc = ProgramError("SessionExpired", 6019, instruction_index=0)
    assert repr(exc) == "ProgramError(name='SessionExpired', code=6019, instruction_index=0)"


def test_a_response_the_decoder_panics_on_is_retryable_not_a_crash() -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": -32016, "message": "no data field"}})
    try:
        SendTransactionResp.from_json(body)
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        panic = exc
    assert type(panic).__name__ == "PanicException"
    assert is_retryable(classify_rpc_exception(panic, program=PROGRAM))


def test_redacted_rpc_urls_keep_only_scheme_host_and_port() -> None:
    assert redact_url("https://user:pw@rpc.example.com/abc123?api-key=S") == "https://rpc.example.com/…"
    assert redact_url("http://127.0.0.1:8899") == "http://127.0.0.1:8899"
