"""Cluster state: slots, blockhashes, epoch, health, version, genesis."""

from __future__ import annotations

import zlib
from typing import Any

from solders.hash import Hash, ParseHashError

from localnet.chain import LocalChain
from localnet.rpc.context import API_VERSION, with_context
from localnet.rpc.errors import invalid_params
from localnet.rpc.params import Params
from localnet.rpc.registry import rpc_method


@rpc_method("getLatestBlockhash", 1)
def get_latest_blockhash(chain: LocalChain, params: Params) -> Any:
    config = params.config(0)
    slot, blockhash, last_valid = chain.latest_blockhash(config.commitment())
    config.check_min_context_slot(slot)
    return with_context(slot, {"blockhash": blockhash, "lastValidBlockHeight": last_valid})


@rpc_method("isBlockhashValid", 2)
def is_blockhash_valid(chain: LocalChain, params: Params) -> Any:
    value = params.required(0, "blockhash")
    try:
        blockhash = str(Hash.from_string(value)) if isinstance(value, str) else None
    except (ValueError, ParseHashError):
        blockhash = None
    if blockhash is None:
        raise invalid_params(f"Invalid param: {value!r:.80} is not a valid base58 blockhash")
    config = params.config(1)
    config.commitment()
    slot, valid = chain.is_blockhash_valid(blockhash)
    config.check_min_context_slot(slot)
    return with_context(slot, valid)


def _slot_for(chain: LocalChain, params: Params) -> int:
    config = params.config(0)
    slot = chain.commitment_slot(config.commitment())
    config.check_min_context_slot(slot)
    return slot


@rpc_method("getSlot", 1)
def get_slot(chain: LocalChain, params: Params) -> Any:
    return _slot_for(chain, params)


@rpc_method("getBlockHeight", 1)
def get_block_height(chain: LocalChain, params: Params) -> Any:
    # Every slot has a block here, so height equals slot.
    return _slot_for(chain, params)


@rpc_method("getEpochInfo", 1)
def get_epoch_info(chain: LocalChain, params: Params) -> Any:
    config = params.config(0)
    info = chain.epoch_info(config.commitment())
    config.check_min_context_slot(info["absoluteSlot"])
    return info


@rpc_method("getEpochSchedule", 0)
def get_epoch_schedule(chain: LocalChain, params: Params) -> Any:
    schedule = chain.svm.get_epoch_schedule()
    return {
        "slotsPerEpoch": schedule.slots_per_epoch,
        "leaderScheduleSlotOffset": schedule.leader_schedule_slot_offset,
        "warmup": schedule.warmup,
        "firstNormalEpoch": schedule.first_normal_epoch,
        "firstNormalSlot": schedule.first_normal_slot,
    }


@rpc_method("getTransactionCount", 1)
def get_transaction_count(chain: LocalChain, params: Params) -> Any:
    params.config(0).commitment()
    return chain.transaction_count()


@rpc_method("getHealth", 0)
def get_health(chain: LocalChain, params: Params) -> Any:
    return "ok"


@rpc_method("getVersion", 0)
def get_version(chain: LocalChain, params: Params) -> Any:
    # Like agave's feature-set id: a 32-bit digest of the active feature ids.
    features = sorted(str(key) for key in chain.svm_feature_ids())
    return {"solana-core": API_VERSION, "feature-set": zlib.crc32(",".join(features).encode())}


@rpc_method("getGenesisHash", 0)
def get_genesis_hash(chain: LocalChain, params: Params) -> Any:
    return chain.genesis_hash


@rpc_method("getFirstAvailableBlock", 0)
def get_first_available_block(chain: LocalChain, params: Params) -> Any:
    return 0
