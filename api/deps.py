"""FastAPI dependencies: settings, the asyncpg pool, the Temporal gateway (all created in the app's lifespan) and the
two authentications. The security schemes are declared so the OpenAPI document says which routes need what."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Parent, admit, check_service_token, request_target, verify_signed_headers
from api.errors import ApiError
from api.events import EventHub
from api.metrics import ApiMetrics
from api.signing import HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_WALLET, body_sha256
from api.store import database_unavailable
from api.temporal import TemporalGateway
from ephemeral_vault.settings import Settings

_wallet = APIKeyHeader(name=HEADER_WALLET, scheme_name="EvWallet", auto_error=False,
                       description="the parent wallet (base58 public key) that signs the request")
_timestamp = APIKeyHeader(name=HEADER_TIMESTAMP, scheme_name="EvTimestamp", auto_error=False,
                          description="unix seconds; within AUTH_MAX_SKEW_SECONDS of the server clock")
_nonce = APIKeyHeader(name=HEADER_NONCE, scheme_name="EvNonce", auto_error=False,
                      description="single-use per wallet, 16-64 characters of [A-Za-z0-9_-]")
_signature = APIKeyHeader(name=HEADER_SIGNATURE, scheme_name="EvSignature", auto_error=False,
                          description="base58 ed25519 signature of the canonical message (docs/api.md)")
_service_bearer = HTTPBearer(scheme_name="ServiceToken", auto_error=False,
                             description="API_SERVICE_TOKEN, for the DEX integration (POST /session/trade)")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_pool(request: Request) -> asyncpg.Pool:
    pool = request.app.state.pool
    if pool is None:
        raise database_unavailable()
    return pool


def get_temporal(request: Request) -> TemporalGateway:
    return request.app.state.temporal


def get_hub(request: Request) -> EventHub:
    return request.app.state.hub


def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics


async def authenticated_parent(
    request: Request,
    wallet: Annotated[str | None, Depends(_wallet)],
    timestamp: Annotated[str | None, Depends(_timestamp)],
    nonce: Annotated[str | None, Depends(_nonce)],
    signature: Annotated[str | None, Depends(_signature)],
) -> Parent:
    settings = get_settings(request)
    metrics = get_metrics(request)
    body = await request.body()
    try:
        signed = verify_signed_headers(
            {HEADER_WALLET: wallet, HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce, HEADER_SIGNATURE: signature},
            method=request.method,
            target=request_target(request.scope.get("raw_path") or request.url.path.encode(),
                                  request.scope.get("query_string", b"")),
            body_sha256=body_sha256(body),
            settings=settings,
        )
        try:
            await admit(get_pool(request), signed, settings)
        except ApiError:
            raise
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            raise database_unavailable() from None
    except ApiError as err:
        if err.status in (401, 429):
            metrics.auth_failures.inc(err.code)
        raise
    return Parent(wallet=signed.wallet)


async def service_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_service_bearer)]
) -> None:
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else request.headers.get("authorization")
    try:
        check_service_token(header, get_settings(request))
    except ApiError as err:
        get_metrics(request).auth_failures.inc(err.code)
        raise


def require_json(request: Request) -> None:
    """POST bodies are JSON: anything else is 415 rather than a confusing validation error."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send the body as application/json", field="Content-Type")


ParentDep = Annotated[Parent, Depends(authenticated_parent)]
PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]
TemporalDep = Annotated[TemporalGateway, Depends(get_temporal)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
