"""The official JavaScript client (@solana/web3.js, pinned in tests/localnet/js) against the node: airdrop, legacy and
v0 transfers confirmed through PubSub, account reads, history, a failing preflight, the deployed program."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ephemeral_vault.settings import DEV_PROGRAM_ID

JS_DIR = Path(__file__).parent / "js"
SYSTEM_PROGRAM = "11111111111111111111111111111111"
LAMPORTS_PER_SOL = 1_000_000_000


@pytest.fixture(scope="module")
def web3_observations(localnet_url: str) -> dict:
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Node 20 is expected at /usr/bin/node)")
    if not (JS_DIR / "node_modules" / "@solana" / "web3.js").is_dir():
        pytest.fail(f"{JS_DIR}/node_modules is missing: run `make node-deps`")
    run = subprocess.run(
        ["node", "client.mjs", localnet_url, DEV_PROGRAM_ID], cwd=JS_DIR, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_web3js_reads_cluster_identity(web3_observations: dict) -> None:
    assert web3_observations["version"]["solana-core"]
    assert len(web3_observations["genesisHash"]) >= 32
    assert web3_observations["epochInfo"]["absoluteSlot"] >= 0


def test_web3js_airdrop_and_confirmed_transfer_move_exact_lamports(web3_observations: dict) -> None:
    assert web3_observations["payerAfterAirdrop"] == 2 * LAMPORTS_PER_SOL
    assert web3_observations["recipientBalance"] == LAMPORTS_PER_SOL // 4
    assert web3_observations["payerAfterTransfer"] == 2 * LAMPORTS_PER_SOL - LAMPORTS_PER_SOL // 4 - 5000
    assert web3_observations["recipientAccount"] == {
        "lamports": LAMPORTS_PER_SOL // 4,
        "owner": SYSTEM_PROGRAM,
        "executable": False,
        "dataLength": 0,
    }


def test_web3js_reads_the_transaction_back(web3_observations: dict) -> None:
    meta = web3_observations["transferMeta"]
    assert meta["fee"] == 5000 and meta["err"] is None and meta["version"] == "legacy"
    assert meta["logs"][-1] == f"Program {SYSTEM_PROGRAM} success"
    assert [k["signer"] for k in web3_observations["parsedAccountKeys"]] == [True, False, False]
    assert web3_observations["status"]["confirmationStatus"] in ("confirmed", "finalized")
    assert web3_observations["status"]["slot"] == meta["slot"]


def test_web3js_v0_transaction_simulates_sends_and_confirms(web3_observations: dict) -> None:
    assert web3_observations["simulation"]["err"] is None
    assert web3_observations["simulation"]["unitsConsumed"] == 150
    assert web3_observations["feeForMessage"] == 5000
    assert web3_observations["v0Err"] is None
    assert web3_observations["recipientAfterV0"] == LAMPORTS_PER_SOL // 4 + 1_000_000


def test_web3js_account_and_history_reads(web3_observations: dict) -> None:
    payer_left = 2 * LAMPORTS_PER_SOL - LAMPORTS_PER_SOL // 4 - 5000 - 1_000_000 - 5000
    assert web3_observations["multiple"] == [payer_left, LAMPORTS_PER_SOL // 4 + 1_000_000, None]
    signatures = web3_observations["signaturesForRecipient"]
    assert len(signatures) == 2 and signatures[1] == web3_observations["transferSignature"]
    assert web3_observations["rentExempt"] == 2_039_280  # 165-byte token account, the well-known figure
    assert web3_observations["prioritizationFees"] > 0
    assert web3_observations["blockhashValid"] is True


def test_web3js_sees_a_failing_preflight_as_send_transaction_error_with_logs(web3_observations: dict) -> None:
    preflight = web3_observations["preflight"]
    assert preflight["isSendTransactionError"] is True
    assert "Transaction simulation failed: Error processing Instruction 0: custom program error: 0x1" in preflight[
        "message"
    ]
    assert any("insufficient lamports" in line for line in preflight["logs"])


def test_web3js_sees_the_deployed_program(web3_observations: dict) -> None:
    assert web3_observations["program"] == {"executable": True, "owner": "BPFLoaderUpgradeab1e11111111111111111111111"}
