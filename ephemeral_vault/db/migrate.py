"""Apply `migrations/NNNN_name.sql` in order, once each, recording a sha256 of every applied file.

Rules:
- files are applied in version order, each in its own transaction together with its `schema_migrations` row, so a
  failing file leaves nothing behind and the next run retries it;
- an applied file whose content changed is refused (`MigrationChecksumError` names the file): fix forward with a new
  file instead, because databases that already ran the old text would silently diverge from new ones;
- a session-level advisory lock, keyed by the target schema, serialises concurrent runners (several workers starting
  at once): the second waits, then finds everything applied;
- everything happens in the connection's current schema (the first of its search_path), which is how tests get one
  isolated schema each.

CLI: `python -m ephemeral_vault.db.migrate` migrates settings.database_url or, when it is unset, the embedded server
under settings.embedded_pg_dir (started if needed and left running for `make run`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ephemeral_vault.settings import REPO_ROOT

MIGRATIONS_DIR = REPO_ROOT / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# First key of the two-key advisory lock: "this is a migration lock"; the second key is the schema's hash.
_LOCK_NAMESPACE = 0x45_56_4D_47  # "EVMG"


class MigrationError(RuntimeError):
    """Migrations cannot be applied as they stand; the message names the file and the reason."""


class MigrationChecksumError(MigrationError):
    """An applied migration file was edited after it ran."""


class DatabaseUrlError(ValueError):
    """DATABASE_URL cannot be used to connect (bad port, unknown sslmode, …). The message never contains the URL."""


@dataclass(frozen=True)
class Migration:
    version: int
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order. Stray `.sql` names and duplicate versions are errors, not skipped."""
    migrations: list[Migration] = []
    seen: dict[int, str] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files must be named NNNN_lower_snake_name.sql")
        version = int(match["version"])
        if version in seen:
            raise MigrationError(f"{path.name}: version {version:04d} is also used by {seen[version]}")
        seen[version] = path.name
        migrations.append(Migration(version=version, filename=path.name, sql=path.read_text(encoding="utf-8")))
    return migrations


async def apply_migrations(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the connection's current schema up to date. Returns the file names applied by this call (in order)."""
    migrations = discover_migrations(directory)
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        raise MigrationError("no current schema: the connection's search_path names no existing schema")
    await conn.execute("SELECT pg_advisory_lock($1, hashtext($2))", _LOCK_NAMESPACE, schema)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                filename   text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            row["version"]: (row["filename"], row["checksum"])
            for row in await conn.fetch("SELECT version, filename, checksum FROM schema_migrations")
        }
        _check_applied_unchanged(migrations, applied, schema, directory)
        done: list[str] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            await _apply_one(conn, migration, schema)
            done.append(migration.filename)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_NAMESPACE, schema)


def _check_applied_unchanged(
    migrations: list[Migration], applied: dict[int, tuple[str, str]], schema: str, directory: Path
) -> None:
    on_disk = {m.version: m for m in migrations}
    for version, (filename, checksum) in sorted(applied.items()):
        migration = on_disk.get(version)
        if migration is None:
            raise MigrationError(
                f"{filename} is applied in schema {schema!r} but missing from {directory}: "
                "restore the file (applied migrations are never deleted)"
            )
        if migration.checksum != checksum:
            raise MigrationChecksumError(
                f"{migration.filename} was edited after it was applied in schema {schema!r} "
                f"(sha256 recorded {checksum[:12]}…, on disk {migration.checksum[:12]}…): "
                "restore it and put the change in a new migration file"
            )


async def _apply_one(conn: asyncpg.Connection, migration: Migration, schema: str) -> None:
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, filename, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.filename,
                migration.checksum,
            )
    except asyncpg.PostgresError as err:
        raise MigrationError(f"{migration.filename} failed in schema {schema!r}: {err}") from err


async def _migrate_from_settings() -> list[str]:
    from ephemeral_vault.db.embedded import EmbeddedPostgres
    from ephemeral_vault.settings import settings_or_exit

    settings = settings_or_exit()
    dsn = settings.database_url
    if dsn is None:
        dsn = EmbeddedPostgres(settings.embedded_pg_dir, settings.embedded_pg_port).start()
    try:
        conn = await asyncpg.connect(dsn)
    except (ValueError, OverflowError) as err:
        # ValueError includes asyncpg's ClientConfigurationError; OverflowError: a port outside 0..65535.
        raise DatabaseUrlError(f"DATABASE_URL is not a usable PostgreSQL URL: {_redact(str(err), dsn)}") from None
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def _redact(message: str, dsn: str) -> str:
    """`message` without the DSN, its user:password part or a `password=` parameter (the error texts of the URL
    parsers may quote any of them)."""
    secrets = [dsn, *re.findall(r"[?&]password=([^&]*)", dsn)]
    userinfo = re.match(r"^[^:/]+://([^/?#]*)@", dsn)
    if userinfo:
        secrets.append(userinfo[1])
        secrets.append(userinfo[1].partition(":")[2])
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


def main() -> int:
    from ephemeral_vault.db.embedded import EmbeddedPostgresError

    try:
        applied = asyncio.run(_migrate_from_settings())
    except (MigrationError, DatabaseUrlError, EmbeddedPostgresError, asyncpg.PostgresError, OSError) as err:
        # OSError: the server is unreachable (connection refused, unknown host)
        print(f"migrate: {err}", file=sys.stderr)
        return 1
    print("migrate: applied " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
