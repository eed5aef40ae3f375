"""Account and cluster reads in the validator's shapes, each parsed by solders' RPC response types as solana-py does."""

from __future__ import annotations

import base64
import shutil
import subprocess

import based58
import pytest
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc import responses
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction

from tests.localnet.rpc_client import LAMPORTS_PER_SOL, RpcClient

SPACE = 48


@pytest.fixture(scope="module")
def owned_account(rpc: RpcClient) -> tuple[Pubkey, Pubkey]:
    """(address, owner) of a 48-byte account owned by a made-up program."""
    payer = rpc.funded()
    account = Keypair()
    owner = Keypair().pubkey()
    blockhash = rpc.blockhash()
    ix = create_account(
        CreateAccountParams(
            from_pubkey=payer.pubkey(), to_pubkey=account.pubkey(), lamports=LAMPORTS_PER_SOL, space=SPACE, owner=owner
        )
    )
    tx = Transaction([payer, account], Message.new_with_blockhash([ix], payer.pubkey(), blockhash), blockhash)
    rpc.wait_confirmed(rpc.send_b64(tx)["result"])
    return account.pubkey(), owner


def test_account_info_base64_shape(rpc: RpcClient, owned_account: tuple[Pubkey, Pubkey]) -> None:
    address, owner = owned_account

    text = rpc.text("getAccountInfo", str(address), {"encoding": "base64", "commitment": "confirmed"})
    result = rpc.call("getAccountInfo", str(address), {"encoding": "base64", "commitment": "confirmed"})

    assert isinstance(responses.GetAccountInfoResp.from_json(text), responses.GetAccountInfoResp), text
    assert set(result["context"]) == {"slot", "apiVersion"}
    assert result["value"] == {
        "data": [base64.b64encode(bytes(SPACE)).decode(), "base64"],
        "executable": False,
        "lamports": LAMPORTS_PER_SOL,
        "owner": str(owner),
        "rentEpoch": result["value"]["rentEpoch"],
        "space": SPACE,
    }


def test_account_info_other_encodings(rpc: RpcClient, owned_account: tuple[Pubkey, Pubkey]) -> None:
    address, _ = owned_account

    binary = rpc.call("getAccountInfo", str(address))["value"]["data"]
    base58 = rpc.call("getAccountInfo", str(address), {"encoding": "base58"})["value"]["data"]
    parsed = rpc.call("getAccountInfo", str(address), {"encoding": "jsonParsed"})["value"]["data"]
    past_end = {"encoding": "base64", "dataSlice": {"offset": 40, "length": 100}}
    sliced = rpc.call("getAccountInfo", str(address), past_end)

    assert binary == based58.b58encode(bytes(SPACE)).decode()  # the default, legacy "binary" encoding
    assert base58 == [based58.b58encode(bytes(SPACE)).decode(), "base58"]
    assert parsed == [base64.b64encode(bytes(SPACE)).decode(), "base64"]  # no parser for this owner: base64
    assert sliced["value"]["data"] == [base64.b64encode(bytes(8)).decode(), "base64"]
    assert sliced["value"]["space"] == SPACE


def test_account_info_base64_zstd_decodes_with_a_real_zstd(rpc: RpcClient) -> None:
    assert shutil.which("zstd"), "the zstd command (Debian package zstd) decodes the frame in this test"
    program = rpc.call("getAccountInfo", "BPFLoaderUpgradeab1e11111111111111111111111", {"encoding": "base64"})
    compressed = rpc.call("getAccountInfo", "BPFLoaderUpgradeab1e11111111111111111111111", {"encoding": "base64+zstd"})

    frame = base64.b64decode(compressed["value"]["data"][0])
    decoded = subprocess.run(["zstd", "-d", "-c"], input=frame, capture_output=True, check=True).stdout

    assert compressed["value"]["data"][1] == "base64+zstd"
    assert decoded == base64.b64decode(program["value"]["data"][0])


def test_missing_account_is_null(rpc: RpcClient) -> None:
    result = rpc.call("getAccountInfo", str(Keypair().pubkey()), {"encoding": "base64"})

    assert result["value"] is None
    assert rpc.call("getBalance", str(Keypair().pubkey()))["value"] == 0


def test_multiple_accounts_in_order(rpc: RpcClient, owned_account: tuple[Pubkey, Pubkey]) -> None:
    address, owner = owned_account
    missing = Keypair().pubkey()

    text = rpc.text("getMultipleAccounts", [str(missing), str(address)], {"encoding": "base64"})
    value = rpc.call("getMultipleAccounts", [str(missing), str(address)], {"encoding": "base64"})["value"]

    assert isinstance(responses.GetMultipleAccountsResp.from_json(text), responses.GetMultipleAccountsResp), text
    assert value[0] is None
    assert value[1]["owner"] == str(owner)


