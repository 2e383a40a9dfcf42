"""Helpers of the reliability suite only: the keyed sidecar's API key, the sidecar's own counters, and
recording the numbers. (Locust children, slow clients, per-request records and RSS sampling are shared
with the benchmarks: :mod:`osiris_load.testing.reliability`.)

Numbers a test measures go to ``record()``: printed (pytest shows them with ``-rA`` or on failure)
and, when ``OSIRIS_RELIABILITY_RECORD`` names a file, appended to it as JSON lines (how the table in
``docs/reliability.md`` was filled).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from osiris_load.testing.support import ROOT

LOCUSTFILES = ROOT / "locustfiles"
# The keyed sidecar's OSIRIS_API_KEY. Here, not in conftest.py: pytest imports a conftest under a name of its
# own, so a test module importing one gets a second copy, which would draw another key.
API_KEY = f"key-{uuid.uuid4().hex}"


# --------------------------------------------------------------------------------------------------
# The sidecar's own counters
# --------------------------------------------------------------------------------------------------


def metric_total(url: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def requests_served(url: str) -> float:
    """Requests the sidecar has answered, other than /metrics itself."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == "osiris_http_requests_total" and s.labels.get("route") != "/metrics")


# --------------------------------------------------------------------------------------------------
# Recording the numbers
# --------------------------------------------------------------------------------------------------


def record(case: str, **numbers: Any) -> None:
    line = json.dumps({"case": case, **numbers}, sort_keys=True, default=str)
    print(f"[reliability] {line}")
    target = os.environ.get("OSIRIS_RELIABILITY_RECORD")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
