"""The whole stack behind the API for end-to-end tests: this test's PostgreSQL schema, the Temporal dev server (it
has update-with-start) with a real worker in this process on a task queue of its own, the local chain over HTTP."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from solders.keypair import Keypair
from solders.transaction import Transaction
from temporalio.client import Client

from activities.resources import Resources
from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.custody import EnvKek
from tests.api.conftest import ApiFactory, ApiInstance
from tests.fixtures.temporal import DevServer
from worker import build_worker

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


@pytest.fixture
async def stack(
    api_factory: ApiFactory,
    db_pool: asyncpg.Pool,
    localnet_url: str,
    temporal_dev_server: DevServer,
    temporal_dev_client: Client,
) -> AsyncIterator[Stack]:
    task_queue = f"api-{uuid.uuid4()}"
    async with ChainClient(localnet_url, poll_interval_seconds=0.05, confirm_timeout_seconds=30) as chain:
        resources = Resources(
            pool=db_pool, chain=chain, kek=EnvKek({"k1": os.urandom(32)}, "k1"), cleaner=await funded(chain, SOL),
            temporal=temporal_dev_client, fee_float_lamports=5_000_000, approval_window_seconds=600,
            revoke_window_seconds=120, chain_poll_seconds=1, max_trades_per_run=500,
        )
        async with build_worker(temporal_dev_client, resources, task_queue):
            api = await api_factory(temporal_address=temporal_dev_server.address, temporal_task_queue=task_queue,
                                    solana_rpc_url=localnet_url)
            yield Stack(api=api, chain=chain, pool=db_pool, temporal=temporal_dev_client, task_queue=task_queue)
