"""The load generator's own health, measured in each process that runs users (issue 17): pure, no
Locust, no gevent (``slo_locust.generator`` drives it from a greenlet).

Why: a request's measured time is the server's time *plus* whatever the generator added: its event
loop busy elsewhere (a user burning the CPU, hundreds of users on one core, a shared CI runner)
while the answer waited in the socket. A confident FAIL must be a statement about the server, so
the gate needs, per request, a bound on what the generator may have added.

* :class:`StallLog`: a monitor asks to wake every ``interval_s``; each wake later than
  ``interval_s + stall_min_s`` is a **stall**, kept as the whole span ``[asked, woke]`` (the loop
  may have been blocked from any moment after it asked). :meth:`StallLog.bound_ms` bounds what the
  generator added to one request: the time since the loop last kept up (two wakes on time in a
  row) when it stalled since, or is late now (its answer waited to be read; the monitor may not have
  run yet), and the stall at its start (its send waited). It over-counts (a conservative bound on
  the client's share), except delays shorter than ``interval_s + stall_min_s`` between two wakes, which it does not see.
* :class:`HealthMonitor`: the wakes' lag in an exact HDR histogram, the process's CPU per second
  (``os.times``), the seconds spent saturated, a coarse timeline (for the report's chart), and the
  per-process summary the verdict shows (:class:`slo.verdict.ProcessHealth`).
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from slo.recorder import new_histogram
from slo.verdict import ProcessHealth

__all__ = ["CPU_SATURATED", "INTERVAL_S", "LAG_NOTE_MS", "STALL_MIN_S", "HealthMonitor", "StallLog",
           "cpu_seconds", "health_from_data", "percentile"]

INTERVAL_S = 0.005  # the monitor asks to wake this often
STALL_MIN_S = 0.002  # a wake later than this beyond the interval is a stall
STALLS_KEPT = 8192  # recent stalls kept for the per-request bound (>= 40 s of back-to-back stalls)
CPU_SATURATED = 90.0  # % of one core: a second at or above it is saturated (Locust warns at 90 % too)
LAG_NOTE_MS = 20.0  # a second whose worst wake was this late says "latencies include the client's delay"
TIMELINE_MAX = 300  # points of the coarse timeline; pairs merge when full (a long run keeps its shape)
NS_PER_MS = 1_000_000


def cpu_seconds() -> float:
    """This process's CPU time (user + system), seconds."""
    t = os.times()
    return t.user + t.system


class StallLog:
    """The recent stalls of one event loop, and the bound on each request's client-added time.

    Timestamps are ``time.perf_counter()`` seconds, the clock Locust times requests with."""

    def __init__(self, interval_s: float = INTERVAL_S, stall_min_s: float = STALL_MIN_S,
                 now: float | None = None, keep: int = STALLS_KEPT) -> None:
        self.interval_s = interval_s
        self.stall_min_s = stall_min_s
        self.late_after = interval_s + stall_min_s
        self.stalls: deque[tuple[float, float]] = deque(maxlen=keep)
        self.last_wake = time.perf_counter() if now is None else now
        self.last_stall_end = -math.inf
        #: The loop polled its sockets after this moment and kept up: the due time of the first of
        #: the last two wakes in a row that were on time (see :meth:`bound_ms`).
        self.free_at = self.last_wake
        self._on_time_due: float | None = None  # the last wake's due time, when it was on time

    def woke(self, asked_at: float, now: float) -> float:
        """The monitor asked at ``asked_at`` to wake ``interval_s`` later and woke at ``now``: its
        lag (seconds, may be slightly negative), and the span kept when it is a stall."""
        due = asked_at + self.interval_s
        lag = now - due
        if lag >= self.stall_min_s:
            self.stalls.append((asked_at, now))
            self.last_stall_end = now
            self._on_time_due = None
        else:
            if self._on_time_due is not None:
                self.free_at = self._on_time_due
            self._on_time_due = due
        self.last_wake = now
        return lag

    def bound_ms(self, start: float, now: float) -> float:
        """Milliseconds the generator may have added to a request that started at ``start`` and
        whose event fires at ``now`` (the hot path: three compares when nothing stalled). Two
        delays count (docs/verdicts.md, "The generator's own delays"):

        * reading the answer late: a wake on time means the loop polled its sockets at most
          ``stall_min_s`` before it and took the timer's turn; a second wake on time right after
          means every answer that had arrived by the first poll was read before it. So an answer
          read now arrived after :attr:`free_at` and waited at most ``now - free_at`` (counted
          when the loop stalled since then, or is late now: the monitor has not run yet);
        * sending late: the stall span that contains ``start`` (the process was descheduled).

        On a kept-alive connection (Locust's default) nothing else of the client lies between;
        a connect or TLS handshake inside the request (a first request) is not bounded, nor are
        delays shorter than ``interval_s + stall_min_s`` that no wake sees."""
        free_at = self.free_at
        total = 0.0
        if now - self.last_wake > self.late_after or self.last_stall_end > free_at:
            total = now - (free_at if free_at > start else start)
        if self.last_stall_end > start and free_at > start:
            for s, e in reversed(self.stalls):
                if e <= start:
                    break
                if s <= start:
                    total += e - start
                    break
        return total * 1000.0


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank ``p`` percentile of ``values`` (0 for none): the CPU seconds are few."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


