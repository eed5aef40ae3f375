-- Sessions and their encrypted ephemeral keys.
-- Every object is created unqualified, so it lands in the first schema of search_path (tests use one schema each).

-- A Solana public key in base58: 32 bytes encode to 32..44 characters of the Bitcoin alphabet (no 0, O, I, l).
CREATE FUNCTION is_base58_pubkey(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN value ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$';

-- A transaction signature in base58: 64 bytes encode to 64..88 characters.
CREATE FUNCTION is_base58_signature(value text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN value ~ '^[1-9A-HJ-NP-Za-km-z]{64,88}$';

CREATE TABLE sessions (
    id                  uuid        PRIMARY KEY,
    status              text        NOT NULL DEFAULT 'CREATED',
    parent_wallet       text        NOT NULL,
    ephemeral_pubkey    text        NOT NULL,
    vault_pda           text        NOT NULL,
    delegation_pda      text        NOT NULL,
    max_deposit         bigint      NOT NULL,
    session_duration_s  integer     NOT NULL,
    session_expiry      timestamptz NOT NULL,
    workflow_id         text        NOT NULL,
    -- last vault balance the backend observed on chain; NULL until the first observation
    vault_balance       bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    activated_at        timestamptz,
    closed_at           timestamptz,
    last_error          text,
    CONSTRAINT sessions_status_known
        CHECK (status IN ('CREATED', 'ACTIVE', 'REVOKED', 'EXPIRED', 'CLEANED', 'ABANDONED')),
    CONSTRAINT sessions_parent_wallet_base58 CHECK (is_base58_pubkey(parent_wallet)),
    CONSTRAINT sessions_ephemeral_pubkey_base58 CHECK (is_base58_pubkey(ephemeral_pubkey)),
    CONSTRAINT sessions_vault_pda_base58 CHECK (is_base58_pubkey(vault_pda)),
    CONSTRAINT sessions_delegation_pda_base58 CHECK (is_base58_pubkey(delegation_pda)),
    CONSTRAINT sessions_max_deposit_positive CHECK (max_deposit > 0),
    CONSTRAINT sessions_vault_balance_nonnegative CHECK (vault_balance >= 0),
    CONSTRAINT sessions_duration_positive CHECK (session_duration_s > 0),
    CONSTRAINT sessions_workflow_id_nonempty CHECK (workflow_id <> ''),
    CONSTRAINT sessions_ephemeral_pubkey_unique UNIQUE (ephemeral_pubkey),
    CONSTRAINT sessions_vault_pda_unique UNIQUE (vault_pda),
    -- lets session_keys prove its pubkey is the session's (composite foreign key below)
    CONSTRAINT sessions_id_ephemeral_pubkey_unique UNIQUE (id, ephemeral_pubkey)
);

-- GET /sessions?parent=…: newest first, keyset-paged on (created_at, id).
CREATE INDEX sessions_by_parent ON sessions (parent_wallet, created_at DESC, id DESC);
-- operator views and the monitor: sessions in a status, by expiry.
CREATE INDEX sessions_by_status_expiry ON sessions (status, session_expiry);
-- the sweeper: sessions that may still hold a vault on chain, by expiry.
CREATE INDEX sessions_open_by_expiry ON sessions (session_expiry)
    WHERE status IN ('ACTIVE', 'REVOKED', 'EXPIRED');

-- The lifecycle (DESIGN.md §4), enforced here so that no writer, whatever its code path, can skip a state.
-- ephemeral_vault/db/status.py holds the same table; a test proves the two agree on every pair.
CREATE FUNCTION session_transition_allowed(from_status text, to_status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (from_status, to_status) IN (
        ('CREATED', 'ACTIVE'), ('CREATED', 'ABANDONED'),
        ('ACTIVE', 'REVOKED'), ('ACTIVE', 'EXPIRED'),
        ('REVOKED', 'CLEANED'), ('EXPIRED', 'CLEANED')
    );

CREATE FUNCTION sessions_guard_status() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'CREATED' THEN
            RAISE EXCEPTION 'session % must start in CREATED, not %', NEW.id, NEW.status
                USING ERRCODE = 'EV001', HINT = 'insert as CREATED, then transition';
        END IF;
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT session_transition_allowed(OLD.status, NEW.status) THEN
            RAISE EXCEPTION 'session % cannot go from % to %', OLD.id, OLD.status, NEW.status
                USING ERRCODE = 'EV001';
        END IF;
        IF NEW.status = 'ACTIVE' THEN
            NEW.activated_at := coalesce(NEW.activated_at, now());
        ELSIF NEW.status IN ('CLEANED', 'ABANDONED') THEN
            NEW.closed_at := coalesce(NEW.closed_at, now());
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER sessions_guard_status
    BEFORE INSERT OR UPDATE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_guard_status();

-- The ephemeral secret, encrypted (envelope encryption, DESIGN.md §5). Never plaintext: the ciphertext of a 64-byte
-- secret under any AEAD is longer than 64 bytes, so a 64-byte value here can only be a raw secret and is refused.
CREATE TABLE session_keys (
    session_id        uuid        PRIMARY KEY,
    ephemeral_pubkey  text        NOT NULL,
    kek_id            text        NOT NULL,
    wrapped_dek       bytea,
    dek_nonce         bytea,
    secret_ciphertext bytea       NOT NULL,
    secret_nonce      bytea       NOT NULL,
    alg               text        NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    shredded_at       timestamptz,
    rotated_at        timestamptz,
    CONSTRAINT session_keys_session_fk FOREIGN KEY (session_id, ephemeral_pubkey)
        REFERENCES sessions (id, ephemeral_pubkey) ON DELETE CASCADE,
    CONSTRAINT session_keys_ciphertext_not_raw_secret CHECK (octet_length(secret_ciphertext) > 64),
    CONSTRAINT session_keys_kek_id_nonempty CHECK (kek_id <> ''),
    CONSTRAINT session_keys_alg_nonempty CHECK (alg <> ''),
    -- crypto-shredding means the wrapped data key is gone for good
    CONSTRAINT session_keys_shredded_has_no_dek CHECK (shredded_at IS NULL OR wrapped_dek IS NULL)
);
