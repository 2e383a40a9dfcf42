"""What one worker report costs at the key cap (500 endpoints): the worker's encoding (its event loop is
blocked meanwhile) and the master's merge, for the recorder's sparse delta shipping and, side by side in
the same run, for whole encoded HdrHistograms (what the recorder shipped before issue 8).

    osiris-load bench slo_report_cost [--keys 500] [--per-key 60] [--rounds 5]

Each round: every key gets ``--per-key`` requests (lognormal around 80 ms, as a 3 s report interval of a
busy run would), then the worker drains its report and the master merges it. Figures are medians over
rounds, in ms per report. Results go in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from hdrh.histogram import HdrHistogram

from osiris_load.core.slo.evaluate import plan_for
from osiris_load.core.slo.recorder import RequestRecorder, new_histogram
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table


def fill(recorder: RequestRecorder, rng: random.Random, keys: int, per_key: int) -> None:
    for k in range(keys):
        name = f"/endpoint/{k}"
        for _ in range(per_key):
            recorder.record("GET", name, rng.lognormvariate(4.4, 0.5), False)


def sparse_round(rng: random.Random, keys: int, per_key: int, worker: RequestRecorder,
                 master: RequestRecorder) -> tuple[float, float, int]:
    fill(worker, rng, keys, per_key)
    start = time.perf_counter()
    report = worker.drain()
    encoded = time.perf_counter()
    master.merge_encoded(report)
    merged = time.perf_counter()
    return (encoded - start) * 1e3, (merged - encoded) * 1e3, len(json.dumps(report))


def whole_histogram_round(rng: random.Random, keys: int, per_key: int, hists: list[HdrHistogram],
                          master: list[HdrHistogram]) -> tuple[float, float, int]:
    """The previous shipping: each key's whole histogram encoded (HdrHistogram V2 base64), decoded and
    added on the master, and a fresh histogram per key after each report."""
    for hist in hists:
        for _ in range(per_key):
            hist.record_value(int(rng.lognormvariate(4.4, 0.5) * 1e6))
    start = time.perf_counter()
    texts = [h.encode() for h in hists]
    hists[:] = [new_histogram() for _ in hists]  # the old reset dropped the entries
    encoded = time.perf_counter()
    for text, target in zip(texts, master, strict=True):
        target.add(HdrHistogram.decode(text))
    merged = time.perf_counter()
    return (encoded - start) * 1e3, (merged - encoded) * 1e3, sum(len(t) for t in texts)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--per-key", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)


def main(args: argparse.Namespace) -> int:
    rng = random.Random(8)
    plan = plan_for(load_table(DEFAULT_TABLE_PATH))
    worker, master = RequestRecorder(plan), RequestRecorder(plan)
    hists = [new_histogram() for _ in range(args.keys)]
    master_hists = [new_histogram() for _ in range(args.keys)]
    sparse, whole = [], []
    for _ in range(args.rounds):
        sparse.append(sparse_round(rng, args.keys, args.per_key, worker, master))
        whole.append(whole_histogram_round(rng, args.keys, args.per_key, hists, master_hists))
    for label, rows in (("sparse delta (now)", sparse), ("whole histograms (before)", whole)):
        enc, mer, size = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"{label:26s} worker encode {enc:8.1f} ms   master merge {mer:8.1f} ms   report {size / 1024:8.0f} KiB")
    ratio_enc = statistics.median(r[0] for r in whole) / statistics.median(r[0] for r in sparse)
    ratio_mer = statistics.median(r[1] for r in whole) / statistics.median(r[1] for r in sparse)
    print(f"ratio before/now: encode {ratio_enc:.1f}x, merge {ratio_mer:.1f}x "
          f"({args.keys} keys x {args.per_key} requests per report, median of {args.rounds} rounds)")
    return 0
