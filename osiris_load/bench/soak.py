"""Benchmark (soak): does the load generator's memory (Locust plus the SLO gate) stay flat in a long run?

A local Locust run with the gate, ``--users`` users with no think time against the sidecar's
``GET /health`` (``HealthUser`` of the reliability locustfile, its per-request recording off, so what
is measured is Locust and the gate alone), for ``--seconds``. The Locust process's RSS (and the
sidecar's, when started here) is sampled every second; after a warm-up (the first 20 % of the run),
the peak of the second half of the rest is compared with the peak of the first half: Python's RSS
under load is a sawtooth (garbage piles up between collections), so peaks say more than any two
samples, and a leak shows as a higher peak in the second half.

This was ``tests/reliability/test_soak.py`` (20 s in CI, asserting growth < 4 MiB and more than 20
requests a second): both are figures of the machine, so they are measured here and recorded in
docs/benchmarks.md. The behaviour behind them stays asserted in the suite, deterministically: the
recorder allocates no histogram per live evaluation (tests/test_slo_recorder.py).

    osiris-load bench soak --seconds 300              # starts its own sidecar
    osiris-load bench soak --seconds 3600 --url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from contextlib import nullcontext
from pathlib import Path

from osiris_load.bench.helpers.bench_sidecar import sidecar
from osiris_load.testing.reliability import RELIABILITY_LOCUSTFILE, LocustProcess, RssSampler
from osiris_load.testing.support import locust_command


def growth_mb(samples: list[tuple[float, float]], duration_s: float) -> tuple[float, float, float] | None:
    """(peak RSS of the first window, of the second, their difference) after the 20 % warm-up; None when
    a window has fewer than 3 samples (a run too short to say)."""
    warm = duration_s * 0.2
    split = warm + (duration_s - warm) / 2
    first = [mb for t, mb in samples if warm <= t < split]
    second = [mb for t, mb in samples if t >= split]
    if len(first) < 3 or len(second) < 3:
        return None
    return max(first), max(second), max(second) - max(first)


def describe(who: str, samples: list[tuple[float, float]], seconds: float) -> str:
    growth = growth_mb(samples, seconds)
    end = f"end {samples[-1][1]:.1f} MB" if samples else "no sample"
    if growth is None:
        return f"{who} RSS: {end}; too short to compare two windows"
    return f"{who} RSS: first-half peak {growth[0]:.1f} MB, second-half peak {growth[1]:.1f} MB, growth " \
           f"{growth[2]:+.2f} MB, {end}"


def soak(url: str, sidecar_pid: int | None, seconds: int, users: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "soak"
        locust = LocustProcess(locust_command(RELIABILITY_LOCUSTFILE, "HealthUser", "--headless", "--host", url,
                                              "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
                                              "--csv", str(prefix)),
                               Path(tmp) / "locust.log", env={"REL_RECORD": "off"})
        try:
            with RssSampler(locust.pid, 1.0) as locust_rss, \
                    RssSampler(sidecar_pid, 1.0) if sidecar_pid else nullcontext() as sidecar_rss:
                finished = locust.wait(seconds + 120)
        finally:
            locust.kill()
        with open(f"{prefix}_slo_endpoints.csv", newline="") as handle:
            health = next(row for row in csv.DictReader(handle) if row["name"] == "/health")
    print(f"soak: {seconds} s, {users} users: exit {finished.returncode}, {health['count']} requests "
          f"({int(health['count']) / seconds:.1f}/s), {health['failures']} failed, "
          f"p99 {float(health['p99_ms']):.1f} ms")
    print(describe("Locust", locust_rss.samples, seconds))
    if sidecar_rss is not None:
        print(describe("sidecar", sidecar_rss.samples, seconds))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--url", help="a running sidecar (default: start one and sample its RSS too)")


def main(args: argparse.Namespace) -> int:
    with sidecar(args.url) as (url, pid):
        soak(url, pid, args.seconds, args.users)
    return 0
