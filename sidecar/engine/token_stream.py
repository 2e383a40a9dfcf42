"""A request's tokens as they are decoded: the bridge from the decode thread to an async reader.

Why a queue per request: the decode loop runs in the batcher's worker thread and must never wait for
a slow reader, so each piece of text is handed to the event loop (``call_soon_threadsafe``) and
queued; the reader (an SSE response) takes pieces as they come. The request's future resolves after
its last piece was queued (both travel through the same ordered ``call_soon`` channel), so the end
marker always follows every piece.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

_END = object()


class TokenStream:
    """Pieces of text in decode order, then :meth:`result`; :meth:`close` frees the decode row early."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._future: asyncio.Future[Any] | None = None
        self._cancel: Callable[[], None] | None = None

    def put(self, piece: str) -> None:
        """Called on the event loop (scheduled from the decode thread) with each decoded piece."""
        self._queue.put_nowait(piece)

    def attach(self, future: asyncio.Future[Any], cancel: Callable[[], None]) -> None:
        """The submitted request's future and how to end its row when the reader leaves."""
        self._future, self._cancel = future, cancel
        future.add_done_callback(lambda _: self._queue.put_nowait(_END))

    async def pieces(self) -> AsyncIterator[str]:
        """Each piece as soon as it is decoded; ends when the request is answered."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            yield item

    def result(self) -> Any:
        """The request's outcome (raises its exception); only after :meth:`pieces` ended."""
        assert self._future is not None
        return self._future.result()

    def close(self) -> None:
        """The reader is gone (client disconnected, or done): stop decoding this row if it still runs."""
        future = self._future
        if future is not None and not future.done():
            if self._cancel is not None:
                self._cancel()
            future.cancel()
