"""Helpers of the full-stack tests (the `stack` fixture is in conftest.py): what a wallet does, a funded parent."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from solders.keypair import Keypair
from solders.transaction import Transaction
from temporalio.client import Client

from ephemeral_vault.chain.client import ChainClient

if TYPE_CHECKING:
    from tests.api.conftest import ApiInstance

SOL = 1_000_000_000


@dataclass
class Stack:
    api: ApiInstance
    chain: ChainClient
    pool: asyncpg.Pool
    temporal: Client
    task_queue: str


def wallet_sign(transaction_base64: str, *keypairs: Keypair) -> str:
    """What a wallet's signTransaction does: sign the offered bytes as they are, return them base64."""
    tx = Transaction.from_bytes(base64.b64decode(transaction_base64))
    tx.partial_sign(list(keypairs), tx.message.recent_blockhash)
    return base64.b64encode(bytes(tx)).decode()


async def funded(chain: ChainClient, lamports: int = 10 * SOL) -> Keypair:
    keypair = Keypair()
    await chain.request_airdrop(keypair.pubkey(), lamports)
    return keypair
