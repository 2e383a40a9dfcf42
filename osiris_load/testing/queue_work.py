"""Test-only scenario for the capacity search: one ``GET /work`` per iteration, against
``osiris_load/testing/queueing_target.py`` (a FIFO queue with known workers and service time). Run it in open mode
(``--arrival-rate R``); its SLO table is ``queue_work.toml`` beside it (one latency row)."""

from __future__ import annotations

from locust import task

from osiris_load.adapter.users import OsirisUser


class QueueWorkUser(OsirisUser):
    slo_rows = ("work",)

    @task
    def work(self) -> None:
        self.client.get("/work")
