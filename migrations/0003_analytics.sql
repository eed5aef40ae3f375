-- Per-session metrics (recomputed from vault_transactions, see ephemeral_vault/db/metrics.py) and anomalies.

CREATE TABLE session_metrics (
    session_id          uuid          PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    trade_count         integer       NOT NULL DEFAULT 0,
    failed_tx_count     integer       NOT NULL DEFAULT 0,
    pending_tx_count    integer       NOT NULL DEFAULT 0,
    fees_total          bigint        NOT NULL DEFAULT 0,
    deposits_total      bigint        NOT NULL DEFAULT 0,
    max_deposit         bigint        NOT NULL,
    -- deposits_total / max_deposit; 1 means the session's cap is used up
    utilisation         numeric(9, 6) NOT NULL DEFAULT 0,
    first_trade_at      timestamptz,
    last_trade_at       timestamptz,
    -- from activation (or creation) to close (or the last transaction): how long the session was in use
    duration_s          bigint        NOT NULL DEFAULT 0,
    updated_at          timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT session_metrics_counts_nonnegative
        CHECK (trade_count >= 0 AND failed_tx_count >= 0 AND pending_tx_count >= 0),
    CONSTRAINT session_metrics_fees_total_nonnegative CHECK (fees_total >= 0),
    CONSTRAINT session_metrics_deposits_total_nonnegative CHECK (deposits_total >= 0),
    CONSTRAINT session_metrics_max_deposit_positive CHECK (max_deposit > 0),
    CONSTRAINT session_metrics_utilisation_nonnegative CHECK (utilisation >= 0),
    CONSTRAINT session_metrics_duration_nonnegative CHECK (duration_s >= 0)
);

CREATE FUNCTION severity_rank(severity text) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN CASE severity WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END;

-- One row per (session, rule, evidence): a rule that fires again on the same evidence (the same trade signature, the
-- same minute, the same failure streak) updates that row instead of adding one.
CREATE TABLE anomalies (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id    uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rule          text        NOT NULL,
    severity      text        NOT NULL,
    evidence_key  text        NOT NULL,
    details       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT anomalies_severity_known CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    CONSTRAINT anomalies_rule_nonempty CHECK (rule <> ''),
    CONSTRAINT anomalies_evidence_key_nonempty CHECK (evidence_key <> ''),
    CONSTRAINT anomalies_details_object CHECK (jsonb_typeof(details) = 'object'),
    CONSTRAINT anomalies_once_per_evidence UNIQUE (session_id, rule, evidence_key)
);
-- operators: the newest anomalies, the worst first
CREATE INDEX anomalies_recent ON anomalies (created_at DESC);
CREATE INDEX anomalies_by_severity ON anomalies (severity, created_at DESC);
