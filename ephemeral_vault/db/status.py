"""The session lifecycle (DESIGN.md §4). The `sessions_guard_status` trigger enforces the same table in SQL."""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    CREATED = "CREATED"
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    CLEANED = "CLEANED"
    ABANDONED = "ABANDONED"


ALLOWED_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.CREATED: frozenset({SessionStatus.ACTIVE, SessionStatus.ABANDONED}),
    SessionStatus.ACTIVE: frozenset({SessionStatus.REVOKED, SessionStatus.EXPIRED}),
    SessionStatus.REVOKED: frozenset({SessionStatus.CLEANED}),
    SessionStatus.EXPIRED: frozenset({SessionStatus.CLEANED}),
    SessionStatus.CLEANED: frozenset(),
    SessionStatus.ABANDONED: frozenset(),
}

# Sessions whose vault may still exist on chain and must eventually be cleaned.
OPEN_ON_CHAIN: frozenset[SessionStatus] = frozenset(
    {SessionStatus.ACTIVE, SessionStatus.REVOKED, SessionStatus.EXPIRED}
)


def transition_allowed(current: SessionStatus, target: SessionStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]
