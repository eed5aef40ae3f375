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


async def create_pool(dsn: str, *, schema: str | None = None, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose every connection uses `schema` (alone) as its search_path when given, else the server default."""
    server_settings = {"application_name": "ephemeral_vault"}
    if schema is not None:
        server_settings["search_path"] = check_schema_name(schema)
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, server_settings=server_settings, init=_init_connection
    )
    assert pool is not None  # create_pool returns None only when called without awaiting
    return pool
