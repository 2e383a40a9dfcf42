"""The load generator's own health, measured in each process that runs users (issue 17): pure, no
Locust, no gevent (``osiris_load.adapter.generator_monitor`` feeds it from the event loop's own watchers).

Why: a request's measured time is the server's time *plus* whatever the generator added: its event
loop busy elsewhere (a user burning the CPU, hundreds of users on one core, a shared CI runner)
while the answer waited in the socket. A confident FAIL must be a statement about the server, so
the gate needs, per request, a bound on what the generator may have added.

* :class:`StallLog`: the event loop alternates between polling its sockets and a **stretch** of
  work (the callbacks of whatever the poll found ready: greenlets resumed, timers fired). An
  answer that arrives is read at the latest at the end of the stretch after the next poll, so a
  stretch's length is how late the loop can be to anything: the **loop lag**. A stretch begins
  when the poll returned, or earlier by the time the operating system kept the process waiting for
  a CPU during the poll (a shared machine: Linux's ``/proc/thread-self/schedstat``). A stretch of
  ``stall_min_s`` or more is a **stall**. :meth:`StallLog.bound_ms` bounds what the generator added to
  one request: the current stretch so far plus the one before it, or the whole run of stalls back
  to back when the loop has not caught up since (its answer waited to be read), and the stall its
  start fell in (its send waited). It over-counts (a conservative bound on the
  client's share), except delays under ``stall_min_s``, which it does not count.
* :class:`HealthMonitor`: the stretches in an exact HDR histogram, the process's CPU per second
  (``os.times``), the seconds spent saturated, a coarse timeline (for the report's chart), and the
  per-process summary the verdict shows (:class:`osiris_load.core.slo.verdict.ProcessHealth`).

Why stretches and not a timer that asks to wake every few ms and records how late it woke: such a
timer costs an operating-system wake-up each time (about 110 µs of CPU on the 2-core test machine,
2 % of a core at 5 ms), more than the whole gate at a light load; the loop's own prepare and check
watchers see the same lateness, wake nothing, and cost a callback per loop iteration.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from osiris_load.core.slo.recorder import EndpointStats, new_histogram
from osiris_load.core.slo.verdict import ProcessHealth

__all__ = ["CPU_SATURATED", "LAG_NOTE_MS", "STALL_MIN_S", "HealthMonitor", "StallLog", "cpu_seconds", "worst_process",
           "health_from_data", "percentile"]

STALL_MIN_S = 0.002  # a stretch of work this long or longer is a stall: it delays what became ready meanwhile
STALLS_KEPT = 8192  # recent stalls kept for the per-request bound (the send delay of long requests)
CPU_SATURATED = 90.0  # % of one core: a second at or above it is saturated (Locust warns at 90 % too)
LAG_NOTE_MS = 20.0  # a second whose longest stretch was this long says "latencies include the client's delay"
TIMELINE_MAX = 300  # points of the coarse timeline; pairs merge when full (a long run keeps its shape)
NS_PER_MS = 1_000_000


def cpu_seconds() -> float:
    """This process's CPU time (user + system), seconds."""
    t = os.times()
    return t.user + t.system


class StallLog:
    """The event loop's recent stretches of work, and the bound on each request's client-added time.

    Timestamps are ``time.perf_counter()`` seconds, the clock Locust times requests with."""

    def __init__(self, stall_min_s: float = STALL_MIN_S, now: float | None = None, keep: int = STALLS_KEPT) -> None:
        self.stall_min_s = stall_min_s
        self.stalls: deque[tuple[float, float]] = deque(maxlen=keep)
        now = time.perf_counter() if now is None else now
        self.polled_at = now  # the current stretch began: the last poll returned
        self.previous_s = 0.0  # the length of the stretch before the last poll
        self.previous_begin = now  # and when it began
        self.previous_end = now  # and when it ended (the poll after it began)
        self.run_begin: float | None = None  # the first of the stalls in a row that the previous one ended
        self.last_stall_end = -math.inf

    def polled(self, now: float, run_delay_s: float = 0.0) -> None:
        """The loop's poll returned: a stretch of work begins, ``run_delay_s`` earlier than now when the
        operating system kept the process waiting for a CPU meanwhile (its answer ready, the loop
        not running: the generator's delay as much as a busy loop's), never before the poll began."""
        begin = now - run_delay_s
        self.polled_at = begin if begin > self.polled_at else self.polled_at

    def polling(self, now: float) -> float:
        """The loop is about to poll: the stretch since :meth:`polled` ends; its length (seconds)."""
        begin = self.polled_at
        length = now - begin
        if length >= self.stall_min_s:
            self.stalls.append((begin, now))
            self.last_stall_end = now
            if self.run_begin is None or begin - self.previous_end >= self.stall_min_s:
                self.run_begin = begin  # a new run: the loop had caught up (a short stretch, or an idle poll)
        else:
            self.run_begin = None
        self.previous_s, self.previous_begin, self.previous_end = length, begin, now
        self.polled_at = now  # until the poll returns, work done counts as this stretch's
        return length

    def bound_ms(self, start: float, now: float) -> float:
        """Milliseconds the generator may have added to a request that started at ``start`` and
        whose event fires at ``now``, inside a stretch (the hot path: a few compares when nothing
        stalled). Two delays count (docs/verdicts.md, "The generator's own delays"):

        * reading the answer late: it arrived after the poll before the previous stretch began
          (else that stretch would have read it), so it waited at most the previous stretch and the
          current one so far; and when the loop has not caught up since a run of stalls began
          (stalls back to back, no short stretch or idle poll between), since that run began: a
          saturated loop takes several iterations per request (300 users on one core: 5 each),
          so no single stretch bounds the wait;
        * sending late: the stall that ``start`` fell in (the send follows ``start`` without a
          yield on a kept-alive connection; only the process being descheduled delays it).

        At most ``now - start``; 0 when the sum is under ``stall_min_s`` (noise the monitor does
        not count). Not bounded: a connect or TLS handshake inside the request (a first request)."""
        read = now - self.polled_at + self.previous_s
        run = self.run_begin
        if run is not None and self.polled_at - self.previous_end < self.stall_min_s and now - run > read:
            read = now - run  # the loop has not caught up since: every answer since may still wait
        send = 0.0
        if self.last_stall_end > start and start < self.previous_begin:
            for s, e in reversed(self.stalls):
                if e <= start:
                    break
                if s <= start:  # not the previous stretch (counted): it began after start
                    send = e - start
                    break
        total = read + send
        if total < self.stall_min_s:
            return 0.0
        return (total if total < now - start else now - start) * 1000.0


