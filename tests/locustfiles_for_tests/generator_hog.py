"""Test-only scenario of issue 17: users that GET /health, beside (optionally) one user that burns the
CPU without yielding, as a heavy body check or a slow plugin does.

``HOG_MS`` (default 0: no hog user) milliseconds of busy CPU, then ``HOG_EVERY_S`` seconds of gevent
sleep, over and over; ``THINK_S`` the /health users' wait between requests (default 0). The hog is no
request: only the /health users' latencies are judged, so every millisecond above the server's own
time is the generator's.
"""

from __future__ import annotations

import os
import time

from locust import FastHttpUser, User, constant, task

import slo_locust  # noqa: F401  (the SLO gate)

HOG_MS = float(os.environ.get("HOG_MS", "0"))
HOG_EVERY_S = float(os.environ.get("HOG_EVERY_S", "0.05"))


class HealthUser(FastHttpUser):
    wait_time = constant(float(os.environ.get("THINK_S", "0")))

    @task
    def health(self) -> None:
        self.client.get("/health")


class HogUser(User):
    fixed_count = 1 if HOG_MS > 0 else 0
    weight = 1 if HOG_MS > 0 else 0
    wait_time = constant(HOG_EVERY_S)

    @task
    def burn(self) -> None:
        until = time.perf_counter() + HOG_MS / 1000.0
        while time.perf_counter() < until:  # no yield: the event loop waits
            pass
