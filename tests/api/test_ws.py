"""`WS /ws/session` over real WebSockets, fed by real PostgreSQL NOTIFYs from the data-access layer's writers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
from solders.keypair import Keypair
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from api.client_auth import signed_headers, ws_auth_message
from ephemeral_vault.db.sessions import record_vault_balance, transition_status
from tests.api.conftest import ApiFactory, ApiInstance, insert_session_row

RECEIVE_TIMEOUT_S = 20


async def _subscribe(api: ApiInstance, keypair: Keypair, target: str = "/ws/session") -> ClientConnection:
    ws = await connect(api.ws_url + target, additional_headers=signed_headers(keypair, "GET", target))
    ack = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
    assert ack["type"] == "subscribed", ack
    return ws


async def _events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    received = []
    for _ in range(count):
        message = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
        assert message["type"] == "session_event", message
        received.append(message["event"])
    return received


async def _closed_with(ws: ClientConnection) -> tuple[dict[str, Any], int]:
    error = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
    try:
        await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return error, closed.rcvd.code
    raise AssertionError("the server did not close the connection")


async def test_two_instances_deliver_the_same_events_in_commit_order(
    api_factory: ApiFactory, db_pool: asyncpg.Pool, parent: Keypair, other_parent: Keypair
) -> None:
    one, two = await api_factory(), await api_factory()
    wallet = str(parent.pubkey())
    ws_one, ws_two = await _subscribe(one, parent), await _subscribe(two, parent)
    try:
        first = await insert_session_row(db_pool, wallet)  # session CREATED
        await insert_session_row(db_pool, str(other_parent.pubkey()))  # someone else's: never delivered
        second = await insert_session_row(db_pool, wallet)
        await transition_status(db_pool, first, "ACTIVE")
        await record_vault_balance(db_pool, first, 2_000_000)
        await transition_status(db_pool, second, "ABANDONED")
        await record_vault_balance(db_pool, first, 1_500_000)
        await transition_status(db_pool, first, "REVOKED")

        got_one, got_two = await _events(ws_one, 7), await _events(ws_two, 7)
    finally:
        await ws_one.close()
        await ws_two.close()

    assert got_one == got_two
    assert {e["parent_wallet"] for e in got_one} == {wallet}
    assert [e["seq"] for e in got_one] == sorted(e["seq"] for e in got_one)
    assert [(e["session_id"], e["kind"], e["status"]) for e in got_one] == [
        (str(first), "session", "CREATED"),
        (str(second), "session", "CREATED"),
        (str(first), "session", "ACTIVE"),
        (str(first), "balance", "ACTIVE"),
        (str(second), "session", "ABANDONED"),
        (str(first), "balance", "ACTIVE"),
        (str(first), "session", "REVOKED"),
    ]
    assert [e["data"]["vault_balance"] for e in got_one if e["kind"] == "balance"] == [2_000_000, 1_500_000]


async def test_subscription_to_one_session_gets_only_that_session(api: ApiInstance, db_pool: asyncpg.Pool,
                                                                  parent: Keypair) -> None:
    wallet = str(parent.pubkey())
    mine = await insert_session_row(db_pool, wallet)
    other = await insert_session_row(db_pool, wallet)
    ws = await _subscribe(api, parent, f"/ws/session?session_id={mine}")
    try:
        await transition_status(db_pool, other, "ACTIVE")
        await transition_status(db_pool, mine, "ACTIVE")
        (event,) = await _events(ws, 1)
    finally:
        await ws.close()
    assert (event["session_id"], event["status"]) == (str(mine), "ACTIVE")


async def test_auth_by_first_message_for_browsers(api: ApiInstance, db_pool: asyncpg.Pool, parent: Keypair) -> None:
    async with connect(api.ws_url + "/ws/session") as ws:
        await ws.send(json.dumps(ws_auth_message(parent)))
        ack = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
        assert ack == {"type": "subscribed", "wallet": str(parent.pubkey()), "session_id": None}
        session_id = await insert_session_row(db_pool, str(parent.pubkey()))
        (event,) = await _events(ws, 1)
    assert event["session_id"] == str(session_id)


async def test_bad_signature_closes_with_4401(api: ApiInstance, parent: Keypair, other_parent: Keypair) -> None:
    headers = signed_headers(other_parent, "GET", "/ws/session")
    headers["X-EV-Wallet"] = str(parent.pubkey())
    async with connect(api.ws_url + "/ws/session", additional_headers=headers) as ws:
        error, code = await _closed_with(ws)
    assert code == 4401
    assert error["error"]["code"] == "auth_bad_signature"


async def test_replayed_upgrade_is_refused(api: ApiInstance, parent: Keypair) -> None:
    headers = signed_headers(parent, "GET", "/ws/session")
    async with connect(api.ws_url + "/ws/session", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "subscribed"
    async with connect(api.ws_url + "/ws/session", additional_headers=headers) as ws:
        error, code = await _closed_with(ws)
    assert (code, error["error"]["code"]) == (4401, "auth_replayed")


async def test_first_message_that_is_not_auth_closes_with_4401(api: ApiInstance) -> None:
    async with connect(api.ws_url + "/ws/session") as ws:
        await ws.send("hello")
        error, code = await _closed_with(ws)
    assert (code, error["error"]["code"]) == (4401, "auth_malformed")


async def test_bad_session_filter_closes_with_4422(api: ApiInstance, parent: Keypair) -> None:
    target = "/ws/session?session_id=nope"
    async with connect(api.ws_url + target, additional_headers=signed_headers(parent, "GET", target)) as ws:
        error, code = await _closed_with(ws)
    assert (code, error["error"]["field"]) == (4422, "query.session_id")


async def test_subscriber_gauge_follows_connections(api: ApiInstance, parent: Keypair) -> None:
    ws = await _subscribe(api, parent)
    async with api.client() as http:
        during = (await http.get("/metrics")).text
    await ws.close()
    assert "ev_api_websocket_connections 1.0" in during


async def test_listener_reconnect_sends_gap_and_events_keep_flowing(api: ApiInstance, db_pool: asyncpg.Pool,
                                                                    parent: Keypair) -> None:
    ws = await _subscribe(api, parent)
    try:
        listener_pid = api.app.state.hub._conn.get_server_pid()
        assert await db_pool.fetchval("SELECT pg_terminate_backend($1)", listener_pid)
        gap = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S))
        assert gap == {"type": "gap"}
        session_id = await insert_session_row(db_pool, str(parent.pubkey()))
        (event,) = await _events(ws, 1)
    finally:
        await ws.close()
    assert event["session_id"] == str(session_id)


async def test_filtering_on_another_parents_session_yields_none_of_its_events(
    api: ApiInstance, db_pool: asyncpg.Pool, parent: Keypair, other_parent: Keypair
) -> None:
    theirs = await insert_session_row(db_pool, str(other_parent.pubkey()))
    ws_filtered = await _subscribe(api, parent, f"/ws/session?session_id={theirs}")
    ws_all = await _subscribe(api, parent)
    try:
        await transition_status(db_pool, theirs, "ACTIVE")  # the other parent's event: must reach neither socket
        mine = await insert_session_row(db_pool, str(parent.pubkey()))
        (first_seen,) = await _events(ws_all, 1)  # commit order: had theirs been delivered, it would come first
    finally:
        await ws_filtered.close()
        await ws_all.close()
    assert first_seen["session_id"] == str(mine)
