"""Operator routes: liveness, readiness (PostgreSQL + Temporal), Prometheus metrics. No authentication: they reveal
no session data (put /metrics behind the network boundary in production)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import get_metrics, get_temporal
from api.errors import ApiError
from api.metrics import CONTENT_TYPE
from api.models import HealthResponse, ReadinessCheck, ReadinessResponse

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_S = 3.0


@router.get("/healthz", response_model=HealthResponse, summary="Liveness: the process serves HTTP")
async def healthz() -> HealthResponse:
    return HealthResponse()


async def _check_postgres(request: Request) -> ReadinessCheck:
    pool = request.app.state.pool
    if pool is None:
        return ReadinessCheck(ok=False, error="no database pool")
    try:
        # Reachable AND migrated: the API's own function (0900_api_auth.sql) and the sessions table exist.
        migrated = await asyncio.wait_for(pool.fetchval(
            "SELECT to_regproc('api_admit_request') IS NOT NULL AND to_regclass('sessions') IS NOT NULL"),
            CHECK_TIMEOUT_S)
    except Exception as err:  # any failure means "not ready"; the type name is enough for an operator
        return ReadinessCheck(ok=False, error=f"unreachable ({type(err).__name__})")
    if not migrated:
        return ReadinessCheck(ok=False, error="migrations not applied (python -m ephemeral_vault.db.migrate)")
    return ReadinessCheck(ok=True)


async def _check_temporal(request: Request) -> ReadinessCheck:
    try:
        await asyncio.wait_for(get_temporal(request).check_health(), CHECK_TIMEOUT_S * 2)
    except ApiError as err:
        return ReadinessCheck(ok=False, error=err.code)
    except TimeoutError:
        return ReadinessCheck(ok=False, error="timeout")
    return ReadinessCheck(ok=True)


@router.get(
    "/readyz", response_model=ReadinessResponse,
    responses={503: {"model": ReadinessResponse, "description": "a dependency is unavailable"}},
    summary="Readiness: PostgreSQL answers a query and the Temporal frontend its health check",
)
async def readyz(request: Request) -> JSONResponse:
    postgres, temporal = await asyncio.gather(_check_postgres(request), _check_temporal(request))
    ready = postgres.ok and temporal.ok
    body = ReadinessResponse(status="ready" if ready else "not_ready", checks={"postgres": postgres,
                                                                               "temporal": temporal})
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())


@router.get(
    "/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text exposition format 0.0.4)",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"}},
)
async def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(get_metrics(request).render(), media_type=CONTENT_TYPE)
