"""Submitting and trying transactions: sendTransaction, simulateTransaction, requestAirdrop."""

from __future__ import annotations

from typing import Any

from localnet.chain import AirdropRefused, LocalChain, PreflightFailure, SignatureVerificationFailure
from localnet.rpc.context import with_context
from localnet.rpc.encoding import ACCOUNT_ENCODINGS, decode_transaction, encode_account
from localnet.rpc.errors import (
    INTERNAL_ERROR,
    SEND_TRANSACTION_PREFLIGHT_FAILURE,
    TRANSACTION_SIGNATURE_VERIFICATION_FAILURE,
    RpcError,
    invalid_params,
)
from localnet.rpc.params import Params, to_int, to_list, to_pubkey
from localnet.rpc.registry import rpc_method
from localnet.tx_errors import error_message

SUBMIT_ENCODINGS = ("base58", "base64")
MAX_SIMULATION_ACCOUNTS = 100


def _signature_failure() -> RpcError:
    return RpcError(TRANSACTION_SIGNATURE_VERIFICATION_FAILURE, "Transaction signature verification failure")


@rpc_method("sendTransaction", 2)
def send_transaction(chain: LocalChain, params: Params) -> Any:
    config = params.config(1)
    encoding = config.string("encoding", SUBMIT_ENCODINGS, default="base58")
    assert encoding is not None
    skip_preflight = config.boolean("skipPreflight")
    config.string("preflightCommitment", ("processed", "confirmed", "finalized", "recent", "single", "max", "root"))
    config.integer("maxRetries", maximum=2**32 - 1)
    tx, wire = decode_transaction(params.required(0, "transaction"), encoding)
    config.check_min_context_slot(chain.commitment_slot("processed"))
    try:
        return chain.send(tx, wire, preflight=not skip_preflight)
    except SignatureVerificationFailure:
        raise _signature_failure() from None
    except PreflightFailure as failure:
        outcome = failure.outcome
        raise RpcError(
            SEND_TRANSACTION_PREFLIGHT_FAILURE,
            f"Transaction simulation failed: {error_message(outcome.err)}",
            {
                "accounts": None,
                "err": outcome.err,
                "innerInstructions": None,
                "logs": outcome.logs,
                "replacementBlockhash": None,
                "returnData": outcome.return_data,
                "unitsConsumed": outcome.units_consumed,
            },
        ) from None


@rpc_method("simulateTransaction", 2)
def simulate_transaction(chain: LocalChain, params: Params) -> Any:
    config = params.config(1)
    encoding = config.string("encoding", SUBMIT_ENCODINGS, default="base58")
    assert encoding is not None
    sig_verify = config.boolean("sigVerify")
    replace = config.boolean("replaceRecentBlockhash")
    if sig_verify and replace:
        raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
    config.commitment()
    want_inner = config.boolean("innerInstructions")
    accounts_config = config.get("accounts")
    addresses: list[str] = []
    account_encoding = "base64"
    if accounts_config is not None:
        if not isinstance(accounts_config, dict):
            raise invalid_params("Invalid params: `accounts` must be an object {addresses, encoding}")
        raw = to_list(accounts_config.get("addresses"), "`accounts.addresses`", MAX_SIMULATION_ACCOUNTS)
        addresses = [str(to_pubkey(a, f"accounts.addresses[{i}]")) for i, a in enumerate(raw)]
        account_encoding = accounts_config.get("encoding", "base64")
        if account_encoding not in ACCOUNT_ENCODINGS or account_encoding in ("binary", "base58"):
            raise invalid_params(f"Invalid params: unsupported accounts encoding {account_encoding!r}")
    tx, _wire = decode_transaction(params.required(0, "transaction"), encoding)
    try:
        outcome = chain.simulate(tx, sig_verify=sig_verify, replace_blockhash=replace)
    except SignatureVerificationFailure:
        raise _signature_failure() from None
    slot, blockhash, last_valid = chain.latest_blockhash("processed")
    config.check_min_context_slot(slot)

    accounts: list[Any] | None = None
    if accounts_config is not None:
        if outcome.err is not None:
            accounts = [None] * len(addresses)
        else:
            _, states = chain.get_accounts([to_pubkey(a, "address") for a in addresses])
            current = dict(zip(addresses, states, strict=True))
            accounts = []
            for address in addresses:
                account = outcome.post_accounts.get(address, current[address])
                accounts.append(None if account is None else encode_account(account, account_encoding, None))
    return with_context(
        slot,
        {
            "err": outcome.err,
            "logs": outcome.logs,
            "accounts": accounts,
            "unitsConsumed": outcome.units_consumed,
            "returnData": outcome.return_data,
            "innerInstructions": outcome.inner_instructions if want_inner else None,
            "replacementBlockhash": {"blockhash": blockhash, "lastValidBlockHeight": last_valid} if replace else None,
        },
    )


@rpc_method("requestAirdrop", 3)
def request_airdrop(chain: LocalChain, params: Params) -> Any:
    recipient = to_pubkey(params.required(0, "recipient address"), "recipient address")
    lamports = to_int(params.required(1, "lamports"), "lamports", minimum=1, maximum=10**17)
    params.config(2).commitment()
    try:
        return chain.request_airdrop(recipient, lamports)
    except AirdropRefused as refused:
        raise RpcError(INTERNAL_ERROR, f"airdrop failed: {refused}") from None
