"""Benchmark: the capacity of each scenario against the bundled sidecar, OSIRIS_MAX_BATCH_SIZE 1 vs 16.

For each batch size: start ``python -m sidecar`` with that setting (the models from
``.cache/models``, built offline on first use), wait for ``/health``, run ``osiris-load capacity``
for each scenario against it (same search settings for both), stop it. Prints one table: the
capacity (iterations/s), the bracket, why the search stopped, the limiting threshold, per scenario
and batch size, side by side from the same machine in one run. Writes each search's folder under
``--out``.

    osiris-load bench capacity_sidecar --scenarios sidecar_load propose_trade read_heavy
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from osiris_load.bench.helpers.bench_sidecar import sidecar
from osiris_load.testing.support import ROOT

CAPACITY_SLO = Path(__file__).resolve().parent / "helpers" / "capacity_slo.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenarios", nargs="+", default=["read_heavy", "sidecar_load", "propose_trade"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--out", type=Path, default=Path("osiris-runs/bench-capacity"))
    parser.add_argument("--url", help="search a running sidecar instead (its own batch size; --batch-sizes ignored)")
    parser.add_argument("--search", default="--min-rate 4 --max-rate 256 --probe-duration 20s --slo-window 2 "
                        f"--budget 4m --slo-file {CAPACITY_SLO}",
                        help="options passed to every osiris-load capacity search")


def main(args: argparse.Namespace) -> int:
    rows = []
    batches: list[int | str] = args.batch_sizes if args.url is None else ["running"]
    for batch in batches:
        with sidecar(args.url, env={"OSIRIS_MAX_BATCH_SIZE": str(batch)},
                     log=args.out / f"sidecar-batch{batch}.log") as (url, _):
            for scenario in args.scenarios:
                out = args.out / f"{scenario}-batch{batch}"
                command = [sys.executable, "-m", "osiris_load", "capacity", "--scenario", scenario, "--url", url,
                           "--out", str(out), *args.search.split()]
                started = time.monotonic()
                code = subprocess.run(command, cwd=ROOT).returncode
                doc = json.loads((out / "capacity.json").read_text()) if (out / "capacity.json").exists() else {}
                rows.append((scenario, batch, code, doc, time.monotonic() - started))
    print("\n| scenario | OSIRIS_MAX_BATCH_SIZE | capacity /s | bracket | stopped | limiting | probes | exit | wall |")
    print("|---|---|---|---|---|---|---|---|---|")
    for scenario, batch, code, doc, wall in rows:
        lt = doc.get("limiting_threshold") or {}
        bracket = doc.get("bracket") or [None, None]
        fmt = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
        limiting = f"{lt.get('row')} {lt.get('expression')} {lt.get('state')}" if lt else "-"
        print(f"| {scenario} | {batch} | {fmt(doc.get('max_rate'))} | [{fmt(bracket[0])}, {fmt(bracket[1])}] | "
              f"{doc.get('stopped_because', '-')} | {limiting} | {len(doc.get('probes', []))} | {code} | {wall:.0f}s |")
    return 0
