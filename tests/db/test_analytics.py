"""Each anomaly rule on real PostgreSQL with constructed histories: fires when it should, stays quiet when it should
not, and a second run over the same history changes nothing."""

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ephemeral_vault.analytics import (
    Anomaly,
    analyse_session,
    detect_anomalies,
    list_anomalies,
    sessions_with_activity_since,
)
from ephemeral_vault.db.errors import InvalidRecordError
from ephemeral_vault.db.ledger import record_transaction
from ephemeral_vault.db.models import NewTransaction, Session
from ephemeral_vault.db.sessions import transition_status
from ephemeral_vault.db.status import SessionStatus
from tests.db.factories import active_session, recorded_trade, signature

# Whole minutes in the past, so the velocity rule's windows line up with the constructed ones.
T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)


async def trade(db: asyncpg.Pool, session: Session, *, at: datetime | None = None, fee: int = 5_000,
                status: str = "confirmed", kind: str = "trade") -> str:
    return await recorded_trade(db, session.id, at=at, fee=fee, status=status, kind=kind)


async def deposit(db: asyncpg.Pool, session: Session, lamports: int) -> None:
    await record_transaction(db, NewTransaction(signature=signature(), session_id=session.id, kind="deposit",
                                                status="confirmed", lamports=lamports, at=T0))


async def rules_fired(db: asyncpg.Pool, session: Session) -> list[Anomaly]:
    """Run detection twice: the second run over an unchanged history must raise nothing and add no row."""
    await detect_anomalies(db, session.id)
    count = await db.fetchval("SELECT count(*) FROM anomalies")
    assert await detect_anomalies(db, session.id) == []
    assert await db.fetchval("SELECT count(*) FROM anomalies") == count
    return await list_anomalies(db, session_id=session.id)


def only(anomalies: list[Anomaly], rule: str) -> list[Anomaly]:
    return [a for a in anomalies if a.rule == rule]


# -- trade velocity -------------------------------------------------------------------------------------------------

