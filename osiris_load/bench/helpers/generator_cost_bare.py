"""Locust ``FastHttpUser`` bare (no project code, no SLO gate): ``osiris-load bench generator_cost``'s reference
for Locust's own cost. One iteration = ``GET /health`` + ``GET /metrics``; a non-2xx status is a
failure (Locust's own status check)."""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class BareFastHttp(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self) -> None:
        self.client.get("/health", name="/health")
        self.client.get("/metrics", name="/metrics")
