"""Test-only locustfile for k6's ``iteration_duration``: an ``OsirisUser`` (the base class that times
each task run) whose iteration is two reads of ``/ok`` (a slow success, under the one name ``/api``),
so that an iteration's wall time is at least the sum of its two requests' latencies."""

from __future__ import annotations

from locust import constant, task

from osiris_load.adapter.users import OsirisUser


class Caller(OsirisUser):
    wait_time = constant(0.01)  # the closed model's 1 s think time would leave few iterations in a short run

    @task
    def iteration(self) -> None:
        self.client.get("/ok", name="/api")
        self.client.get("/ok", name="/api")
