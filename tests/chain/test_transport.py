"""The chain client's HTTP transport (ephemeral_vault/chain/transport.py) against real sockets: the local node, the
fault-injecting proxy in front of it, and small TCP servers that misbehave in ways a proxy cannot (refuse, close
mid-answer, send bytes that are not UTF-8). Every failure must come out as a typed chain error that says what a retry
could achieve and names no URL, host or port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ephemeral_vault.chain.client import ChainClient
from ephemeral_vault.chain.errors import ChainError, RetryableRpcError, RpcRequestRejected
from ephemeral_vault.settings import get_settings
from localnet.faultproxy import FaultProxy

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def tcp_server(handler: Handler) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0
    )
    await reader.readexactly(length)


async def _failure_of(url: str, **client_args: float) -> ChainError:
    async with ChainClient(url, **client_args) as chain:
        with pytest.raises(ChainError) as failed:
            await chain.block_height()
    err = failed.value
    # The error with its whole cause chain, as a log line or Temporal's failure would carry it.
    shown = "".join(traceback.format_exception(err))
    assert "127.0.0.1" not in shown and f":{url.rsplit(':', 1)[1]}" not in shown, shown
    return err


async def test_a_refused_connection_is_retryable_and_names_no_address() -> None:
    with socket.socket() as probe:  # a port that was just free and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    err = await _failure_of(f"http://127.0.0.1:{port}")
    assert isinstance(err, RetryableRpcError)
    assert "cannot reach the RPC endpoint" in str(err)


async def test_a_connection_closed_before_the_answer_is_retryable() -> None:
    async def close_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.close()

    async with tcp_server(close_after_request) as url:
        err = await _failure_of(url)
    assert isinstance(err, RetryableRpcError) and "cannot reach the RPC endpoint" in str(err)


async def test_a_body_that_is_not_utf8_json_is_an_unparseable_answer_not_a_crash() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        body = b"\xff\xfe{not json"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        writer.write(body)
        await writer.drain()
        writer.close()

    async with tcp_server(garbage) as url:
        err = await _failure_of(url)
    assert isinstance(err, RetryableRpcError) and "unparseable" in str(err)


@pytest.mark.parametrize(
    ("status", "cls"), [(429, RetryableRpcError), (503, RetryableRpcError), (403, RpcRequestRejected)]
)
async def test_http_status_from_the_endpoint_decides_retry(localnet_url: str, status: int, cls: type) -> None:
    proxy = FaultProxy(localnet_url)
    url = await proxy.start()
    try:
        proxy.set_fault(mode="error", status=status)
        err = await _failure_of(url)
    finally:
        await proxy.stop()
    assert type(err) is cls and f"HTTP {status}" in str(err)


async def test_an_endpoint_that_hangs_times_out_as_retryable(localnet_url: str) -> None:
    proxy = FaultProxy(localnet_url)
    url = await proxy.start()
    try:
        proxy.set_fault(mode="hang", hang_seconds=30, forward=False)
        err = await _failure_of(url, rpc_timeout_seconds=0.5)
    finally:
        await proxy.stop()
    assert isinstance(err, RetryableRpcError) and "timed out" in str(err)


async def test_methods_outside_solana_py_go_through_the_same_session(localnet_url: str) -> None:
    proxy = FaultProxy(localnet_url)
    url = await proxy.start()
    try:
        async with ChainClient(url) as chain:
            fees = await chain.recent_prioritization_fees()
            blockhash = await chain.latest_blockhash()
            assert await chain.blockhash_is_valid(str(blockhash.blockhash))
            proxy.set_fault(mode="error", status=503, methods=["getRecentPrioritizationFees"])
            with pytest.raises(RetryableRpcError, match="HTTP 503"):
                await chain.recent_prioritization_fees()
        assert isinstance(fees, list)
    finally:
        await proxy.stop()


async def test_the_chain_client_holds_at_most_its_connection_bound(
    localnet_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve reads at once through a bound of three: they queue and are all answered, and the node never sees
    more than three connections (counted by a TCP relay in front of it)."""
    upstream_port = int(localnet_url.rsplit(":", 1)[1])
    open_now = peak = accepted = 0

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak, accepted
        accepted += 1
        open_now += 1
        peak = max(peak, open_now)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            open_now -= 1

    monkeypatch.setenv("SOLANA_RPC_MAX_CONNECTIONS", "3")
    get_settings.cache_clear()
    try:
        async with tcp_server(relay) as url, ChainClient(url) as chain:
            heights = await asyncio.gather(*(chain.block_height() for _ in range(12)))
            assert all(h >= 0 for h in heights)
            assert 1 <= peak <= 3, peak
            # Kept alive and reused: twelve requests, at most three connections ever opened.
            assert accepted <= 3, accepted
    finally:
        get_settings.cache_clear()


async def test_a_closed_client_refuses_requests_instead_of_reopening_its_connections(localnet_url: str) -> None:
    async with ChainClient(localnet_url) as chain:
        await chain.block_height()
    with pytest.raises(RuntimeError, match="this chain client is closed"):
        await chain.block_height()
