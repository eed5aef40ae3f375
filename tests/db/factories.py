"""Valid-looking rows for tests: real base58 keys and signatures from solders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from solders.keypair import Keypair
from solders.signature import Signature

from ephemeral_vault.db.connection import Db
from ephemeral_vault.db.ledger import record_transaction
from ephemeral_vault.db.models import NewSession, NewTransaction, Session
from ephemeral_vault.db.sessions import create_session, transition_status
from ephemeral_vault.db.status import SessionStatus


def pubkey() -> str:
    return str(Keypair().pubkey())


def signature() -> str:
    return str(Signature.from_bytes(uuid.uuid4().bytes * 4))


def session_row(**overrides: Any) -> dict[str, Any]:
    session_id = overrides.pop("id", None) or uuid.uuid4()
    row: dict[str, Any] = {
        "id": session_id,
        "parent_wallet": pubkey(),
        "ephemeral_pubkey": pubkey(),
        "vault_pda": pubkey(),
        "delegation_pda": pubkey(),
        "max_deposit": 1_000_000_000,
        "session_duration_s": 3600,
        "session_expiry": datetime.now(UTC) + timedelta(hours=1),
        "workflow_id": f"session-{session_id}",
    }
    row.update(overrides)
    return row


INSERT_SESSION_SQL = """
INSERT INTO sessions (id, parent_wallet, ephemeral_pubkey, vault_pda, delegation_pda, max_deposit,
                      session_duration_s, session_expiry, workflow_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


def insert_args(row: dict[str, Any]) -> list[Any]:
    keys = ["id", "parent_wallet", "ephemeral_pubkey", "vault_pda", "delegation_pda", "max_deposit",
            "session_duration_s", "session_expiry", "workflow_id"]
    return [row[k] for k in keys]


def new_session(**overrides: Any) -> NewSession:
    return NewSession(**session_row(**overrides))


async def created_session(db: Db, **overrides: Any) -> Session:
    session, _ = await create_session(db, new_session(**overrides))
    return session


async def active_session(db: Db, **overrides: Any) -> Session:
    session = await created_session(db, **overrides)
    return (await transition_status(db, session.id, SessionStatus.ACTIVE)).session


async def recorded_trade(db: Db, session_id: uuid.UUID, *, at: datetime | None = None, fee: int = 5_000,
                         status: str = "confirmed", kind: str = "trade") -> str:
    """A transaction in the session's ledger, through the data-access layer; returns its signature."""
    sig = signature()
    await record_transaction(db, NewTransaction(signature=sig, session_id=session_id, kind=kind, status=status,
                                                fee=fee, at=at))
    return sig
