"""Benchmark of the generator self-monitor's cost (issue 17): CPU per request with and without it.

1. End to end, side by side: headless Locust runs of the read-heavy scenario (``locustfiles/read_heavy.py``,
   GET /health then GET /metrics, 1 s think time, no ramp) against the tiny fixture target
   (``osiris_load/testing/open_model_target.py``), alternating ``--slo-generator-monitor on`` and ``off``, ROUNDS times
   each; CPU is the Locust process's user+system time (getrusage of the child), requests from its
   ``_stats.csv``. Reported: the medians per request and their ratio.
2. The per-request path, deterministic: the gate's ``request`` listener called as Locust fires it,
   with the monitor (no stall: the common case; and inside a stall) and without, in µs per call.
3. The per-iteration path: the monitor's two loop watchers' callbacks, in µs per loop iteration.

    osiris-load bench generator_overhead [--rounds 5] [--seconds 15] [--users 20]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

from osiris_load.bench.helpers.side_by_side import listener_us, locust_cpu, side_by_side
from osiris_load.testing.open_model_runs import READ_HEAVY, Target
from osiris_load.testing.support import ROOT


def locust_run(url: str, monitor: bool, seconds: int, users: int, out: Path) -> tuple[float, int]:
    """CPU seconds of one headless Locust process and the requests it sent."""
    prefix = out / f"{'on' if monitor else 'off'}-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSIRIS_", "LOCUST_"))}
    env["OSIRIS_SLO_GENERATOR_MONITOR"] = "on" if monitor else "off"
    return locust_cpu(["-f", str(READ_HEAVY), "--no-shape", "--headless", "-u", str(users),
                       "-r", str(users), "-t", f"{seconds}s", "--host", url, "--only-summary", "--loglevel", "WARNING"],
                      prefix, env, ROOT)


def end_to_end(rounds: int, seconds: int, users: int) -> float:
    target = Target()
    try:
        off, on = side_by_side(lambda monitor, out: locust_run(target.url, monitor, seconds, users, out), rounds,
                               ("monitor off", "monitor on "))
        print(f"CPU per request (median of {rounds}): monitor off {off:.1f} us, on {on:.1f} us, "
              f"ratio {on / off:.3f} ({(on / off - 1) * 100:+.1f} %)")
        return off
    finally:
        target.stop()


def listener_costs(calls: int = 200_000) -> dict[str, float]:
    """µs per call of the gate's ``request`` listener: without the monitor, with it (no stall), and
    with it inside a stall (the chargeable recorder records too)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from locust.env import Environment

        from osiris_load.adapter.gate import Gate
        from osiris_load.adapter.generator_monitor import GeneratorMonitor

    def timed(gate: Gate) -> float:
        return listener_us(gate.recording.on_request, calls)

    costs = {"without the monitor": timed(Gate(Environment(), None))}
    gate = Gate(Environment(), None)
    monitor = gate.recording.monitor = GeneratorMonitor("bench", lambda: 0)
    log = monitor.health.log
    log.stall_min_s = float("inf")  # no poll happens in this loop: only so does its stretch stay short
    costs["with the monitor, no stall"] = timed(gate)
    log.stall_min_s = 0.002
    log.polled_at = time.perf_counter() - 10.0  # a stretch that began 10 s ago: every request is bounded
    costs["with the monitor, in a stall"] = timed(gate)
    return costs


def watcher_cost(iterations: int = 200_000) -> float:
    """µs per loop iteration of the monitor's two watcher callbacks (check, then prepare)."""
    from osiris_load.adapter.generator_monitor import GeneratorMonitor

    monitor = GeneratorMonitor("bench", lambda: 0)
    polled, polling = monitor._polled, monitor._polling  # the two callbacks, called as the loop calls them
    started = time.perf_counter()
    for _ in range(iterations):
        polled()
        polling()
    return (time.perf_counter() - started) / iterations * 1e6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument("--listener-calls", type=int, default=200_000, help="calls per listener timing")


def main(args: argparse.Namespace) -> int:
    print("== The gate's request listener (µs per call)")
    costs = listener_costs(args.listener_calls)
    for what, us in costs.items():
        print(f"  {what}: {us:.2f} us")
    print(f"== The monitor's loop watchers: {watcher_cost():.2f} us per loop iteration")
    if not args.skip_runs:
        print("== Read-heavy Locust runs, monitor on vs off (same target, alternating)")
        off = end_to_end(args.rounds, args.seconds, args.users)
        added = costs["with the monitor, no stall"] - costs["without the monitor"]
        print(f"the listener's added work: {added:.2f} us = {added / off * 100:.2f} % of the CPU per request")
    return 0
