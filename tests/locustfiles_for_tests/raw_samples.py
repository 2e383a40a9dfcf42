"""Test-only locustfile: reads /health and /metrics as fast as allowed and keeps every raw response time.

Each process writes its raw samples to ``$RAW_SAMPLES_DIR/<pid>.json`` when it quits, so a test can
compare the gate's merged percentiles and counts with the exact ones over all samples.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task

import slo_locust  # noqa: F401  (registers the SLO gate)

SAMPLES: list[tuple[str, str, float, bool]] = []


@events.request.add_listener
def keep(request_type: str, name: str, response_time: float, exception: Any = None, **_: Any) -> None:
    SAMPLES.append((request_type, name, response_time, exception is not None))


@events.quitting.add_listener
def dump(**_: Any) -> None:
    out = Path(os.environ["RAW_SAMPLES_DIR"]) / f"{os.getpid()}.json"
    out.write_text(json.dumps(SAMPLES))


class Reader(FastHttpUser):
    wait_time = constant(0.02)

    @task
    def read(self) -> None:
        self.client.get("/health", name="/health")
        self.client.get("/metrics", name="/metrics")
