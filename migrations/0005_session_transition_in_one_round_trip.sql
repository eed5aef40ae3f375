-- A session's status change in one round trip (ephemeral_vault/db/sessions.py `transition_status`): the row lock, the
-- lifecycle check, the update, the audit row and the event ran as six statements from the worker (BEGIN, SELECT …
-- FOR UPDATE, UPDATE, the audit INSERT, the event, COMMIT), three times per session lifecycle.
--
-- Returns the session row as it stands after the call, the status it had before, and the outcome: 'changed',
-- 'unchanged' (it already had the target status: nothing written, an idempotent retry) or 'refused' (the lifecycle
-- does not allow the move: nothing written; the caller raises). No row when there is no such session.
CREATE FUNCTION session_transition(
    p_session_id uuid, p_target text, p_last_error text, p_session_expiry timestamptz, p_actor text, p_details jsonb,
    p_channel text
) RETURNS TABLE (session_row sessions, previous_status text, outcome text)
    LANGUAGE plpgsql AS $$
BEGIN
    SELECT s.* INTO session_row FROM sessions s WHERE s.id = p_session_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    previous_status := (session_row).status;
    IF previous_status = p_target THEN
        outcome := 'unchanged';
        RETURN NEXT;
        RETURN;
    END IF;
    IF NOT session_transition_allowed(previous_status, p_target) THEN
        outcome := 'refused';
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE sessions AS s
    SET status = p_target,
        last_error = coalesce(p_last_error, s.last_error),
        session_expiry = coalesce(p_session_expiry, s.session_expiry)
    WHERE s.id = p_session_id
    RETURNING s.* INTO session_row;
    INSERT INTO audit_log (actor, action, session_id, details)
    VALUES (coalesce(p_actor, 'unknown'), 'session.status', p_session_id,
            jsonb_build_object('from', previous_status, 'to', p_target) || coalesce(p_details, '{}'::jsonb));
    PERFORM session_event_notify(p_channel, p_session_id, 'session', NULL, (session_row).parent_wallet, p_target);
    outcome := 'changed';
    RETURN NEXT;
END;
$$;
