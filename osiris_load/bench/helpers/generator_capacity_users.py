"""The capacity step of ``osiris-load bench generator_cost``: how many users one process holds.

The project's read-heavy user *with* its 1 s think time, stepped through ``BENCH_STEPS`` user counts
(each held ``BENCH_STEP_S`` seconds), while a loop-lag greenlet sleeps 10 ms at a time and measures
how late it wakes. Once a second it appends a JSON line to ``BENCH_LAG_FILE``: the running users,
the p99 and the max lag of that second (ms) and the process's resident memory (bytes).
"""

from __future__ import annotations

import json
import os
import time

import gevent
import psutil
from locust import LoadTestShape, events

from locustfiles.read_heavy import ReadHeavyUser

STEPS = [int(s) for s in os.environ.get("BENCH_STEPS", "0,100").split(",")]
STEP_S = float(os.environ.get("BENCH_STEP_S", "4"))
SPAWN_RATE = 2000.0
LAG_TICK_S = 0.01


class ReadHeavyThinking(ReadHeavyUser):
    """The project's user as users run it: 1 s think time, the lean path, the gate, Locust's stats."""


class Steps(LoadTestShape):
    """Each of ``STEPS`` users for ``STEP_S`` seconds, then stop."""

    def tick(self) -> tuple[int, float] | None:
        step = int(self.get_run_time() // STEP_S)
        return (STEPS[step], SPAWN_RATE) if step < len(STEPS) else None


def _monitor(environment: object, path: str) -> None:
    """Sleep ``LAG_TICK_S`` again and again; each second, write how late the wake-ups were."""
    process = psutil.Process()
    lags: list[float] = []
    second = time.perf_counter() + 1.0
    with open(path, "a", encoding="utf-8") as out:
        while True:
            before = time.perf_counter()
            gevent.sleep(LAG_TICK_S)
            now = time.perf_counter()
            lags.append((now - before - LAG_TICK_S) * 1000.0)
            if now >= second:
                lags.sort()
                runner = environment.runner  # type: ignore[attr-defined]
                out.write(json.dumps({"users": runner.user_count if runner else 0,
                                      "lag_p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
                                      "lag_max_ms": lags[-1], "rss": process.memory_info().rss}) + "\n")
                out.flush()
                lags.clear()
                second = now + 1.0


@events.test_start.add_listener
def _start_monitor(environment: object, **_: object) -> None:
    path = os.environ.get("BENCH_LAG_FILE")
    if path:
        gevent.spawn(_monitor, environment, path)
