"""Mutation testing of the pure core with mutmut: how many mutants the core's own tests kill.

The configuration is ``[tool.mutmut]`` in pyproject.toml (mutated: the whole pure core,
``osiris_load/core/``; tests: every test file of that core, none of which starts Locust).

    make mutation                                   # the whole run, then the figure
    python tools/mutation_test.py [--max-children N] [--target PCT]
    python tools/mutation_test.py --report-only       # the figure of the last run, per module
    python tools/mutation_test.py --rerun-not-killed  # after adding tests: re-run what was not killed
    python tools/mutation_test.py --report-only --unnamed  # and every not-killed mutant docs/ do not name

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
import fnmatch
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# mutmut's statuses that count as killed; every other status counts as not killed.
KILLED = ("killed", "timeout")
COLUMNS = ("killed", "timeout", "survived", "no tests", "other")


BASELINE = ROOT / "mutants" / "baseline-statuses.json"


def statuses() -> dict[str, tuple[str, str]]:
    """Every mutant's name -> (module, status), from the ``.meta`` files mutmut writes beside each
    mutated module under ``mutants/``; merged with the baseline of ``--rerun-not-killed`` when there
    is one (a mutant killed in either run is killed; one this run did not check keeps its status)."""
    from mutmut.stats import status_by_exit_code

    found: dict[str, tuple[str, str]] = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(ROOT / "mutants"))[: -len(".meta")]
        for key, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            status = status_by_exit_code[exit_code]
            found[key] = (module, status if status in COLUMNS else "other")
    if BASELINE.is_file():  # killed in either run is killed; not re-run keeps the baseline's status
        for key, (module, status) in json.loads(BASELINE.read_text()).items():
            if key in found and (status in KILLED or found[key][1] == "other"):
                found[key] = (module, status)
    return found


def report(target: float) -> int:
    """Print the figure (killed / all mutants) per module and in all; 1 below ``target`` %."""
    found = statuses()
    if not found:
        print("mutation: no results under mutants/ (run `make mutation` first)", file=sys.stderr)
        return 2
    per_module: dict[str, Counter[str]] = {}
    for module, status in found.values():
        per_module.setdefault(module, Counter())[status] += 1
    total: Counter[str] = Counter()
    print(f"{'module':40} {'mutants':>7} " + " ".join(f"{c:>8}" for c in COLUMNS) + "   killed %")
    for module, counts in sorted(per_module.items()):
        total.update(counts)
        _row(module, counts)
    _row("all", total)
    print("survivors:", *sorted(k for k, (_, status) in found.items() if status == "survived"), sep="\n  ")
    share = _share(total)
    print(f"mutmut over the pure core: {sum(total[c] for c in KILLED)} of {sum(total.values())} mutants "
          f"killed ({share:.1f} %; no-tests, skipped and unchecked mutants count as not killed)")
    return 0 if share >= target else 1


def rerun_not_killed(mutmut: str, max_children: int, only: list[str]) -> None:
    """Keep the last run's statuses as the baseline and re-run only the mutants it did not kill.

    Sound only while the mutated source is unchanged and tests were only added since that run (a
    mutant a test killed stays killed): e.g. the "after" figure of a change that adds tests, at a
    fraction of a whole run's cost. ``make mutation`` (a whole fresh run) is the reference figure."""
    found = statuses()
    BASELINE.write_text(json.dumps(found))
    names = sorted(k for k, (module, status) in found.items() if status not in KILLED
                   and (not only or any(fnmatch.fnmatch(module, pattern) for pattern in only)))
    print(f"mutation: re-running the {len(names)} mutants the last run did not kill", flush=True)
    subprocess.run([mutmut, "run", "--max-children", str(max_children), *names], cwd=ROOT, check=False)


def _bullets(paths: list[Path]) -> list[str]:
    """The docs' bullets and table rows, each one string (a bullet's continuation lines joined)."""
    items: list[str] = []
    for path in paths:
        current: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(("- ", "| ", "#")) or not line.strip():
                items.append(" ".join(current))
                current = []
            current.append(line)
        items.append(" ".join(current))
    return items


def _named(name: str, items: list[str]) -> bool:
    """A bullet or row names the mutant: its function's mangled name with its number (``..._mutmut_12``,
    or a following `` `_12` ``), or a range `` `_10` to `_14` `` after it."""
    function, _, number = name.rpartition(".")[2].rpartition("__mutmut_")
    n = int(number)
    for item in items:
        if function + "__mutmut_" not in item:
            continue
        if re.search(rf"(?:mutmut_|`_){n}\b", item) or any(
                int(a) <= n <= int(b) for a, b in re.findall(r"_(\d+)`? to `?_?(\d+)", item)):
            return True
    return False


def unnamed() -> list[str]:
    """The mutants the last run did not kill that no ``docs/mutation*.md`` names (each one must be
    killed or justified there, one by one)."""
    items = _bullets(sorted((ROOT / "docs").glob("mutation*.md")))
    return sorted(k for k, (_, status) in statuses().items() if status not in KILLED and not _named(k, items))


def _share(counts: Counter[str]) -> float:
    all_mutants = sum(counts.values())
    return 100.0 * sum(counts[c] for c in KILLED) / all_mutants if all_mutants else 0.0


def _row(name: str, counts: Counter[str]) -> None:
    print(f"{name:40} {sum(counts.values()):>7} " + " ".join(f"{counts[c]:>8}" for c in COLUMNS)
          + f"   {_share(counts):6.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--target", type=float, default=95.0, help="minimum share of all mutants killed, in %%")
    parser.add_argument("--report-only", action="store_true", help="only print the figure of the last run")
    parser.add_argument("--rerun-not-killed", action="store_true",
                        help="re-run only what the last run did not kill, after adding tests (see rerun_not_killed)")
    parser.add_argument("--unnamed", action="store_true",
                        help="also list the not-killed mutants no docs/mutation*.md names; exit 1 if any")
    parser.add_argument("--only", action="append", default=[], metavar="GLOB",
                        help="with --rerun-not-killed: only the mutants of these modules (e.g. osiris_load/core/k6/*)")
    args = parser.parse_args()
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    if args.rerun_not_killed:
        rerun_not_killed(mutmut, args.max_children, args.only)
    elif not args.report_only:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        subprocess.run([mutmut, "run", "--max-children", str(args.max_children)], cwd=ROOT, check=False)
    code = report(args.target)
    if args.unnamed:
        missing = unnamed()
        print(f"mutation: {len(missing)} not-killed mutants not named in docs/mutation*.md", *missing, sep="\n  ")
        code = code or int(bool(missing))
    return code


if __name__ == "__main__":
    sys.exit(main())
