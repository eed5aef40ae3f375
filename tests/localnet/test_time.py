"""Slots, the Clock and blockhash lifetimes move like a validator's; resends never execute twice."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator

import pytest
from solders.keypair import Keypair
from solders.sysvar import CLOCK

from tests.fixtures.localnet import LocalnetNode, start_localnet
from tests.localnet.rpc_client import RpcClient, transfer_tx

MAX_PROCESSING_AGE = 150


@pytest.fixture(scope="module")
def bare_node() -> Iterator[LocalnetNode]:
    """Slots move only when a test moves them, so slot arithmetic here is exact."""
    with start_localnet(program_so=None, slot_ms=0) as node:
        yield node


def clock_sysvar(rpc: RpcClient) -> tuple[int, int]:
    """(slot, unix_timestamp) from the Clock sysvar account, i.e. what programs read."""
    data = base64.b64decode(rpc.call("getAccountInfo", str(CLOCK), {"encoding": "base64"})["value"]["data"][0])
    slot, _epoch_start, _epoch, _leader_epoch, unix_timestamp = struct.unpack("<QqQQq", data)
    return slot, unix_timestamp


def test_latest_blockhash_is_valid_for_150_slots(rpc: RpcClient) -> None:
    latest = rpc.call("getLatestBlockhash", {"commitment": "processed"})
    blockhash = latest["value"]["blockhash"]
    issued_at = latest["context"]["slot"]

    assert latest["value"]["lastValidBlockHeight"] == issued_at + MAX_PROCESSING_AGE
    assert rpc.call("isBlockhashValid", blockhash, {"commitment": "processed"})["value"] is True

    height = rpc.call("getBlockHeight", {"commitment": "processed"})
    rpc.call("localnet_advanceSlots", issued_at + MAX_PROCESSING_AGE - height)
    assert rpc.call("isBlockhashValid", blockhash, {"commitment": "processed"})["value"] is True

    rpc.call("localnet_advanceSlots", 1)
    assert rpc.call("getBlockHeight", {"commitment": "processed"}) > latest["value"]["lastValidBlockHeight"]
    assert rpc.call("isBlockhashValid", blockhash, {"commitment": "processed"})["value"] is False


def test_transaction_with_an_expired_blockhash_is_refused_or_dropped(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    tx = transfer_tx(payer, recipient, 1_000_000, rpc.blockhash())

    rpc.call("localnet_advanceSlots", MAX_PROCESSING_AGE + 1)
    refused = rpc.send_b64(tx)
    dropped = rpc.send_b64(tx, skipPreflight=True)

    assert refused["error"]["code"] == -32002
    assert refused["error"]["message"] == "Transaction simulation failed: Blockhash not found"
    assert dropped["result"] == str(tx.signatures[0])
    assert rpc.call("getSignatureStatuses", [dropped["result"]])["value"] == [None]
    assert rpc.balance(recipient) == 0


def test_a_blockhash_from_a_few_slots_ago_still_lands(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    tx = transfer_tx(payer, recipient, 1_000_000, rpc.blockhash())

    rpc.call("localnet_advanceSlots", 20)
    rpc.wait_confirmed(rpc.send_b64(tx)["result"])

    assert rpc.balance(recipient) == 1_000_000


def test_finalized_commitment_lags_32_slots(rpc: RpcClient) -> None:
    rpc.call("localnet_advanceSlots", 40)

    processed = rpc.call("getSlot", {"commitment": "processed"})
    finalized = rpc.call("getSlot", {"commitment": "finalized"})

    assert processed - finalized == 32


def test_resent_transaction_executes_once(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    tx = transfer_tx(payer, recipient, 1_000_000, rpc.blockhash())
    first = rpc.send_b64(tx)["result"]
    rpc.wait_confirmed(first)

    again_skipping_preflight = rpc.send_b64(tx, skipPreflight=True)
    again_with_preflight = rpc.send_b64(tx)

    assert again_skipping_preflight["result"] == first
    assert again_with_preflight["error"]["code"] == -32002
    assert again_with_preflight["error"]["message"] == (
        "Transaction simulation failed: This transaction has already been processed"
    )
    assert again_with_preflight["error"]["data"]["err"] == "AlreadyProcessed"
    assert rpc.balance(recipient) == 1_000_000


def test_two_identical_airdrops_both_land(rpc: RpcClient) -> None:
    recipient = Keypair().pubkey()

    first = rpc.call("requestAirdrop", str(recipient), 1_000_000_000)
    second = rpc.call("requestAirdrop", str(recipient), 1_000_000_000)
    rpc.wait_confirmed(first)
    rpc.wait_confirmed(second)

    assert first != second
    assert rpc.balance(recipient) == 2_000_000_000


def test_warp_clock_moves_the_clock_sysvar_forward(rpc: RpcClient) -> None:
    _, before = clock_sysvar(rpc)

    by_seconds = rpc.call("localnet_warpClock", 3600)
    _, after_seconds = clock_sysvar(rpc)
    target = by_seconds["unixTimestamp"] + 86_400
    absolute = rpc.call("localnet_warpClock", {"unixTimestamp": target})
    _, after_absolute = clock_sysvar(rpc)

    assert after_seconds >= before + 3600
    assert absolute["unixTimestamp"] >= target
    assert after_absolute >= target


def test_warp_clock_refuses_to_go_backwards(rpc: RpcClient) -> None:
    error = rpc.error("localnet_warpClock", {"unixTimestamp": 1})
    negative = rpc.error("localnet_warpClock", -5)

    assert error["code"] == -32602 and "backwards" in error["message"]
    assert negative["code"] == -32602


def test_slots_and_clock_advance_with_wall_time() -> None:
    with start_localnet(program_so=None, slot_ms=10) as node:
        rpc = RpcClient(node.url)
        first_slot, first_time = clock_sysvar(rpc)
        deadline = time.monotonic() + 20
        slot, unix_time = first_slot, first_time
        while (slot < first_slot + 150 or unix_time <= first_time) and time.monotonic() < deadline:
            time.sleep(0.05)
            slot, unix_time = clock_sysvar(rpc)
        rpc.close()

    assert slot >= first_slot + 150
    assert unix_time > first_time


def test_old_statuses_need_search_transaction_history(rpc: RpcClient) -> None:
    payer = rpc.funded()
    signature = rpc.send_b64(transfer_tx(payer, Keypair().pubkey(), 1_000_000, rpc.blockhash()))["result"]
    rpc.wait_confirmed(signature)

    rpc.call("localnet_advanceSlots", 301)  # past the ~300-slot status cache
    recent_only = rpc.call("getSignatureStatuses", [signature])["value"]
    searched = rpc.call("getSignatureStatuses", [signature], {"searchTransactionHistory": True})["value"]

    assert recent_only == [None]
    assert searched[0]["confirmationStatus"] == "finalized"
    assert searched[0]["confirmations"] is None
