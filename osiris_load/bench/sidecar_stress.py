"""Benchmark: the sidecar's latency and memory under hostile clients and overload.

Why: the reliability suite asserts the behaviour (every normal request answered while slow clients hold
connections; only 200 or 503 with Retry-After under overload; serving again afterwards). How fast, and
how much memory, are figures of the machine, measured here (the suite asserted them before: a median
under 0.5 s and a max under 3 s beside slow clients; an overload p99 under 20 s, RSS growth under 200 MB
and a second-half growth under 40 MB):

* ``slow-clients``: hold ``--held`` connections that each sent part of a request
  (``PARTIAL_REQUESTS``), then time ``--requests`` normal requests one after another (/health and a
  4-token /generate in turn): median and max.
* ``overload``: ``--users`` Locust users with no think time (``OverloadUser`` of the reliability
  locustfile: the k6 /generate body and some proposals) for ``--seconds``: statuses, p50/p99 of the
  200s (nearest rank over every request), and the sidecar's RSS before, at its peak (first and second
  half) and after, sampled every 0.5 s.

Without ``--url`` it starts its own sidecar (``python -m sidecar``, ``OSIRIS_MAX_QUEUE=--max-queue``,
its own Redis) and measures its RSS; with ``--url`` it measures a running sidecar (no RSS).

    osiris-load bench sidecar_stress [--case slow-clients|overload|both] [--seconds 10] [--users 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from contextlib import nullcontext
from pathlib import Path

import httpx

from osiris_load.bench.helpers.bench_sidecar import sidecar
from osiris_load.testing.reliability import (
    RELIABILITY_LOCUSTFILE,
    RssSampler,
    normal_requests,
    partial_clients,
    read_records,
    rss_mb,
)
from osiris_load.testing.support import nearest_rank, run_locust


def slow_clients(url: str, held_count: int, requests: int) -> None:
    latencies = []
    with partial_clients(url, held_count), httpx.Client(timeout=30) as client:
        for seconds, response in normal_requests(client, url, requests):
            response.raise_for_status()
            latencies.append(seconds)
    print(f"slow clients: {held_count} partial connections held; {requests} normal requests: median "
          f"{statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")


def overload(url: str, pid: int | None, seconds: int, users: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        before = rss_mb(pid) if pid else None
        with RssSampler(pid, interval_s=0.5) if pid else nullcontext() as sampler:
            run = run_locust(RELIABILITY_LOCUSTFILE, "--host", url, "OverloadUser", "-u", str(users), "-r", str(users),
                             "-t", f"{seconds}s", "--stop-timeout", "10", "--csv", str(out / "overload"),
                             env={"REL_OUT_DIR": str(out)}, timeout=seconds + 90)
        records = read_records(out)
    if run.returncode not in (0, 99):
        raise SystemExit(f"overload: locust exited {run.returncode}:\n{run.output[-2000:]}")
    ok = [ms for values in records.ok_ms.values() for ms in values]
    statuses = records.by_status()
    line = (f"overload: {users} users, {seconds} s: {records.sent} requests, statuses {statuses}, "
            f"503 without Retry-After {records.no_retry_after}")
    if ok:
        line += f"; 200s p50 {nearest_rank(ok, 50):.1f} ms, p99 {nearest_rank(ok, 99):.1f} ms"
    print(line)
    if sampler is not None and pid and sampler.values:
        during, half = sampler.values, len(sampler.values) // 2
        print(f"overload RSS: before {before:.1f} MB, peak {max(during):.1f} MB (first half "
              f"{max(during[:half] or during):.1f}, second half {max(during[half:]):.1f}), after {rss_mb(pid):.1f} MB")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", choices=("slow-clients", "overload", "both"), default="both")
    parser.add_argument("--url", help="a running sidecar (default: start one; only then is its RSS measured)")
    parser.add_argument("--max-queue", type=int, default=16, help="OSIRIS_MAX_QUEUE of the sidecar started here")
    parser.add_argument("--held", type=int, default=100, help="slow clients: partial connections held")
    parser.add_argument("--requests", type=int, default=30, help="slow clients: normal requests timed")
    parser.add_argument("--seconds", type=int, default=10, help="overload: run time")
    parser.add_argument("--users", type=int, default=50, help="overload: users with no think time")


def main(args: argparse.Namespace) -> int:
    with sidecar(args.url, {"OSIRIS_MAX_QUEUE": str(args.max_queue)}) as (url, pid):
        if args.case in ("slow-clients", "both"):
            slow_clients(url, args.held, args.requests)
        if args.case in ("overload", "both"):
            overload(url, pid, args.seconds, args.users)
    return 0