def test_program_accounts_by_data_size(rpc: RpcClient, owned_account: tuple[Pubkey, Pubkey]) -> None:
    address, owner = owned_account

    matching = rpc.call("getProgramAccounts", str(owner), {"encoding": "base64", "filters": [{"dataSize": SPACE}]})
    other_size = rpc.call("getProgramAccounts", str(owner), {"encoding": "base64", "filters": [{"dataSize": 1}]})
    zeros = rpc.call(
        "getProgramAccounts",
        str(owner),
        {"encoding": "base64", "filters": [{"memcmp": {"offset": 4, "bytes": based58.b58encode(bytes(4)).decode()}}]},
    )
    past_the_end = rpc.call(
        "getProgramAccounts",
        str(owner),
        {"encoding": "base64", "filters": [{"memcmp": {"offset": SPACE - 1, "bytes": "11"}}]},
    )

    assert [entry["pubkey"] for entry in matching] == [str(address)]
    assert other_size == []
    assert [entry["pubkey"] for entry in zeros] == [str(address)]
    assert past_the_end == []


def test_program_accounts_filter_errors(rpc: RpcClient, owned_account: tuple[Pubkey, Pubkey]) -> None:
    _, owner = owned_account
    too_many = [{"dataSize": SPACE}] * 5

    for filters in (too_many, [{"memcmp": {"offset": 0, "bytes": "0OIl"}}], [{"unknown": 1}]):
        error = rpc.error("getProgramAccounts", str(owner), {"filters": filters})
        assert error["code"] == -32602, filters


def test_rent_exemption_matches_the_runtime(rpc: RpcClient) -> None:
    assert rpc.call("getMinimumBalanceForRentExemption", 0) == 890_880
    assert rpc.call("getMinimumBalanceForRentExemption", 165) == 2_039_280


def test_cluster_methods_shapes(rpc: RpcClient) -> None:
    for method, parser in [
        ("getSlot", responses.GetSlotResp),
        ("getBlockHeight", responses.GetBlockHeightResp),
        ("getEpochInfo", responses.GetEpochInfoResp),
        ("getHealth", responses.GetHealthResp),
        ("getVersion", responses.GetVersionResp),
        ("getGenesisHash", responses.GetGenesisHashResp),
        ("getLatestBlockhash", responses.GetLatestBlockhashResp),
        ("getEpochSchedule", responses.GetEpochScheduleResp),
        ("getTransactionCount", responses.GetTransactionCountResp),
    ]:
        text = rpc.text(method)
        assert isinstance(parser.from_json(text), parser), (method, text)

    epoch = rpc.call("getEpochInfo", {"commitment": "processed"})
    assert set(epoch) == {"absoluteSlot", "blockHeight", "epoch", "slotIndex", "slotsInEpoch", "transactionCount"}
    assert 0 <= epoch["slotIndex"] < epoch["slotsInEpoch"]
    assert rpc.call("getGenesisHash") == rpc.call("getGenesisHash")


def test_signatures_for_address_pages_newest_first(rpc: RpcClient) -> None:
    recipient = Keypair().pubkey()
    signatures = [rpc.call("requestAirdrop", str(recipient), LAMPORTS_PER_SOL + n) for n in range(4)]
    for signature in signatures:
        rpc.wait_confirmed(signature)

    text = rpc.text("getSignaturesForAddress", str(recipient), {"commitment": "confirmed"})
    everything = rpc.call("getSignaturesForAddress", str(recipient), {"commitment": "confirmed"})
    page = rpc.call("getSignaturesForAddress", str(recipient), {"commitment": "confirmed", "limit": 2})
    older = rpc.call(
        "getSignaturesForAddress", str(recipient), {"commitment": "confirmed", "before": page[-1]["signature"]}
    )
    bounded = rpc.call(
        "getSignaturesForAddress", str(recipient), {"commitment": "confirmed", "until": signatures[1]}
    )

    assert isinstance(responses.GetSignaturesForAddressResp.from_json(text), responses.GetSignaturesForAddressResp)
    assert [entry["signature"] for entry in everything] == signatures[::-1]
    assert [entry["signature"] for entry in page] == signatures[:1:-1]
    assert [entry["signature"] for entry in older] == signatures[1::-1]
    assert [entry["signature"] for entry in bounded] == signatures[:1:-1]
    assert set(everything[0]) == {"signature", "slot", "err", "memo", "blockTime", "confirmationStatus"}
