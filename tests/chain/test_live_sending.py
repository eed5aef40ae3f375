"""Send-and-confirm against the local node: resends never double an effect, expiry is proven before a rebuild, and
every failure arrives as the typed error a Temporal retry policy needs."""

from __future__ import annotations

import asyncio
import base64
import socket
import traceback
import uuid

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.types import TxOpts
from solders.hash import Hash
from solders.keypair import Keypair
from solders.signature import Signature
from solders.transaction import Transaction

from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.client import ChainClient, sign_transaction
from ephemeral_vault.chain.errors import (
    BlockhashExpired,
    InsufficientFunds,
    MalformedTransaction,
    NotYetExpired,
    ProgramError,
    RetryableRpcError,
    SignatureVerificationFailed,
    SignedTransactionMismatch,
)
from ephemeral_vault.chain.send import BlockhashInfo, SignedTx
from ephemeral_vault.chain.session_tx import build_deposit, verify_parent_signed
from tests.chain.conftest import (
    MAX_DEPOSIT,
    PAST_BLOCKHASH_LIFETIME,
    a_trade,
    funded,
    localnet_call,
    open_session,
    sign_then_outlive,
    wallet_sign,
)


async def test_the_same_signed_transaction_sent_twice_deposits_once(chain: ChainClient) -> None:
    s = await open_session(chain)
    offer = await build_deposit(chain, s.parent.pubkey(), s.addrs.vault, 100_000_000)
    signed = verify_parent_signed(offer, wallet_sign(offer, s.parent))

    first = await chain.send_and_confirm(signed)
    second = await chain.send_and_confirm(signed)

    assert second.signature == first.signature and second.slot == first.slot
    assert (await chain.fetch_vault(s.addrs.vault)).total_deposited == 600_000_000


async def test_concurrent_resends_of_one_trade_execute_it_once(chain: ChainClient) -> None:
    s = await open_session(chain)
    signed = await chain.sign(
        [ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 5_000, uuid.uuid4().bytes)], s.delegate
    )
    results = await asyncio.gather(*(chain.send_and_confirm(signed) for _ in range(3)))
    assert {r.signature for r in results} == {signed.signature}
    assert (await chain.fetch_vault(s.addrs.vault)).trade_count == 1


async def test_an_expired_blockhash_is_reported_then_rebuilt_once_and_lands_once(
    chain: ChainClient, localnet_url: str
) -> None:
    s = await open_session(chain)
    trade = a_trade(s)
    stale = await sign_then_outlive(chain, localnet_url, s, trade)

    with pytest.raises(BlockhashExpired) as expired:
        await chain.send_and_confirm(stale)
    assert expired.value.block_height > stale.last_valid_block_height
    await chain.prove_expired(stale)  # the proof a custody-side signer would rely on before signing anew

    persisted: list[SignedTx] = []

    async def persist(tx: SignedTx) -> None:
        persisted.append(tx)

    result = await chain.submit(trade, s.delegate, previous=stale, on_signed=persist)
    assert [p.signature for p in persisted] == [result.signature] and result.signature != stale.signature
    assert await chain.signature_status(stale.signature) is None
    assert (await chain.fetch_vault(s.addrs.vault)).trade_count == 1


async def test_rebuild_is_refused_while_the_old_transaction_can_still_land(chain: ChainClient) -> None:
    s = await open_session(chain)
    fresh = await chain.sign([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 1, bytes(16))], s.delegate)
    with pytest.raises(NotYetExpired, match="may still land"):
        await chain.rebuild_expired(fresh, [s.delegate])


async def test_rebuild_does_not_trust_an_understated_last_valid_block_height(chain: ChainClient) -> None:
    s = await open_session(chain)
    fresh = await chain.sign([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 1, bytes(16))], s.delegate)
    understated = SignedTx(fresh.transaction_base64, fresh.signature, last_valid_block_height=0)
    with pytest.raises(NotYetExpired, match="still accepts its blockhash"):
        await chain.rebuild_expired(understated, [s.delegate])


async def test_rebuild_is_refused_once_the_old_transaction_landed(chain: ChainClient, localnet_url: str) -> None:
    s = await open_session(chain)
    signed = await chain.sign([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 1, bytes(16))], s.delegate)
    await chain.send_and_confirm(signed)
    await localnet_call(localnet_url, "localnet_advanceSlots", [PAST_BLOCKHASH_LIFETIME])
    with pytest.raises(NotYetExpired, match="known to the chain"):
        await chain.rebuild_expired(signed, [s.delegate])


