"""Property-based run of the OpenAPI document against a live server over the whole stack (Temporal dev server with a
real worker, PostgreSQL, the local chain): schemathesis generates valid and invalid requests for every operation;
every answer must be documented, match its schema and headers, and never be a 5xx.

Hypothesis draws, per case, whether the request is signed with a fresh parent keypair (or carries the service token for
/session/trade): signed ones get past authentication and exercise validation, the workflow calls and their rejections;
unsigned ones prove the 401s are documented (about a third of the cases are signed: Hypothesis leans to False). The
test prints how many requests each operation got and what they answered (`pytest -s`). Hypothesis drives `requests`
from a thread while the servers and the worker keep running on the test's event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import requests
import schemathesis
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

from api.client_auth import signed_headers
from tests.api.conftest import SERVICE_TOKEN
from tests.api.stack import Stack

EXAMPLES_PER_OPERATION = 100
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


def _send(base_url: str, case: schemathesis.Case, http: requests.Session, sign: bool) -> requests.Response:
    kwargs = case.as_transport_kwargs(base_url=base_url)
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
    response = http.send(prepared, timeout=60)
    case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
    return response


def _fuzz(base_url: str) -> dict[str, Counter[int]]:
    """Answers by operation: status code -> how many generated requests got it."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    http = requests.Session()
    statuses: dict[str, Counter[int]] = {}
    for operation in operations:
        strategy = st.one_of(operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                             operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        seen = statuses.setdefault(operation.label, Counter())

        @given(case=strategy, sign=st.booleans())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case, sign: bool) -> None:
            seen[_send(base_url, case, http, sign).status_code] += 1  # noqa: B023 - run() is called right here

        run()
    return statuses


async def test_every_operation_answers_within_its_documented_contract(stack: Stack) -> None:
    statuses = await asyncio.to_thread(_fuzz, stack.api.base_url)
    # How many cases ran is a reported figure: printed (pytest -s) like the instruction-data fuzz's.
    print(f"\nschemathesis: {sum(sum(c.values()) for c in statuses.values())} requests over {len(statuses)} operations")
    for label, codes in sorted(statuses.items()):
        print(f"  {label}: " + ", ".join(f"{code} x{n}" for code, n in sorted(codes.items())))

    assert set(statuses) >= {"POST /session/create", "POST /session/opening/refresh", "POST /session/approve",
                             "POST /session/deposit", "POST /session/deposit/submit", "POST /session/revoke",
                             "POST /session/trade", "GET /session/status/{session_id}", "GET /sessions",
                             "GET /session/anomalies/{session_id}", "GET /healthz", "GET /readyz", "GET /metrics"}
    assert 201 in statuses["POST /session/create"]  # generated sessions really were created through the workflow
    assert {401, 422} <= statuses["POST /session/create"].keys()
    assert all(code < 500 for codes in statuses.values() for code in codes), statuses
    # Every operation really was exercised (Hypothesis may stop early on a small input space, never at zero).
    assert all(sum(codes.values()) >= 1 for codes in statuses.values()), statuses
