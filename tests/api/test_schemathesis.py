"""Property-based run of the OpenAPI document against a live server: schemathesis generates valid and invalid
requests for every operation; every answer must be documented, match its schema, and never be a 5xx.

Requests are signed with a fresh parent keypair (and the service token for /session/trade) so generated bodies get
past authentication and exercise validation and the routes themselves; unsigned variants prove 401s are documented.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from solders.keypair import Keypair

from api.app import create_app
from api.client_auth import signed_headers
from ephemeral_vault.db.embedded import free_tcp_port
from tests.api.conftest import SERVICE_TOKEN, api_settings

EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@dataclass
class ThreadedApi:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture
def threaded_api(pg_dsn: str, db_schema: str) -> Iterator[ThreadedApi]:
    """An API server on its own thread and event loop (hypothesis drives it synchronously from the test)."""
    app = create_app(api_settings(pg_dsn), db_schema=db_schema)
    port = free_tcp_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="schemathesis-api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before it started")
        time.sleep(0.02)
    try:
        yield ThreadedApi(base_url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    finally:
        server.should_exit = True
        thread.join(15)


def _send(api: ThreadedApi, case: schemathesis.Case, http: requests.Session, sign: bool) -> requests.Response:
    kwargs = case.as_transport_kwargs(base_url=api.base_url)
    request = requests.Request(**{k: v for k, v in kwargs.items() if k in
                                  ("method", "url", "headers", "params", "json", "data", "cookies", "files")})
    prepared = http.prepare_request(request)
    if sign:
        if case.path == "/session/trade":
            prepared.headers["Authorization"] = f"Bearer {SERVICE_TOKEN}"
        else:
            body = prepared.body or b""
            if isinstance(body, str):
                body = body.encode()
            prepared.headers.update(signed_headers(Keypair(), prepared.method or "GET", prepared.path_url, body))
    response = http.send(prepared, timeout=30)
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
    return response


def test_every_operation_answers_within_its_documented_contract(threaded_api: ThreadedApi) -> None:
    schema = schemathesis.openapi.from_url(threaded_api.base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/session/create", "/session/approve", "/session/deposit",
                                              "/session/revoke", "/session/trade", "/session/status/{session_id}",
                                              "/sessions", "/healthz", "/readyz", "/metrics"}
    http = requests.Session()
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        if operation.path in ("/readyz", "/session/create"):
            continue  # these reach Temporal, down in this test: covered with the full stack (test_full_stack.py)
        strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                             operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))

        label = operation.label

        @given(case=strategy, sign=st.booleans())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case, sign: bool) -> None:
            response = _send(threaded_api, case, http, sign)
            statuses.setdefault(label, set()).add(response.status_code)  # noqa: B023 - run() is called right here

        run()
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses
