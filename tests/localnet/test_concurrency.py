"""Many clients at once: every transfer lands exactly once and balances add up to the lamport."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from solders.keypair import Keypair

from tests.localnet.rpc_client import LAMPORTS_PER_SOL, RpcClient, transfer_tx

PAYERS = 8
TRANSFERS_PER_PAYER = 12
FEE = 5000


def test_parallel_transfers_from_many_payers_all_land_with_exact_balances(rpc: RpcClient) -> None:
    payers = [rpc.funded(LAMPORTS_PER_SOL) for _ in range(PAYERS)]
    recipient = Keypair().pubkey()

    def run_client(index: int) -> list[str]:
        client = RpcClient(rpc.url)
        signatures = []
        try:
            for n in range(TRANSFERS_PER_PAYER):
                amount = 1_000_000 + index * 1000 + n  # distinct amounts: distinct signatures
                tx = transfer_tx(payers[index], recipient, amount, client.blockhash())
                signatures.append(client.send_b64(tx)["result"])
            for signature in signatures:
                assert client.wait_confirmed(signature)["err"] is None
        finally:
            client.close()
        return signatures

    with ThreadPoolExecutor(max_workers=PAYERS) as pool:
        results = list(pool.map(run_client, range(PAYERS)))

    all_signatures = [s for batch in results for s in batch]
    assert len(set(all_signatures)) == PAYERS * TRANSFERS_PER_PAYER
    expected_received = sum(
        1_000_000 + index * 1000 + n for index in range(PAYERS) for n in range(TRANSFERS_PER_PAYER)
    )
    assert rpc.balance(recipient) == expected_received
    for index, payer in enumerate(payers):
        sent = sum(1_000_000 + index * 1000 + n for n in range(TRANSFERS_PER_PAYER))
        assert rpc.balance(payer.pubkey()) == LAMPORTS_PER_SOL - sent - FEE * TRANSFERS_PER_PAYER
    history = rpc.call("getSignaturesForAddress", str(recipient), {"commitment": "confirmed"})
    assert {entry["signature"] for entry in history} == set(all_signatures)


def test_parallel_reads_all_answer_consistently(rpc: RpcClient) -> None:
    payer = rpc.funded()

    def read(_: int) -> int:
        return rpc.balance(payer.pubkey())  # httpx.Client is thread-safe: one pool, many connections

    with ThreadPoolExecutor(max_workers=16) as pool:
        balances = list(pool.map(read, range(64)))

    assert balances == [10 * LAMPORTS_PER_SOL] * 64
