"""Test-only locustfile for k6 threshold keys: each iteration reads ``/ok`` (a slow success) and then
``K6_TEST_ERRORS`` times ``/fail`` (a fast 503), all under the one request name ``/api``, so that
k6's ``http_req_failed`` and ``{expected_response:true}`` have something to tell apart."""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

import slo_locust  # noqa: F401  (registers the SLO gate)

ERRORS = int(os.environ.get("K6_TEST_ERRORS", "0"))


class Caller(FastHttpUser):
    wait_time = constant(0.01)

    @task
    def iteration(self) -> None:
        self.client.get("/ok", name="/api")
        for _ in range(ERRORS):
            self.client.get("/fail", name="/api")
