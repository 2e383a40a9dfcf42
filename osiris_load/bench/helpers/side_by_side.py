"""Side-by-side CPU benchmarks: two variants of a Locust run, alternating, medians per request.
Shared by ``osiris-load bench gate_overhead`` (gate vs bare) and ``osiris-load bench generator_overhead``
(monitor on vs off)."""

from __future__ import annotations

import csv
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["listener_us", "locust_cpu", "side_by_side"]


def locust_cpu(args: list[str], prefix: Path, env: Mapping[str, str], cwd: Path) -> tuple[float, int]:
    """CPU seconds (user + system, getrusage of the child) of one ``python -m locust ARGS --csv PREFIX``
    process, and the requests it sent (its ``_stats.csv``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "locust", *args, "--csv", str(prefix)], cwd=cwd, env=dict(env),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(f"{prefix}_stats.csv", newline="") as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return cpu, int(total["Request Count"])


def side_by_side(run_one: Callable[[bool, Path], tuple[float, int]], rounds: int,
                 names: tuple[str, str]) -> tuple[float, float]:
    """CPU µs per request of ``run_one(False, folder)`` and ``run_one(True, folder)`` (each returns the
    CPU seconds and requests of one run), alternating which goes first, ``rounds`` times each: the
    medians. Side by side, so that a machine that gets busier or quieter shifts both alike."""
    results: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for flag in (False, True) if i % 2 == 0 else (True, False):
                cpu, requests = run_one(flag, Path(tmp))
                per_request = cpu / max(requests, 1) * 1e6
                results[flag].append(per_request)
                print(f"  round {i + 1} {names[flag]}: {requests} requests, {cpu:.2f} s CPU, "
                      f"{per_request:.1f} us CPU/request", flush=True)
    return statistics.median(results[False]), statistics.median(results[True])


def listener_us(on_request: Callable[..., None], calls: int) -> float:
    """µs per call of a gate's ``request`` listener, called ``calls`` times as Locust fires it
    (keyword arguments; a GET /health of 12-75 ms)."""
    started = time.perf_counter()
    for i in range(calls):
        on_request(request_type="GET", name="/health", response_time=12.3 + (i & 63), response_length=120,
                   response=None, context={}, exception=None, start_time=0.0, url="http://127.0.0.1/health")
    return (time.perf_counter() - started) / calls * 1e6
