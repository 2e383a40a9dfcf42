"""The micro-batcher with a plain function as its batch step: queueing, windows, admission, early
delivery, failures and shutdown, each in milliseconds (no model, no torch)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from sidecar.engine.batcher import Deliver, MicroBatcher, NotRunning, QueueFull


class Recorder:
    """A batch step that doubles each item, records its batches, and can be held or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail_next = False

    def __call__(self, items: Sequence[int], deliver: Deliver) -> list[Any]:
        self.batches.append(list(items))
        self.entered.set()
        self.release.wait(5)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("step fell over")
        return [ValueError(f"bad {x}") if x < 0 else 2 * x for x in items]


def run(body: Callable[[MicroBatcher[int], Recorder], Awaitable[Any]], **kwargs: Any) -> Any:
    async def main() -> Any:
        step = kwargs.pop("step", None) or Recorder()
        batcher: MicroBatcher[int] = MicroBatcher(step, name="test", **kwargs)
        await batcher.start()
        try:
            return await body(batcher, step)
        finally:
            if isinstance(step, Recorder):
                step.release.set()
            await batcher.stop()

    return asyncio.run(main())


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def test_concurrent_items_share_a_batch_and_keep_their_order() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> list[int]:
        return await asyncio.gather(*(b.submit(i) for i in range(5)))

    assert run(body, max_batch_size=8, window_ms=50) == [0, 2, 4, 6, 8]


def test_a_full_batch_runs_without_waiting_for_the_window() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(b.submit(i) for i in range(4)))
        return time.perf_counter() - t0

    elapsed = run(body, max_batch_size=4, window_ms=5000)
    assert elapsed < 2.5  # far below the 5 s window: the fourth item closed the batch


def test_batches_are_capped_and_later_items_wait_for_the_next() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> list[list[int]]:
        await asyncio.gather(*(b.submit(i) for i in range(7)))
        return step.batches

    batches = run(body, max_batch_size=3, window_ms=20)
    assert [len(x) for x in batches] == [3, 3, 1]
    assert sum(batches, []) == list(range(7))


def test_a_lone_item_waits_at_most_the_window() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> tuple[int, int]:
        first = await b.submit(1)
        second = await b.submit(2)
        return first, second

    assert run(body, max_batch_size=16, window_ms=10) == (2, 4)


def test_zero_window_runs_at_once() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> list[list[int]]:
        await b.submit(1)
        return step.batches

    assert run(body, window_ms=0) == [[1]]


def test_admission_refuses_beyond_max_queue_at_once() -> None:
    rejected: list[int] = []

    async def body(b: MicroBatcher[int], step: Recorder) -> None:
        step.release.clear()
        running = b.submit(1)
        await until(lambda: b.in_flight == 1)
        waiting = [b.submit(2), b.submit(3)]
        assert b.queue_depth == 2
        with pytest.raises(QueueFull):  # at once: submit() is not awaited, it refuses in the call itself
            b.submit(4)                   # (what the refusal costs: osiris-load bench runner_loop)
        assert b.queue_depth == 2 and b.in_flight == 1  # the refused item took no place
        step.release.set()
        assert await running == 2 and await asyncio.gather(*waiting) == [4, 6]

    run(body, max_batch_size=1, max_queue=2, window_ms=0, on_reject=lambda: rejected.append(1))
    assert rejected == [1]


def test_queue_depth_is_reported() -> None:
    depths: list[int] = []

    async def body(b: MicroBatcher[int], step: Recorder) -> None:
        step.release.clear()
        first = b.submit(1)
        await until(lambda: b.in_flight == 1)
        rest = [b.submit(i) for i in (2, 3)]
        step.release.set()
        await asyncio.gather(first, *rest)

    run(body, max_batch_size=1, window_ms=0, on_depth=depths.append)
    assert max(depths) == 2 and depths[-1] == 0


def test_early_delivery_answers_before_the_step_ends() -> None:
    release = threading.Event()

    def step(items: Sequence[int], deliver: Deliver) -> list[Any]:
        deliver(0, "early")  # row 0 is done; the rest of the batch keeps computing
        release.wait(5)
        return ["ignored: delivered already", *[x * 10 for x in items[1:]]]

    async def body(b: MicroBatcher[int], _: Any) -> tuple[str, int]:
        first, second = b.submit(1), b.submit(2)
        assert await asyncio.wait_for(first, 2) == "early"
        assert not second.done()
        release.set()
        return "early", await second

    assert run(body, step=step, max_batch_size=2, window_ms=50) == ("early", 20)


def test_per_item_errors_and_whole_batch_failures() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> int:
        results = await asyncio.gather(b.submit(3), b.submit(-1), return_exceptions=True)
        assert results[0] == 6 and isinstance(results[1], ValueError)
        step.fail_next = True
        failed = await asyncio.gather(b.submit(1), b.submit(2), return_exceptions=True)
        assert all(isinstance(e, RuntimeError) and "fell over" in str(e) for e in failed)
        return await b.submit(5)  # still serving

    assert run(body, max_batch_size=4, window_ms=20) == 10


def test_cancelled_item_leaves_the_queue() -> None:
    async def body(b: MicroBatcher[int], step: Recorder) -> None:
        step.release.clear()
        running = b.submit(1)
        await until(lambda: b.in_flight == 1)
        gone = b.submit(2)
        assert b.queue_depth == 1
        gone.cancel()
        await asyncio.sleep(0)
        assert b.queue_depth == 0
        step.release.set()
        await running
        assert step.batches == [[1]]

    run(body, max_batch_size=1, window_ms=0)


def test_stop_fails_waiting_and_running_items_and_refuses_new_ones() -> None:
    async def main() -> None:
        step = Recorder()
        step.release.clear()
        b: MicroBatcher[int] = MicroBatcher(step, max_batch_size=1, window_ms=0)
        with pytest.raises(NotRunning):
            b.submit(0)
        await b.start()
        running = b.submit(1)
        await until(lambda: b.in_flight == 1)
        waiting = b.submit(2)
        await b.stop(NotRunning("bye"))
        step.release.set()
        for fut in (running, waiting):
            with pytest.raises(NotRunning):
                await fut
        assert not b.running and b.queue_depth == 0
        with pytest.raises(NotRunning):
            b.submit(3)

    asyncio.run(main())


def test_invalid_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(Recorder(), max_batch_size=0)
    with pytest.raises(ValueError):
        MicroBatcher(Recorder(), window_ms=-1)


def test_pure_layers_do_not_import_torch() -> None:
    """The batcher and the grammar layers stay free of torch (the processor is the torch side)."""
    code = ("import sys; import sidecar.engine.batcher, sidecar.engine.constrained.grammar, sidecar.contract; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_items_of_different_keys_never_share_a_batch_and_keep_their_place() -> None:
    """E.g. two sampling temperatures: one batch per key, in the order of each key's first item."""

    async def body(b: MicroBatcher[int], step: Recorder) -> list[list[int]]:
        await asyncio.gather(*(b.submit(i) for i in (1, 2, 3, 4, 5)))
        return step.batches

    assert run(body, max_batch_size=8, window_ms=50, key=lambda x: x % 2) == [[1, 3, 5], [2, 4]]
