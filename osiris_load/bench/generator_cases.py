"""The known-answer cases of issue 17 as a before/after table: what the gate says when the load
generator, not the server, is slow (the same runs as ``tests/test_generator_runs.py``, one at a time).

    osiris-load bench generator_cases [--code DIR] [--seconds 6]

``--code DIR`` runs Locust in another checkout (e.g. ``git archive main | tar -x -C DIR``, with
``tests/locustfiles_for_tests/generator_hog.py`` copied in): its ``slo``/``slo_locust`` are imported
(Python puts the working directory first). The fixture server is this checkout's
``osiris_load/testing/open_model_target.py --delay-ms``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from osiris_load.testing.open_model_runs import Target
from osiris_load.testing.support import ROOT

TABLE = '[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["p(95)<{limit}"]\n'
CASES = (  # name, server delay ms, limit, users, hog ms, hog every s[, extra Locust options]
    ("a: one user burns 150 ms every 50 ms, server 50 ms", 50, 100, 5, 150, 0.05),
    ("b: 300 users, no think time, server < 1 ms", 0, 20, 300, 0, 0.05),
    ("c: server 150 ms, mild stalls (20 ms every 300 ms), 20 users", 150, 100, 20, 20, 0.3),
    ("d: clean, server 50 ms, 10 users", 50, 100, 10, 0, 0.05),
    ("d': the same, --slo-window 0", 50, 100, 10, 0, 0.05, ("--slo-window", "0")),
)


def run(code: Path, name: str, delay: float, limit: int, users: int, hog: float, every: float,
        extra: tuple[str, ...] = (), *, seconds: int, tmp: Path) -> str:
    target = Target(delay_ms=delay)
    url = target.url
    table = tmp / f"{limit}.toml"
    table.write_text(TABLE.format(limit=limit))
    prefix = tmp / f"case{len(list(tmp.glob('case*_slo.json')))}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSIRIS_", "LOCUST_"))}
    env.update(HOG_MS=f"{hog:g}", HOG_EVERY_S=f"{every:g}")
    try:
        proc = subprocess.run([sys.executable, "-m", "locust", "-f",
                               str(code / "tests" / "locustfiles_for_tests" / "generator_hog.py"), "--headless",
                               "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host",
                               url, "--slo-file", str(table), "--csv", str(prefix), *extra],
                              cwd=code, env=env, capture_output=True, text=True, timeout=seconds + 90)
    finally:
        target.stop()
    doc = json.loads(Path(f"{prefix}_slo.json").read_text())
    t = doc["thresholds"][0]
    low, high = (f"{v:.1f}" if v is not None else "-" for v in (t.get("interval") or (None, None)))
    charged = t.get("chargeable_observed")
    lags = [g["lag_p99_ms"] for g in doc.get("generator", [])]
    return (f"| {name} | p(95)<{limit} | {t['state']} | {t['observed']:.1f} ({low} .. {high}) | "
            f"{'-' if charged is None else f'{charged:.1f}'} | {'-' if not lags else f'{lags[0]:.1f}'} | "
            f"{proc.returncode} |")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--code", type=Path, default=ROOT)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--only", default="", help="comma-separated case letters (a, b, c, d, d'); default all")


def main(args: argparse.Namespace) -> int:
    wanted = {c.strip() for c in args.only.split(",") if c.strip()}
    print("| case | threshold | state | measured p95 ms (interval) | chargeable p95 ms | loop lag p99 ms | exit |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            if wanted and case[0].split(":")[0] not in wanted:
                continue
            print(run(args.code.resolve(), *case, seconds=args.seconds, tmp=Path(tmp)), flush=True)
    return 0
