"""What happened to transactions: getSignatureStatuses, getTransaction, getSignaturesForAddress."""

from __future__ import annotations

from typing import Any

from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from localnet.chain import LocalChain
from localnet.rpc.context import with_context
from localnet.rpc.encoding import TRANSACTION_ENCODINGS, encode_transaction
from localnet.rpc.errors import UNSUPPORTED_TRANSACTION_VERSION, RpcError, invalid_params
from localnet.rpc.params import Config, Params, to_int, to_list, to_pubkey, to_signature
from localnet.rpc.registry import rpc_method

MAX_SIGNATURE_STATUSES = 256
MAX_SIGNATURES_FOR_ADDRESS = 1000


@rpc_method("getSignatureStatuses", 2)
def get_signature_statuses(chain: LocalChain, params: Params) -> Any:
    raw = to_list(params.required(0, "signatures"), "signatures", MAX_SIGNATURE_STATUSES)
    signatures = [str(to_signature(value, f"signature {i}")) for i, value in enumerate(raw)]
    search_history = params.config(1).boolean("searchTransactionHistory")
    slot, statuses = chain.signature_statuses(signatures, search_history)
    return with_context(slot, statuses)


def _confirmed_commitment(config: Config) -> str:
    commitment = config.commitment()
    if commitment == "processed":
        raise invalid_params("Method does not support commitment below `confirmed`")
    return commitment


@rpc_method("getTransaction", 2)
def get_transaction(chain: LocalChain, params: Params) -> Any:
    signature = str(to_signature(params.required(0, "transaction signature"), "transaction signature"))
    legacy = params.optional(1)
    # The old form passes the encoding itself as the second parameter.
    config = Config({"encoding": legacy}) if isinstance(legacy, str) else params.config(1)
    encoding = config.string("encoding", TRANSACTION_ENCODINGS, default="json")
    assert encoding is not None
    max_version = config.integer("maxSupportedTransactionVersion", maximum=255)
    commitment = _confirmed_commitment(config)
    record = chain.transaction(signature, commitment)
    if record is None:
        return None
    tx = VersionedTransaction.from_bytes(record.wire)
    is_v0 = isinstance(tx.message, MessageV0)
    if is_v0 and (max_version is None or max_version < 0):
        raise RpcError(
            UNSUPPORTED_TRANSACTION_VERSION,
            "Transaction version (0) is not supported by the requesting client. Please try the request again with "
            'the following configuration parameter: "maxSupportedTransactionVersion": 0',
        )
    loaded = (record.loaded_writable, record.loaded_readonly)
    meta: dict[str, Any] = {
        "err": record.err,
        "status": {"Ok": None} if record.err is None else {"Err": record.err},
        "fee": record.fee,
        "preBalances": record.pre_balances,
        "postBalances": record.post_balances,
        "innerInstructions": record.inner_instructions,
        "logMessages": record.log_messages,
        "preTokenBalances": [],
        "postTokenBalances": [],
        "rewards": [],
        "loadedAddresses": {"writable": record.loaded_writable, "readonly": record.loaded_readonly},
        "computeUnitsConsumed": record.compute_units_consumed,
    }
    if record.return_data is not None:
        meta["returnData"] = record.return_data
    result: dict[str, Any] = {
        "slot": record.slot,
        "blockTime": record.block_time,
        "meta": meta,
        "transaction": encode_transaction(tx, record.wire, encoding, loaded),
    }
    if max_version is not None:
        result["version"] = 0 if is_v0 else "legacy"
    return result


@rpc_method("getSignaturesForAddress", 2)
def get_signatures_for_address(chain: LocalChain, params: Params) -> Any:
    address = str(to_pubkey(params.required(0, "account address"), "account address"))
    config = params.config(1)
    limit = config.integer("limit", default=MAX_SIGNATURES_FOR_ADDRESS, maximum=2**64 - 1)
    assert limit is not None
    if not 1 <= limit <= MAX_SIGNATURES_FOR_ADDRESS:
        raise invalid_params(f"Invalid limit; max {MAX_SIGNATURES_FOR_ADDRESS}")
    before = config.get("before")
    until = config.get("until")
    before_sig = None if before is None else str(to_signature(before, "`before`"))
    until_sig = None if until is None else str(to_signature(until, "`until`"))
    commitment = _confirmed_commitment(config)
    config.check_min_context_slot(chain.commitment_slot(commitment))
    return chain.signatures_for_address(address, to_int(limit, "limit"), before_sig, until_sig, commitment)
