"""The generator self-monitor's Locust side (issue 17): two watchers on the gevent event loop that
every user shares, feeding ``osiris_load.core.slo.generator.HealthMonitor`` (the pure part). A *check* watcher at the
highest priority marks each poll's return (a stretch of work begins: it runs before the callbacks
the poll made ready); a *prepare* watcher at the lowest priority (after gevent's own callbacks)
marks the next poll (the stretch ends) and, about once a second, samples the process's CPU. Neither
keeps the loop alive nor wakes it: an idle process pays nothing, a busy one two callbacks per loop
iteration. The thread's run-queue wait (Linux ``/proc/thread-self/schedstat``, one ``pread`` before
each poll and one after a poll of 2 ms or more) says how long of the poll the process was ready but
kept off the CPU by the operating system; elsewhere it is taken as 0.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import gevent

from osiris_load.core.slo.generator import CPU_SATURATED, LAG_NOTE_MS, STALL_MIN_S, HealthMonitor

__all__ = ["GeneratorMonitor"]

SAY_EVERY_S = 10.0  # at most one progress line per process this often
TICK_S = 1.0
SCHEDSTAT = "/proc/thread-self/schedstat"  # cpu time, run-queue wait (ns), timeslices


def run_delay_reader() -> Callable[[], float] | None:
    """Seconds this thread has waited on a run queue so far (Linux), or ``None`` where unreadable."""
    try:
        fd = os.open(SCHEDSTAT, os.O_RDONLY)
        int(os.pread(fd, 64, 0).split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return lambda: int(os.pread(fd, 64, 0).split()[1]) / 1e9


class GeneratorMonitor:
    """The monitor of one process. ``users`` says how many users run now; ``say`` gets the CPU and
    the worst stretch of a second in which the generator itself was late (``None``: silent)."""

    def __init__(self, process: str, users: Callable[[], int], say: Callable[[float, float], None] | None = None,
                 ) -> None:
        self.health = HealthMonitor(process)
        self.users = users
        self.say = say
        self._watchers: tuple[Any, Any] | None = None
        self._next_tick = 0.0
        self._said_at = -SAY_EVERY_S
        self._run_delay = run_delay_reader()
        self._waited = self._run_delay() if self._run_delay is not None else 0.0
        self._poll_began = 0.0

    def start(self) -> None:
        """(Re)start measuring: a new test."""
        self.health.reset()
        self._next_tick = time.perf_counter() + TICK_S
        if self._watchers is None:
            loop = gevent.get_hub().loop
            check = loop.check(ref=False, priority=loop.MAXPRI)
            prepare = loop.prepare(ref=False, priority=loop.MINPRI)  # after gevent's own callbacks
            check.start(self._polled)
            prepare.start(self._polling)
            self._watchers = (check, prepare)

    def stop(self) -> None:
        if self._watchers is not None:
            for watcher in self._watchers:
                watcher.stop()
            self._watchers = None

    def _polled(self) -> None:
        now = time.perf_counter()
        delay = 0.0
        if self._run_delay is not None and now - self._poll_began >= STALL_MIN_S:
            waited = self._run_delay()
            delay, self._waited = waited - self._waited, waited  # since the poll began
        self.health.log.polled(now, delay)

    def _polling(self) -> None:
        now = self._poll_began = time.perf_counter()
        self.health.polling(now)
        if self._run_delay is not None:
            self._waited = self._run_delay()  # so that only the poll's own wait counts after it
        if now < self._next_tick:
            return
        self._next_tick = now + TICK_S
        second = self.health.tick(self.users())
        if second is None or self.say is None or (second[0] < CPU_SATURATED and second[1] < LAG_NOTE_MS):
            return
        if now - self._said_at >= SAY_EVERY_S:
            self._said_at = now
            gevent.get_hub().loop.run_callback(self.say, *second)  # not from inside the watcher
