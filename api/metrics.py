"""Prometheus metrics in the text exposition format (version 0.0.4), written out by hand: a few counters, a gauge
and one histogram do not justify another dependency. Per instance: Prometheus scrapes each instance and sums.

Label values are bounded: `route` is the route template (`/session/status/{session_id}`), or `unmatched`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    escaped = (v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'{n}="{v}"' for n, v in zip(names, escaped, strict=True)) + "}"


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self._values: dict[tuple[str, ...], float] = defaultdict(float)
        self._lock = threading.Lock()

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] += amount

    def value(self, *labels: str) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            lines += [f"{self.name}{_labels(self.label_names, k)} {v}" for k, v in sorted(self._values.items())]
        return lines


class Gauge:
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self.read = name, help_text, read

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge", f"{self.name} {float(self.read())}"]


class Histogram:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self._data: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., +Inf count, sum
        self._lock = threading.Lock()

    def observe(self, value: float, *labels: str) -> None:
        with self._lock:
            row = self._data.setdefault(labels, [0.0] * (len(BUCKETS) + 2))
            for i, bound in enumerate(BUCKETS):
                if value <= bound:
                    row[i] += 1
            row[len(BUCKETS)] += 1
            row[-1] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        names = (*self.label_names, "le")
        with self._lock:
            for key, row in sorted(self._data.items()):
                for i, bound in enumerate(BUCKETS):
                    lines.append(f"{self.name}_bucket{_labels(names, (*key, repr(bound)))} {row[i]}")
                lines.append(f"{self.name}_bucket{_labels(names, (*key, '+Inf'))} {row[len(BUCKETS)]}")
                lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {row[-1]}")
                lines.append(f"{self.name}_count{_labels(self.label_names, key)} {row[len(BUCKETS)]}")
        return lines


class ApiMetrics:
    def __init__(self, ws_connections: Callable[[], float]) -> None:
        self.requests = Counter("ev_api_requests_total", "HTTP requests by method, route and status",
                                ("method", "route", "status"))
        self.latency = Histogram("ev_api_request_duration_seconds", "HTTP request latency", ("method", "route"))
        self.auth_failures = Counter("ev_api_auth_failures_total", "rejected authentications by reason", ("code",))
        self.ws_events = Counter("ev_api_ws_events_total", "session events received from PostgreSQL NOTIFY")
        self.ws_connections = Gauge("ev_api_websocket_connections", "open WebSocket subscriptions", ws_connections)

    def render(self) -> str:
        lines: list[str] = []
        for metric in (self.requests, self.latency, self.auth_failures, self.ws_events, self.ws_connections):
            lines += metric.render()
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Counts every HTTP request with its route template and status (pure ASGI: no body buffering)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.inc(scope["method"], template, str(status))
            self.metrics.latency.observe(time.perf_counter() - start, scope["method"], template)


class BodyLimitMiddleware:
    """Refuses request bodies over `limit` bytes with 413 in the one error shape, before any route reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit:
                    await self._too_large(send)
                    return
        chunks: list[bytes] = []
        size = 0
        more = True
        disconnected = False
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent and not disconnected:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        from api.errors import error_response

        response = error_response(413, "payload_too_large", f"request bodies are limited to {self.limit} bytes")
        await send({"type": "http.response.start", "status": 413, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})
