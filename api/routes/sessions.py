"""Session lifecycle routes. Each one: authenticate, check the caller owns the session, make ONE workflow call,
translate the answer. No session state lives here (any instance can serve any request)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query

from api import store
from api.deps import ParentDep, PoolDep, TemporalDep, require_json, service_caller
from api.errors import ApiError, session_not_found
from api.models import (
    AnomalyItem,
    AnomalyListResponse,
    ApproveBody,
    ApproveResponse,
    CreateSessionBody,
    CreateSessionResponse,
    DepositBody,
    DepositQuoteResponse,
    DepositResponse,
    ErrorResponse,
    RefreshOpeningBody,
    RevokeBody,
    RevokeResponse,
    SessionListResponse,
    SessionStatusResponse,
    SessionSummary,
    Severity,
    SubmitDepositBody,
    TradeBody,
    TradeResponse,
)
from api.temporal import TemporalGateway, WorkflowGone
from ephemeral_vault.db.models import Session
from workflows import messages as wf

router = APIRouter(tags=["sessions"])
T = TypeVar("T")

# A retried create with the same idempotency key maps to the same session id, per wallet: two wallets using the same
# key get different sessions, so a key can never reach another parent's session.
IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1d9a3e-2c4b-5e8f-9a7b-1c2d3e4f5a6b")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "the body is not valid JSON",
        401: "missing, malformed, stale, replayed or foreign signature (or service token)",
        403: "the route is closed on this server (API_SERVICE_TOKEN unset)",
        404: "no such session for this wallet (another parent's session answers the same)",
        409: "the session's state does not allow this; `details.current_status` says which state it is in",
        410: "the session has expired or was revoked",
        413: "request body too large",
        415: "the body is not application/json",
        422: "invalid input (`field` names it) or a rejection by the workflow/program (`details.program_error`)",
        429: "rate limit of this wallet exceeded; see Retry-After",
        502: "the chain rejected the transaction for a non-program reason",
        503: "PostgreSQL or Temporal unavailable; retry later",
        504: "the workflow did not answer in time",
    }
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorResponse, "description": text[s]} for s in statuses}
    if 429 in responses:
        responses[429]["headers"] = {"Retry-After": {
            "description": "seconds until this wallet may send again", "required": True,
            "schema": {"type": "integer", "minimum": 1}}}
    return responses


_COMMON = (400, 401, 413, 422, 429, 503, 504)
_POST = (*_COMMON, 415)
_JSON = [Depends(require_json)]


async def _owned_row(pool: Any, session_id: uuid.UUID, wallet: str) -> Session:
    row = await store.owned_session(pool, session_id, wallet)
    if row is None:
        raise session_not_found(session_id)
    return row


async def _update(temporal: TemporalGateway, pool: Any, session_id: uuid.UUID, name: str, arg: Any,
                  result_type: type[T]) -> T:
    """One workflow update. A closed workflow, or an InvalidState rejection, becomes 409 with the current state."""
    try:
        return await temporal.update(str(session_id), name, arg, result_type)
    except WorkflowGone:
        current = await store.current_status(pool, session_id)
        if current is None:
            raise session_not_found(session_id) from None
        raise ApiError(409, "invalid_state", f"the session is closed (status {current})",
                       details={"current_status": current}) from None
    except ApiError as err:
        if err.status == 409 and not (err.details or {}).get("current_status"):
            current = await store.current_status(pool, session_id)
            err.details = {**(err.details or {}), "current_status": current}
        raise


@router.post(
    "/session/create", status_code=201, response_model=CreateSessionResponse, responses=_errors(*_POST, 409),
    dependencies=_JSON,
    summary="Open a session for the signing parent wallet",
    description="Starts the session workflow (update-with-start) and returns once the ephemeral key is provisioned: "
                "the addresses and the unsigned session-opening transaction the parent signs once.",
)
async def create_session(body: CreateSessionBody, parent: ParentDep, temporal: TemporalDep) -> CreateSessionResponse:
    if body.idempotency_key is not None:
        session_id = uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{parent.wallet}:{body.idempotency_key}")
    else:
        session_id = uuid.uuid4()
    result = await temporal.create_session(wf.CreateSessionRequest(
        session_id=str(session_id),
        parent_wallet=parent.wallet,
        session_duration_seconds=body.session_duration_seconds,
        max_deposit_lamports=body.max_deposit_lamports,
        initial_deposit_lamports=body.initial_deposit_lamports,
    ))
    return CreateSessionResponse.model_validate(_plain(result))


@router.post(
    "/session/opening/refresh", response_model=CreateSessionResponse, responses=_errors(*_POST, 404, 409, 410),
    dependencies=_JSON,
    summary="Re-issue the unsigned session-opening transaction with a fresh blockhash",
    description="For a CREATED session whose offered transaction expired before the parent signed it. Earlier "
                "offers stay acceptable for approve until their own blockhash expires.",
)
async def refresh_opening(body: RefreshOpeningBody, parent: ParentDep, pool: PoolDep,
                          temporal: TemporalDep) -> CreateSessionResponse:
    await _owned_row(pool, body.session_id, parent.wallet)
    result = await _update(temporal, pool, body.session_id, wf.REFRESH_OPENING_UPDATE, None, wf.CreateSessionResult)
    return CreateSessionResponse.model_validate(_plain(result))


@router.post(
    "/session/approve", response_model=ApproveResponse, responses=_errors(*_POST, 404, 409, 410, 502),
    dependencies=_JSON,
    summary="Activate a session once its vault and delegation exist on chain",
    description="Optionally submits the parent-signed opening transaction, then verifies the vault and delegation "
                "accounts field by field; the session becomes ACTIVE.",
)
async def approve_session(body: ApproveBody, parent: ParentDep, pool: PoolDep,
                          temporal: TemporalDep) -> ApproveResponse:
    await _owned_row(pool, body.session_id, parent.wallet)
    result = await _update(temporal, pool, body.session_id, wf.APPROVE_UPDATE,
                           wf.ApproveRequest(vault_pda=body.vault_pda, signed_transaction=body.signed_transaction),
                           wf.ApproveResult)
    return ApproveResponse.model_validate(_plain(result))


@router.post(
    "/session/deposit", response_model=DepositQuoteResponse, responses=_errors(*_POST, 404, 409, 410),
    dependencies=_JSON,
    summary="Quote a deposit (sized for expected trades, or an explicit amount)",
    description="Returns the unsigned auto_deposit_for_trade transaction; sign it and POST /session/deposit/submit.",
)
async def quote_deposit(body: DepositBody, parent: ParentDep, pool: PoolDep,
                        temporal: TemporalDep) -> DepositQuoteResponse:
    await _owned_row(pool, body.session_id, parent.wallet)
    result = await _update(temporal, pool, body.session_id, wf.QUOTE_DEPOSIT_UPDATE,
                           wf.DepositRequest(expected_trades=body.expected_trades,
                                             amount_lamports=body.amount_lamports),
                           wf.DepositQuote)
    return DepositQuoteResponse.model_validate(_plain(result))


@router.post(
    "/session/deposit/submit", response_model=DepositResponse, responses=_errors(*_POST, 404, 409, 410, 502),
    dependencies=_JSON,
    summary="Submit the parent-signed deposit transaction",
)
async def submit_deposit(body: SubmitDepositBody, parent: ParentDep, pool: PoolDep,
                         temporal: TemporalDep) -> DepositResponse:
    await _owned_row(pool, body.session_id, parent.wallet)
    result = await _update(temporal, pool, body.session_id, wf.SUBMIT_DEPOSIT_UPDATE,
                           wf.SubmitDepositRequest(signed_transaction=body.signed_transaction), wf.DepositResult)
    return DepositResponse.model_validate(_plain(result))


@router.post(
    "/session/trade", response_model=TradeResponse, responses=_errors(*_POST, 403, 404, 409, 410, 502),
    dependencies=[*_JSON, Depends(service_caller)],
    summary="Execute one trade with the session key (DEX integration, service token)",
    description="Idempotent on `trade_id`: the same id returns the first result and never trades twice.",
)
async def trade(body: TradeBody, pool: PoolDep, temporal: TemporalDep) -> TradeResponse:
    if await store.current_status(pool, body.session_id) is None:
        raise session_not_found(body.session_id)
    result = await _update(temporal, pool, body.session_id, wf.TRADE_UPDATE,
                           wf.TradeRequest(trade_id=str(body.trade_id), fee_lamports=body.fee_lamports,
                                           market=body.market, side=body.side, size=body.size),
                           wf.TradeResult)
    return TradeResponse.model_validate(_plain(result))


@router.post(
    "/session/revoke", response_model=RevokeResponse, responses=_errors(*_POST, 404, 409, 410, 502),
    dependencies=_JSON,
    summary="Revoke a session: the key is shredded at once, then the vault is refunded on chain",
)
async def revoke_session(body: RevokeBody, parent: ParentDep, pool: PoolDep, temporal: TemporalDep) -> RevokeResponse:
    await _owned_row(pool, body.session_id, parent.wallet)
    result = await _update(temporal, pool, body.session_id, wf.REVOKE_UPDATE,
                           wf.RevokeRequest(signed_transaction=body.signed_transaction, reason=body.reason),
                           wf.RevokeResult)
    return RevokeResponse.model_validate(_plain(result))


@router.get(
    "/session/status/{session_id}", response_model=SessionStatusResponse, responses=_errors(*_COMMON, 404),
    summary="A session's live status (workflow query; the recorded row once the workflow is gone)",
)
async def session_status(session_id: Annotated[uuid.UUID, Path()], parent: ParentDep, pool: PoolDep,
                         temporal: TemporalDep) -> SessionStatusResponse:
    row = await _owned_row(pool, session_id, parent.wallet)
    try:
        status = await temporal.status(str(session_id))
    except WorkflowGone:
        return SessionStatusResponse(
            session_id=row.id, status=wf.SessionState(row.status.value), parent_wallet=row.parent_wallet,
            ephemeral_pubkey=row.ephemeral_pubkey, vault_pda=row.vault_pda, delegation_pda=row.delegation_pda,
            session_expiry=int(row.session_expiry.timestamp()), max_deposit=row.max_deposit,
            last_error=row.last_error, source="database",
        )
    return SessionStatusResponse.model_validate({**_plain(status), "source": "workflow"})


@router.get(
    "/sessions", response_model=SessionListResponse, responses=_errors(*_COMMON),
    summary="The signing parent's sessions, newest first, keyset-paged",
)
async def list_sessions(
    parent: ParentDep,
    pool: PoolDep,
    limit: Annotated[int, Query(ge=1, le=store.MAX_PAGE, description="page size")] = 20,
    cursor: Annotated[str | None, Query(max_length=200, pattern=r"^[A-Za-z0-9_=-]+$",
                                        description="`next_cursor` of the previous page")] = None,
    status: Annotated[wf.SessionState | None, Query(description="only sessions in this state")] = None,
) -> SessionListResponse:
    page = await store.list_sessions(pool, parent.wallet, limit=limit, cursor=cursor,
                                     status=status.value if status else None)
    return SessionListResponse(
        sessions=[SessionSummary(
            session_id=r.id, status=wf.SessionState(r.status.value), ephemeral_pubkey=r.ephemeral_pubkey,
            vault_pda=r.vault_pda, delegation_pda=r.delegation_pda, max_deposit=r.max_deposit,
            session_expiry=int(r.session_expiry.timestamp()), vault_balance=r.vault_balance,
            created_at=int(r.created_at.timestamp()),
        ) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/session/anomalies/{session_id}", response_model=AnomalyListResponse, responses=_errors(*_COMMON, 404),
    summary="What the anomaly monitor found on one of the signing parent's sessions, newest first",
)
async def session_anomalies(
    session_id: Annotated[uuid.UUID, Path()],
    parent: ParentDep,
    pool: PoolDep,
    min_severity: Annotated[Severity | None, Query(description="only findings at or above this severity")] = None,
    limit: Annotated[int, Query(ge=1, le=store.MAX_PAGE, description="at most this many")] = 20,
) -> AnomalyListResponse:
    await _owned_row(pool, session_id, parent.wallet)
    found = await store.session_anomalies(pool, session_id, min_severity=min_severity, limit=limit)
    return AnomalyListResponse(session_id=session_id, anomalies=[AnomalyItem(
        rule=a.rule, severity=a.severity, evidence_key=a.evidence_key, details=a.details,
        created_at=int(a.created_at.timestamp()), updated_at=int(a.updated_at.timestamp()),
    ) for a in found])


def _plain(result: object) -> dict[str, Any]:
    return asdict(result)  # type: ignore[call-overload]