def worst_process(health: Sequence[ProcessHealth]) -> ProcessHealth | None:
    """The process whose own delays were worst (most time stalled, then the highest loop lag p99):
    the one a generator-bound verdict names, and the one a capacity probe carries."""
    return max(health, key=lambda h: (h.stall_s, h.lag_p99_ms), default=None)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank ``p`` percentile of ``values`` (0 for none): the CPU seconds are few."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100.0 * len(ordered)) - 1)]


class HealthMonitor:
    """One process's generator health: what the monitor greenlet feeds in (:meth:`woke`, and
    :meth:`tick` once a second) and what the verdict shows (:meth:`summary`)."""

    def __init__(self, process: str = "local", *, stall_min_s: float = STALL_MIN_S,
                 clock: Callable[[], float] = time.perf_counter, cpu: Callable[[], float] = cpu_seconds) -> None:
        self.process = process
        self.clock, self.cpu = clock, cpu
        self.stall_min_s = stall_min_s
        self.reset()

    def reset(self) -> None:
        """Start over (a new test): nothing seen yet."""
        now = self.clock()
        self.log = StallLog(self.stall_min_s, now=now)
        self.lags = new_histogram()  # ns, exact to 3 significant digits
        self.lag_max_ms = 0.0
        self.lag_min_ms = math.inf
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

    def polling(self, now: float) -> None:
        """The loop is about to poll: the stretch of work since its last poll ends (the lag)."""
        length = self.log.polling(now)
        ns = max(1, int(length * 1e9))
        self.lags.record_value(ns)
        lag_ms = ns / NS_PER_MS
        if lag_ms > self.lag_max_ms:
            self.lag_max_ms = lag_ms
        if lag_ms < self.lag_min_ms:
            self.lag_min_ms = lag_ms
        if lag_ms > self._second_lag_ms:
            self._second_lag_ms = lag_ms
        if length >= self.stall_min_s:
            self.stall_count += 1
            self.stall_s += length

    def tick(self, users: int = 0) -> tuple[float, float] | None:
        """About once a second: the CPU share since the last tick and the worst lag in it, appended
        to the timeline; ``None`` when less than half a second passed."""
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
        # (a merge needs a step of 2 s or more: ticks are >= 0.5 s apart, so the timeline has >= 150 points then)
        if timeline and point[0] - timeline[-1][0] < self.step * 0.5:
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

    def share_ms(self, response_time_ms: float) -> float:
        """:meth:`bound_ms` for measurements inside a request already counted (an LLM answer's TTFT
        and gaps, whose request event fired just before): counts nothing."""
        now = self.clock()
        return self.log.bound_ms(now - response_time_ms / 1000.0, now) if response_time_ms > 0.0 else 0.0

    def summary(self) -> ProcessHealth:
        """What the verdict's ``generator`` section shows for this process."""
        duration = max(0.0, self.clock() - self.started)
        n = self.lags.get_total_count()
        stats = EndpointStats(count=n, timed=n, min_ms=self.lag_min_ms, max_ms=self.lag_max_ms, histogram=self.lags)
        at = stats.percentile if n else (lambda p: 0.0)  # the recorder's percentiles: C-speed, exact ends
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
