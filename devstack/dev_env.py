"""Development-only secrets and wiring for `make run`, so the stack works with no configuration at all.

- `var/devstack.env` (mode 0600, created once, kept across restarts so sealed keys in `var/pg` stay readable):
  `KEK_KEYS`/`KEK_ACTIVE_ID` (an env KEK) and `API_SERVICE_TOKEN` (the DEX integration's bearer token, which
  `make demo` uses to trade). A variable already set in the environment wins and is not written.
- `SOLANA_RPC_URL` points at the local chain the stack starts, unless set.
- The cleaner key (`CLEANER_KEYPAIR_PATH`) is airdropped SOL on the local chain: it pays the fee of `cleanup_vault`.

Nothing here prints a value; the file is the only place they are written.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from ephemeral_vault.settings import REPO_ROOT, Settings

DEV_ENV_PATH = REPO_ROOT / "var" / "devstack.env"
DEV_KEK_ID = "dev"
CLEANER_FLOAT_LAMPORTS = 10 * 1_000_000_000


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _generated(settings: Settings) -> dict[str, str]:
    values: dict[str, str] = {}
    if settings.kek_provider == "env" and settings.kek_keys is None:
        values["KEK_KEYS"] = f"{DEV_KEK_ID}:{base64.b64encode(os.urandom(32)).decode()}"
        values["KEK_ACTIVE_ID"] = DEV_KEK_ID
    if settings.api_service_token is None:
        values["API_SERVICE_TOKEN"] = secrets.token_urlsafe(32)
    return values


def ensure_dev_env(settings: Settings, path: Path = DEV_ENV_PATH) -> tuple[dict[str, str], list[str]]:
    """The variables the services need that the environment does not set: from `path`, generating (and saving) the
    missing ones. Returns (variables, names newly generated)."""
    stored = read_env_file(path)
    wanted = _generated(settings)
    missing = {name: value for name, value in wanted.items() if name not in stored}
    if "KEK_KEYS" in missing and "KEK_ACTIVE_ID" in stored:
        missing["KEK_ACTIVE_ID"] = stored["KEK_ACTIVE_ID"]  # never pair a stored id with a new key entry
    if missing:
        merged = {**stored, **missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("# make run: development secrets (generated; never use in production)\n")
            f.writelines(f"{name}={value}\n" for name, value in merged.items())
        stored = merged
    values = {name: stored[name] for name in wanted if name in stored}
    if "KEK_KEYS" in values:
        values["KEK_ACTIVE_ID"] = stored.get("KEK_ACTIVE_ID", DEV_KEK_ID)
    if "SOLANA_RPC_URL" not in os.environ:
        values["SOLANA_RPC_URL"] = f"http://{settings.localnet_host}:{settings.localnet_port}"
    return values, sorted(missing)


async def fund_cleaner(settings: Settings, rpc_url: str) -> str:
    """Airdrop the cleaner key SOL on the local chain when it has less than half its float. Returns its pubkey."""
    from activities.resources import load_or_create_cleaner_keypair
    from ephemeral_vault.chain.client import ChainClient

    cleaner = load_or_create_cleaner_keypair(settings.cleaner_keypair_path).pubkey()
    async with ChainClient(rpc_url, poll_interval_seconds=0.1, confirm_timeout_seconds=30) as chain:
        balance = await chain.balance(cleaner)
        if balance < CLEANER_FLOAT_LAMPORTS // 2:
            await chain.request_airdrop(cleaner, CLEANER_FLOAT_LAMPORTS - balance)
    return str(cleaner)
