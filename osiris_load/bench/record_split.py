"""Benchmark: what splitting the recorder's keys by status and outcome costs per request.

A table with k6 keys such as ``http_req_duration{expected_response:true}`` or ``{status:503}``
makes the recorder key each request by ``(method, name, status, failed)`` instead of
``(method, name)``. Both are one tuple and one dict lookup; this measures ``record()`` per call,
unsplit and split, side by side in one run (ROUNDS alternations of N calls each, median and min).

    osiris-load bench record_split [--rounds 9] [--calls 100000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from osiris_load.core.slo.recorder import RecorderPlan, RequestRecorder

LIMITS = (400.0, 800.0, 1200.0, 1500.0)  # the default table's latency limits


def per_call_ns(split: bool, values: list[float]) -> float:
    recorder = RequestRecorder(RecorderPlan(limits=LIMITS, split=split))
    record = recorder.record
    start = time.perf_counter_ns()
    if split:
        for i, v in enumerate(values):
            record("POST", "/generate", v, i % 100 == 0, 503 if i % 100 == 0 else 200)
    else:
        for i, v in enumerate(values):
            record("POST", "/generate", v, i % 100 == 0)
    return (time.perf_counter_ns() - start) / len(values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=100_000)


def main(args: argparse.Namespace) -> int:
    rng = random.Random(1)
    values = [rng.lognormvariate(4.4, 0.5) for _ in range(args.calls)]
    results: dict[str, list[float]] = {"unsplit": [], "split": []}
    for _ in range(args.rounds):
        results["unsplit"].append(per_call_ns(False, values))
        results["split"].append(per_call_ns(True, values))
    for label, times in results.items():
        print(f"{label:8s} median {statistics.median(times):6.0f} ns/record  min {min(times):6.0f}")
    ratio = statistics.median(results["split"]) / statistics.median(results["unsplit"])
    print(f"split / unsplit (medians): {ratio:.2f}")
    return 0
