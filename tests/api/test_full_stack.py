"""End to end over HTTP: API → Temporal dev server → real worker and activities → PostgreSQL and the local chain."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from websockets.asyncio.client import connect

from api.client_auth import signed_headers
from tests.api.conftest import SERVICE_TOKEN, insert_session_row
from tests.api.stack import SOL, Stack, funded, wallet_sign

CREATE = {"session_duration_seconds": 3600, "max_deposit_lamports": 2 * SOL, "initial_deposit_lamports": SOL // 2}
TRADE_HEADERS = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


async def test_session_lifecycle_end_to_end(stack: Stack) -> None:
    parent = await funded(stack.chain)
    wallet = str(parent.pubkey())
    async with stack.api.client(parent) as http, stack.api.client() as dex, connect(
        stack.api.ws_url + "/ws/session", additional_headers=signed_headers(parent, "GET", "/ws/session")
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "subscribed"

        created = _ok(await http.post("/session/create", json=CREATE), 201)
        assert created["status"] == "CREATED"
        session_id = created["session_id"]

        approved = _ok(await http.post("/session/approve", json={
            "session_id": session_id, "vault_pda": created["vault_pda"],
            "signed_transaction": wallet_sign(created["unsigned_transaction"], parent)}))
        assert approved["status"] == "ACTIVE" and approved["total_deposited"] == SOL // 2

        quote = _ok(await http.post("/session/deposit", json={"session_id": session_id, "amount_lamports": SOL // 4}))
        assert quote["amount_lamports"] == SOL // 4
        deposit = _ok(await http.post("/session/deposit/submit", json={
            "session_id": session_id, "signed_transaction": wallet_sign(quote["unsigned_transaction"], parent)}))
        assert deposit["total_deposited"] == SOL // 2 + SOL // 4

        trade_ids = [str(uuid.uuid4()) for _ in range(3)]
        for trade_id in trade_ids:
            traded = _ok(await dex.post("/session/trade", headers=TRADE_HEADERS, json={
                "session_id": session_id, "trade_id": trade_id, "fee_lamports": 5000, "market": "SOL-USDC",
                "side": "buy", "size": 10}))
            assert traded["trade_id"] == trade_id
        again = _ok(await dex.post("/session/trade", headers=TRADE_HEADERS, json={
            "session_id": session_id, "trade_id": trade_ids[0], "fee_lamports": 5000}))
        assert again["trade_count"] == 1  # the first result, not a fourth trade

        status = _ok(await http.get(f"/session/status/{session_id}"))
        assert (status["status"], status["trade_count"], status["total_spent"]) == ("ACTIVE", 3, 15_000)
        assert status["parent_wallet"] == wallet and status["source"] == "workflow"

        offered = _ok(await http.post("/session/revoke", json={"session_id": session_id}))
        assert offered["key_shredded"] is True and offered["unsigned_transaction"]
        revoked = _ok(await http.post("/session/revoke", json={
            "session_id": session_id, "signed_transaction": wallet_sign(offered["unsigned_transaction"], parent)}))
        assert revoked["status"] == "REVOKED" and revoked["revoked_on_chain"] is True

        refused = await dex.post("/session/trade", headers=TRADE_HEADERS, json={
            "session_id": session_id, "trade_id": str(uuid.uuid4()), "fee_lamports": 5000})
        assert refused.status_code in (409, 410), refused.text

        # The workflow settles the revoke, then cleans the vault up; the WebSocket sees every step in order.
        statuses: list[str] = []
        events: list[dict[str, Any]] = []
        while "CLEANED" not in statuses:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            assert message["type"] == "session_event", message
            events.append(message["event"])
            assert message["event"]["session_id"] == session_id
            if message["event"]["kind"] == "session":
                statuses.append(message["event"]["status"])
        assert statuses == ["CREATED", "ACTIVE", "REVOKED", "CLEANED"]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        confirmed = [e["data"]["tx_kind"] for e in events
                     if e["kind"] == "transaction" and e["data"]["tx_status"] == "confirmed"]
        assert confirmed.count("trade") == 3 and {"open", "deposit", "revoke", "cleanup"} <= set(confirmed)
        assert [e["kind"] for e in events].count("cleanup") == 1

        final = _ok(await http.get(f"/session/status/{session_id}"))
        assert final["status"] == "CLEANED"
        closed = await http.post("/session/deposit", json={"session_id": session_id, "amount_lamports": 1})
        assert closed.status_code == 409 and closed.json()["error"]["details"]["current_status"] == "CLEANED"

    assert await stack.chain.raw_account(Pubkey.from_string(created["vault_pda"])) is None  # closed, rent refunded


async def _create(stack: Stack, parent: Any, **overrides: Any) -> dict[str, Any]:
    async with stack.api.client(parent) as http:
        return _ok(await http.post("/session/create", json={**CREATE, **overrides}), 201)


async def test_create_with_the_same_idempotency_key_returns_the_same_session(stack: Stack) -> None:
    parent, other = await funded(stack.chain), await funded(stack.chain)
    first = await _create(stack, parent, idempotency_key="batch-1")
    again = await _create(stack, parent, idempotency_key="batch-1")
    someone_else = await _create(stack, other, idempotency_key="batch-1")
    assert again["session_id"] == first["session_id"] and again["vault_pda"] == first["vault_pda"]
    assert someone_else["session_id"] != first["session_id"]


async def test_new_session_status_is_created_from_the_workflow(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _create(stack, parent)
    async with stack.api.client(parent) as http:
        status = _ok(await http.get(f"/session/status/{created['session_id']}"))
    assert (status["status"], status["source"], status["vault_pda"]) == ("CREATED", "workflow", created["vault_pda"])


async def test_approve_with_another_vault_is_rejected_by_the_workflow(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _create(stack, parent)
    async with stack.api.client(parent) as http:
        response = await http.post("/session/approve", json={
            "session_id": created["session_id"], "vault_pda": str(Pubkey.new_unique())})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "vault_mismatch"


async def test_trade_before_approval_is_409_with_the_current_state(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _create(stack, parent)
    async with stack.api.client() as dex:
        response = await dex.post("/session/trade", headers=TRADE_HEADERS, json={
            "session_id": created["session_id"], "trade_id": str(uuid.uuid4()), "fee_lamports": 5000})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["current_status"]) == ("invalid_state", "CREATED")


async def _open(stack: Stack, parent: Any) -> dict[str, Any]:
    created = await _create(stack, parent)
    async with stack.api.client(parent) as http:
        _ok(await http.post("/session/approve", json={
            "session_id": created["session_id"], "vault_pda": created["vault_pda"],
            "signed_transaction": wallet_sign(created["unsigned_transaction"], parent)}))
    return created


async def test_second_approve_returns_the_first_answer(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _open(stack, parent)
    async with stack.api.client(parent) as http:
        response = await http.post("/session/approve", json={"session_id": created["session_id"],
                                                              "vault_pda": created["vault_pda"]})
    body = _ok(response)
    assert (body["status"], body["session_id"]) == ("ACTIVE", created["session_id"])


async def test_deposit_over_the_cap_is_refused_with_a_precise_4xx(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _open(stack, parent)  # 0.5 SOL of 2 SOL deposited
    async with stack.api.client(parent) as http:
        response = await http.post("/session/deposit", json={"session_id": created["session_id"],
                                                              "amount_lamports": 2 * SOL})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["current_status"]) == ("deposit_unavailable", "ACTIVE")


async def test_unsigned_opening_transaction_is_refused(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _create(stack, parent)
    async with stack.api.client(parent) as http:
        response = await http.post("/session/approve", json={
            "session_id": created["session_id"], "vault_pda": created["vault_pda"],
            "signed_transaction": created["unsigned_transaction"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_transaction"


async def test_trade_fee_over_the_program_cap_is_422(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _open(stack, parent)
    async with stack.api.client() as dex:
        response = await dex.post("/session/trade", headers=TRADE_HEADERS, json={
            "session_id": created["session_id"], "trade_id": str(uuid.uuid4()), "fee_lamports": 1_000_001})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "body.fee_lamports"


async def test_readyz_is_ready_with_postgres_and_temporal_up(stack: Stack) -> None:
    async with stack.api.client() as http:
        response = await http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


async def test_status_falls_back_to_the_recorded_row_when_the_workflow_is_gone(stack: Stack) -> None:
    parent = await funded(stack.chain)
    session_id = await insert_session_row(stack.pool, str(parent.pubkey()), status="ACTIVE")  # no workflow exists
    async with stack.api.client(parent) as http:
        status = _ok(await http.get(f"/session/status/{session_id}"))
        update = await http.post("/session/deposit", json={"session_id": str(session_id), "amount_lamports": 1})
    assert (status["status"], status["source"]) == ("ACTIVE", "database")
    assert update.status_code == 409
    assert update.json()["error"]["details"]["current_status"] == "ACTIVE"


async def test_workflow_that_never_answers_is_504_not_a_hang(api_factory: Any, temporal_dev_server: Any) -> None:
    parent = Keypair()
    api = await api_factory(temporal_address=temporal_dev_server.address, api_workflow_timeout_seconds=1,
                            temporal_task_queue=f"no-worker-{uuid.uuid4()}")  # nobody polls this queue
    async with api.client(parent) as http:
        response = await http.post("/session/create", json=CREATE)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "workflow_timeout"


async def test_trade_the_program_refuses_names_the_program_error(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _create(stack, parent, initial_deposit_lamports=0)  # nothing deposited: no fee can be repaid
    async with stack.api.client(parent) as http:
        _ok(await http.post("/session/approve", json={
            "session_id": created["session_id"], "vault_pda": created["vault_pda"],
            "signed_transaction": wallet_sign(created["unsigned_transaction"], parent)}))
    async with stack.api.client() as dex:
        response = await dex.post("/session/trade", headers=TRADE_HEADERS, json={
            "session_id": created["session_id"], "trade_id": str(uuid.uuid4()), "fee_lamports": 5000})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["program_error"]) == ("program_error", "SpendExceedsDeposits")


async def test_any_instance_serves_any_session(stack: Stack, api_factory: Any, temporal_dev_server: Any) -> None:
    other = await api_factory(temporal_address=temporal_dev_server.address, temporal_task_queue=stack.task_queue)
    parent = await funded(stack.chain)
    created = await _create(stack, parent)  # on the stack's instance
    async with other.client(parent) as http:  # everything else on another one
        approved = _ok(await http.post("/session/approve", json={
            "session_id": created["session_id"], "vault_pda": created["vault_pda"],
            "signed_transaction": wallet_sign(created["unsigned_transaction"], parent)}))
        status = _ok(await http.get(f"/session/status/{created['session_id']}"))
    assert approved["status"] == status["status"] == "ACTIVE"


async def test_refreshed_opening_transaction_opens_the_session(stack: Stack) -> None:
    parent = await funded(stack.chain)
    created = await _create(stack, parent)
    async with stack.api.client(parent) as http:
        refreshed = _ok(await http.post("/session/opening/refresh", json={"session_id": created["session_id"]}))
        assert (refreshed["session_id"], refreshed["vault_pda"]) == (created["session_id"], created["vault_pda"])
        approved = _ok(await http.post("/session/approve", json={
            "session_id": created["session_id"], "vault_pda": created["vault_pda"],
            "signed_transaction": wallet_sign(refreshed["unsigned_transaction"], parent)}))
        too_late = await http.post("/session/opening/refresh", json={"session_id": created["session_id"]})
    assert approved["status"] == "ACTIVE"
    assert too_late.status_code == 409, too_late.text
    assert too_late.json()["error"]["details"]["current_status"] == "ACTIVE"
