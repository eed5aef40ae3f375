-- What happened on chain and who did what: transactions, delegations, cleanups, the audit trail, event sequence.

-- Every transaction the system submits for a session, keyed by its signature so a resent transaction (same
-- signature) is the same row. Status only moves forward: submitted → confirmed | failed (enforced below).
CREATE TABLE vault_transactions (
    signature     text        PRIMARY KEY,
    session_id    uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind          text        NOT NULL,
    lamports      bigint      NOT NULL DEFAULT 0,
    fee           bigint      NOT NULL DEFAULT 0,
    status        text        NOT NULL DEFAULT 'submitted',
    slot          bigint,
    error         text,
    trade_ref     uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    confirmed_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vault_transactions_signature_base58 CHECK (is_base58_signature(signature)),
    CONSTRAINT vault_transactions_kind_known
        CHECK (kind IN ('create', 'approve', 'open', 'deposit', 'trade', 'revoke', 'cleanup', 'sweep')),
    CONSTRAINT vault_transactions_status_known CHECK (status IN ('submitted', 'confirmed', 'failed')),
    CONSTRAINT vault_transactions_lamports_nonnegative CHECK (lamports >= 0),
    CONSTRAINT vault_transactions_fee_nonnegative CHECK (fee >= 0),
    CONSTRAINT vault_transactions_slot_nonnegative CHECK (slot >= 0),
    CONSTRAINT vault_transactions_trade_ref_only_on_trades CHECK (trade_ref IS NULL OR kind = 'trade'),
    CONSTRAINT vault_transactions_confirmed_has_time CHECK (status <> 'confirmed' OR confirmed_at IS NOT NULL)
);

-- One live transaction per trade: a second signature for the same trade_ref is a duplicate trade, unless the first
-- one failed (then a resubmission under a fresh blockhash is the retry, and it must be allowed).
CREATE UNIQUE INDEX vault_transactions_trade_ref_unique
    ON vault_transactions (session_id, trade_ref)
    WHERE trade_ref IS NOT NULL AND status <> 'failed';
-- a session's history, newest last (API, metrics, anomaly rules)
CREATE INDEX vault_transactions_by_session ON vault_transactions (session_id, created_at);
-- the monitor: transactions still waiting for confirmation
CREATE INDEX vault_transactions_pending ON vault_transactions (created_at) WHERE status = 'submitted';

CREATE FUNCTION vault_transactions_guard_status() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF NEW.status IS DISTINCT FROM OLD.status AND OLD.status <> 'submitted' THEN
        RAISE EXCEPTION 'transaction % is % and cannot become %', OLD.signature, OLD.status, NEW.status
            USING ERRCODE = 'EV002';
    END IF;
    IF NEW.session_id <> OLD.session_id OR NEW.kind <> OLD.kind THEN
        RAISE EXCEPTION 'transaction % cannot change its session or kind', OLD.signature USING ERRCODE = 'EV002';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER vault_transactions_guard_status
    BEFORE UPDATE ON vault_transactions
    FOR EACH ROW EXECUTE FUNCTION vault_transactions_guard_status();

-- Delegation approvals and revocations. Revocation is final for a session (docs/program-abi.md), so each event
-- happens at most once per session: (session_id, event) is the idempotency key.
CREATE TABLE delegation_history (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    event           text        NOT NULL,
    delegate        text        NOT NULL,
    delegation_pda  text        NOT NULL,
    signature       text,
    slot            bigint,
    at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT delegation_history_event_known CHECK (event IN ('approved', 'revoked')),
    CONSTRAINT delegation_history_delegate_base58 CHECK (is_base58_pubkey(delegate)),
    CONSTRAINT delegation_history_delegation_pda_base58 CHECK (is_base58_pubkey(delegation_pda)),
    CONSTRAINT delegation_history_signature_base58 CHECK (is_base58_signature(signature)),
    CONSTRAINT delegation_history_slot_nonnegative CHECK (slot >= 0),
    CONSTRAINT delegation_history_once_per_event UNIQUE (session_id, event)
);

-- Vault cleanups. A vault PDA is closed once (its seeds include a fresh delegate), so vault_pda is the idempotency
-- key. session_id is NULL for a vault the sweeper found on chain with no session row.
CREATE TABLE cleanup_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  uuid        REFERENCES sessions (id) ON DELETE CASCADE,
    vault_pda   text        NOT NULL,
    signature   text        NOT NULL,
    refunded    bigint      NOT NULL,
    reward      bigint      NOT NULL,
    cleaner     text        NOT NULL,
    trigger     text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cleanup_events_vault_pda_base58 CHECK (is_base58_pubkey(vault_pda)),
    CONSTRAINT cleanup_events_signature_base58 CHECK (is_base58_signature(signature)),
    CONSTRAINT cleanup_events_cleaner_base58 CHECK (is_base58_pubkey(cleaner)),
    CONSTRAINT cleanup_events_refunded_nonnegative CHECK (refunded >= 0),
    CONSTRAINT cleanup_events_reward_nonnegative CHECK (reward >= 0),
    CONSTRAINT cleanup_events_trigger_known CHECK (trigger IN ('timer', 'sweep', 'manual')),
    CONSTRAINT cleanup_events_once_per_vault UNIQUE (vault_pda),
    CONSTRAINT cleanup_events_signature_unique UNIQUE (signature)
);
CREATE INDEX cleanup_events_by_session ON cleanup_events (session_id);

-- Who did what. No foreign key on session_id on purpose: the trail must outlive any row it mentions.
CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    session_id  uuid,
    details     jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT audit_log_actor_nonempty CHECK (actor <> ''),
    CONSTRAINT audit_log_action_nonempty CHECK (action <> ''),
    CONSTRAINT audit_log_details_object CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_log_by_session ON audit_log (session_id, at);

-- Orders the NOTIFY events a WebSocket client receives; a gap tells it to re-read the session.
CREATE SEQUENCE session_event_seq;
