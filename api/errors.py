"""One error shape for every failure: `{"error": {"code", "message", "field", "details"}}`.

Routes and dependencies raise `ApiError`; the handlers below turn it, FastAPI's validation errors, Starlette's HTTP
errors and anything unexpected into that shape. The catch-all never returns internals (no exception text, no
traceback): it logs the exception server-side and answers `internal_error`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import ErrorBody, ErrorResponse

log = logging.getLogger("api.errors")


class ApiError(Exception):
    """An expected failure with its HTTP status and a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(self.status, self.code, self.message, self.field, self.details, self.headers)


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, field=field, details=details))
    return JSONResponse(status_code=status, content=jsonable_encoder(body), headers=headers)


def unauthorized(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(401, code, message, field=field, headers={"WWW-Authenticate": 'EV-Ed25519 realm="parent-wallet"'})


def session_not_found(session_id: object) -> ApiError:
    # The same answer whether the session does not exist or belongs to another parent: existence is not leaked.
    return ApiError(404, "session_not_found", f"no session {session_id} for this wallet", field="session_id")


_STARLETTE_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only location, type and message: pydantic's `input` and `ctx` can echo back what the client sent (incl. secrets).
    return [{"field": _field_of(e.get("loc", ())), "type": e.get("type", ""), "message": e.get("msg", "")}
            for e in exc.errors()]


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_details(exc)
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON", field="body")
    return error_response(
        422, "validation_error", f"{first['field']}: {first['message']}", field=first["field"],
        details={"errors": errors},
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STARLETTE_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; the request was not completed")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
