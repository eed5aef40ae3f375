"""The shared resources every activity uses, created once per worker: the asyncpg pool, the ChainClient, the KEK
provider, the cleaner keypair and (for the sweep) a Temporal client. Activity classes hold one `Resources` and their
bound methods are the activities, so a test builds the same objects against its own Postgres schema and local chain.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from solders.keypair import Keypair
from temporalio.client import Client

from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.custody import KekProvider


@dataclass
class Resources:
    pool: asyncpg.Pool
    chain: ChainClient
    kek: KekProvider = field(repr=False)
    cleaner: Keypair = field(repr=False)
    temporal: Client | None = None  # the sweep asks Temporal which sessions a running workflow owns
    fee_float_lamports: int = 5_000_000
    approval_window_seconds: int = 600
    revoke_window_seconds: int = 600
    chain_poll_seconds: int = 5
    max_trades_per_run: int = 500


def load_or_create_cleaner_keypair(path: Path) -> Keypair:
    """The backend's cleaner key (signs cleanup_vault, receives the capped reward). It holds no user funds: a dev
    keypair is generated on first run (JSON array of 64 bytes, mode 0600, like solana-keygen writes)."""
    if path.exists():
        return Keypair.from_bytes(bytes(json.loads(path.read_text())))
    path.parent.mkdir(parents=True, exist_ok=True)
    keypair = Keypair()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(list(bytes(keypair)), f)
    return keypair
