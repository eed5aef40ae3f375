"""The OpenAPI document is the contract: complete (every route, response models, errors, security) and accurate
(schemathesis checks the live answers against it in test_schemathesis.py)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import ApiInstance

PARENT_SIGNED = {"EvWallet", "EvTimestamp", "EvNonce", "EvSignature"}


async def _document(api: ApiInstance) -> dict[str, Any]:
    async with api.client() as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


async def test_every_operation_has_a_success_model_and_documented_errors(api: ApiInstance) -> None:
    doc = await _document(api)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            success = [code for code in op["responses"] if code.startswith("2")]
            assert success, f"{method} {path} documents no success response"
            content = op["responses"][success[0]].get("content", {})
            assert content, f"{method} {path} has no success body schema"
            if path.startswith("/session"):
                for code in ("401", "422", "429", "503"):
                    ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, code)


async def test_security_requirements_match_the_authentication_of_each_route(api: ApiInstance) -> None:
    doc = await _document(api)
    schemes = doc["components"]["securitySchemes"]
    assert {schemes[name]["name"] for name in PARENT_SIGNED} == {"X-EV-Wallet", "X-EV-Timestamp", "X-EV-Nonce",
                                                                 "X-EV-Signature"}
    security = {f"{m.upper()} {p}": op.get("security") for p, item in doc["paths"].items() for m, op in item.items()}
    assert security["POST /session/trade"] == [{"ServiceToken": []}]
    for route in ("POST /session/create", "POST /session/opening/refresh", "POST /session/approve",
                  "POST /session/deposit", "POST /session/deposit/submit", "POST /session/revoke",
                  "GET /session/status/{session_id}", "GET /session/anomalies/{session_id}", "GET /sessions"):
        # One requirement naming all four headers: they are needed together (AND), not as alternatives (OR).
        assert len(security[route]) == 1 and set(security[route][0]) == PARENT_SIGNED, route
    for route in ("GET /healthz", "GET /readyz", "GET /metrics"):
        assert security[route] is None


async def test_request_bodies_carry_examples(api: ApiInstance) -> None:
    schemas = (await _document(api))["components"]["schemas"]
    for name in ("CreateSessionBody", "ApproveBody", "DepositBody", "SubmitDepositBody", "TradeBody", "RevokeBody",
                 "ErrorResponse", "SessionStatusResponse", "CreateSessionResponse"):
        assert schemas[name].get("examples"), name