async def test_program_errors_arrive_with_their_idl_name_and_code(chain: ChainClient) -> None:
    s = await open_session(chain)
    too_high = chain.program.constant("MAX_FEE_PER_TRADE") + 1
    with pytest.raises(ProgramError) as fee:
        await chain.submit([ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, too_high, bytes(16))], s.delegate)
    assert (fee.value.name, fee.value.code, fee.value.instruction_index) == ("FeeTooHigh", 6022, 0)
    assert any("failed: custom program error" in line for line in fee.value.logs)

    with pytest.raises(ProgramError) as cap:
        await chain.submit([ixs.auto_deposit_for_trade(s.parent.pubkey(), s.addrs.vault, MAX_DEPOSIT)], s.parent)
    assert (cap.value.name, cap.value.code) == ("DepositCapExceeded", 6017)


async def test_the_instruction_index_points_past_the_compute_budget_instructions(chain: ChainClient) -> None:
    s = await open_session(chain)
    instructions = [
        *ixs.priority_fee_instructions(50_000, 1_000),
        ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 10**9, bytes(16)),
    ]
    with pytest.raises(ProgramError) as err:
        await chain.submit(instructions, s.delegate)
    assert (err.value.name, err.value.instruction_index) == ("FeeTooHigh", 2)


async def test_a_fee_payer_without_lamports_is_insufficient_funds(chain: ChainClient) -> None:
    s = await open_session(chain)
    broke = Keypair()
    with pytest.raises(InsufficientFunds):
        await chain.submit([ixs.revoke_access(broke.pubkey(), s.addrs.vault)], broke)


async def test_a_deposit_beyond_the_parent_balance_is_insufficient_funds(chain: ChainClient) -> None:
    s = await open_session(chain, max_deposit=100 * 10**9)
    balance = await chain.balance(s.parent.pubkey())
    with pytest.raises(InsufficientFunds):
        await chain.submit([ixs.auto_deposit_for_trade(s.parent.pubkey(), s.addrs.vault, balance + 1)], s.parent)


async def test_a_transaction_the_node_cannot_sanitize_is_malformed(chain: ChainClient) -> None:
    payer = await funded(chain)
    good = await chain.sign([ixs.revoke_access(payer.pubkey(), Keypair().pubkey())], payer)
    raw = bytearray(good.wire())
    # The last instruction's program-id index (right after the blockhash and the instruction count) → out of range.
    tx = Transaction.from_bytes(bytes(raw))
    header_and_keys = 1 + 64 * len(tx.signatures) + 3 + 1 + 32 * len(tx.message.account_keys) + 32 + 1
    raw[header_and_keys] = 200
    bad = Transaction.from_bytes(bytes(raw))
    bad.sign([payer], bad.message.recent_blockhash)  # validly signed, structurally impossible
    signed = SignedTx.from_transaction(bad, good.last_valid_block_height)
    with pytest.raises(MalformedTransaction) as err:
        await chain.send_and_confirm(signed)
    assert "sanitize" in str(err.value)  # the node's verdict, not a local check


async def test_a_tampered_signature_is_refused_before_anything_is_sent(chain: ChainClient) -> None:
    payer = await funded(chain)
    signed = await chain.sign([ixs.revoke_access(payer.pubkey(), Keypair().pubkey())], payer)
    tx = signed.transaction()
    forged = Transaction.populate(tx.message, [Signature(bytes(64 - 1) + b"\x01")])
    forged_signed = SignedTx(base64.b64encode(bytes(forged)).decode(), str(forged.signatures[0]), 10**9)
    with pytest.raises(SignatureVerificationFailed):
        await chain.send_and_confirm(forged_signed)


async def test_a_wallet_answer_that_changed_the_offer_is_refused(chain: ChainClient) -> None:
    s = await open_session(chain)
    offer = await build_deposit(chain, s.parent.pubkey(), s.addrs.vault, 1_000)
    other = await build_deposit(chain, s.parent.pubkey(), s.addrs.vault, 2_000)
    with pytest.raises(SignedTransactionMismatch, match="message differs"):
        verify_parent_signed(offer, wallet_sign(other, s.parent))
    with pytest.raises(SignedTransactionMismatch, match="has not signed"):
        verify_parent_signed(offer, offer.transaction_base64)
    with pytest.raises(SignedTransactionMismatch, match=r"not .* over this message"):
        tx = Transaction.from_bytes(base64.b64decode(offer.transaction_base64))
        tx = Transaction.populate(tx.message, [Keypair().sign_message(bytes(tx.message))])
        verify_parent_signed(offer, base64.b64encode(bytes(tx)).decode())


