"""A node started with --ledger DIR comes back with its accounts, history, slot and clock after a restart."""

from __future__ import annotations

import base64
from pathlib import Path

from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import Transaction

from ephemeral_vault.settings import DEV_PROGRAM_ID
from localnet.loader import BPF_LOADER_UPGRADEABLE_ID, BUFFER_METADATA_SIZE, initialize_buffer_ix, write_ix
from tests.fixtures.localnet import start_localnet
from tests.localnet.rpc_client import LAMPORTS_PER_SOL, RpcClient, transfer_tx

PAYLOAD = b"state that must survive a restart"


def make_buffer_with_data(rpc: RpcClient, payer: Keypair) -> tuple[str, str]:
    """A loader buffer account holding PAYLOAD: non-zero data owned by a program other than System."""
    buffer = Keypair()
    space = BUFFER_METADATA_SIZE + len(PAYLOAD)
    blockhash = rpc.blockhash()
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey(),
                to_pubkey=buffer.pubkey(),
                lamports=rpc.call("getMinimumBalanceForRentExemption", space),
                space=space,
                owner=BPF_LOADER_UPGRADEABLE_ID,
            )
        ),
        initialize_buffer_ix(buffer.pubkey(), payer.pubkey()),
        write_ix(buffer.pubkey(), payer.pubkey(), 0, PAYLOAD),
    ]
    tx = Transaction([payer, buffer], Message.new_with_blockhash(ixs, payer.pubkey(), blockhash), blockhash)
    signature = rpc.send_b64(tx)["result"]
    rpc.wait_confirmed(signature)
    return str(buffer.pubkey()), signature


def snapshot(rpc: RpcClient, addresses: list[str], signatures: list[str]) -> dict:
    return {
        "accounts": rpc.call("getMultipleAccounts", addresses, {"encoding": "base64"})["value"],
        "transactions": [rpc.call("getTransaction", s, {"commitment": "confirmed"}) for s in signatures],
        "statuses": [
            {k: v for k, v in status.items() if k not in ("confirmations", "confirmationStatus")}
            for status in rpc.call("getSignatureStatuses", signatures, {"searchTransactionHistory": True})["value"]
        ],
        "history": rpc.call("getSignaturesForAddress", addresses[0], {"commitment": "confirmed"}),
        "genesis": rpc.call("getGenesisHash"),
    }


def test_state_history_slot_and_clock_survive_a_restart(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    with start_localnet(ledger=ledger, slot_ms=0) as node:
        rpc = RpcClient(node.url)
        payer = rpc.funded(5 * LAMPORTS_PER_SOL)
        recipient = Keypair().pubkey()
        transfer = transfer_tx(payer, recipient, 123_456_789, rpc.blockhash())
        transfer_signature = rpc.send_b64(transfer)["result"]
        rpc.wait_confirmed(transfer_signature)
        buffer, buffer_signature = make_buffer_with_data(rpc, payer)
        rpc.call("localnet_advanceSlots", 10)
        warped = rpc.call("localnet_warpClock", 7200)
        addresses = [str(payer.pubkey()), str(recipient), buffer]
        signatures = [transfer_signature, buffer_signature]
        before = snapshot(rpc, addresses, signatures)
        rpc.close()

    with start_localnet(ledger=ledger, slot_ms=0) as node:
        rpc = RpcClient(node.url)
        after = snapshot(rpc, addresses, signatures)
        # An airdrop before the restarted node's first new slot (none comes with slot_ms=0) must land too.
        airdropped = Keypair().pubkey()
        rpc.wait_confirmed(rpc.call("requestAirdrop", str(airdropped), 42))
        airdropped_balance = rpc.balance(airdropped)
        slot = rpc.call("getSlot", {"commitment": "processed"})
        clock = rpc.call("localnet_warpClock", 0)
        resent_without_preflight = rpc.send_b64(transfer, skipPreflight=True)
        resent_with_preflight = rpc.send_b64(transfer)
        balance_after_resend = rpc.balance(recipient)
        program = rpc.call("getAccountInfo", DEV_PROGRAM_ID, {"encoding": "base64"})["value"]
        new_transfer = transfer_tx(payer, recipient, 1, rpc.blockhash())
        rpc.wait_confirmed(rpc.send_b64(new_transfer)["result"])
        balance_after_new_transfer = rpc.balance(recipient)
        rpc.close()

    assert after == before
    assert base64.b64decode(after["accounts"][2]["data"][0])[BUFFER_METADATA_SIZE:] == PAYLOAD
    assert after["accounts"][1]["lamports"] == 123_456_789
    assert slot > warped["slot"]
    assert clock["unixTimestamp"] >= warped["unixTimestamp"]
    assert resent_without_preflight["result"] == transfer_signature
    assert resent_with_preflight["error"]["data"]["err"] == "AlreadyProcessed"
    assert balance_after_resend == 123_456_789
    assert program["executable"] is True
    assert balance_after_new_transfer == 123_456_790
    assert airdropped_balance == 42


def test_a_restarted_node_issues_blockhashes_its_earlier_run_never_did(tmp_path: Path) -> None:
    """LiteSVM derives each blockhash from the one before, from the same start on every run: a node that took its
    blockhashes from it issued, after a restart, the very hashes its earlier run had issued slots ago. Those were
    still on record under their old slots, so the faucet's transfer was refused as BlockhashNotFound (seen in CI after
    the fault tests restart the node), and a client could be handed a blockhash a past transaction had used."""
    ledger = tmp_path / "ledger"
    with start_localnet(ledger=ledger, slot_ms=0) as node:
        rpc = RpcClient(node.url)
        first_run = set()
        for slots in (10, 10, 10, 160):  # a blockhash per slot reached; the first ones still on record, yet too old
            first_run.add(str(rpc.blockhash()))
            rpc.call("localnet_advanceSlots", slots)
        first_run.add(str(rpc.blockhash()))
        rpc.close()

    with start_localnet(ledger=ledger, slot_ms=0) as node:
        rpc = RpcClient(node.url)
        second_run = set()
        for _ in range(4):
            airdropped = Keypair().pubkey()
            rpc.wait_confirmed(rpc.call("requestAirdrop", str(airdropped), 42))
            assert rpc.balance(airdropped) == 42
            second_run.add(str(rpc.blockhash()))
            rpc.call("localnet_advanceSlots", 1)
        rpc.close()

    assert len(first_run) == 5 and len(second_run) == 4
    assert not first_run & second_run
