"""The application factory. Everything stateful (pool, Temporal client, event listener) is created in the lifespan and
hangs off `app.state`; nothing about sessions is kept in memory, so any number of instances can run side by side."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.errors import install_error_handlers
from api.events import EventHub
from api.metrics import ApiMetrics, BodyLimitMiddleware, MetricsMiddleware
from api.routes import health, sessions, ws
from api.signing import AUTH_HEADERS
from api.temporal import TemporalGateway
from ephemeral_vault.db.pool import check_schema_name, create_pool
from ephemeral_vault.settings import Settings

log = logging.getLogger("api")

DESCRIPTION = """\
Session wallets for Solana dark-pool traders. A parent wallet signs once to open a session: a PDA vault holds a
bounded SOL float and a backend-held ephemeral key trades until the session expires or the parent revokes it.

**Authentication.** Requests acting for a parent carry `X-EV-Wallet`, `X-EV-Timestamp`, `X-EV-Nonce` and
`X-EV-Signature`: the wallet's ed25519 signature (base58) over the canonical message described in docs/api.md
(method, request target, SHA-256 of the body, wallet, timestamp, single-use nonce). `POST /session/trade` is called by
the DEX integration with `Authorization: Bearer <API_SERVICE_TOKEN>`.

**Errors.** Every non-2xx answer is `{"error": {"code", "message", "field", "details"}}`.

**Live events.** `WS /ws/session` streams the parent's session events (not shown in this document; see docs/api.md).
"""


def database_dsn(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server `make run` starts (settings.embedded_pg_port)."""
    if settings.database_url:
        return settings.database_url
    return f"postgresql://postgres@127.0.0.1:{settings.embedded_pg_port}/postgres"


def create_app(settings: Settings, *, db_schema: str | None = None) -> FastAPI:
    """`db_schema` pins every connection's search_path (tests run each in a schema of their own)."""
    if db_schema is not None:
        check_schema_name(db_schema)
    dsn = database_dsn(settings)

    async def listen_connection() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, timeout=5)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # min_size=0: the API starts (and /readyz says why it is not ready) while PostgreSQL is still down.
        app.state.pool = await create_pool(dsn, schema=db_schema, min_size=0, max_size=10)
        app.state.hub.start()
        try:
            yield
        finally:
            await app.state.hub.stop()
            await app.state.pool.close()

    app = FastAPI(
        title="Ephemeral Vault API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "sessions", "description": "session lifecycle, one workflow per session"},
            {"name": "operations", "description": "health, readiness, metrics"},
        ],
    )
    app.state.settings = settings
    app.state.pool = None
    app.state.temporal = TemporalGateway(settings)
    metrics = ApiMetrics(ws_connections=lambda: app.state.hub.subscriber_count)
    app.state.metrics = metrics
    app.state.hub = EventHub(listen_connection, on_event=lambda: metrics.ws_events.inc())

    install_error_handlers(app)
    app.include_router(sessions.router)
    app.include_router(health.router)
    app.include_router(ws.router)
    # add_middleware wraps: the last added is outermost. Order of a request: metrics, CORS, body cap, the app.
    app.add_middleware(BodyLimitMiddleware, limit=settings.api_max_body_bytes)
    origins = [o.strip() for o in settings.api_cors_origins.split(",") if o.strip()]
    if origins:
        # Browsers preflight the X-EV-* headers; the signature, not the origin, is what authenticates.
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_credentials=False,
            allow_headers=["Content-Type", "Authorization", *AUTH_HEADERS], expose_headers=["Retry-After"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _combine_signature_schemes(app)
    return app


_SIGNED = ("EvWallet", "EvTimestamp", "EvNonce", "EvSignature")


def _combine_signature_schemes(app: FastAPI) -> None:
    """FastAPI lists each header scheme as an alternative (OR); a signed request needs all four at once (AND)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                security = operation.get("security") if isinstance(operation, dict) else None
                if security and {name for req in security for name in req} == set(_SIGNED):
                    operation["security"] = [{key: [] for key in _SIGNED}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
