"""sendTransaction / simulateTransaction / statuses / getTransaction, checked against the validator's wire shapes.

Shapes are checked twice: field by field here, and by parsing the raw response with solders' RPC response types —
the parsers solana-py (and so the backend) use against a real validator.
"""

from __future__ import annotations

import base64
import os

import based58
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc import responses
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from tests.localnet.rpc_client import LAMPORTS_PER_SOL, RpcClient, b64, transfer_tx


def test_airdrop_lands_as_a_real_transaction(rpc: RpcClient) -> None:
    recipient = Keypair().pubkey()

    signature = rpc.call("requestAirdrop", str(recipient), 2 * LAMPORTS_PER_SOL)
    status = rpc.wait_confirmed(signature)

    assert status["err"] is None
    assert rpc.balance(recipient) == 2 * LAMPORTS_PER_SOL
    tx = rpc.call("getTransaction", signature, {"commitment": "confirmed"})
    assert tx["meta"]["postBalances"][1] - tx["meta"]["preBalances"][1] == 2 * LAMPORTS_PER_SOL


def test_transfer_sent_base64_moves_exact_lamports_and_charges_the_signature_fee(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    before = rpc.balance(payer.pubkey())

    body = rpc.send_b64(transfer_tx(payer, recipient, 1_234_567, rpc.blockhash()))

    signature = body["result"]
    assert Signature.from_string(signature)
    rpc.wait_confirmed(signature)
    assert rpc.balance(recipient) == 1_234_567
    assert rpc.balance(payer.pubkey()) == before - 1_234_567 - 5000


def test_transfer_sent_base58_by_default(rpc: RpcClient) -> None:
    payer = rpc.funded()
    tx = transfer_tx(payer, Keypair().pubkey(), 1_000_000, rpc.blockhash())

    signature = rpc.call("sendTransaction", based58.b58encode(bytes(tx)).decode())

    assert signature == str(tx.signatures[0])
    assert rpc.wait_confirmed(signature)["err"] is None


def test_signature_status_shape(rpc: RpcClient) -> None:
    payer = rpc.funded()
    signature = rpc.send_b64(transfer_tx(payer, Keypair().pubkey(), 1_000_000, rpc.blockhash()))["result"]
    rpc.wait_confirmed(signature)
    unknown = str(Keypair().sign_message(b"never sent"))

    text = rpc.text("getSignatureStatuses", [signature, unknown], {"searchTransactionHistory": True})

    parsed = responses.GetSignatureStatusesResp.from_json(text)
    assert isinstance(parsed, responses.GetSignatureStatusesResp), text
    known, missing = rpc.call("getSignatureStatuses", [signature, unknown])["value"]
    assert missing is None
    assert set(known) == {"slot", "confirmations", "err", "status", "confirmationStatus"}
    assert known["status"] == {"Ok": None}
    assert known["confirmationStatus"] in ("confirmed", "finalized")


def test_get_transaction_json_shape(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    tx = transfer_tx(payer, recipient, 3_000_000, rpc.blockhash())
    signature = rpc.send_b64(tx)["result"]
    status = rpc.wait_confirmed(signature)

    text = rpc.text("getTransaction", signature, {"encoding": "json", "commitment": "confirmed"})
    result = rpc.call("getTransaction", signature, {"encoding": "json", "commitment": "confirmed"})

    assert isinstance(responses.GetTransactionResp.from_json(text), responses.GetTransactionResp), text
    assert result["slot"] == status["slot"]
    assert isinstance(result["blockTime"], int)
    assert "version" not in result  # only present when the client states maxSupportedTransactionVersion
    meta = result["meta"]
    assert meta["err"] is None and meta["status"] == {"Ok": None}
    assert meta["fee"] == 5000
    assert meta["preBalances"][0] - meta["postBalances"][0] == 3_000_000 + 5000
    assert meta["postBalances"][1] == 3_000_000
    assert meta["logMessages"] == [
        "Program 11111111111111111111111111111111 invoke [1]",
        "Program 11111111111111111111111111111111 success",
    ]
    assert meta["computeUnitsConsumed"] == 150
    message = result["transaction"]["message"]
    assert result["transaction"]["signatures"] == [signature]
    assert message["accountKeys"] == [str(payer.pubkey()), str(recipient), "11111111111111111111111111111111"]
    assert message["header"] == {
        "numRequiredSignatures": 1,
        "numReadonlySignedAccounts": 0,
        "numReadonlyUnsignedAccounts": 1,
    }
    assert message["recentBlockhash"] == str(tx.message.recent_blockhash)
    assert message["instructions"][0]["programIdIndex"] == 2


def test_get_transaction_base64_returns_the_submitted_bytes(rpc: RpcClient) -> None:
    payer = rpc.funded()
    tx = transfer_tx(payer, Keypair().pubkey(), 1_000_000, rpc.blockhash())
    signature = rpc.send_b64(tx)["result"]
    rpc.wait_confirmed(signature)

    config = {"encoding": "base64", "commitment": "confirmed", "maxSupportedTransactionVersion": 0}
    result = rpc.call("getTransaction", signature, config)

    assert result["transaction"] == [b64(tx), "base64"]
    assert result["version"] == "legacy"


def test_get_transaction_with_finalized_commitment_waits_for_finality(rpc: RpcClient) -> None:
    payer = rpc.funded()
    signature = rpc.send_b64(transfer_tx(payer, Keypair().pubkey(), 1_000_000, rpc.blockhash()))["result"]
    rpc.wait_confirmed(signature)
    assert rpc.call("getTransaction", signature, {"commitment": "finalized"}) is None

    rpc.call("localnet_advanceSlots", 32)

    assert rpc.call("getTransaction", signature, {"commitment": "finalized"})["slot"] >= 0
    (status,) = rpc.call("getSignatureStatuses", [signature])["value"]
    assert status["confirmationStatus"] == "finalized"
    assert status["confirmations"] is None


def test_get_transaction_refuses_processed_commitment(rpc: RpcClient) -> None:
    error = rpc.error("getTransaction", str(Keypair().sign_message(b"x")), {"commitment": "processed"})

    assert error["code"] == -32602
    assert "confirmed" in error["message"]


def test_failed_transaction_lands_charges_the_fee_and_reports_the_instruction_error(rpc: RpcClient) -> None:
    payer = rpc.funded(LAMPORTS_PER_SOL)
    before = rpc.balance(payer.pubkey())
    tx = transfer_tx(payer, Keypair().pubkey(), 50 * LAMPORTS_PER_SOL, rpc.blockhash())

    signature = rpc.send_b64(tx, skipPreflight=True)["result"]
    status = rpc.wait_confirmed(signature)

    assert status["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert status["status"] == {"Err": {"InstructionError": [0, {"Custom": 1}]}}
    assert rpc.balance(payer.pubkey()) == before - 5000
    meta = rpc.call("getTransaction", signature, {"commitment": "confirmed"})["meta"]
    assert meta["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert any("insufficient lamports" in line for line in meta["logMessages"])


def test_simulation_reports_logs_units_and_changes_nothing(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    tx = transfer_tx(payer, recipient, 5_000_000, rpc.blockhash())

    text = rpc.text("simulateTransaction", b64(tx), {"encoding": "base64", "sigVerify": True})
    value = rpc.call("simulateTransaction", b64(tx), {"encoding": "base64", "sigVerify": True})["value"]

    assert isinstance(responses.SimulateTransactionResp.from_json(text), responses.SimulateTransactionResp), text
    assert value["err"] is None
    assert value["unitsConsumed"] == 150
    assert value["logs"][-1] == "Program 11111111111111111111111111111111 success"
    assert value["accounts"] is None and value["replacementBlockhash"] is None
    assert rpc.balance(recipient) == 0
    assert rpc.call("getSignatureStatuses", [str(tx.signatures[0])])["value"] == [None]


def test_simulation_of_a_failing_transaction_returns_err_and_logs(rpc: RpcClient) -> None:
    payer = rpc.funded(LAMPORTS_PER_SOL)
    tx = transfer_tx(payer, Keypair().pubkey(), 5 * LAMPORTS_PER_SOL, rpc.blockhash())

    value = rpc.call("simulateTransaction", b64(tx), {"encoding": "base64"})["value"]

    assert value["err"] == {"InstructionError": [0, {"Custom": 1}]}
    assert any("insufficient lamports" in line for line in value["logs"])
    assert value["unitsConsumed"] > 0


def test_simulation_replaces_an_unknown_blockhash_when_asked(rpc: RpcClient) -> None:
    payer = rpc.funded()
    never_issued = Hash.from_bytes(os.urandom(32))
    tx = transfer_tx(payer, Keypair().pubkey(), 1_000_000, never_issued)

    replaced = rpc.call("simulateTransaction", b64(tx), {"encoding": "base64", "replaceRecentBlockhash": True})
    plain = rpc.call("simulateTransaction", b64(tx), {"encoding": "base64"})

    assert replaced["value"]["err"] is None
    assert set(replaced["value"]["replacementBlockhash"]) == {"blockhash", "lastValidBlockHeight"}
    assert plain["value"]["err"] == "BlockhashNotFound"


def test_simulation_returns_post_state_of_requested_accounts(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    tx = transfer_tx(payer, recipient, 7_000_000, rpc.blockhash())

    value = rpc.call(
        "simulateTransaction",
        b64(tx),
        {"encoding": "base64", "accounts": {"addresses": [str(recipient)], "encoding": "base64"}},
    )["value"]

    (account,) = value["accounts"]
    assert account["lamports"] == 7_000_000
    assert account["owner"] == "11111111111111111111111111111111"


def test_v0_transaction_needs_max_supported_version_to_be_read_back(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=recipient, lamports=2_000_000))
    message = MessageV0.try_compile(payer.pubkey(), [ix], [], rpc.blockhash())
    tx = VersionedTransaction(message, [payer])
    signature = rpc.call("sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"})
    rpc.wait_confirmed(signature)

    refused = rpc.error("getTransaction", signature, {"commitment": "confirmed"})
    result = rpc.call("getTransaction", signature, {"commitment": "confirmed", "maxSupportedTransactionVersion": 0})

    assert refused["code"] == -32015
    assert result["version"] == 0
    assert result["transaction"]["message"]["addressTableLookups"] == []
    assert rpc.balance(recipient) == 2_000_000


def test_compute_unit_price_shows_in_recent_prioritization_fees(rpc: RpcClient) -> None:
    payer = rpc.funded()
    recipient = Keypair().pubkey()
    blockhash = rpc.blockhash()
    ixs = [
        set_compute_unit_limit(10_000),
        set_compute_unit_price(777),
        transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=recipient, lamports=1_000_000)),
    ]
    tx = Transaction([payer], Message.new_with_blockhash(ixs, payer.pubkey(), blockhash), blockhash)
    signature = rpc.send_b64(tx)["result"]
    slot = rpc.wait_confirmed(signature)["slot"]

    fees = rpc.call("getRecentPrioritizationFees", [str(recipient)])
    untouched = rpc.call("getRecentPrioritizationFees", [str(Pubkey.new_unique())])

    assert {"slot": slot, "prioritizationFee": 777} in fees
    assert all(set(entry) == {"slot", "prioritizationFee"} for entry in fees)
    assert len(fees) <= 150
    by_slot = {entry["slot"]: entry["prioritizationFee"] for entry in untouched}
    # the slot's minimum over all transactions: other tests' transactions in that slot may pay 0
    assert by_slot[slot] in (0, 777)


def test_fee_for_message(rpc: RpcClient) -> None:
    payer = rpc.funded()
    tx = transfer_tx(payer, Keypair().pubkey(), 1, rpc.blockhash())
    message_b64 = base64.b64encode(bytes(tx.message)).decode()

    value = rpc.call("getFeeForMessage", message_b64, {"commitment": "confirmed"})

    assert value["value"] == 5000
    assert set(value["context"]) == {"slot", "apiVersion"}


def test_faucet_never_runs_dry(rpc: RpcClient) -> None:
    biggest = 10**17  # the largest single airdrop the node grants
    signatures = [rpc.call("requestAirdrop", str(Keypair().pubkey()), biggest) for _ in range(12)]

    statuses = [rpc.wait_confirmed(signature) for signature in signatures]

    assert all(status["err"] is None for status in statuses)
    assert rpc.error("requestAirdrop", str(Keypair().pubkey()), biggest + 1)["code"] == -32602
