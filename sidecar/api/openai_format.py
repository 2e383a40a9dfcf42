"""The OpenAI wire format: answers, server-sent-event chunks and error bodies, built in one place.

Why hand-built JSON rather than response models: a streamed chunk is built once per token on the
event loop, so each is one small dict and one compact ``json.dumps``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fastapi.responses import JSONResponse

DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold chunks back
OWNER = "osiris-load"


def sse(payload: dict[str, Any]) -> bytes:
    """One server-sent event carrying ``payload``."""
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def finish_reason(completion_tokens: int, limit: int) -> str:
    """"length" when the row stopped at its token limit, else "stop" (it decoded EOS)."""
    return "length" if completion_tokens >= limit else "stop"


class Answer:
    """The ids and shape of one answer, chat (``chat.completion``) or text (``text_completion``)."""

    def __init__(self, model: str, chat: bool) -> None:
        self.model, self.chat = model, chat
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _head(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def whole(self, text: str, reason: str, used: dict[str, int]) -> dict[str, Any]:
        """The non-streamed answer."""
        if self.chat:
            choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": reason}
            return {**self._head("chat.completion"), "choices": [choice], "usage": used}
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": reason}
        return {**self._head("text_completion"), "choices": [choice], "usage": used}

    def chunk(self, text: str | None, reason: str | None = None, *, role: bool = False) -> bytes:
        """One streamed chunk: a piece of text (or, with ``reason``, the last choice chunk)."""
        if self.chat:
            delta: dict[str, Any] = {"role": "assistant", "content": ""} if role else {}
            if text is not None:
                delta["content"] = text
            choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            return sse({**self._head("chat.completion.chunk"), "choices": [choice]})
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
        return sse({**self._head("text_completion"), "choices": [choice]})

    def usage_chunk(self, used: dict[str, int]) -> bytes:
        """``stream_options.include_usage``: the last chunk, with no choices and the request's usage."""
        obj = "chat.completion.chunk" if self.chat else "text_completion"
        return sse({**self._head(obj), "choices": [], "usage": used})


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
               501: "not_implemented_error", 503: "service_unavailable"}


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": param,
                      "code": code}}


def error_response(status: int, message: str, *, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, param=param, code=code), status_code=status, headers=headers)


def stream_error(message: str) -> bytes:
    """An error met after the stream began (status 200 already sent): an error event, then no [DONE]."""
    return sse(error_body(503, message))
