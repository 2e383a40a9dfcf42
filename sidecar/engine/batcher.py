"""A micro-batcher: queueing, batch windows, admission control and early delivery. No torch here.

Why: a batched model step costs little more than a single-row one, so concurrent requests should
share it. Callers ``submit`` items and await a future; a loop takes the first waiting item, gathers
more for up to ``window_ms`` (or until ``max_batch_size``), then runs the *batch step* (any plain
function of a list of items) in a worker thread, so the event loop keeps serving while it computes.

Items that must not share a step (e.g. different sampling temperatures) are kept apart by an
optional ``key``: a batch takes only items whose key equals its first item's; the others keep their
place in the queue for a later batch.

The step returns one outcome per item (a result, or an exception for that item alone). It may also
answer an item early, while the rest of its batch is still computing, through the ``deliver``
callback it is given (thread-safe); the outcome it later returns for that item is then ignored.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

Deliver = Callable[[int, Any], None]
BatchStep = Callable[[Sequence[T], Deliver], Sequence[Any]]


class QueueFull(Exception):
    """Admission refused: too many items are waiting. The app answers 503 with Retry-After."""


class NotRunning(RuntimeError):
    """The batcher is not started (or was stopped): nothing can be submitted or answered now."""


@dataclass
class _Entry(Generic[T]):
    item: T
    future: asyncio.Future[Any]
    delivered: bool = field(default=False)


class MicroBatcher(Generic[T]):
    """Batches submitted items for ``step``; see the module docstring."""

    def __init__(
        self,
        step: BatchStep[T],
        *,
        max_batch_size: int = 16,
        window_ms: float = 5.0,
        max_queue: int = 64,
        name: str = "batcher",
        on_depth: Callable[[int], None] | None = None,
        on_reject: Callable[[], None] | None = None,
        key: Callable[[T], Hashable] | None = None,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or window_ms < 0:
            raise ValueError("max_batch_size and max_queue must be >= 1, window_ms >= 0")
        self.step = step
        self.max_batch_size = max_batch_size
        self.window_ms = window_ms
        self.max_queue = max_queue
        self.name = name
        self._on_depth = on_depth
        self._on_reject = on_reject
        self.key = key
        self._pending: collections.deque[_Entry[T]] = collections.deque()
        self._inflight: list[_Entry[T]] = []
        self._has_work: asyncio.Event | None = None
        self._batch_full: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches_run = 0
        self.items_served = 0
        self.max_batch_seen = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the batch loop on the running event loop (idempotent)."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        self._has_work = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-loop")

    async def stop(self, error: BaseException | None = None) -> None:
        """Cancel the loop and fail every waiting or in-flight item (with ``error`` or NotRunning)."""
        task, self._task = self._task, None
        waiting = [*self._pending, *self._inflight]  # captured first: the loop clears _inflight on cancel
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        err = error or NotRunning(f"{self.name} stopped")
        for entry in waiting:
            if not entry.future.done():
                entry.future.set_exception(err)
        self._pending.clear()
        self._inflight = []
        self._depth_changed()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------------ state

    @property
    def queue_depth(self) -> int:
        """Items waiting for a batch (not counting the batch being computed)."""
        return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Items in the batch being computed now."""
        return len(self._inflight)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the event loop, from any thread (no-op once the loop is closed)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback, *args)

    # ------------------------------------------------------------------ submit

    def submit(self, item: T) -> asyncio.Future[Any]:
        """Queue ``item``; the future resolves to its outcome. Raises QueueFull or NotRunning at once."""
        if not self.running or self._has_work is None:
            raise NotRunning(f"{self.name} is not running")
        if len(self._pending) >= self.max_queue:
            if self._on_reject is not None:
                self._on_reject()
            raise QueueFull(f"{len(self._pending)} requests already waiting ({self.name})")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = _Entry(item, fut)
        fut.add_done_callback(lambda f, e=entry: self._on_done(e, f))
        self._pending.append(entry)
        self._depth_changed()
        self._has_work.set()
        if len(self._pending) >= self.max_batch_size and self._batch_full is not None:
            self._batch_full.set()
        return fut

    def _on_done(self, entry: _Entry[T], fut: asyncio.Future[Any]) -> None:
        """A caller that gave up (cancelled) leaves the queue at once."""
        if fut.cancelled():
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
                self._depth_changed()

    def _depth_changed(self) -> None:
        if self._on_depth is not None:
            self._on_depth(len(self._pending))

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        assert self._has_work is not None and self._batch_full is not None
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._has_work.clear()
                await self._has_work.wait()
            # Gather: wait up to the window for the batch to fill (the first item is already here).
            if len(self._pending) < self.max_batch_size and self.window_ms > 0:
                self._batch_full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.window_ms / 1000):
                        await self._batch_full.wait()
            batch = self._take_batch()
            self._depth_changed()
            if not batch:
                continue
            self._inflight = batch
            self.batches_run += 1  # counted when taken: an early-delivered item may be answered before the step ends
            self.items_served += len(batch)
            self.max_batch_seen = max(self.max_batch_seen, len(batch))
            try:
                assert self._executor is not None
                outcomes = await loop.run_in_executor(self._executor, self._call_step, batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the whole batch failed: fail its items, keep serving
                log.exception("%s: batch of %d failed", self.name, len(batch))
                for entry in batch:
                    _resolve(entry, exc)
            else:
                for entry, outcome in zip(batch, outcomes, strict=True):
                    if not entry.delivered:
                        _resolve(entry, outcome)
            finally:
                self._inflight = []

    def _take_batch(self) -> list[_Entry[T]]:
        """Up to ``max_batch_size`` waiting items (skipping cancelled ones) that share the first one's key."""
        batch: list[_Entry[T]] = []
        others: list[_Entry[T]] = []
        first_key: Hashable = None
        while self._pending and len(batch) < self.max_batch_size:
            entry = self._pending.popleft()
            if entry.future.done():
                continue
            if self.key is not None:
                k = self.key(entry.item)
                if not batch:
                    first_key = k
                elif k != first_key:
                    others.append(entry)
                    continue
            batch.append(entry)
        self._pending.extendleft(reversed(others))
        return batch

    def _call_step(self, batch: list[_Entry[T]]) -> Sequence[Any]:
        """In the worker thread: the step, with a ``deliver`` that answers an item on the event loop."""

        def deliver(index: int, outcome: Any) -> None:
            entry = batch[index]
            if entry.delivered:
                return
            entry.delivered = True
            self.call_soon(_resolve, entry, outcome)

        outcomes = self.step([e.item for e in batch], deliver)
        if len(outcomes) != len(batch):
            raise RuntimeError(f"batch step returned {len(outcomes)} outcomes for {len(batch)} items")
        return outcomes


def _resolve(entry: _Entry[Any], outcome: Any) -> None:
    """Resolve an item's future (on the event loop) unless it was cancelled or answered already."""
    if entry.future.done():
        return
    if isinstance(outcome, BaseException):
        entry.future.set_exception(outcome)
    else:
        entry.future.set_result(outcome)