class HealthMonitor:
    """One process's generator health: what the monitor greenlet feeds in (:meth:`woke`, and
    :meth:`tick` once a second) and what the verdict shows (:meth:`summary`)."""

    def __init__(self, process: str = "local", *, interval_s: float = INTERVAL_S,
                 stall_min_s: float = STALL_MIN_S, clock: Callable[[], float] = time.perf_counter,
                 cpu: Callable[[], float] = cpu_seconds) -> None:
        self.process = process
        self.clock, self.cpu = clock, cpu
        self.interval_s = interval_s
        self.stall_min_s = stall_min_s
        self.reset()

    def reset(self) -> None:
        """Start over (a new test): nothing seen yet."""
        now = self.clock()
        self.log = StallLog(self.interval_s, self.stall_min_s, now=now)
        self.lags = new_histogram()  # ns, exact to 3 significant digits
        self.lag_max_ms = 0.0
        self.stall_count = 0
        self.stall_s = 0.0
        self.cpu_samples: list[float] = []  # % of one core, one per second
        self.timeline: list[tuple[float, float, float]] = []  # (seconds since start, CPU %, worst lag ms)
        self.step = 1  # seconds per timeline point (doubles when it fills)
        self.started = now
        self._tick_wall, self._tick_cpu = now, self.cpu()
        self._second_lag_ms = 0.0
        self.users = 0
        self.requests = 0
        self.bounded = 0  # requests whose measured time overlapped a stall

    def woke(self, asked_at: float, now: float) -> None:
        lag_s = self.log.woke(asked_at, now)
        lag_ms = lag_s * 1000.0 if lag_s > 0 else 0.0
        self.lags.record_value(max(1, int(lag_ms * NS_PER_MS)))
        if lag_ms > self.lag_max_ms:
            self.lag_max_ms = lag_ms
        if lag_ms > self._second_lag_ms:
            self._second_lag_ms = lag_ms
        if lag_s >= self.stall_min_s:
            self.stall_count += 1
            self.stall_s += now - asked_at

    def tick(self, users: int = 0) -> tuple[float, float] | None:
        """Once a second: the CPU share since the last tick and the worst lag in it, appended to
        the timeline; ``None`` when less than half a second passed."""
        now, cpu = self.clock(), self.cpu()
        wall = now - self._tick_wall
        if wall < 0.5:
            return None
        share = max(0.0, (cpu - self._tick_cpu) / wall * 100.0)
        self.cpu_samples.append(share)
        lag = self._second_lag_ms
        self._add_point((now - self.started, share, lag))
        self._tick_wall, self._tick_cpu, self._second_lag_ms = now, cpu, 0.0
        self.users = max(self.users, users)
        return share, lag

    def _add_point(self, point: tuple[float, float, float]) -> None:
        timeline = self.timeline
        if timeline and point[0] - timeline[-1][0] < self.step * 0.5 and len(timeline) > 1:
            last = timeline[-1]  # within the current (coarser) step: keep the worst
            timeline[-1] = (point[0], max(last[1], point[1]), max(last[2], point[2]))
        else:
            timeline.append(point)
        if len(timeline) >= TIMELINE_MAX:
            self.step *= 2
            self.timeline = [(b[0], max(a[1], b[1]), max(a[2], b[2]))
                             for a, b in zip(timeline[::2], timeline[1::2], strict=False)]

    def bound_ms(self, response_time_ms: float | None) -> float:
        """The generator's share bound for a request whose event fires now (:meth:`StallLog.bound_ms`);
        0 for a request without a (valid) time. Counts the request."""
        self.requests += 1
        if response_time_ms is None or not response_time_ms > 0.0:
            return 0.0
        now = self.clock()
        bound = self.log.bound_ms(now - response_time_ms / 1000.0, now)
        if bound:
            self.bounded += 1
        return bound

    def summary(self) -> ProcessHealth:
        """What the verdict's ``generator`` section shows for this process."""
        duration = max(0.0, self.clock() - self.started)
        lags = self.lags
        n = lags.get_total_count()
        at = (lambda p: lags.get_value_at_percentile(p) / NS_PER_MS) if n else (lambda p: 0.0)
        cpu = self.cpu_samples
        return ProcessHealth(
            process=self.process, users=self.users, requests=self.requests,
            requests_per_s=self.requests / duration if duration > 0 else 0.0, duration_s=duration,
            cpu_p50=percentile(cpu, 50), cpu_p95=percentile(cpu, 95), cpu_max=max(cpu, default=0.0),
            saturated_s=float(sum(1 for c in cpu if c >= CPU_SATURATED)),
            lag_p50_ms=at(50), lag_p99_ms=at(99), lag_max_ms=self.lag_max_ms, stalls=self.stall_count,
            stall_s=self.stall_s, bounded_requests=self.bounded,
            timeline=tuple(tuple(round(v, 3) for v in p) for p in self.timeline))  # type: ignore[misc]


def health_from_data(data: Any, process: str) -> ProcessHealth:
    """A worker's shipped :class:`ProcessHealth` (``dataclasses.asdict``), named by the master;
    ``ValueError`` on anything else."""
    if not isinstance(data, dict):
        raise ValueError("generator health is not an object")
    try:
        values = {**data, "process": process,
                  "timeline": tuple(tuple(float(v) for v in p) for p in data.get("timeline", ()))}
        return ProcessHealth(**values)
    except TypeError as exc:
        raise ValueError(f"generator health: {exc}") from None
