"""WORKER_METRICS_ADDRESS: the worker serves the Temporal SDK's metrics for Prometheus, and they count its work."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest
from temporalio.worker import Worker

from bench.stack import prometheus_sums
from bench.trivial import TrivialInput, TrivialWorkflow, noop
from ephemeral_vault.db.embedded import free_tcp_port
from ephemeral_vault.settings import Settings
from tests.fixtures.temporal import DevServer
from worker import connect_temporal, metrics_runtime


def test_no_address_no_metrics_endpoint() -> None:
    assert metrics_runtime(Settings(worker_metrics_address=None)) is None


@pytest.mark.parametrize("address", ["9464", "127.0.0.1:", ":9464", "127.0.0.1:0", "127.0.0.1:65536",
                                     "127.0.0.1:09464", "host name:9464", "127.0.0.1:94a", "localhost:9464",
                                     "::1:9464", "[::1:9464", "256.0.0.1:9464"])
def test_a_malformed_metrics_address_is_refused_naming_what_it_must_be(address: str) -> None:
    with pytest.raises(ValueError, match="is not IP:port"):
        Settings(worker_metrics_address=address)


@pytest.mark.parametrize("address", ["127.0.0.1:9464", "0.0.0.0:1", "[::1]:65535"])
def test_ip_and_port_are_accepted(address: str) -> None:
    assert Settings(worker_metrics_address=address).worker_metrics_address == address


def test_a_metrics_port_in_use_stops_the_worker_with_a_message_not_a_traceback() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(SystemExit, match=f"WORKER_METRICS_ADDRESS {address}: .*in use"):
            metrics_runtime(Settings(worker_metrics_address=address))


async def test_the_worker_serves_its_sdk_metrics_and_they_count_its_workflow_tasks(
    temporal_dev_server: DevServer,
) -> None:
    address = f"127.0.0.1:{free_tcp_port()}"
    settings = Settings(temporal_address=temporal_dev_server.address, temporal_namespace=temporal_dev_server.namespace,
                        worker_metrics_address=address)
    client = await connect_temporal(settings, metrics_runtime(settings))
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[TrivialWorkflow], activities=[noop]):
        for _ in range(2):
            await client.execute_workflow(TrivialWorkflow.run, TrivialInput(activities=2), id=f"wf-{uuid.uuid4()}",
                                          task_queue=queue)
        async with httpx.AsyncClient() as http:
            exposed = (await http.get(f"http://{address}/metrics")).text

    counts = prometheus_sums(exposed)
    # Two workflows of three workflow tasks each (start, after each activity): the first on the task queue, the
    # others from the worker's sticky cache.
    assert counts["temporal_workflow_task_execution_latency_count"] >= 6
    assert counts["temporal_sticky_cache_hit"] >= 4
    assert counts.get("temporal_sticky_cache_total_forced_eviction", 0) == 0
