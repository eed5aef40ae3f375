"""Port choice for nodes started by tests, benchmarks and tools: the node serves JSON-RPC on p and PubSub on p + 1,
as validators do, so both must be free."""

from __future__ import annotations

import contextlib
import socket


def free_port_pair(host: str = "127.0.0.1") -> int:
    """A port p with p + 1 also free right now."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind((host, port + 1))
            return port
    raise RuntimeError("no free pair of adjacent ports")
