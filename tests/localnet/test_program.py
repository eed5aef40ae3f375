"""The real ephemeral_vault program, deployed at start through the upgradeable loader, driven over JSON-RPC: the
node runs it, its Clock is the one the program reads, and getProgramAccounts finds its accounts by filter."""

from __future__ import annotations

import base64
import struct
import subprocess
import sys

import based58
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from ephemeral_vault.chain import instructions
from ephemeral_vault.chain.accounts import EPHEMERAL_VAULT, account_discriminator
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.settings import DEV_PROGRAM_ID, PROGRAM_SO, REPO_ROOT
from localnet.loader import BPF_LOADER_UPGRADEABLE_ID, PROGRAMDATA_METADATA_SIZE, programdata_address
from tests.localnet.rpc_client import LAMPORTS_PER_SOL, RpcClient

PROGRAM_ID = Pubkey.from_string(DEV_PROGRAM_ID)
SESSION_SECONDS = 600
VAULT_SIZE = 130
SESSION_NOT_EXPIRED = 6020


def send(rpc: RpcClient, signers: list[Keypair], ixs: list) -> dict:
    blockhash = rpc.blockhash()
    tx = Transaction(signers, Message.new_with_blockhash(ixs, signers[0].pubkey(), blockhash), blockhash)
    return rpc.send_b64(tx)


def open_session(rpc: RpcClient) -> tuple[Keypair, SessionAddresses]:
    parent = rpc.funded(5 * LAMPORTS_PER_SOL)
    delegate = Keypair()
    body = send(
        rpc,
        [parent],
        [
            instructions.create_vault(parent.pubkey(), delegate.pubkey(), SESSION_SECONDS, LAMPORTS_PER_SOL),
            instructions.approve_delegate(parent.pubkey(), delegate.pubkey()),
        ],
    )
    assert "result" in body, body
    assert rpc.wait_confirmed(body["result"])["err"] is None
    return parent, SessionAddresses.derive(parent.pubkey(), delegate.pubkey(), PROGRAM_ID)


def test_program_is_deployed_through_the_upgradeable_loader(localnet_url: str) -> None:
    rpc = RpcClient(localnet_url)
    program = rpc.call("getAccountInfo", DEV_PROGRAM_ID, {"encoding": "base64"})["value"]
    programdata = rpc.call("getAccountInfo", str(programdata_address(PROGRAM_ID)), {"encoding": "base64"})["value"]
    rpc.close()

    assert program["executable"] is True
    assert program["owner"] == str(BPF_LOADER_UPGRADEABLE_ID)
    assert base64.b64decode(program["data"][0])[4:] == bytes(programdata_address(PROGRAM_ID))
    elf = PROGRAM_SO.read_bytes()
    assert base64.b64decode(programdata["data"][0])[PROGRAMDATA_METADATA_SIZE:] == elf


def test_program_cpi_shows_as_inner_instructions(localnet_url: str) -> None:
    rpc = RpcClient(localnet_url)
    _, session = open_session(rpc)
    (latest,) = rpc.call("getSignaturesForAddress", str(session.vault), {"commitment": "confirmed", "limit": 1})
    meta = rpc.call("getTransaction", latest["signature"], {"commitment": "confirmed"})["meta"]
    rpc.close()

    # create_vault and approve_delegate each create their PDA through a System Program CPI
    assert [entry["index"] for entry in meta["innerInstructions"]] == [0, 1]
    for entry in meta["innerInstructions"]:
        (inner,) = entry["instructions"]
        assert inner["stackHeight"] == 2
    assert f"Program {DEV_PROGRAM_ID} invoke [1]" in meta["logMessages"]
    assert "Program 11111111111111111111111111111111 invoke [2]" in meta["logMessages"]


def test_program_accounts_are_found_by_memcmp_and_data_size(localnet_url: str) -> None:
    rpc = RpcClient(localnet_url)
    parent, session = open_session(rpc)
    other_parent, _ = open_session(rpc)

    by_parent = rpc.call(
        "getProgramAccounts",
        DEV_PROGRAM_ID,
        {
            "encoding": "base64",
            "withContext": True,
            "filters": [{"dataSize": VAULT_SIZE}, {"memcmp": {"offset": 8, "bytes": str(parent.pubkey())}}],
        },
    )
    by_discriminator_b64 = rpc.call(
        "getProgramAccounts",
        DEV_PROGRAM_ID,
        {
            "encoding": "base64",
            "filters": [
                {
                    "memcmp": {
                        "offset": 0,
                        "bytes": base64.b64encode(account_discriminator(EPHEMERAL_VAULT)).decode(),
                        "encoding": "base64",
                    }
                }
            ],
        },
    )
    sliced = rpc.call(
        "getProgramAccounts",
        DEV_PROGRAM_ID,
        {
            "encoding": "base58",
            "dataSlice": {"offset": 8, "length": 32},
            "filters": [{"memcmp": {"offset": 8, "bytes": str(other_parent.pubkey())}}, {"dataSize": VAULT_SIZE}],
        },
    )
    rpc.close()

    assert set(by_parent["context"]) == {"slot", "apiVersion"}
    assert [entry["pubkey"] for entry in by_parent["value"]] == [str(session.vault)]
    found = {entry["pubkey"] for entry in by_discriminator_b64}
    assert str(session.vault) in found and str(session.delegation) not in found
    (entry,) = sliced
    assert based58.b58decode(entry["account"]["data"][0].encode()) == bytes(other_parent.pubkey())


def test_program_reads_the_nodes_clock_and_warping_it_lets_cleanup_through(localnet_url: str) -> None:
    rpc = RpcClient(localnet_url)
    parent, session = open_session(rpc)
    cleaner = rpc.funded(LAMPORTS_PER_SOL)
    vault = rpc.call("getAccountInfo", str(session.vault), {"encoding": "base64"})["value"]
    created_at, expiry = struct.unpack_from("<qq", base64.b64decode(vault["data"][0]), 72)
    cleanup = [instructions.cleanup_vault(cleaner.pubkey(), parent.pubkey(), session.vault)]

    too_early = send(rpc, [cleaner], cleanup)
    rpc.call("localnet_warpClock", {"unixTimestamp": expiry})
    on_time = send(rpc, [cleaner], cleanup)
    status = rpc.wait_confirmed(on_time["result"])
    logs = rpc.call("getTransaction", on_time["result"], {"commitment": "confirmed"})["meta"]["logMessages"]
    closed = rpc.call("getMultipleAccounts", [str(session.vault), str(session.delegation)])["value"]
    rpc.close()

    assert expiry == created_at + SESSION_SECONDS
    assert too_early["error"]["code"] == -32002
    assert too_early["error"]["data"]["err"] == {"InstructionError": [0, {"Custom": SESSION_NOT_EXPIRED}]}
    assert status["err"] is None
    assert any(line.startswith("Program data: ") for line in logs)  # the VaultCleaned event
    assert closed == [None, None]


def test_missing_program_file_fails_clearly() -> None:
    missing = REPO_ROOT / "var" / "no-such-program.so"
    port = free_tcp_port()  # the node binds its port before it looks for the program

    run = subprocess.run(
        [sys.executable, "-m", "localnet", "--port", str(port), "--ws-port", str(port), "--program-so", str(missing)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 2
    assert f"program not found at {missing}" in run.stderr
    assert "--no-program" in run.stderr
