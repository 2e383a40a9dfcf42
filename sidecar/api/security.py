"""Optional API key for the POST routes (``OSIRIS_API_KEY``), checked before the body is read.

A plain ASGI middleware, so an unauthenticated request gets 401 before any parsing, model work or
Redis write; the comparison is constant-time (hmac.compare_digest) and the key is never logged.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

API_KEY_HEADER = "X-API-Key"
_HEADER = API_KEY_HEADER.lower().encode()
_BODY = b'{"detail":"missing or invalid API key (send it in the X-API-Key header)"}'


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.expected = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not self._authorised(scope):
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode()),
                (b"www-authenticate", b'ApiKey header="X-API-Key"')]})
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        supplied = b""
        for name, value in scope["headers"]:
            if name == _HEADER:
                supplied = value
                break
        return hmac.compare_digest(supplied, self.expected)
