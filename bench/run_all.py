"""Every benchmark command, in one list: ``make bench`` runs them all (the settings docs/benchmarks.md
records figures with), one after another; ``--smoke`` runs each on a tiny input instead (seconds each),
which is what ``tests/test_benches.py`` does so that a broken benchmark fails the suite.

    .venv/bin/python bench/run_all.py [--only batching,soak] [--smoke --url URL --out DIR]

In a smoke run ``{url}`` is a running sidecar's URL (benches that would start their own measure it
instead), ``{out}`` a scratch folder and ``{models}`` the repository's model cache (``.cache/models``,
the suite's: its exported decode steps are beside it, so no bench builds or exports a model). Each
entry: (full arguments, smoke arguments, a line the bench prints when it worked, for the smoke test).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent

CAPACITY_SLO = str(HERE / "capacity_slo.toml")
BENCHES: dict[str, tuple[list[str], list[str], str]] = {
    "batching": ([], ["--requests", "4", "--clients", "2", "--max-new-tokens", "2", "--batch-sizes", "1,2",
                      "--threads", "1", "--cache-dir", "{models}"], "batch"),
    "capacity_known_answer": ([], ["--search", "--min-rate 12 --max-rate 12 --growth 1.5 --probe-duration 2s "
                                   "--max-probe-duration 2s --precision 0.5 --budget 20s",
                                   "--sweep-rates", "10", "--sweep-duration", "2s", "--out", "{out}/known-answer"],
                              "sweep"),
    "capacity_sidecar": ([], ["--url", "{url}", "--scenarios", "read_heavy", "--out", "{out}/capacity-sidecar",
                              "--search", f"--min-rate 1 --max-rate 2 --probe-duration 2s --budget 15s --slo-window 1 "
                                          f"--slo-file {CAPACITY_SLO}"], "| read_heavy | running |"),
    "decode_cost": (["--rounds", "5"], ["--models", "hermes", "--batches", "1", "--tokens", "2", "--rounds", "1",
                                        "--cache-dir", "{models}"], "hermes"),
    "gate_overhead": (["--rounds", "7", "--seconds", "10", "--users", "10"],
                      ["--samples", "2000", "--rounds", "1", "--seconds", "1", "--users", "1", "--listener-calls",
                       "1000", "--url", "{url}"], "the gate's listener alone"),
    "generator_cost": ([], ["--smoke", "--clients", "raw,read-heavy"], "memory per user"),
    "generator_profile": (["--client", "read-heavy"], ["--client", "read-heavy", "--seconds", "1", "--top", "3"],
                          "SLO gate + recorder"),
    "generator_cases": ([], ["--only", "d", "--seconds", "1"], "| d: clean"),
    "generator_overhead": (["--rounds", "5", "--seconds", "15", "--users", "20"],
                           ["--skip-runs", "--listener-calls", "2000"], "loop watchers"),
    "open_model_rate": (["--seconds", "60", "--rate", "20", "--arrivals", "constant", "--workers", "2"],
                        ["--seconds", "2", "--rate", "5", "--workers", "1"], "achieved"),
    "open_model_listener": (["--listener"], ["--listener", "--calls", "500", "--rounds", "1"], "gate listener:"),
    "record_split": ([], ["--rounds", "1", "--calls", "1000"], "split"),
    "runner_loop": ([], ["--seconds", "0.3", "--refusals", "20", "--cache-dir", "{models}"], "refusal (queue full)"),
    "sidecar_stress": ([], ["--url", "{url}", "--held", "4", "--requests", "4", "--seconds", "2", "--users", "4"],
                       "overload: 4 users"),
    "slo_report_cost": (["--keys", "500", "--per-key", "60", "--rounds", "5"],
                        ["--keys", "5", "--per-key", "5", "--rounds", "1"], "ms"),
    "soak": (["--seconds", "300"], ["--url", "{url}", "--seconds", "3", "--users", "1"], "soak: 3 s"),
    "verdict_cases": ([], ["--only", "1"], "1"),
    "verdict_coverage": ([], ["--tests", "20", "--duration", "5", "--truth-draws", "20000"], "independent"),
}
SCRIPTS = {"open_model_listener": "open_model_rate"}  # entries that run another entry's script
# bench/*.py that are no benchmark of their own
NOT_COMMANDS = {"gate_user", "bench_sidecar", "side_by_side", "run_all", "raw_loop", "generator_cost_bare",
                "generator_cost_users", "generator_capacity_users"}


def command(name: str, smoke: bool, url: str = "", out: str = "") -> list[str]:
    full, tiny, _ = BENCHES[name]
    args = [a.replace("{url}", url).replace("{out}", out).replace("{models}", str(ROOT / ".cache" / "models"))
            for a in (tiny if smoke else full)]
    return [sys.executable, str(HERE / f"{SCRIPTS.get(name, name)}.py"), *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated names (default: all)")
    parser.add_argument("--smoke", action="store_true", help="each on a tiny input")
    parser.add_argument("--url", default="", help="--smoke: a running sidecar")
    parser.add_argument("--out", default="osiris-runs/bench-smoke", help="--smoke: scratch folder")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    if args.smoke and not args.url:
        parser.error("--smoke needs --url (a running sidecar: make sidecar)")
    failed = []
    for name in names:
        cmd = command(name, args.smoke, args.url, args.out)
        print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.run(cmd, cwd=ROOT).returncode
        print(f"== {name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
