"""Typed errors of the data-access layer. Each message says what was refused and why, and never carries key material."""

from __future__ import annotations

import uuid

import asyncpg


class DatabaseError(Exception):
    """Base class: something the caller asked of the database was refused."""


class InvalidRecordError(DatabaseError, ValueError):
    """A value is malformed (bad base58, negative lamports, unknown kind…). Nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SessionNotFoundError(DatabaseError, LookupError):
    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(f"session {session_id} does not exist")
        self.session_id = session_id


class SessionKeyNotFoundError(DatabaseError, LookupError):
    def __init__(self, session_id: uuid.UUID) -> None:
        super().__init__(f"session {session_id} has no stored key")
        self.session_id = session_id


class InvalidStatusTransitionError(DatabaseError):
    """The lifecycle does not allow this move (e.g. CLEANED → ACTIVE). The session is unchanged."""

    def __init__(self, session_id: uuid.UUID, current: str, target: str) -> None:
        super().__init__(f"session {session_id} cannot go from {current} to {target}")
        self.session_id = session_id
        self.current = current
        self.target = target


class ConflictingWriteError(DatabaseError):
    """An idempotency key (session id, signature, vault…) was reused with different content: a retry would hide a
    bug, so the write is refused instead of silently keeping either version."""


def translate_constraint_error(err: asyncpg.IntegrityConstraintViolationError) -> DatabaseError:
    """Turn a constraint violation that slipped past validation into the typed error (the constraint names a field)."""
    constraint = getattr(err, "constraint_name", None) or "constraint"
    if isinstance(err, asyncpg.UniqueViolationError):
        return ConflictingWriteError(f"{constraint}: {err.detail or err}")
    return InvalidRecordError(constraint, str(err))