async def test_an_unreachable_node_is_retryable_and_the_error_does_not_carry_the_url_secret() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/token-SECRET1?api-key=SECRET2"
    async with ChainClient(url, rpc_timeout_seconds=2) as dead:
        assert "SECRET" not in repr(dead)
        with pytest.raises(RetryableRpcError) as err:
            await dead.latest_blockhash()
        with pytest.raises(RetryableRpcError) as raw_err:
            await dead.recent_prioritization_fees()
    for exc in (err.value, raw_err.value):
        assert "SECRET" not in "".join(traceback.format_exception(exc))


async def test_a_blockhash_the_node_never_issued_is_retryable_at_send_not_expired(chain: ChainClient) -> None:
    payer = await funded(chain)
    unknown = BlockhashInfo(Hash.new_unique(), last_valid_block_height=await chain.block_height() + 150)
    signed = sign_transaction([ixs.revoke_access(payer.pubkey(), Keypair().pubkey())], payer, [], unknown)
    with pytest.raises(RetryableRpcError, match="BlockhashNotFound"):
        await chain.send_and_confirm(signed)


async def test_the_clock_the_program_sees_moves_with_the_node_warp(chain: ChainClient, localnet_url: str) -> None:
    before = await chain.clock_unix_timestamp()
    await localnet_call(localnet_url, "localnet_warpClock", [{"seconds": 1_000}])
    assert await chain.clock_unix_timestamp() >= before + 1_000


async def test_a_transaction_that_landed_failed_elsewhere_is_reported_not_resent(chain: ChainClient) -> None:
    # The parent's wallet may submit the transaction itself (no preflight): the backend then only observes it.
    s = await open_session(chain)
    signed = await chain.sign([ixs.auto_deposit_for_trade(s.parent.pubkey(), s.addrs.vault, MAX_DEPOSIT)], s.parent)
    async with AsyncClient(chain.rpc_url) as wallet_rpc:
        await wallet_rpc.send_raw_transaction(signed.wire(), TxOpts(skip_preflight=True))
    await chain.wait_for_signature(signed.signature)
    parent_balance = await chain.balance(s.parent.pubkey())

    with pytest.raises(ProgramError) as failed:
        await chain.send_and_confirm(signed)

    assert (failed.value.name, failed.value.signature) == ("DepositCapExceeded", signed.signature)
    assert any("custom program error" in line for line in failed.value.logs)
    assert await chain.balance(s.parent.pubkey()) == parent_balance  # no second fee: nothing was resent


async def test_recent_prioritization_fees_see_a_priced_transaction_on_the_vault(
    chain: ChainClient, localnet_url: str
) -> None:
    s = await open_session(chain)
    # A slot's figure is the LOWEST price among transactions writing the vault in it: keep the unpriced opening
    # transaction out of the priced trade's slot.
    await localnet_call(localnet_url, "localnet_advanceSlots", [1])
    priced = [
        *ixs.priority_fee_instructions(20_000, 4_321),
        ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, 1_000, uuid.uuid4().bytes),
    ]
    await chain.submit(priced, s.delegate)
    fees = await chain.recent_prioritization_fees([s.addrs.vault])
    assert 4_321 in fees and all(isinstance(f, int) for f in fees)


async def test_resending_a_landed_transaction_returns_without_waiting_or_paying_again(chain: ChainClient) -> None:
    """The send goes first (no status check before it); the node answers AlreadyProcessed and polling finds it."""
    payer = await funded(chain)
    signed = await chain.sign([ixs.priority_fee_instructions(None, 1)[0]], payer)
    first = await chain.send_and_confirm(signed)
    balance = await chain.balance(payer.pubkey())
    polls: list[int] = []

    again = await chain.send_and_confirm(signed, on_poll=lambda: polls.append(1))

    assert (again.signature, again.slot) == (first.signature, first.slot)
    assert polls == []  # found landed by the first status check: no confirmation wait
    assert await chain.balance(payer.pubkey()) == balance  # and no second fee


async def test_resending_a_landed_transaction_after_its_blockhash_expired_returns_its_result(
    chain: ChainClient, localnet_url: str
) -> None:
    """Past its blockhash the resend fails preflight ("Blockhash not found"); the status shows it landed, so the
    caller gets the original result, not BlockhashExpired or a retryable error."""
    payer = await funded(chain)
    signed = await chain.sign([ixs.priority_fee_instructions(None, 1)[0]], payer)
    first = await chain.send_and_confirm(signed)
    balance = await chain.balance(payer.pubkey())
    await localnet_call(localnet_url, "localnet_advanceSlots", [PAST_BLOCKHASH_LIFETIME])

    again = await chain.send_and_confirm(signed)

    assert (again.signature, again.slot, again.fee) == (first.signature, first.slot, first.fee)
    assert await chain.balance(payer.pubkey()) == balance
