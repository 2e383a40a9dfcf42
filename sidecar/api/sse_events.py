"""The SSE body of one streamed answer, shared by the OpenAI routes and ``POST /generate`` with
``"stream": true``: (chat) the role chunk, one chunk per decoded piece as the decode loop hands it
over, the finish chunk, the usage chunk, ``data: [DONE]``. An error after the 200 was sent goes into
the stream as an error object, without ``[DONE]``. Closing the generator (the client went away) ends
the request's decode row at its next step (:meth:`sidecar.engine.token_stream.TokenStream.close`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sidecar.api.openai_format import DONE, Answer, finish_reason, stream_error, usage
from sidecar.engine.runner import TokenStream


async def events(stream: TokenStream, shape: Answer, limit: int, include_usage: bool) -> AsyncIterator[bytes]:
    """The SSE body (see the module docstring)."""
    try:
        if shape.chat:
            yield shape.chunk(None, role=True)
        async for piece in stream.pieces():
            yield shape.chunk(piece)
        try:
            gen = stream.result()
        except Exception as exc:  # the status line is sent: the failure goes into the stream, no [DONE]
            yield stream_error(f"generation failed: {exc}")
            return
        yield shape.chunk(None, finish_reason(gen.completion_tokens, limit))
        if include_usage:
            yield shape.usage_chunk(usage(gen.prompt_tokens, gen.completion_tokens))
        yield DONE
    finally:
        stream.close()
