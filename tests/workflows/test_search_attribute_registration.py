"""A cluster that starts without our search attributes (docker-compose's auto-setup image, any fresh namespace) gets
them from the worker at start, and a second worker starting later changes nothing."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from tests.fixtures.temporal import CLI_BIN, _free_port, _wait_listening
from workflows.client import SEARCH_ATTRIBUTES, register_search_attributes


@pytest.fixture
def bare_dev_server() -> Iterator[str]:
    """An in-memory dev server started deliberately without --search-attribute flags."""
    port = _free_port()
    argv = [
        str(CLI_BIN), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port),
        "--http-port", str(_free_port()), "--metrics-port", str(_free_port()), "--log-level", "error",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _custom_attributes(client: Client) -> set[str]:
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    return set(listed.custom_attributes)


async def _connect(address: str) -> Client:
    for _ in range(200):
        try:
            client = await Client.connect(address)
            await _custom_attributes(client)
            return client
        except Exception:  # the frontend listens before the namespace is ready
            await asyncio.sleep(0.1)
    raise RuntimeError("dev server never became ready")


async def test_worker_start_registers_missing_search_attributes_once(bare_dev_server: str):
    client = await _connect(bare_dev_server)
    assert not set(SEARCH_ATTRIBUTES) & await _custom_attributes(client)

    assert sorted(await register_search_attributes(client)) == sorted(SEARCH_ATTRIBUTES)
    assert set(SEARCH_ATTRIBUTES) <= await _custom_attributes(client)
    assert await register_search_attributes(client) == []  # the next worker to start adds nothing
