"""End to end over HTTP: API → Temporal dev server → real worker and activities → PostgreSQL and the local chain."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from solders.pubkey import Pubkey
from websockets.asyncio.client import connect

from api.client_auth import signed_headers
from tests.api.conftest import SERVICE_TOKEN
from tests.api.stack import SOL, Stack, funded, stack, wallet_sign

__all__ = ["stack"]  # the fixture, imported so pytest finds it here

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
        statuses = []
        while "CLEANED" not in statuses:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message["type"] == "session_event" and message["event"]["kind"] == "session":
                assert message["event"]["session_id"] == session_id
                statuses.append(message["event"]["status"])
        assert statuses == ["CREATED", "ACTIVE", "REVOKED", "CLEANED"]

        final = _ok(await http.get(f"/session/status/{session_id}"))
        assert final["status"] == "CLEANED"
        closed = await http.post("/session/deposit", json={"session_id": session_id, "amount_lamports": 1})
        assert closed.status_code == 409 and closed.json()["error"]["details"]["current_status"] == "CLEANED"

    assert await stack.chain.raw_account(Pubkey.from_string(created["vault_pda"])) is None  # closed, rent refunded