async def test_a_burst_far_above_the_sessions_baseline_is_a_velocity_anomaly(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    for minute in range(5):  # one trade a minute: the baseline
        await trade(db_pool, session, at=T0 + timedelta(minutes=minute, seconds=10))
    burst_start = T0 + timedelta(minutes=5)
    for i in range(12):
        await trade(db_pool, session, at=burst_start + timedelta(seconds=i))

    found = only(await rules_fired(db_pool, session), "trade_velocity")

    assert [(a.severity, a.details["trades"], a.details["baseline_per_window"]) for a in found] == [
        ("medium", 12, 1.0)
    ]
    assert found[0].evidence_key == f"window:{burst_start.isoformat()}"


async def test_a_steady_high_rate_is_not_a_velocity_anomaly(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    for minute in range(6):
        for i in range(12):
            await trade(db_pool, session, at=T0 + timedelta(minutes=minute, seconds=i))
    assert only(await rules_fired(db_pool, session), "trade_velocity") == []


async def test_a_young_session_has_no_velocity_baseline_yet(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    for i in range(30):
        await trade(db_pool, session, at=T0 + timedelta(seconds=i))
    assert only(await rules_fired(db_pool, session), "trade_velocity") == []


# -- fee spike ------------------------------------------------------------------------------------------------------

async def test_a_fee_far_above_the_recent_median_is_a_fee_spike(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    for i in range(6):
        await trade(db_pool, session, at=T0 + timedelta(seconds=i), fee=5_000)
    normal = await trade(db_pool, session, at=T0 + timedelta(seconds=10), fee=40_000)  # 8x: within tolerance
    spike = await trade(db_pool, session, at=T0 + timedelta(seconds=11), fee=60_000)  # 12x the median

    found = only(await rules_fired(db_pool, session), "fee_spike")

    assert [(a.evidence_key, a.severity, a.details["median_of"]) for a in found] == [(spike, "medium", "session")]
    assert normal not in {a.evidence_key for a in found}


async def test_a_young_sessions_fee_is_judged_against_the_fleets_recent_median(db_pool: asyncpg.Pool) -> None:
    veteran = await active_session(db_pool)
    for i in range(6):
        await trade(db_pool, veteran, at=T0 + timedelta(seconds=i), fee=5_000)
    newcomer = await active_session(db_pool)
    spike = await trade(db_pool, newcomer, at=T0 + timedelta(minutes=1), fee=1_000_000)  # 200x

    found = only(await rules_fired(db_pool, newcomer), "fee_spike")

    assert [(a.evidence_key, a.severity, a.details["median_of"]) for a in found] == [(spike, "high", "fleet")]


async def test_uniform_fees_are_not_a_fee_spike(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    for i in range(10):
        await trade(db_pool, session, at=T0 + timedelta(seconds=i), fee=9_000)
    assert only(await rules_fired(db_pool, session), "fee_spike") == []


# -- repeated failures ----------------------------------------------------------------------------------------------

async def test_consecutive_failures_are_one_anomaly_that_escalates_as_the_streak_grows(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    first = await trade(db_pool, session, at=T0, status="failed")
    for i in range(1, 3):
        await trade(db_pool, session, at=T0 + timedelta(seconds=i), status="failed")

    after_three = only(await rules_fired(db_pool, session), "repeated_failures")
    for i in range(3, 6):
        await trade(db_pool, session, at=T0 + timedelta(seconds=i), status="failed")
    after_six = only(await rules_fired(db_pool, session), "repeated_failures")

    assert [(a.evidence_key, a.severity, a.details["failures"]) for a in after_three] == [(first, "medium", 3)]
    assert [(a.id, a.severity, a.details["failures"]) for a in after_six] == [(after_three[0].id, "high", 6)]


async def test_failures_broken_up_by_successes_are_not_repeated_failures(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    for i in range(6):
        await trade(db_pool, session, at=T0 + timedelta(seconds=i), status="failed" if i % 2 == 0 else "confirmed")
    assert only(await rules_fired(db_pool, session), "repeated_failures") == []


# -- deposit cap ----------------------------------------------------------------------------------------------------

async def test_deposits_near_and_at_the_cap_are_flagged(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool, max_deposit=1_000_000)
    await deposit(db_pool, session, 960_000)
    near = only(await rules_fired(db_pool, session), "deposit_cap")
    await deposit(db_pool, session, 40_000)
    full = only(await rules_fired(db_pool, session), "deposit_cap")

    assert [(a.evidence_key, a.severity) for a in near] == [("cap_near", "low")]
    assert sorted((a.evidence_key, a.severity) for a in full) == [("cap_near", "low"), ("cap_reached", "medium")]


async def test_deposits_well_under_the_cap_are_not_flagged(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool, max_deposit=1_000_000)
    await deposit(db_pool, session, 500_000)
    await record_transaction(db_pool, NewTransaction(signature=signature(), session_id=session.id, kind="deposit",
                                                     status="failed", lamports=500_000))  # failed: not deposited
    assert only(await rules_fired(db_pool, session), "deposit_cap") == []


# -- activity after revocation / expiry -----------------------------------------------------------------------------

async def test_a_trade_after_revocation_is_critical_and_one_before_is_not(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    before = await trade(db_pool, session)
    await transition_status(db_pool, session.id, SessionStatus.REVOKED)
    confirmed_after = await trade(db_pool, session)
    attempted_after = await trade(db_pool, session, status="failed")

    found = only(await rules_fired(db_pool, session), "activity_after_revocation")

    assert sorted((a.evidence_key, a.severity) for a in found) == sorted(
        [(confirmed_after, "critical"), (attempted_after, "high")]
    )
    assert before not in {a.evidence_key for a in found}


async def test_a_trade_after_expiry_is_flagged(db_pool: asyncpg.Pool) -> None:
    expiry = T0 + timedelta(minutes=10)
    session = await active_session(db_pool, session_expiry=expiry)
    await trade(db_pool, session, at=expiry - timedelta(seconds=1))
    late = await trade(db_pool, session, at=expiry + timedelta(seconds=5))

    found = only(await rules_fired(db_pool, session), "activity_after_expiry")

    assert [(a.evidence_key, a.severity, a.details["seconds_late"]) for a in found] == [(late, "critical", 5.0)]


# -- the whole analysis ---------------------------------------------------------------------------------------------

async def test_a_quiet_session_raises_nothing_and_gets_its_metrics(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool, max_deposit=1_000_000)
    await deposit(db_pool, session, 100_000)
    for i in range(3):
        await trade(db_pool, session, at=T0 + timedelta(minutes=i), fee=5_000)

    analysis = await analyse_session(db_pool, session.id)

    assert analysis.raised == []
    assert (analysis.metrics.trade_count, analysis.metrics.fees_total, analysis.metrics.deposits_total) == (
        3, 15_000, 100_000
    )
    assert analysis.metrics.duration_s >= 0


async def test_listing_filters_by_severity_and_rejects_unknown_ones(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool, max_deposit=1_000_000)
    await deposit(db_pool, session, 960_000)
    await detect_anomalies(db_pool, session.id)  # low: near the cap
    await deposit(db_pool, session, 40_000)
    await detect_anomalies(db_pool, session.id)  # medium: cap reached

    assert {a.severity for a in await list_anomalies(db_pool, session_id=session.id)} == {"low", "medium"}
    assert {a.severity for a in await list_anomalies(db_pool, min_severity="medium")} == {"medium"}
    with pytest.raises(InvalidRecordError, match="min_severity"):
        await list_anomalies(db_pool, min_severity="urgent")


async def test_the_database_refuses_unknown_severities_and_duplicate_evidence(db_pool: asyncpg.Pool) -> None:
    session = await active_session(db_pool)
    insert = "INSERT INTO anomalies (session_id, rule, severity, evidence_key) VALUES ($1, 'r', $2, 'e')"
    with pytest.raises(asyncpg.CheckViolationError, match="anomalies_severity_known"):
        await db_pool.execute(insert, session.id, "urgent")
    await db_pool.execute(insert, session.id, "low")
    with pytest.raises(asyncpg.UniqueViolationError, match="anomalies_once_per_evidence"):
        await db_pool.execute(insert, session.id, "high")


async def test_the_monitor_finds_sessions_with_recent_activity(db_pool: asyncpg.Pool) -> None:
    busy, idle = await active_session(db_pool), await active_session(db_pool)
    since = await db_pool.fetchval("SELECT now()")  # after both sessions' creation, before the trade
    await trade(db_pool, busy)

    assert await sessions_with_activity_since(db_pool, since) == [busy.id]
    assert idle.id not in await sessions_with_activity_since(db_pool, since)
