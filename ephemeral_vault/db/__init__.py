"""PostgreSQL persistence (asyncpg, no ORM). One module per job:

- `pool.create_pool(dsn, schema=None)` — the pool every service uses;
- `migrate.apply_migrations(conn)` — schema migrations (CLI: `python -m ephemeral_vault.db.migrate`);
- `embedded.EmbeddedPostgres` — the local server for `make run` and tests without a server;
- `sessions`, `session_keys`, `ledger`, `metrics`, `audit` — typed data access, idempotent writes;
- `events` — NOTIFY on every state change and `listen_session_events(dsn)` for WebSocket fan-out;
- `status` — the session lifecycle; `errors` — the typed errors all of the above raise.
"""
