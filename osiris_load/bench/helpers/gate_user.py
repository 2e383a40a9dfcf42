"""Benchmark locustfile: a FastHttpUser reading GET /health with no think time, with or without the gate.

``BENCH_GATE=1`` imports the SLO gate; anything else leaves Locust bare. Everything else is identical,
so the CPU difference per request is the gate's cost.
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

if os.environ.get("BENCH_GATE") == "1":
    import slo_locust  # noqa: F401  (registers the SLO gate)


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self) -> None:
        self.client.get("/health", name="/health")
