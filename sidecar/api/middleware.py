"""The sidecar's two plain ASGI middlewares: the body-size limit and the HTTP metrics.

Plain ASGI (no BaseHTTPMiddleware) keeps the per-request overhead small. Metrics sit outermost, so
the 413s of the body limit and the 401s of the API key are counted like any other answer.
"""

from __future__ import annotations

import time

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sidecar.infra.metrics import SidecarMetrics


class MetricsMiddleware:
    """Counts and times every HTTP request by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: SidecarMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = scope.get("route")  # set by the router on this same scope dict
            label = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(label, method, str(status)).inc()
            self.metrics.request_latency.labels(label, method).observe(time.perf_counter() - start)


class BodySizeLimitMiddleware:
    """Refuses bodies over ``max_body_bytes`` with 413: by Content-Length up front, or while streaming."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_too_large(scope):
            await _send_413(send, self.max_body_bytes)
            return
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, _limited(receive, self.max_body_bytes), send_tracked)
        except _BodyTooLarge:
            if not started:
                await _send_413(send, self.max_body_bytes)

    def _declared_too_large(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value) > self.max_body_bytes
                except ValueError:
                    return False
        return False


class _BodyTooLarge(HTTPException):
    """Raised from the body stream. An HTTPException, because FastAPI turns any other exception
    raised while reading the body into a 400; this one passes through as the 413 it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit} bytes")


def _limited(receive: Receive, limit: int) -> Receive:
    """Counts streamed (chunked) body bytes, so a body without Content-Length is bounded too."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge(limit)
        return message

    return wrapped


async def _send_413(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body too large: the limit is {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
