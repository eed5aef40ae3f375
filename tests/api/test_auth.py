"""Signed-request authentication, the shared nonce store and the shared rate limit, over real HTTP."""

from __future__ import annotations

import json
import time

import httpx
from solders.keypair import Keypair

from api.client_auth import signed_headers
from tests.api.conftest import ApiFactory, ApiInstance, random_nonce

LIST = "/sessions"


async def _get(api: ApiInstance, target: str, headers: dict[str, str]) -> httpx.Response:
    async with api.client() as http:
        return await http.get(target, headers=headers)


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field", "details"}
    return body["error"]


async def test_signed_request_is_accepted(api: ApiInstance, parent: Keypair) -> None:
    response = await _get(api, LIST, signed_headers(parent, "GET", LIST))
    assert response.status_code == 200, response.text
    assert response.json() == {"sessions": [], "next_cursor": None}


async def test_missing_headers_are_401_auth_missing(api: ApiInstance) -> None:
    response = await _get(api, LIST, {})
    assert response.status_code == 401
    assert _error(response)["code"] == "auth_missing"
    assert response.headers["www-authenticate"].startswith("EV-Ed25519")


async def test_each_missing_header_is_named(api: ApiInstance, parent: Keypair) -> None:
    full = signed_headers(parent, "GET", LIST)
    for name in full:
        partial = {k: v for k, v in full.items() if k != name}
        response = await _get(api, LIST, partial)
        assert response.status_code == 401
        assert _error(response)["field"] == name


async def test_malformed_headers_are_401_auth_malformed(api: ApiInstance, parent: Keypair) -> None:
    good = signed_headers(parent, "GET", LIST)
    cases = {
        "X-EV-Wallet": "not-base58-0OIl",
        "X-EV-Timestamp": "yesterday",
        "X-EV-Nonce": "short",
        "X-EV-Signature": "abc",
    }
    for name, bad in cases.items():
        response = await _get(api, LIST, {**good, name: bad})
        assert response.status_code == 401, name
        error = _error(response)
        assert (error["code"], error["field"]) == ("auth_malformed", name)


async def test_stale_and_future_timestamps_are_401_auth_stale(api: ApiInstance, parent: Keypair) -> None:
    skew = api.app.state.settings.auth_max_skew_seconds
    for timestamp in (int(time.time()) - skew - 120, int(time.time()) + skew + 120):
        response = await _get(api, LIST, signed_headers(parent, "GET", LIST, timestamp=timestamp))
        assert response.status_code == 401
        assert _error(response)["code"] == "auth_stale"


async def test_replayed_nonce_is_401_auth_replayed(api: ApiInstance, parent: Keypair) -> None:
    headers = signed_headers(parent, "GET", LIST)
    first = await _get(api, LIST, headers)
    replay = await _get(api, LIST, headers)
    assert first.status_code == 200
    assert replay.status_code == 401
    assert _error(replay)["code"] == "auth_replayed"


async def test_replay_is_refused_by_another_instance(api_factory: ApiFactory, parent: Keypair) -> None:
    one, two = await api_factory(), await api_factory()
    headers = signed_headers(parent, "GET", LIST)
    assert (await _get(one, LIST, headers)).status_code == 200
    replay = await _get(two, LIST, headers)
    assert replay.status_code == 401
    assert _error(replay)["code"] == "auth_replayed"


async def test_same_nonce_for_another_wallet_is_not_a_replay(api: ApiInstance, parent: Keypair,
                                                             other_parent: Keypair) -> None:
    nonce = random_nonce()
    assert (await _get(api, LIST, signed_headers(parent, "GET", LIST, nonce=nonce))).status_code == 200
    assert (await _get(api, LIST, signed_headers(other_parent, "GET", LIST, nonce=nonce))).status_code == 200


