"""Live-node helpers for the chain client tests: a ChainClient on F's local node, funded keys, opened sessions."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.transaction import Transaction

from ephemeral_vault.chain import instructions as ixs
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.pdas import SessionAddresses
from ephemeral_vault.chain.send import SignedTx, TxResult
from ephemeral_vault.chain.session_tx import UnsignedTx, build_session_opening, verify_parent_signed

SOL = 1_000_000_000
FEE_FLOAT = 5_000_000
DURATION = 3_600
MAX_DEPOSIT = 2 * SOL
INITIAL_DEPOSIT = SOL // 2
# More slots than a blockhash lives (150): its lastValidBlockHeight is then behind the chain.
PAST_BLOCKHASH_LIFETIME = 200


async def localnet_call(url: str, method: str, params: list[Any]) -> Any:
    """A raw JSON-RPC call, for the node's non-standard `localnet_*` methods that no client library knows."""
    async with httpx.AsyncClient() as http:
        body = (await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})).json()
    assert "error" not in body, body
    return body["result"]


def wallet_sign(unsigned: UnsignedTx, *keypairs: Keypair) -> str:
    """What a wallet's signTransaction does: sign the offered bytes, return them base64."""
    tx = Transaction.from_bytes(base64.b64decode(unsigned.transaction_base64))
    tx.partial_sign(list(keypairs), tx.message.recent_blockhash)
    return base64.b64encode(bytes(tx)).decode()


@dataclass
class OpenSession:
    # solders' Keypair repr prints the secret key: keep keypairs out of reprs even in test output.
    parent: Keypair = field(repr=False)
    delegate: Keypair = field(repr=False)
    addrs: SessionAddresses
    opening: TxResult


@pytest_asyncio.fixture
async def chain(localnet_url: str) -> AsyncIterator[ChainClient]:
    async with ChainClient(localnet_url, poll_interval_seconds=0.05, confirm_timeout_seconds=30) as client:
        yield client


async def funded(chain: ChainClient, lamports: int = 10 * SOL) -> Keypair:
    kp = Keypair()
    await chain.request_airdrop(kp.pubkey(), lamports)
    return kp


async def open_session(
    chain: ChainClient,
    *,
    duration: int = DURATION,
    max_deposit: int = MAX_DEPOSIT,
    initial_deposit: int = INITIAL_DEPOSIT,
) -> OpenSession:
    """Open a session exactly as production does: unsigned offer → parent wallet signs → verify → submit."""
    parent, delegate = await funded(chain), Keypair()
    offer = await build_session_opening(
        chain,
        parent.pubkey(),
        delegate.pubkey(),
        session_duration=duration,
        max_deposit=max_deposit,
        initial_deposit=initial_deposit,
        fee_float_lamports=FEE_FLOAT,
    )
    signed = verify_parent_signed(offer.unsigned, wallet_sign(offer.unsigned, parent))
    result = await chain.send_and_confirm(signed)
    addrs = SessionAddresses.derive(parent.pubkey(), delegate.pubkey(), chain.program.program_id)
    return OpenSession(parent=parent, delegate=delegate, addrs=addrs, opening=result)


def a_trade(s: OpenSession, fee: int = 5_000) -> list[Instruction]:
    """One execute_trade with a trade id of its own."""
    return [ixs.execute_trade(s.delegate.pubkey(), s.addrs.vault, fee, uuid.uuid4().bytes)]


async def sign_then_outlive(
    chain: ChainClient, localnet_url: str, s: OpenSession, trade: list[Instruction]
) -> SignedTx:
    """`trade` signed by the session key, unsent, and the node moved past its blockhash's lifetime."""
    stale = await chain.sign(trade, s.delegate)
    await localnet_call(localnet_url, "localnet_advanceSlots", [PAST_BLOCKHASH_LIFETIME])
    return stale
