"""The API's one door to Temporal: start/update/query a SessionWorkflow and translate failures into ApiError.

The client connects lazily (and reconnects after a failed attempt), so the API starts and answers /healthz and
/readyz while Temporal is still coming up; a call made while it is unreachable is a 503 `temporal_unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    TLSConfig,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from ephemeral_vault.payload_converter import DATA_CONVERTER
from ephemeral_vault.settings import Settings
from workflows.client import session_start_operation
from workflows.messages import (
    CREATE_UPDATE,
    STATUS_QUERY,
    CreateSessionRequest,
    CreateSessionResult,
    ErrorType,
    SessionStatus,
    http_status_for,
    workflow_id_for,
)

log = logging.getLogger("api.temporal")
T = TypeVar("T")

CONNECT_TIMEOUT = timedelta(seconds=5)
RECONNECT_BACKOFF_S = 1.0
HEALTH_TIMEOUT = timedelta(seconds=3)


class WorkflowGone(Exception):
    """The session's workflow does not exist (never started, or closed and past retention)."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _unavailable() -> ApiError:
    return ApiError(503, "temporal_unavailable", "the workflow service is unavailable; retry later",
                    headers={"Retry-After": "5"})


def _timeout() -> ApiError:
    return ApiError(504, "workflow_timeout", "the session workflow did not answer in time; retry later "
                                             "(the request is idempotent where noted)")


def application_error_of(err: BaseException) -> ApplicationError | None:
    """The first ApplicationError in a failure's cause chain."""
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, ApplicationError):
            return current
        current = current.__cause__ or getattr(current, "cause", None)
    return None


def business_error(app_err: ApplicationError) -> ApiError:
    """Map H's ApplicationError types (workflows/messages.py) to HTTP: status from `http_status_for`,
    code = snake_case type, `ProgramError:<Name>` → code `program_error` with `details.program_error = Name`."""
    error_type = app_err.type
    status = http_status_for(error_type)
    if error_type is None or status >= 500:
        # Not a business rejection: infrastructure (chain down, activity exhausted). No internals to the client.
        code = "transaction_failed" if error_type == ErrorType.TRANSACTION_FAILED else "workflow_unavailable"
        return ApiError(status if status >= 500 else 503, code, "the request could not be completed; retry later",
                        details={"type": error_type} if error_type else None)
    details: dict[str, Any] = {"type": error_type}
    if error_type.startswith(ErrorType.PROGRAM_ERROR_PREFIX):
        code = "program_error"
        details["program_error"] = error_type[len(ErrorType.PROGRAM_ERROR_PREFIX):]
    else:
        code = _snake(error_type)
    for extra in app_err.details or ():
        if isinstance(extra, dict):
            details.update({str(k): v for k, v in extra.items() if isinstance(v, str | int | bool | None)})
    return ApiError(status, code, app_err.message or code.replace("_", " "), details=details)


class TemporalGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._failed_at: float | None = None  # monotonic time of the last failed connect

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.api_workflow_timeout_seconds)

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                # While Temporal is down, requests fail fast instead of each waiting for its own connect attempt.
                now = time.monotonic()
                if self._failed_at is not None and now - self._failed_at < RECONNECT_BACKOFF_S:
                    raise _unavailable()
                try:
                    self._client = await self._connect()
                except ApiError:
                    self._failed_at = time.monotonic()
                    raise
                self._failed_at = None
        return self._client

    async def _connect(self) -> Client:
        s = self.settings
        tls: bool | TLSConfig = False
        if s.temporal_tls_cert and s.temporal_tls_key:
            tls = TLSConfig(client_cert=s.temporal_tls_cert.read_bytes(),
                            client_private_key=s.temporal_tls_key.read_bytes())
        elif s.temporal_api_key is not None:
            tls = True
        try:
            return await Client.connect(
                s.temporal_address, namespace=s.temporal_namespace, tls=tls, connect_timeout=CONNECT_TIMEOUT,
                api_key=s.temporal_api_key.get_secret_value() if s.temporal_api_key else None,
                data_converter=DATA_CONVERTER,
            )
        except Exception as err:  # the SDK raises RuntimeError for transport failures
            log.warning("cannot connect to Temporal at %s: %s", s.temporal_address, type(err).__name__)
            raise _unavailable() from None

    async def check_health(self) -> None:
        """Raises ApiError(503) unless the frontend answers its health check."""
        client = await self.client()
        try:
            ok = await client.service_client.check_health(timeout=HEALTH_TIMEOUT)
        except Exception:
            raise _unavailable() from None
        if not ok:
            raise _unavailable()

    # -- workflow calls ----------------------------------------------------------------------------------------------

    async def create_session(self, request: CreateSessionRequest) -> CreateSessionResult:
        """Update-with-start: starts the workflow (or reuses the running one with this id) and waits for the create
        update, which returns once the key is provisioned and the sessions row written."""
        client = await self.client()
        # Conflict policy USE_EXISTING (a retried create joins the same workflow and gets the same answer), reuse
        # policy REJECT_DUPLICATE (an ended session is never restarted), search attributes and the UI summary.
        start = session_start_operation(request, self.settings.temporal_task_queue)
        try:
            return await client.execute_update_with_start_workflow(
                CREATE_UPDATE, start_workflow_operation=start, result_type=CreateSessionResult,
                rpc_timeout=self.timeout,
            )
        except WorkflowAlreadyStartedError:
            raise ApiError(409, "session_closed", "a session with this idempotency key already ended",
                           field="idempotency_key") from None
        except Exception as err:
            # The start half carries the same failure; read it so asyncio does not report it as never retrieved.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(start.workflow_handle(), 1)
            raise self._translate(err) from None

    async def update(self, session_id: str, update: str, arg: Any, result_type: type[T]) -> T:
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id_for(session_id))
        try:
            if arg is None:  # updates without an argument (refresh_opening)
                return await handle.execute_update(update, result_type=result_type, rpc_timeout=self.timeout)
            return await handle.execute_update(update, arg, result_type=result_type, rpc_timeout=self.timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowGone(session_id) from None
            raise self._translate(err) from None
        except Exception as err:
            raise self._translate(err) from None

    async def status(self, session_id: str) -> SessionStatus:
        """The workflow's status query. WorkflowGone when there is no workflow; ApiError when it cannot answer."""
        client = await self.client()
        handle = client.get_workflow_handle(workflow_id_for(session_id))
        try:
            return await handle.query(STATUS_QUERY, result_type=SessionStatus, rpc_timeout=self.timeout)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowGone(session_id) from None
            raise self._translate(err) from None
        except Exception as err:
            raise self._translate(err) from None

    @staticmethod
    def _translate(err: Exception) -> ApiError:
        if isinstance(err, ApiError):
            return err
        if isinstance(err, WorkflowUpdateFailedError | WorkflowQueryFailedError | FailureError):
            app_err = application_error_of(err)
            if app_err is not None:
                return business_error(app_err)
            log.warning("workflow call failed without a business error: %s", type(err).__name__)
            return ApiError(503, "workflow_unavailable", "the request could not be completed; retry later")
        if isinstance(err, WorkflowQueryRejectedError):
            return ApiError(409, "invalid_state", "the session workflow has closed")
        if isinstance(err, WorkflowUpdateRPCTimeoutOrCancelledError):
            return _timeout()
        if isinstance(err, RPCError):
            if err.status == RPCStatusCode.DEADLINE_EXCEEDED:
                return _timeout()
            if err.status == RPCStatusCode.INVALID_ARGUMENT:
                log.warning("Temporal refused a call as invalid: %s", err.message)
            return _unavailable()
        log.warning("unexpected error from Temporal: %s", type(err).__name__)
        return _unavailable()