async def test_signature_by_another_wallet_is_401_bad_signature(api: ApiInstance, parent: Keypair,
                                                                other_parent: Keypair) -> None:
    headers = signed_headers(other_parent, "GET", LIST)
    headers["X-EV-Wallet"] = str(parent.pubkey())  # claims to be `parent`, signed by someone else
    response = await _get(api, LIST, headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "auth_bad_signature"


async def test_signature_over_another_target_is_refused(api: ApiInstance, parent: Keypair) -> None:
    headers = signed_headers(parent, "GET", LIST + "?limit=5")
    response = await _get(api, LIST + "?limit=50", headers)
    assert response.status_code == 401
    assert _error(response)["code"] == "auth_bad_signature"


async def test_signature_over_another_domain_is_refused(api: ApiInstance, parent: Keypair) -> None:
    response = await _get(api, LIST, signed_headers(parent, "GET", LIST, domain="other-deployment"))
    assert response.status_code == 401
    assert _error(response)["code"] == "auth_bad_signature"


async def test_tampered_body_is_refused(api: ApiInstance, parent: Keypair) -> None:
    signed_body = json.dumps({"session_duration_seconds": 3600, "max_deposit_lamports": 1000}).encode()
    sent_body = json.dumps({"session_duration_seconds": 3600, "max_deposit_lamports": 9_000_000}).encode()
    headers = signed_headers(parent, "POST", "/session/create", signed_body)
    async with api.client() as http:
        response = await http.post("/session/create", content=sent_body,
                                   headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 401
    assert _error(response)["code"] == "auth_bad_signature"


async def test_rate_limit_is_429_with_retry_after_across_instances(api_factory: ApiFactory, parent: Keypair) -> None:
    one = await api_factory(rate_limit_per_minute=2)
    two = await api_factory(rate_limit_per_minute=2)
    # Two requests fill the burst (one on each instance); the bucket refills one request per 30 s.
    assert (await _get(one, LIST, signed_headers(parent, "GET", LIST))).status_code == 200
    assert (await _get(two, LIST, signed_headers(parent, "GET", LIST))).status_code == 200
    limited = await _get(one, LIST, signed_headers(parent, "GET", LIST))
    assert limited.status_code == 429
    assert _error(limited)["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 30


async def test_rate_limit_of_one_wallet_does_not_touch_another(api_factory: ApiFactory, parent: Keypair,
                                                               other_parent: Keypair) -> None:
    api = await api_factory(rate_limit_per_minute=1)
    assert (await _get(api, LIST, signed_headers(parent, "GET", LIST))).status_code == 200
    assert (await _get(api, LIST, signed_headers(parent, "GET", LIST))).status_code == 429
    assert (await _get(api, LIST, signed_headers(other_parent, "GET", LIST))).status_code == 200


async def test_auth_failures_are_counted_in_metrics(api: ApiInstance) -> None:
    await _get(api, LIST, {})
    async with api.client() as http:
        text = (await http.get("/metrics")).text
    assert 'ev_api_auth_failures_total{code="auth_missing"} 1.0' in text


async def test_service_token_guards_trade(api: ApiInstance, parent: Keypair) -> None:
    body = {"session_id": "3f1c2a9e-8b7d-4c6e-9a1b-2d3e4f5a6b7c", "trade_id": "0b8f2c1e-3d4a-4b5c-8d6e-7f8091a2b3c4",
            "fee_lamports": 5000}
    async with api.client() as http:
        missing = await http.post("/session/trade", json=body)
        wrong = await http.post("/session/trade", json=body, headers={"Authorization": "Bearer nope"})
        parent_signed = await http.post("/session/trade", content=json.dumps(body).encode(), headers={
            **signed_headers(parent, "POST", "/session/trade", json.dumps(body).encode()),
            "Content-Type": "application/json"})
    assert missing.status_code == 401 and _error(missing)["code"] == "auth_missing"
    assert wrong.status_code == 401 and _error(wrong)["code"] == "auth_bad_token"
    assert parent_signed.status_code == 401  # a parent signature is not a service token


async def test_trade_route_is_closed_without_a_configured_token(api_factory: ApiFactory) -> None:
    api = await api_factory(api_service_token=None)
    async with api.client() as http:
        response = await http.post("/session/trade", json={}, headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403
    assert _error(response)["code"] == "service_auth_disabled"
