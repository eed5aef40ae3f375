"""Session routes without a workflow behind them: validation, the one error shape, ownership, paging, 503s.

Temporal is down in these tests (see conftest): whatever reaches a workflow call answers 503 `temporal_unavailable`,
which proves the request passed authentication, validation and the ownership check first.
"""

from __future__ import annotations

import json
import uuid
from typing import get_args

import asyncpg
import httpx
from solders.keypair import Keypair

from api.models import Severity
from ephemeral_vault.analytics import SEVERITIES, analyse_session
from tests.api.conftest import ApiFactory, ApiInstance, insert_session_row
from tests.db.factories import recorded_trade

CREATE_OK = {"session_duration_seconds": 3600, "max_deposit_lamports": 500_000_000}


def _error(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field", "details"}
    return body["error"]


async def test_create_with_out_of_range_duration_is_422_naming_the_field(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.post("/session/create", json={**CREATE_OK, "session_duration_seconds": 59})
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert error["field"] == "body.session_duration_seconds"
    assert error["details"]["errors"][0]["type"] == "greater_than_equal"


async def test_create_with_initial_deposit_over_cap_is_422(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.post("/session/create", json={**CREATE_OK, "initial_deposit_lamports": 600_000_000})
    assert response.status_code == 422
    assert "initial_deposit_lamports" in _error(response)["message"]


async def test_unknown_field_is_422(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.post("/session/create", json={**CREATE_OK, "parent_wallet": str(parent.pubkey())})
    assert response.status_code == 422
    assert _error(response)["field"] == "body.parent_wallet"


async def test_invalid_json_is_400(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.post("/session/create", content=b'{"session_duration_seconds": ',
                                   headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_json"


async def test_oversized_body_is_413(api: ApiInstance, parent: Keypair) -> None:
    body = json.dumps({**CREATE_OK, "pad": "x" * 70_000}).encode()
    async with api.client(parent) as http:
        response = await http.post("/session/create", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"


async def test_bad_pubkey_and_transaction_are_422(api: ApiInstance, parent: Keypair) -> None:
    session_id = str(uuid.uuid4())
    async with api.client(parent) as http:
        bad_vault = await http.post("/session/approve", json={"session_id": session_id, "vault_pda": "0" * 44})
        bad_tx = await http.post("/session/approve", json={
            "session_id": session_id, "vault_pda": str(Keypair().pubkey()), "signed_transaction": "not base64!"})
    assert (bad_vault.status_code, _error(bad_vault)["field"]) == (422, "body.vault_pda")
    assert (bad_tx.status_code, _error(bad_tx)["field"]) == (422, "body.signed_transaction")


async def test_deposit_needs_exactly_one_sizing(api: ApiInstance, parent: Keypair) -> None:
    session_id = str(uuid.uuid4())
    async with api.client(parent) as http:
        neither = await http.post("/session/deposit", json={"session_id": session_id})
        both = await http.post("/session/deposit", json={"session_id": session_id, "expected_trades": 3,
                                                          "amount_lamports": 10})
    assert neither.status_code == 422 and both.status_code == 422


async def test_status_with_non_uuid_id_is_422(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.get("/session/status/not-a-uuid")
    assert response.status_code == 422
    assert _error(response)["field"] == "path.session_id"


async def test_unknown_session_is_404(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.get(f"/session/status/{uuid.uuid4()}")
    assert response.status_code == 404
    assert _error(response)["code"] == "session_not_found"


async def test_another_parents_session_is_404_like_a_missing_one(api: ApiInstance, db_pool: asyncpg.Pool,
                                                                 parent: Keypair, other_parent: Keypair) -> None:
    session_id = await insert_session_row(db_pool, str(other_parent.pubkey()))
    async with api.client(parent) as http:
        status = await http.get(f"/session/status/{session_id}")
        revoke = await http.post("/session/revoke", json={"session_id": str(session_id)})
        approve = await http.post("/session/approve", json={"session_id": str(session_id),
                                                             "vault_pda": str(Keypair().pubkey())})
        deposit = await http.post("/session/deposit", json={"session_id": str(session_id), "expected_trades": 1})
        listing = await http.get("/sessions")
    for response in (status, revoke, approve, deposit):
        assert response.status_code == 404
        assert _error(response)["code"] == "session_not_found"
    assert listing.json()["sessions"] == []


async def test_own_session_reaches_the_workflow_which_is_down_503(api: ApiInstance, db_pool: asyncpg.Pool,
                                                                 parent: Keypair) -> None:
    session_id = await insert_session_row(db_pool, str(parent.pubkey()))
    async with api.client(parent) as http:
        response = await http.post("/session/revoke", json={"session_id": str(session_id)})
    assert response.status_code == 503
    assert _error(response)["code"] == "temporal_unavailable"
    assert response.headers["retry-after"] == "5"


async def test_create_with_temporal_down_is_503(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.post("/session/create", json=CREATE_OK)
    assert response.status_code == 503
    assert _error(response)["code"] == "temporal_unavailable"


async def test_database_down_is_503_not_500(api_factory: ApiFactory, parent: Keypair) -> None:
    from ephemeral_vault.db.embedded import free_tcp_port

    api = await api_factory(database_url=f"postgresql://postgres@127.0.0.1:{free_tcp_port()}/postgres")
    async with api.client(parent) as http:
        response = await http.get("/sessions")
        ready = await http.get("/readyz")
    assert response.status_code == 503
    assert _error(response)["code"] == "database_unavailable"
    assert ready.status_code == 503 and ready.json()["checks"]["postgres"]["ok"] is False


async def test_sessions_are_listed_newest_first_in_pages(api: ApiInstance, db_pool: asyncpg.Pool,
                                                         parent: Keypair, other_parent: Keypair) -> None:
    wallet = str(parent.pubkey())
    ids = [await insert_session_row(db_pool, wallet) for _ in range(5)]
    await insert_session_row(db_pool, str(other_parent.pubkey()))
    seen: list[str] = []
    cursor = None
    async with api.client(parent) as http:
        for _ in range(4):
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/sessions", params=params)).json()
            seen += [s["session_id"] for s in page["sessions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == [str(i) for i in reversed(ids)]


async def test_sessions_filter_by_status(api: ApiInstance, db_pool: asyncpg.Pool, parent: Keypair) -> None:
    wallet = str(parent.pubkey())
    active = await insert_session_row(db_pool, wallet, status="ACTIVE")
    await insert_session_row(db_pool, wallet)
    async with api.client(parent) as http:
        page = (await http.get("/sessions", params={"status": "ACTIVE"})).json()
        bad = await http.get("/sessions", params={"status": "SLEEPING"})
    assert [s["session_id"] for s in page["sessions"]] == [str(active)]
    assert bad.status_code == 422 and _error(bad)["field"] == "query.status"


async def test_forged_cursor_is_422(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.get("/sessions", params={"cursor": "Zm9vYmFy"})
    assert response.status_code == 422
    assert _error(response)["field"] == "query.cursor"


async def test_cursor_out_of_the_databases_range_is_422_not_503(api: ApiInstance, parent: Keypair) -> None:
    # "0001-01-01T00:00:00+14:00|<nil uuid>": a parseable time that is before year 1 in UTC, which the driver cannot
    # encode; it used to surface as a DataError and be reported as 503 database_unavailable.
    cursor = "MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHwwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA="
    async with api.client(parent) as http:
        response = await http.get("/sessions", params={"cursor": cursor})
    assert response.status_code == 422
    error = _error(response)
    assert (error["code"], error["field"]) == ("validation_error", "query.cursor")


async def test_rejected_values_are_never_echoed(api: ApiInstance, parent: Keypair) -> None:
    marker = "SECRETMARKER" * 4
    async with api.client(parent) as http:
        invalid = await http.post("/session/approve", json={"session_id": str(uuid.uuid4()),
                                                             "vault_pda": str(Keypair().pubkey()),
                                                             "signed_transaction": marker + "!"})
        wrong_token = await http.post("/session/trade", json={}, headers={"Authorization": f"Bearer {marker}"})
    assert invalid.status_code == 422 and wrong_token.status_code == 401
    assert marker not in invalid.text and marker not in wrong_token.text


async def test_chunked_oversized_body_is_413(api: ApiInstance, parent: Keypair) -> None:
    async def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(20):
            yield b"x" * 8192

    async with api.client() as http:
        response = await http.post("/session/create", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"


async def test_non_json_body_is_415(api: ApiInstance, parent: Keypair) -> None:
    async with api.client(parent) as http:
        response = await http.post("/session/create", content=json.dumps(CREATE_OK).encode(),
                                   headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


async def _failed_trades(pool: asyncpg.Pool, session_id: uuid.UUID, count: int) -> None:
    for _ in range(count):
        await recorded_trade(pool, session_id, status="failed")


async def test_anomalies_of_own_session_newest_first_filtered_by_severity(api: ApiInstance, db_pool: asyncpg.Pool,
                                                                          parent: Keypair) -> None:
    session_id = await insert_session_row(db_pool, str(parent.pubkey()), status="ACTIVE")
    async with api.client(parent) as http:
        none_yet = await http.get(f"/session/anomalies/{session_id}")
        await _failed_trades(db_pool, session_id, 3)
        await analyse_session(db_pool, session_id)  # what the vault sweep's monitor runs
        found = await http.get(f"/session/anomalies/{session_id}")
        high_only = await http.get(f"/session/anomalies/{session_id}", params={"min_severity": "high"})
    assert (none_yet.status_code, none_yet.json()) == (200, {"session_id": str(session_id), "anomalies": []})
    assert found.status_code == 200
    [anomaly] = found.json()["anomalies"]
    assert (anomaly["rule"], anomaly["severity"], anomaly["details"]["failures"]) == ("repeated_failures", "medium", 3)
    assert high_only.json()["anomalies"] == []


async def test_anomalies_reject_bad_queries_and_foreign_sessions(api: ApiInstance, db_pool: asyncpg.Pool,
                                                                 parent: Keypair, other_parent: Keypair) -> None:
    own = await insert_session_row(db_pool, str(parent.pubkey()), status="ACTIVE")
    foreign = await insert_session_row(db_pool, str(other_parent.pubkey()), status="ACTIVE")
    await _failed_trades(db_pool, foreign, 3)
    await analyse_session(db_pool, foreign)
    async with api.client(parent) as http:
        responses = {
            "severity": await http.get(f"/session/anomalies/{own}", params={"min_severity": "urgent"}),
            "limit": await http.get(f"/session/anomalies/{own}", params={"limit": 0}),
            "id": await http.get("/session/anomalies/not-a-uuid"),
            "foreign": await http.get(f"/session/anomalies/{foreign}"),
        }
    assert {k: (r.status_code, _error(r)["field"]) for k, r in responses.items()} == {
        "severity": (422, "query.min_severity"), "limit": (422, "query.limit"), "id": (422, "path.session_id"),
        "foreign": (404, "session_id")}
    assert _error(responses["foreign"])["code"] == "session_not_found"


def test_the_api_severities_are_the_analytics_ones() -> None:
    """`Severity` spells the list out for the OpenAPI schema; it must stay the rules' own."""
    assert get_args(Severity) == SEVERITIES
