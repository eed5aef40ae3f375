"""Re-wrap every live session key to the active KEK: `python -m ephemeral_vault.custody.rotate`.

Rotation procedure (environment KEKs): add the new `id:key` to KEK_KEYS and set KEK_ACTIVE_ID to it, restart the
workers (new sessions now use it, old rows still decrypt), run this command, then remove the old id from KEK_KEYS.

How it walks the table: keyset pages of `--batch-size` rows in session_id order, each page in its own transaction
holding row locks (`FOR UPDATE`), so a concurrent shred waits for the page and then wins — a re-wrapped data key is
never written over a shredded row — and a crash loses at most one uncommitted page. Only rows with a data key whose
kek_id differs from the active one are touched: running it again is a no-op. Secret ciphertexts are never read into
plaintext; only the 32-byte data key passes through memory, as in `rewrap`. Each re-wrap goes through
`ephemeral_vault.db.session_keys.record_key_rotation`, which also writes a `session_key.rotated` audit row.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import uuid
from dataclasses import dataclass, field

import asyncpg

from ephemeral_vault.custody.envelope import rewrap
from ephemeral_vault.custody.errors import CustodyError
from ephemeral_vault.custody.kek import KekProvider
from ephemeral_vault.custody.providers import kek_from_settings
from ephemeral_vault.custody.sealed_key import SealedKey
from ephemeral_vault.db.session_keys import record_key_rotation

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
ROTATION_ACTOR = "custody.rotate"  # audit_log.actor of every re-wrap
_FIRST_ID = uuid.UUID(int=0)

_SELECT_PAGE = """
    SELECT session_id, ephemeral_pubkey, kek_id, wrapped_dek, dek_nonce, secret_ciphertext, secret_nonce, alg
    FROM session_keys
    WHERE session_id > $1 AND wrapped_dek IS NOT NULL AND shredded_at IS NULL AND kek_id <> $2
    ORDER BY session_id
    LIMIT $3
    FOR UPDATE
"""
_COUNTS = """
    SELECT count(*) FILTER (WHERE wrapped_dek IS NOT NULL AND shredded_at IS NULL AND kek_id = $1) AS current,
           count(*) FILTER (WHERE wrapped_dek IS NULL OR shredded_at IS NOT NULL) AS shredded,
           count(*) AS total
    FROM session_keys
"""


@dataclass
class RotationFailure:
    session_id: uuid.UUID
    error: str  # a CustodyError's class and message: never key material


@dataclass
class RotationReport:
    active_kek_id: str
    rewrapped: int = 0
    batches: int = 0
    failures: list[RotationFailure] = field(default_factory=list)
    # table totals after the run
    on_active_kek: int = 0
    shredded: int = 0
    total: int = 0

    def summary(self) -> str:
        return (
            f"rotate: active_kek_id={self.active_kek_id} rewrapped={self.rewrapped} failed={len(self.failures)} "
            f"batches={self.batches} on_active_kek={self.on_active_kek} shredded={self.shredded} total={self.total}"
        )


async def rotate_session_keys(
    conn: asyncpg.Connection,
    old: KekProvider,
    new_active: KekProvider | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> RotationReport:
    """Re-wrap every non-shredded row of `session_keys` (in the connection's search_path) under `new_active`.

    `old` must be able to unwrap every kek_id still in the table (an EnvKek listing all ids, or a KekRing);
    `new_active` defaults to `old`, whose active key then becomes every row's key. A row that cannot be re-wrapped
    (unknown id, failed authentication) is left untouched and reported; the others proceed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    target = new_active or old
    report = RotationReport(active_kek_id=target.kek_id)
    after = _FIRST_ID
    while True:
        async with conn.transaction():
            rows = await conn.fetch(_SELECT_PAGE, after, target.kek_id, batch_size)
            if not rows:
                break
            for row in rows:
                try:
                    rotated = rewrap(SealedKey.from_record(row), old, target)
                except CustodyError as exc:
                    report.failures.append(RotationFailure(row["session_id"], f"{type(exc).__name__}: {exc}"))
                    continue
                assert rotated.wrapped_dek is not None  # rewrap never returns a shredded key
                # The data-access layer's update also writes the audit row, in this page's transaction.
                await record_key_rotation(
                    conn,
                    rotated.session_id,
                    kek_id=rotated.kek_id,
                    wrapped_dek=rotated.wrapped_dek,
                    dek_nonce=rotated.dek_nonce,
                    actor=ROTATION_ACTOR,
                )
                report.rewrapped += 1
        report.batches += 1
        after = rows[-1]["session_id"]
        log.info("rotate: batch %d committed, %d re-wrapped so far", report.batches, report.rewrapped)
    counts = await conn.fetchrow(_COUNTS, target.kek_id)
    report.on_active_kek, report.shredded, report.total = counts["current"], counts["shredded"], counts["total"]
    return report


async def _run(database_url: str, schema: str | None, batch_size: int) -> RotationReport:
    kek = kek_from_settings()
    server_settings = {"application_name": "ephemeral_vault.rotate"}
    if schema:
        from ephemeral_vault.db.pool import check_schema_name

        server_settings["search_path"] = check_schema_name(schema)
    conn = await asyncpg.connect(database_url, server_settings=server_settings)
    try:
        return await rotate_session_keys(conn, kek, batch_size=batch_size)
    finally:
        await conn.close()


def _database_url() -> str:
    from ephemeral_vault.settings import settings_or_exit

    settings = settings_or_exit()
    if settings.database_url:
        return settings.database_url
    from ephemeral_vault.db.embedded import EmbeddedPostgres  # the `make run` default, as the migrate command does

    return EmbeddedPostgres(settings.embedded_pg_dir, settings.embedded_pg_port).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ephemeral_vault.custody.rotate", description="Re-wrap every live session key to the active KEK."
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per transaction")
    parser.add_argument("--schema", default=None, help="schema holding session_keys (default: the server's path)")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report = asyncio.run(_run(_database_url(), args.schema, args.batch_size))
    except (CustodyError, ValueError, asyncpg.PostgresError, OSError) as exc:
        print(f"rotate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    for failure in report.failures:
        print(f"rotate: session {failure.session_id} not re-wrapped: {failure.error}", file=sys.stderr)
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
