"""Benchmark of the SLO gate's cost: generator CPU per request, percentile error, memory.

1. CPU per request: headless Locust runs against the same bundled sidecar, alternating with and
   without the gate (``osiris_load/bench/helpers/gate_user.py``), ROUNDS times each; CPU is the Locust process's
   user+system time (getrusage of the child), requests from its ``_stats.csv``. Reported as the
   ratio gate/bare of the medians, measured side by side in one run.
2. Percentile error: a million samples from mixed distributions recorded in ``RequestRecorder``;
   p50..p99.99 against exact nearest-rank values over the raw samples.
3. Memory: the recorder's traced allocation after those million records.

    osiris-load bench gate_overhead [--rounds 3] [--seconds 10] [--users 10] [--url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from osiris_load.bench.helpers.bench_sidecar import sidecar
from osiris_load.bench.helpers.side_by_side import listener_us, locust_cpu
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.testing.support import ROOT, nearest_rank

GATE_USER = Path(__file__).resolve().parent / "helpers" / "gate_user.py"


def locust_run(url: str, gate: bool, seconds: int, users: int, out: Path) -> tuple[float, int]:
    """CPU seconds of one headless Locust process and the requests it sent."""
    prefix = out / f"{'gate' if gate else 'bare'}-{time.monotonic_ns()}"
    env = {**os.environ, "BENCH_GATE": "1" if gate else "0"}
    return locust_cpu(["-f", str(GATE_USER), "--headless", "-u", str(users), "-r", str(users),
                       "-t", f"{seconds}s", "--host", url, "--only-summary", "--loglevel", "WARNING"],
                      prefix, env, ROOT)


def listener_cost(calls: int = 300_000) -> float:
    """The gate's own work per request, deterministic: its ``request`` listener called as Locust
    fires it (keyword arguments), in µs per call."""
    import warnings

    with warnings.catch_warnings():  # gevent's notice that redis was imported before the patch
        warnings.simplefilter("ignore")
        from locust.env import Environment

        from osiris_load.adapter.gate import Gate

    return listener_us(Gate(Environment(), None).recording.on_request, calls)


def cpu_per_request(url: str | None, rounds: int, seconds: int, users: int, listener_calls: int) -> None:
    with sidecar(url) as (target, _):
        results: dict[bool, list[float]] = {True: [], False: []}
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(rounds):
                for gate in (False, True) if i % 2 == 0 else (True, False):
                    cpu, requests = locust_run(target, gate, seconds, users, Path(tmp))
                    per_request = cpu / max(requests, 1) * 1e6
                    results[gate].append(per_request)
                    print(f"  round {i + 1} {'gate' if gate else 'bare'}: {requests} requests, "
                          f"{cpu:.2f} s CPU, {per_request:.1f} us CPU/request", flush=True)
    bare, gated = statistics.median(results[False]), statistics.median(results[True])
    print(f"CPU per request (median of {rounds}): bare {bare:.1f} us, with gate {gated:.1f} us, "
          f"ratio {gated / bare:.3f} ({(gated / bare - 1) * 100:+.1f} %)")
    own = listener_cost(listener_calls)
    print(f"the gate's listener alone: {own:.2f} us per request = {own / bare * 100:.2f} % of bare Locust's "
          "CPU per request")


def accuracy_and_memory(n: int) -> None:
    rng = random.Random(7)
    samples = [rng.lognormvariate(3.0, 0.8) if rng.random() < 0.9 else rng.uniform(500, 5000) for _ in range(n)]
    timing = RequestRecorder()
    started = time.perf_counter()
    for value in samples:
        timing.record("POST", "/generate", value, False)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    recorder = RequestRecorder()
    for value in samples:
        recorder.record("POST", "/generate", value, False)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stats = recorder.stats("POST", "/generate")
    assert stats is not None
    ordered = sorted(samples)
    print(f"record(): {elapsed / n * 1e6:.2f} us per call over {n:,} calls")
    print(f"memory after {n:,} records: {current / 1024:.0f} KiB held (peak {peak / 1024:.0f} KiB)")
    worst = 0.0
    for p in (50, 90, 95, 99, 99.9, 99.99):
        exact, got = nearest_rank(ordered, p), stats.percentile(p)
        error = abs(got - exact) / exact * 100
        worst = max(worst, error)
        print(f"  p({p}): exact {exact:.4f} ms, gate {got:.4f} ms, error {error:.4f} %")
    print(f"worst percentile error: {worst:.4f} %")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--listener-calls", type=int, default=300_000)
    parser.add_argument("--url", help="a running sidecar (default: start the bundled one)")


def main(args: argparse.Namespace) -> int:
    print("== Percentile error and memory")
    accuracy_and_memory(args.samples)
    if not args.skip_cpu:
        print("== Generator CPU per request, with and without the gate (same sidecar, same run)")
        cpu_per_request(args.url, args.rounds, args.seconds, args.users, args.listener_calls)
    return 0
