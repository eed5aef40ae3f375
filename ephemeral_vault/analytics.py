"""Per-session analytics: metrics (kept in `session_metrics`) and anomaly rules (written to `anomalies`).

Each rule reads one session's history and returns findings; a finding is keyed by (session, rule, evidence), so
running the rules again on the same history changes nothing, and a finding whose evidence grows (a longer failure
streak, a busier minute) updates its one row and may raise its severity, never lower it.

Rules:
- `trade_velocity` — trades in one window far above the session's own recent baseline (its earlier windows, idle
  ones included): a runaway or hijacked trading loop.
- `fee_spike` — a trade fee far above the median of the session's recent trade fees (or, for a young session, of
  all sessions' recent trades): fee drain through the delegate's reimbursement.
- `repeated_failures` — consecutive failed transactions: a broken key, an exhausted vault, or someone probing.
- `deposit_cap` — confirmed deposits near or at max_deposit: the session can no longer be topped up.
- `activity_after_revocation` / `activity_after_expiry` — a trade attempted after the parent revoked or after the
  session expired: the backend must never do this, and the chain must never accept it.
"""

from __future__ import annotations

import json
import statistics
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from ephemeral_vault.db.connection import Db, transaction
from ephemeral_vault.db.errors import InvalidRecordError
from ephemeral_vault.db.events import notify_session_event
from ephemeral_vault.db.metrics import SessionMetrics, get_session_metrics, refresh_session_metrics
from ephemeral_vault.db.models import RowModel, Session, VaultTransaction
from ephemeral_vault.db.sessions import get_session

__all__ = [
    "SEVERITIES",
    "Anomaly",
    "Finding",
    "SessionAnalysis",
    "Thresholds",
    "analyse_session",
    "detect_anomalies",
    "get_session_metrics",
    "list_anomalies",
    "refresh_session_metrics",
    "sessions_with_activity_since",
]

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Thresholds:
    """When each rule fires. The defaults are deliberately loose: an anomaly should be worth a human's look."""

    velocity_window_s: int = 60
    velocity_baseline_windows: int = 10  # the baseline is the mean of this many windows before the one judged
    velocity_min_history_windows: int = 3  # a session younger than this has no baseline yet
    velocity_factor: float = 5.0
    velocity_min_trades: int = 10  # a handful of trades is never a velocity anomaly, whatever the baseline
    fee_history: int = 20
    fee_min_history: int = 5
    fee_factor: float = 10.0
    # 5,000 lamports is one signature's base fee: a median below it is not a meaningful baseline to multiply.
    fee_floor: int = 5_000
    failure_streak: int = 3
    cap_near_utilisation: Decimal = Decimal("0.95")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    evidence_key: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Anomaly(RowModel):
    id: int
    session_id: uuid.UUID
    rule: str
    severity: str
    evidence_key: str
    details: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        if isinstance(self.details, str):  # a connection without create_pool's jsonb codec
            object.__setattr__(self, "details", json.loads(self.details))


@dataclass(frozen=True)
class SessionAnalysis:
    metrics: SessionMetrics
    # anomalies this run created or made worse (empty when the history held nothing new)
    raised: list[Anomaly]


@dataclass(frozen=True)
class _History:
    session: Session
    transactions: list[VaultTransaction]  # oldest first
    revoked_at: datetime | None
    metrics: SessionMetrics
    recent_fleet_fees: list[int]  # other sessions' recent trade fees, newest first

    @property
    def trades(self) -> list[VaultTransaction]:
        return [t for t in self.transactions if t.kind == "trade"]


# -- rules (pure: history in, findings out) ---------------------------------------------------------------------


def _trade_velocity(h: _History, th: Thresholds) -> list[Finding]:
    trades = h.trades
    if not trades:
        return []
    window = th.velocity_window_s

    def index(t: datetime) -> int:
        return int(t.timestamp()) // window

    counts = Counter(index(t.created_at) for t in trades)
    first = min(counts)
    findings = []
    for bucket, count in sorted(counts.items()):
        history = [counts.get(b, 0) for b in range(max(first, bucket - th.velocity_baseline_windows), bucket)]
        if len(history) < th.velocity_min_history_windows or count < th.velocity_min_trades:
            continue
        baseline = statistics.fmean(history)
        ratio = count / max(baseline, 1.0)  # an idle baseline counts as one trade per window
        if ratio < th.velocity_factor:
            continue
        start = datetime.fromtimestamp(bucket * window, UTC)
        findings.append(Finding(
            rule="trade_velocity",
            severity="high" if ratio >= 4 * th.velocity_factor else "medium",
            evidence_key=f"window:{start.isoformat()}",
            details={"window_start": start.isoformat(), "window_s": window, "trades": count,
                     "baseline_per_window": round(baseline, 3), "ratio": round(ratio, 2)},
        ))
    return findings


