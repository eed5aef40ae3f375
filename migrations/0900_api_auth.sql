-- API request authentication state shared by every API instance (api/auth.py, docs/api.md):
-- single-use nonces of signed requests and the per-parent-wallet rate limiter.

-- A nonce is remembered until its signature could no longer pass the timestamp check anyway
-- (request timestamp + AUTH_MAX_SKEW_SECONDS), so the table stays small.
CREATE TABLE api_nonces (
    wallet     text        NOT NULL,
    nonce      text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (wallet, nonce),
    CONSTRAINT api_nonces_wallet_base58 CHECK (is_base58_pubkey(wallet)),
    CONSTRAINT api_nonces_nonce_shape CHECK (nonce ~ '^[A-Za-z0-9_-]{16,64}$')
);
CREATE INDEX api_nonces_by_expiry ON api_nonces (expires_at);

-- Generic cell rate algorithm: one row per wallet holding its theoretical arrival time (TAT). A request at `now` is
-- admitted when TAT - now <= burst tolerance, then TAT advances by one emission interval (60 s / limit).
CREATE TABLE api_rate_limits (
    wallet text        PRIMARY KEY,
    tat    timestamptz NOT NULL,
    CONSTRAINT api_rate_limits_wallet_base58 CHECK (is_base58_pubkey(wallet))
);

-- Admit one signed request: rate limit first, then consume the nonce. Returns
--   0    admitted (the nonce is now spent),
--   -1   the nonce was already used by this wallet (replay),
--   > 0  rate limited: retry after this many seconds (the nonce is not spent).
-- One round trip per request; the row lock on api_rate_limits serialises one wallet's concurrent requests across
-- instances, so the limit holds however many API instances there are.
CREATE FUNCTION api_admit_request(
    p_wallet text, p_nonce text, p_nonce_ttl_seconds double precision, p_per_minute integer
) RETURNS double precision
    LANGUAGE plpgsql AS $$
DECLARE
    v_now      timestamptz := clock_timestamp();
    v_interval interval := make_interval(secs => 60.0 / p_per_minute);
    v_burst    interval := make_interval(secs => 60.0 / p_per_minute * (p_per_minute - 1));
    v_tat      timestamptz;
BEGIN
    INSERT INTO api_rate_limits (wallet, tat) VALUES (p_wallet, v_now) ON CONFLICT (wallet) DO NOTHING;
    SELECT greatest(tat, v_now) INTO v_tat FROM api_rate_limits WHERE wallet = p_wallet FOR UPDATE;
    IF v_tat - v_now > v_burst THEN
        RETURN greatest(extract(epoch FROM (v_tat - v_now - v_burst)), 0.001);
    END IF;
    UPDATE api_rate_limits SET tat = v_tat + v_interval WHERE wallet = p_wallet;

    -- This wallet's expired nonces go now (cheap: the primary key leads with wallet); other wallets' occasionally.
    DELETE FROM api_nonces WHERE wallet = p_wallet AND expires_at < v_now;
    IF random() < 0.01 THEN
        DELETE FROM api_nonces WHERE expires_at < v_now;
    END IF;
    INSERT INTO api_nonces (wallet, nonce, expires_at)
        VALUES (p_wallet, p_nonce, v_now + make_interval(secs => p_nonce_ttl_seconds))
        ON CONFLICT (wallet, nonce) DO NOTHING;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    RETURN 0;
END;
$$;
