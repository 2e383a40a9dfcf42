"""Mutation testing of the pure SLO gate (``slo/``) with mutmut: how many mutants the gate's own tests
kill. The configuration is ``[tool.mutmut]`` in pyproject.toml (mutated: ``slo/``; tests: the
``tests/test_slo_*.py`` files of the core).

    python scripts/mutation_test.py [--max-children N]

Prints killed / total and the surviving mutants' names (``mutmut show NAME`` shows one); exits 1
below ``--target`` (default 95 %). Takes tens of minutes on 2 cores. The figure is recorded in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--target", type=float, default=95.0, help="minimum share of mutants killed, in %%")
    args = parser.parse_args()
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    subprocess.run([mutmut, "run", "--max-children", str(args.max_children)], cwd=ROOT, check=False)
    subprocess.run([mutmut, "export-cicd-stats"], cwd=ROOT, check=True, capture_output=True)
    stats = json.loads((ROOT / "mutants" / "mutmut-cicd-stats.json").read_text())
    killed = stats["killed"] + stats.get("timeout", 0)
    total = stats["total"] - stats.get("skipped", 0) - stats.get("no_tests", 0)
    survivors = subprocess.run([mutmut, "results"], cwd=ROOT, capture_output=True, text=True).stdout
    print(survivors)
    share = 100.0 * killed / total if total else 0.0
    print(f"mutmut over slo/: {killed} of {total} mutants killed ({share:.1f} %); stats: {json.dumps(stats)}")
    return 0 if share >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
