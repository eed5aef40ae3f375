"""Nothing a client sends crashes the node: random JSON, wrong types for every method, huge ids, bad encodings,
oversized bodies. Every answer is either a JSON-RPC result/error or a 4xx, and the node stays healthy."""

from __future__ import annotations

import base64
import json
from typing import Any

import based58
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localnet.rpc import dispatcher  # noqa: F401  (registers the methods)
from localnet.rpc.registry import METHODS
from tests.fixtures.localnet import LocalnetNode, start_localnet

KNOWN_ERROR_CODES = {-32700, -32600, -32601, -32602, -32002, -32003, -32015, -32016}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60)
    | st.sampled_from(
        [
            "11111111111111111111111111111111",
            "2MwQDsAc7KMLKAnAruQfYFHx9DtaiNZFVHEzJ57RUMV3",
            "AAAA",
            "!!!",
            "base64",
            "base58",
            "jsonParsed",
            "finalized",
            "1" * 88,
        ]
    ),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
config_objects = st.fixed_dictionaries(
    {},
    optional={
        "encoding": st.sampled_from(["base64", "base58", "binary", "jsonParsed", "base64+zstd", "json", "nope", 5]),
        "commitment": st.sampled_from(["processed", "confirmed", "finalized", "recent", "bad", None, 1]),
        "dataSlice": json_values,
        "filters": json_values,
        "minContextSlot": json_values,
        "skipPreflight": json_values,
        "sigVerify": json_values,
        "replaceRecentBlockhash": json_values,
        "searchTransactionHistory": json_values,
        "maxSupportedTransactionVersion": json_values,
        "limit": json_values,
        "before": json_values,
        "accounts": json_values,
        "withContext": json_values,
    },
)


def assert_well_formed(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code != 200 or not response.content:
        return
    body = response.json()
    for item in body if isinstance(body, list) else [body]:
        assert item["jsonrpc"] == "2.0"
        assert ("result" in item) != ("error" in item), item
        if "error" in item:
            assert item["error"]["code"] in KNOWN_ERROR_CODES, item
            assert isinstance(item["error"]["message"], str) and item["error"]["message"]


def post(node: LocalnetNode, client: httpx.Client, payload: Any) -> httpx.Response:
    return client.post(node.url, content=json.dumps(payload), headers={"content-type": "application/json"})


def assert_healthy(node: LocalnetNode) -> None:
    assert node.process.poll() is None, node.log()
    response = httpx.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=10)
    assert response.json()["result"] == "ok"
    assert "Internal error" not in node.log() and "Traceback" not in node.log(), node.log()


def test_random_json_bodies(bare_node: LocalnetNode) -> None:
    with httpx.Client(timeout=30) as client:

        @FUZZ
        @given(payload=json_values)
        def check(payload: Any) -> None:
            assert_well_formed(post(bare_node, client, payload))

        check()
    assert_healthy(bare_node)


def test_every_method_with_random_params(bare_node: LocalnetNode) -> None:
    with httpx.Client(timeout=30) as client:

        @FUZZ
        @given(
            method=st.sampled_from(sorted(METHODS)),
            params=st.lists(json_values | config_objects, max_size=4),
            request_id=st.none() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(max_size=30),
        )
        def check(method: str, params: list[Any], request_id: Any) -> None:
            response = post(bare_node, client, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            assert_well_formed(response)
            assert response.json()["id"] == request_id

        check()
    assert_healthy(bare_node)


def test_random_bytes_as_transactions(bare_node: LocalnetNode) -> None:
    with httpx.Client(timeout=30) as client:

        @FUZZ
        @given(
            data=st.binary(max_size=1300),
            method=st.sampled_from(["sendTransaction", "simulateTransaction"]),
            encoding=st.sampled_from(["base64", "base58"]),
        )
        def check(data: bytes, method: str, encoding: str) -> None:
            encoded = base64.b64encode(data).decode() if encoding == "base64" else based58.b58encode(data).decode()
            payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": [encoded, {"encoding": encoding}]}
            response = post(bare_node, client, payload)
            assert_well_formed(response)
            assert "error" in response.json()

        check()
    assert_healthy(bare_node)


def test_malformed_envelopes(bare_node: LocalnetNode) -> None:
    bodies = [
        b"",
        b"\xff\xfe\x00garbage",
        b"NaN",
        b'{"jsonrpc": "2.0", "id": NaN, "method": "getSlot"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": [' + b"1," * 10_000 + b"1]}",
        b'{"jsonrpc": "2.0", "id": ' + b"9" * 4000 + b', "method": "getSlot"}',
        b'{"jsonrpc": "2.0", "id": {"nested": 1}, "method": "getSlot"}',
        b'{"jsonrpc": "2.0", "id": true, "method": "getSlot"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": 42}',
        b'[{"jsonrpc": "2.0", "method": "getSlot"}]',
        b'{"jsonrpc": "2.0", "method": "getSlot"}',
    ]
    with httpx.Client(timeout=30) as client:
        for body in bodies:
            response = client.post(bare_node.url, content=body, headers={"content-type": "application/json"})
            assert_well_formed(response)
    assert_healthy(bare_node)


def test_huge_id_is_echoed(bare_node: LocalnetNode) -> None:
    huge = 2**200
    response = httpx.post(
        bare_node.url, content=f'{{"jsonrpc":"2.0","id":{huge},"method":"getHealth"}}', timeout=10
    ).json()

    assert response == {"jsonrpc": "2.0", "result": "ok", "id": huge}


def test_notifications_get_no_response(bare_node: LocalnetNode) -> None:
    response = httpx.post(bare_node.url, json={"jsonrpc": "2.0", "method": "getSlot"}, timeout=10)

    assert response.status_code == 200
    assert response.content == b""


def test_batch_mixes_results_and_errors_in_order(bare_node: LocalnetNode) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "getHealth"},
        {"jsonrpc": "2.0", "id": 2, "method": "noSuchMethod"},
        {"jsonrpc": "2.0", "method": "getSlot"},  # a notification: no entry in the reply
        {"jsonrpc": "2.0", "id": 3, "method": "getBalance", "params": ["bad"]},
        7,
    ]

    reply = httpx.post(bare_node.url, json=batch, timeout=10).json()

    assert [item.get("id") for item in reply] == [1, 2, 3, None]
    assert reply[0]["result"] == "ok"
    assert [item["error"]["code"] for item in reply[1:]] == [-32601, -32602, -32600]


def test_oversized_body_is_413_without_reading_it() -> None:
    with start_localnet(program_so=None, extra_args=["--max-body-bytes", "100000"]) as node:
        declared = httpx.post(node.url, content=b"x" * 200_000, timeout=30)

        def chunks():  # no Content-Length: the node must stop reading at the limit
            for _ in range(50):
                yield b"y" * 10_000

        streamed = httpx.post(node.url, content=chunks(), timeout=30)
        assert_healthy(node)

    assert declared.status_code == 413
    assert streamed.status_code == 413