def _fee_spike(h: _History, th: Thresholds) -> list[Finding]:
    findings = []
    paid = [t for t in h.trades if t.status != "failed"]
    for i, trade in enumerate(paid):
        prior = [t.fee for t in paid[max(0, i - th.fee_history):i]]
        source = "session"
        if len(prior) < th.fee_min_history:
            prior, source = h.recent_fleet_fees[: th.fee_history], "fleet"
        if len(prior) < th.fee_min_history:
            continue
        median = statistics.median(prior)
        baseline = max(median, th.fee_floor)
        if trade.fee <= th.fee_factor * baseline:
            continue
        findings.append(Finding(
            rule="fee_spike",
            severity="high" if trade.fee > 5 * th.fee_factor * baseline else "medium",
            evidence_key=trade.signature,
            details={"signature": trade.signature, "fee": trade.fee, "median": median, "baseline": baseline,
                     "median_of": source, "sample": len(prior)},
        ))
    return findings


def _repeated_failures(h: _History, th: Thresholds) -> list[Finding]:
    findings = []
    streak: list[VaultTransaction] = []
    for tx in [*h.transactions, None]:  # None flushes the last streak
        if tx is not None and tx.status == "failed":
            streak.append(tx)
            continue
        if tx is not None and tx.status == "submitted":
            continue  # still in flight: neither breaks nor extends a streak
        if len(streak) >= th.failure_streak:
            findings.append(Finding(
                rule="repeated_failures",
                severity="high" if len(streak) >= 2 * th.failure_streak else "medium",
                evidence_key=streak[0].signature,  # a growing streak stays one anomaly
                details={"failures": len(streak), "kinds": sorted({t.kind for t in streak}),
                         "signatures": [t.signature for t in streak[:10]],
                         "last_error": streak[-1].error},
            ))
        streak = []
    return findings


def _deposit_cap(h: _History, th: Thresholds) -> list[Finding]:
    used = h.metrics.utilisation
    details = {"deposits_total": h.metrics.deposits_total, "max_deposit": h.metrics.max_deposit,
               "utilisation": str(used)}
    if used >= 1:
        return [Finding(rule="deposit_cap", severity="medium", evidence_key="cap_reached", details=details)]
    if used >= th.cap_near_utilisation:
        return [Finding(rule="deposit_cap", severity="low", evidence_key="cap_near", details=details)]
    return []


def _late_trades(trades: list[VaultTransaction], since: datetime | None, rule: str, label: str) -> list[Finding]:
    if since is None:
        return []
    return [
        Finding(
            rule=rule,
            # a confirmed one means the chain accepted it: the guarantee itself failed
            severity="critical" if t.status == "confirmed" else "high",
            evidence_key=t.signature,
            details={"signature": t.signature, "status": t.status, "at": t.created_at.isoformat(),
                     label: since.isoformat(), "seconds_late": (t.created_at - since).total_seconds()},
        )
        for t in trades
        if t.created_at > since
    ]


def _activity_after_revocation(h: _History, th: Thresholds) -> list[Finding]:
    return _late_trades(h.trades, h.revoked_at, "activity_after_revocation", "revoked_at")


def _activity_after_expiry(h: _History, th: Thresholds) -> list[Finding]:
    return _late_trades(h.trades, h.session.session_expiry, "activity_after_expiry", "session_expiry")


RULES = (_trade_velocity, _fee_spike, _repeated_failures, _deposit_cap, _activity_after_revocation,
         _activity_after_expiry)


# -- reading and writing ------------------------------------------------------------------------------------------


