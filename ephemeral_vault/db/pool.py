"""Connection pools. One place decides how every connection is set up (search_path, JSON codecs)."""

from __future__ import annotations

import json
import re

import asyncpg

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    """Schema names are spliced into SQL (identifiers cannot be bind parameters), so only plain names pass."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
    return schema


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb columns in and out as Python objects rather than strings.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PooledConnection(asyncpg.Connection):
    """A pooled connection that goes back into the pool without asyncpg's reset statement.

    asyncpg resets every connection it takes back with `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`:
    one more round trip per acquire, and four statements for the server — about one in five of the statements a
    session's lifecycle sends (docs/benchmarks.md). Nothing in this project leaves that state on a pooled connection:
    it never LISTENs on one (the API's listener has a connection of its own), takes advisory locks only on a
    connection of its own (migrations), never SETs a session variable, and opens cursors only inside transactions,
    which close them. A transaction left open is still rolled back on release: asyncpg sends ROLLBACK before (and
    whatever) this query. Code that does need session state must use a connection of its own, not the pool."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(dsn: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose every connection uses `schema` (alone) as its search_path when given, else the server default."""
    server_settings = {"application_name": "ephemeral_vault"}
    if schema is not None:
        server_settings["search_path"] = check_schema_name(schema)
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings=server_settings, init=_init_connection,
        connection_class=PooledConnection,
    )
    assert pool is not None  # create_pool returns None only when called without awaiting
    return pool
