"""The JSON-RPC 2.0 envelope: single calls, batches, notifications, and errors for anything malformed.

A handler bug must never take the node down or leak a traceback to the client: it becomes -32603 and is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from localnet.chain import LocalChain
from localnet.rpc import (  # noqa: F401  (importing registers the methods)
    methods_accounts,
    methods_cluster,
    methods_fees,
    methods_history,
    methods_localnet,
    methods_submit,
)
from localnet.rpc.errors import INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, RpcError, invalid_params
from localnet.rpc.params import Params
from localnet.rpc.registry import METHODS

log = logging.getLogger("localnet.rpc")


def error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": request_id}


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def handle_call(chain: LocalChain, call: Any) -> dict[str, Any] | None:
    """One request object → its response, or None for a notification (a request without an id)."""
    if not isinstance(call, dict):
        return error_response(None, RpcError(INVALID_REQUEST, "Invalid request"))
    request_id = call.get("id")
    if not _valid_id(request_id):
        return error_response(None, RpcError(INVALID_REQUEST, "Invalid request: id must be a string, number or null"))
    method = call.get("method")
    if call.get("jsonrpc") != "2.0":
        return error_response(request_id, RpcError(INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"'))
    if not isinstance(method, str):
        return error_response(request_id, RpcError(INVALID_REQUEST, 'Invalid request: "method" must be a string'))
    is_notification = "id" not in call
    try:
        entry = METHODS.get(method)
        if entry is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found")
        raw_params = call.get("params")
        if raw_params is None:
            raw_params = []
        if not isinstance(raw_params, list):
            raise invalid_params("Invalid params: params must be an array of positional parameters")
        result = entry.handler(chain, Params(method, raw_params, entry.max_params))
    except RpcError as exc:
        return None if is_notification else error_response(request_id, exc)
    except BaseException as exc:  # also pyo3 PanicException, which is not an Exception
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        log.exception("internal error in %s", method)
        return None if is_notification else error_response(request_id, RpcError(INTERNAL_ERROR, "Internal error"))
    return None if is_notification else {"jsonrpc": "2.0", "result": result, "id": request_id}


def handle_payload(chain: LocalChain, payload: Any) -> Any:
    """A parsed request body → the response body (None when nothing is to be sent back)."""
    if isinstance(payload, list):
        if not payload:
            return error_response(None, RpcError(INVALID_REQUEST, "Invalid request: empty batch"))
        responses = [response for response in (handle_call(chain, call) for call in payload) if response is not None]
        return responses or None
    return handle_call(chain, payload)
