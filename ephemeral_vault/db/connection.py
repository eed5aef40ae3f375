"""Functions in this package take either a pool or a connection (`Db`); `transaction(db)` gives one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

Db = asyncpg.Pool | asyncpg.Connection


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on `db`. Given a connection already in a transaction, this nests (a savepoint), so repository
    calls compose inside a caller's transaction and commit or roll back with it."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with db.transaction():
            yield db
