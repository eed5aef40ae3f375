"""Fees: getFeeForMessage, getRecentPrioritizationFees."""

from __future__ import annotations

from typing import Any

from localnet.chain import LocalChain
from localnet.rpc.context import with_context
from localnet.rpc.encoding import decode_message
from localnet.rpc.params import Params, to_list, to_pubkey
from localnet.rpc.registry import rpc_method

MAX_PRIORITIZATION_FEE_ACCOUNTS = 128


@rpc_method("getFeeForMessage", 2)
def get_fee_for_message(chain: LocalChain, params: Params) -> Any:
    message = decode_message(params.required(0, "message"))
    config = params.config(1)
    config.commitment()
    slot, fee = chain.fee_for_message(message)
    config.check_min_context_slot(slot)
    return with_context(slot, fee)


@rpc_method("getRecentPrioritizationFees", 1)
def get_recent_prioritization_fees(chain: LocalChain, params: Params) -> Any:
    raw = params.optional(0)
    addresses = [] if raw is None else to_list(raw, "account addresses", MAX_PRIORITIZATION_FEE_ACCOUNTS)
    accounts = [str(to_pubkey(value, f"account address {i}")) for i, value in enumerate(addresses)]
    return chain.recent_prioritization_fees(accounts)
