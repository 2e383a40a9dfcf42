"""The generator self-monitor's Locust side (issue 17): one greenlet per process that runs users,
feeding ``slo.generator.HealthMonitor`` (the pure part) with how late it woke and, once a second, the
process's CPU. Why a greenlet: it shares the event loop with the users, so its lateness is exactly
the lateness every request's answer suffered before its greenlet could read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent

from slo.generator import CPU_SATURATED, LAG_NOTE_MS, HealthMonitor

__all__ = ["GeneratorMonitor"]

SAY_EVERY_S = 10.0  # at most one progress line per process this often


class GeneratorMonitor:
    """The monitor greenlet of one process. ``users`` says how many users run now; ``say`` gets the
    progress line of a second in which the generator itself was late (``None``: silent)."""

    def __init__(self, process: str, users: Callable[[], int], say: Callable[[float, float], None] | None = None,
                 ) -> None:
        self.health = HealthMonitor(process)
        self.users = users
        self.say = say
        self._greenlet: gevent.Greenlet | None = None
        self._said_at = -SAY_EVERY_S

    def start(self) -> None:
        """(Re)start measuring: a new test."""
        self.health.reset()
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _loop(self) -> None:
        health, clock, interval = self.health, time.perf_counter, self.health.interval_s
        asked = clock()
        next_tick = asked + 1.0
        while True:
            gevent.sleep(interval)
            now = clock()
            health.woke(asked, now)
            if now >= next_tick:
                next_tick = now + 1.0
                second = health.tick(self.users())
                if second is not None and self.say is not None and (second[0] >= CPU_SATURATED
                                                                    or second[1] >= LAG_NOTE_MS):
                    if now - self._said_at >= SAY_EVERY_S:
                        self._said_at = now
                        self.say(*second)
            asked = clock()
