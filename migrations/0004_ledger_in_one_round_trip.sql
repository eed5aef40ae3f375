-- The ledger's hottest write in one round trip. Recording a transaction (ephemeral_vault/db/ledger.py) ran as five
-- statements from the worker — BEGIN, the insert-or-advance, the metrics refresh, the event, COMMIT — and a session's
-- lifecycle records 16 of them (submitted, then confirmed, for each of its 8 transactions): well over half of all
-- the statements a lifecycle sends (docs/benchmarks.md). The same work now runs inside the server, as one statement,
-- which is also one transaction. The metrics refresh and the event are functions of their own, called from Python
-- too, so each is written once.

-- Recompute one session's metrics from its transactions and store them (idempotent, self-healing: see
-- ephemeral_vault/db/metrics.py). Returns the stored row; NULL when there is no such session.
CREATE FUNCTION session_metrics_refresh(p_session_id uuid, p_deposit_kinds text[]) RETURNS session_metrics
    LANGUAGE sql AS $$
    WITH tx AS (
        SELECT
            count(*) FILTER (WHERE kind = 'trade' AND status = 'confirmed')                          AS trade_count,
            count(*) FILTER (WHERE status = 'failed')                                                 AS failed_tx_count,
            count(*) FILTER (WHERE status = 'submitted')                                              AS pending_tx_count,
            coalesce(sum(fee) FILTER (WHERE kind = 'trade' AND status = 'confirmed'), 0)              AS fees_total,
            coalesce(sum(lamports) FILTER (WHERE kind = ANY (p_deposit_kinds) AND status = 'confirmed'), 0)
                                                                                                      AS deposits_total,
            min(created_at) FILTER (WHERE kind = 'trade' AND status = 'confirmed')                    AS first_trade_at,
            max(created_at) FILTER (WHERE kind = 'trade' AND status = 'confirmed')                    AS last_trade_at,
            max(created_at)                                                                           AS last_tx_at
        FROM vault_transactions WHERE session_id = p_session_id
    )
    INSERT INTO session_metrics AS m
        (session_id, trade_count, failed_tx_count, pending_tx_count, fees_total, deposits_total, max_deposit,
         utilisation, first_trade_at, last_trade_at, duration_s, updated_at)
    SELECT s.id, tx.trade_count, tx.failed_tx_count, tx.pending_tx_count, tx.fees_total, tx.deposits_total,
           s.max_deposit,
           round(tx.deposits_total::numeric / s.max_deposit, 6),
           tx.first_trade_at, tx.last_trade_at,
           greatest(0, floor(extract(epoch FROM
               coalesce(s.closed_at, greatest(tx.last_tx_at, s.activated_at), s.created_at)
               - coalesce(s.activated_at, s.created_at))))::bigint,
           now()
    FROM sessions s, tx
    WHERE s.id = p_session_id
    ON CONFLICT (session_id) DO UPDATE
    SET trade_count = excluded.trade_count, failed_tx_count = excluded.failed_tx_count,
        pending_tx_count = excluded.pending_tx_count, fees_total = excluded.fees_total,
        deposits_total = excluded.deposits_total, max_deposit = excluded.max_deposit,
        utilisation = excluded.utilisation, first_trade_at = excluded.first_trade_at,
        last_trade_at = excluded.last_trade_at, duration_s = excluded.duration_s, updated_at = now()
    RETURNING m.*
$$;

-- Queue one session event on the current transaction (delivered at commit, dropped on rollback), in
-- `SessionEvent.to_json`'s shape (ephemeral_vault/db/events.py reads it back). Returns its sequence number and time.
CREATE FUNCTION session_event_notify(
    p_channel text, p_session_id uuid, p_kind text, p_data jsonb, p_parent_wallet text, p_status text
) RETURNS TABLE (seq bigint, at timestamptz)
    LANGUAGE plpgsql AS $$
BEGIN
    seq := nextval('session_event_seq');
    at := now();
    PERFORM pg_notify(p_channel, (
        jsonb_build_object('seq', seq, 'session_id', p_session_id, 'parent_wallet', p_parent_wallet,
                           'kind', p_kind, 'status', p_status, 'at', at)
        || CASE WHEN p_data IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('data', p_data) END
    )::text);
    RETURN NEXT;
END;
$$;

-- Insert a transaction, or move a recorded one forward (submitted → confirmed | failed); then refresh the session's
-- metrics and queue a `transaction` event carrying the session's current status. Returns the stored row and whether
-- it was inserted; no row when nothing changed (a final status is never overwritten, and a signature recorded under
-- another session or kind is left alone: the caller reads the stored row to tell the two apart). Constraint
-- violations raise as they would from the INSERT itself.
CREATE FUNCTION vault_transaction_record(
    p_signature text, p_session_id uuid, p_kind text, p_lamports bigint, p_fee bigint, p_status text, p_slot bigint,
    p_error text, p_trade_ref uuid, p_at timestamptz, p_deposit_kinds text[], p_channel text
) RETURNS TABLE (tx vault_transactions, inserted boolean)
    LANGUAGE plpgsql AS $$
DECLARE
    v_written       record;
    v_parent_wallet text;
    v_status        text;
BEGIN
    INSERT INTO vault_transactions AS t
        (signature, session_id, kind, lamports, fee, status, slot, error, trade_ref, created_at, confirmed_at)
    VALUES (p_signature, p_session_id, p_kind, p_lamports, p_fee, p_status, p_slot, p_error, p_trade_ref,
            coalesce(p_at, now()), CASE WHEN p_status = 'confirmed' THEN coalesce(p_at, now()) END)
    ON CONFLICT (signature) DO UPDATE
    SET status = excluded.status,
        slot = coalesce(excluded.slot, t.slot),
        error = coalesce(excluded.error, t.error),
        fee = CASE WHEN excluded.fee > 0 THEN excluded.fee ELSE t.fee END,
        confirmed_at = excluded.confirmed_at
    WHERE t.status = 'submitted' AND excluded.status <> 'submitted'
      AND t.session_id = excluded.session_id AND t.kind = excluded.kind
    RETURNING t AS row, (t.xmax = 0) AS inserted INTO v_written;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    tx := v_written.row;
    inserted := v_written.inserted;
    PERFORM session_metrics_refresh(p_session_id, p_deposit_kinds);
    SELECT s.parent_wallet, s.status INTO v_parent_wallet, v_status FROM sessions s WHERE s.id = p_session_id;
    PERFORM session_event_notify(
        p_channel, p_session_id, 'transaction',
        jsonb_build_object('signature', (tx).signature, 'tx_kind', (tx).kind, 'tx_status', (tx).status,
                           'lamports', (tx).lamports, 'fee', (tx).fee),
        v_parent_wallet, v_status);
    RETURN NEXT;
END;
$$;
