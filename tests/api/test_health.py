"""Operator routes over real HTTP."""

from __future__ import annotations

from tests.api.conftest import ApiFactory, ApiInstance, api_settings, start_api, stop_api


async def test_healthz_answers_ok_without_dependencies(api: ApiInstance) -> None:
    async with api.client() as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_503_naming_temporal_when_temporal_is_down(api: ApiInstance) -> None:
    async with api.client() as http:
        response = await http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["postgres"] == {"ok": True, "error": None}
    assert body["checks"]["temporal"]["ok"] is False


async def test_metrics_count_requests_by_route_template_and_status(api: ApiInstance) -> None:
    async with api.client() as http:
        await http.get("/healthz")
        await http.get("/no/such/route")
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert 'ev_api_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'ev_api_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert "# TYPE ev_api_request_duration_seconds histogram" in text
    assert "ev_api_websocket_connections 0.0" in text


async def test_unknown_route_and_wrong_method_use_the_error_shape(api: ApiInstance) -> None:
    async with api.client() as http:
        missing = await http.get("/nope")
        wrong_method = await http.get("/session/create")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_metrics_label_parametrised_routes_by_template(api: ApiInstance) -> None:
    async with api.client() as http:
        await http.get("/session/status/3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c")
        text = (await http.get("/metrics")).text
    assert 'route="/session/status/{session_id}",status="401"' in text
    assert "3f1c2a9e" not in text


async def test_readyz_says_when_the_schema_is_not_migrated(pg_dsn: str, blank_schema: str) -> None:
    instance = await start_api(api_settings(pg_dsn), blank_schema)
    try:
        async with instance.client() as http:
            response = await http.get("/readyz")
    finally:
        await stop_api(instance)
    assert response.status_code == 503
    assert response.json()["checks"]["postgres"] == {
        "ok": False, "error": "migrations not applied (python -m ephemeral_vault.db.migrate)"}


async def test_cors_preflight_allows_configured_origins_and_the_signature_headers(api_factory: ApiFactory) -> None:
    api = await api_factory(api_cors_origins="https://trade.example, https://other.example")
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type,x-ev-wallet,x-ev-timestamp,x-ev-nonce,x-ev-signature"}
    async with api.client() as http:
        allowed = await http.options("/session/create", headers={"Origin": "https://trade.example", **preflight})
        foreign = await http.options("/session/create", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://trade.example"
    assert "x-ev-signature" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in foreign.headers


async def test_no_cors_headers_unless_origins_are_configured(api: ApiInstance) -> None:
    async with api.client() as http:
        response = await http.get("/healthz", headers={"Origin": "https://trade.example"})
    assert "access-control-allow-origin" not in response.headers
