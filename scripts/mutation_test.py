"""Mutation testing of the pure core with mutmut: how many mutants the core's own tests kill.

The configuration is ``[tool.mutmut]`` in pyproject.toml (mutated: ``slo/``, ``openmodel/``,
``capacity/search.py``, ``reports/model.py``, ``reports/charts.py``; tests: every test file of that
core, none of which starts Locust).

    make mutation                                   # the whole run, then the figure
    python scripts/mutation_test.py [--max-children N] [--target PCT] [--keep] [NAME_GLOB ...]
    python scripts/mutation_test.py --report-only    # the figure of the last run, per module

The figure is killed / ALL mutants: a mutant that no selected test reaches ("no tests"), a skipped
one, a suspicious one or one left unchecked counts as NOT killed, so that adding code without tests
lowers the figure instead of vanishing from it. Timeouts count as killed (the mutant made a test
hang, which a CI run would notice). Prints a table per module, the survivors' names
(``mutmut show NAME`` shows one) and exits 1 below ``--target`` (default 95 %).

Takes tens of minutes on 2 cores; run it ``nice`` beside other work. The figure and the equivalent
mutants are in docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# mutmut's statuses that count as killed; every other status counts as not killed.
KILLED = ("killed", "timeout")
COLUMNS = ("killed", "timeout", "survived", "no tests", "other")


def tally() -> tuple[dict[str, Counter[str]], list[str]]:
    """Per module, how many mutants ended in each status; and the survivors' names (from the
    ``.meta`` files mutmut writes beside each mutated module under ``mutants/``)."""
    from mutmut.stats import status_by_exit_code

    per_module: dict[str, Counter[str]] = {}
    survivors: list[str] = []
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        counts = per_module.setdefault(module, Counter())
        for key, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[exit_code]
            counts[status if status in COLUMNS else "other"] += 1
            if status == "survived":
                survivors.append(key)
    return per_module, survivors


def report(target: float) -> int:
    """Print the figure (killed / all mutants) per module and in all; 1 below ``target`` %."""
    per_module, survivors = tally()
    if not per_module:
        print("mutation: no results under mutants/ (run `make mutation` first)", file=sys.stderr)
        return 2
    total: Counter[str] = Counter()
    print(f"{'module':28} {'mutants':>7} " + " ".join(f"{c:>8}" for c in COLUMNS) + "   killed %")
    for module, counts in per_module.items():
        total.update(counts)
        _row(module, counts)
    _row("all", total)
    print("survivors:", *survivors, sep="\n  ")
    share = _share(total)
    print(f"mutmut over the pure core: {sum(total[c] for c in KILLED)} of {sum(total.values())} mutants "
          f"killed ({share:.1f} %; no-tests, skipped and unchecked mutants count as not killed)")
    return 0 if share >= target else 1


def _share(counts: Counter[str]) -> float:
    all_mutants = sum(counts.values())
    return 100.0 * sum(counts[c] for c in KILLED) / all_mutants if all_mutants else 0.0


def _row(name: str, counts: Counter[str]) -> None:
    print(f"{name:28} {sum(counts.values()):>7} " + " ".join(f"{counts[c]:>8}" for c in COLUMNS)
          + f"   {_share(counts):6.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--target", type=float, default=95.0, help="minimum share of all mutants killed, in %%")
    parser.add_argument("--keep", action="store_true",
                        help="keep mutants/ and its cached results (re-run only what changed or is named)")
    parser.add_argument("--report-only", action="store_true", help="only print the figure of the last run")
    parser.add_argument("names", nargs="*", help="mutant names or globs to re-run (implies --keep)")
    args = parser.parse_args()
    if not args.report_only:
        mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
        if not (args.keep or args.names):
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        subprocess.run([mutmut, "run", "--max-children", str(args.max_children), *args.names], cwd=ROOT,
                       check=False)
    return report(args.target)


if __name__ == "__main__":
    sys.exit(main())