async def _load_history(conn: asyncpg.Connection, session_id: uuid.UUID, th: Thresholds) -> _History:
    session = await get_session(conn, session_id)
    metrics = await refresh_session_metrics(conn, session_id)
    rows = await conn.fetch(
        "SELECT * FROM vault_transactions WHERE session_id = $1 ORDER BY created_at, signature", session_id
    )
    # Revocation time: the first sign of it, from the lifecycle (audit of the status change) or the chain.
    revoked_at = await conn.fetchval(
        """
        SELECT min(at) FROM (
            SELECT at FROM audit_log
            WHERE session_id = $1 AND action = 'session.status' AND details->>'to' = 'REVOKED'
            UNION ALL
            SELECT at FROM delegation_history WHERE session_id = $1 AND event = 'revoked'
        ) AS revocations
        """,
        session_id,
    )
    fleet = await conn.fetch(
        """
        SELECT fee FROM vault_transactions
        WHERE kind = 'trade' AND status <> 'failed' AND session_id <> $1
        ORDER BY created_at DESC
        LIMIT $2
        """,
        session_id, th.fee_history,
    )
    return _History(
        session=session,
        transactions=[VaultTransaction.from_row(r) for r in rows],
        revoked_at=revoked_at,
        metrics=metrics,
        recent_fleet_fees=[r["fee"] for r in fleet],
    )


async def _upsert(conn: asyncpg.Connection, session: Session, finding: Finding) -> Anomaly | None:
    """Insert the finding, or update its row when the evidence changed; None when nothing changed."""
    row = await conn.fetchrow(
        """
        INSERT INTO anomalies AS a (session_id, rule, severity, evidence_key, details)
        VALUES ($1, $2, $3, $4, $5::text::jsonb)
        ON CONFLICT (session_id, rule, evidence_key) DO UPDATE
        SET severity = CASE WHEN severity_rank(excluded.severity) > severity_rank(a.severity)
                            THEN excluded.severity ELSE a.severity END,
            details = excluded.details,
            updated_at = now()
        WHERE a.details IS DISTINCT FROM excluded.details
           OR severity_rank(excluded.severity) > severity_rank(a.severity)
        RETURNING a.*
        """,
        session.id, finding.rule, finding.severity, finding.evidence_key, _json(finding.details),
    )
    if row is None:
        return None
    anomaly = Anomaly.from_row(row)
    await notify_session_event(conn, session_id=session.id, parent_wallet=session.parent_wallet, kind="anomaly",
                               status=session.status,
                               data={"rule": anomaly.rule, "severity": anomaly.severity, "anomaly_id": anomaly.id})
    return anomaly


def _json(details: dict[str, Any]) -> str:
    return json.dumps(details, default=str, sort_keys=True)


async def detect_anomalies(
    db: Db, session_id: uuid.UUID, *, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[Anomaly]:
    """Run every rule over the session's history; store what they find. Returns the anomalies this call created or
    changed (a second call on the same history returns [])."""
    return (await analyse_session(db, session_id, thresholds=thresholds)).raised


async def analyse_session(
    db: Db, session_id: uuid.UUID, *, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> SessionAnalysis:
    """Refresh the session's metrics and run the anomaly rules, in one transaction. Call it after recording a
    transaction (cheap: one session's rows), or from the monitor for sessions with recent activity."""
    async with transaction(db) as conn:
        history = await _load_history(conn, session_id, thresholds)
        raised = []
        for rule in RULES:
            for finding in rule(history, thresholds):
                anomaly = await _upsert(conn, history.session, finding)
                if anomaly is not None:
                    raised.append(anomaly)
        return SessionAnalysis(metrics=history.metrics, raised=raised)


async def list_anomalies(
    db: Db,
    *,
    session_id: uuid.UUID | None = None,
    min_severity: str | None = None,
    limit: int = 100,
) -> list[Anomaly]:
    """Anomalies, newest first; optionally one session's, optionally at or above a severity."""
    if min_severity is not None and min_severity not in SEVERITIES:
        raise InvalidRecordError("min_severity", f"{min_severity!r} is not one of {', '.join(SEVERITIES)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidRecordError("limit", f"{limit!r} must be an integer in 1..1000")
    rows = await db.fetch(
        """
        SELECT * FROM anomalies
        WHERE ($1::uuid IS NULL OR session_id = $1)
          AND ($2::text IS NULL OR severity_rank(severity) >= severity_rank($2))
        ORDER BY created_at DESC, id DESC
        LIMIT $3
        """,
        session_id, min_severity, limit,
    )
    return [Anomaly.from_row(r) for r in rows]


async def sessions_with_activity_since(db: Db, since: datetime, *, limit: int = 500) -> list[uuid.UUID]:
    """For a periodic monitor: sessions with a transaction recorded or updated since `since`."""
    if since.tzinfo is None:
        raise InvalidRecordError("since", "must be timezone-aware")
    rows = await db.fetch(
        """
        SELECT session_id FROM vault_transactions
        WHERE updated_at >= $1
        GROUP BY session_id
        ORDER BY max(updated_at) DESC
        LIMIT $2
        """,
        since, limit,
    )
    return [r["session_id"] for r in rows]
