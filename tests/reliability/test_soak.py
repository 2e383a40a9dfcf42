"""Case 8, soak: the load generator's memory (Locust plus the SLO gate) stays flat in long runs.

A local Locust run with the gate, 4 users with no think time against the sidecar's ``GET /health``,
for ``OSIRIS_SOAK_S`` seconds (20 in CI; an hour for the real soak:
``OSIRIS_SOAK_S=3600 .venv/bin/pytest tests/reliability/test_soak.py``). The Locust process's RSS is
sampled every second; after a warm-up (the first 20% of the run), the peak of the second half of
the rest may exceed the peak of the first half by at most ``OSIRIS_SOAK_MAX_GROWTH_MB`` (4 MiB).
The per-request recording of the reliability locustfile is off (``REL_RECORD=off``), so what is
measured is Locust and the gate alone.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from tests.reliability.reliability_support import (
    RELIABILITY_LOCUSTFILE,
    LocustProcess,
    RssSampler,
    locust_command,
    record,
)

SOAK_S = int(os.environ.get("OSIRIS_SOAK_S", "20"))
MAX_GROWTH_MB = float(os.environ.get("OSIRIS_SOAK_MAX_GROWTH_MB", "4"))
USERS = 4


def growth_mb(samples: list[tuple[float, float]], duration_s: float) -> tuple[float, float, float]:
    """(peak RSS of the first window, peak RSS of the second window, their difference).

    The first 20% of the run is warm-up (imports, users spawning). The rest is split into two equal windows,
    and their peaks are compared: Python's RSS under load is a sawtooth (garbage piles up between collections),
    so peaks say more than any two single samples; a leak shows as a higher peak in the second window.
    """
    warm = duration_s * 0.2
    split = warm + (duration_s - warm) / 2
    first = [mb for t, mb in samples if warm <= t < split]
    second = [mb for t, mb in samples if t >= split]
    assert len(first) >= 3 and len(second) >= 3, samples
    return max(first), max(second), max(second) - max(first)


@pytest.mark.timeout(SOAK_S + 240)  # the suite's 300 s would cut a long soak short
def test_gate_memory_stays_flat(sidecar, tmp_path: Path) -> None:
    prefix = tmp_path / "soak"
    locust = LocustProcess(locust_command(RELIABILITY_LOCUSTFILE, "HealthUser", "--headless", "--host", sidecar.url,
                                          "--only-summary", "-u", str(USERS), "-r", str(USERS), "-t", f"{SOAK_S}s",
                                          "--csv", str(prefix)),
                           tmp_path / "locust.log", env={"REL_RECORD": "off"})
    try:
        with RssSampler(locust.pid, interval_s=1.0) as locust_rss, RssSampler(sidecar.proc.pid, 1.0) as sidecar_rss:
            finished = locust.wait(SOAK_S + 120)
    finally:
        locust.kill()
    with open(f"{prefix}_slo_endpoints.csv", newline="") as handle:
        health = next(row for row in csv.DictReader(handle) if row["name"] == "/health")
    first_peak, second_peak, growth = growth_mb(locust_rss.samples, SOAK_S)
    _, _, sidecar_growth = growth_mb(sidecar_rss.samples, SOAK_S)
    record("soak", duration_s=SOAK_S, users=USERS, exit=finished.returncode, requests=int(health["count"]),
           failures=int(health["failures"]), p99_ms=float(health["p99_ms"]),
           locust_rss_first_peak_mb=round(first_peak, 1), locust_rss_second_peak_mb=round(second_peak, 1),
           locust_rss_end_mb=round(locust_rss.values[-1], 1), locust_growth_mb=round(growth, 2),
           sidecar_rss_end_mb=round(sidecar_rss.values[-1], 1), sidecar_growth_mb=round(sidecar_growth, 2),
           locust_rss_every_10s_mb=[round(mb, 1) for t, mb in locust_rss.samples[::10]])

    assert finished.returncode in (0, 99), finished.output[-4000:]  # 99 only if the shared CPU was too slow
    assert "Traceback" not in finished.output, finished.output[-4000:]
    assert int(health["count"]) > SOAK_S * 20, health
    assert growth < MAX_GROWTH_MB, (growth, locust_rss.samples)
