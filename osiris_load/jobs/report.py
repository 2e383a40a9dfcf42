"""``osiris-load report|compare`` (``python -m osiris_load.jobs.report build|compare``): build a run folder's
reports, or compare a run with a baseline.

    osiris-load report RUN_DIR
    osiris-load compare BASELINE CURRENT [--tolerance 10] [--error-tolerance 1] [--out FILE]

Exit codes: 0 done (``build`` succeeds whatever the SLO verdict: the verdict is in the reports and
in the suite's exit code), 1 ``compare`` flagged a regression, 2 bad input (missing folder, no
Locust CSVs, malformed CSV or summary, empty run, bad option), always with one line on stderr and
never a traceback, because this runs at the end of CI jobs where a traceback hides the cause.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from osiris_load.core.exit_codes import EXIT_BAD_INPUT, EXIT_OK, EXIT_REGRESSION
from osiris_load.core.report.model import ReportError
from osiris_load.reports.build import build_all, write_atomic
from osiris_load.reports.compare import compare, load_summary, render_csv, render_markdown

PROG = "python -m osiris_load.jobs.report"


class _Parser(argparse.ArgumentParser):
    """argparse prints usage and the error on two lines or more; CI logs want one."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{PROG}: {message} (see {PROG} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Reports from a finished osiris-load run, and baseline comparison.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    build = sub.add_parser("build", help="(re)generate report.html, junit.xml and summary.json in RUN_DIR")
    build.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    cmp_ = sub.add_parser("compare", help="compare CURRENT with BASELINE; exit 1 on a regression")
    cmp_.add_argument("baseline", type=Path, metavar="BASELINE", help="run folder or summary.json")
    cmp_.add_argument("current", type=Path, metavar="CURRENT", help="run folder or summary.json")
    cmp_.add_argument("--tolerance", type=float, default=10.0,
                      help="percent: latency up or throughput down by more than this is a regression (default 10)")
    cmp_.add_argument("--error-tolerance", type=float, default=1.0,
                      help="percentage points: error rate up by more than this is a regression (default 1)")
    cmp_.add_argument("--min-delta-ms", type=float, default=0.0,
                      help="latency must also rise by more than this many ms to be a regression (default 0)")
    cmp_.add_argument("--out", type=Path, help="file to write (.csv for CSV, else markdown; "
                                               "default: compare.md in CURRENT's folder)")
    return parser


def _build(run_dir: Path) -> int:
    paths = build_all(run_dir)
    for path in paths:
        print(path)
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    for name in ("tolerance", "error_tolerance", "min_delta_ms"):
        value = getattr(args, name)
        if not value >= 0 or value == float("inf"):
            raise ReportError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value:g}")
    baseline = load_summary(args.baseline)
    current = load_summary(args.current)
    result = compare(baseline, current, tolerance=args.tolerance, error_tolerance=args.error_tolerance,
                     min_delta_ms=args.min_delta_ms, baseline_name=str(args.baseline), current_name=str(args.current))
    markdown = render_markdown(result)
    out = args.out or (args.current if args.current.is_dir() else args.current.parent) / "compare.md"
    write_atomic(out, render_csv(result) if out.suffix.lower() == ".csv" else markdown)
    sys.stdout.write(markdown)
    print(f"\nWritten: {out}")
    return EXIT_REGRESSION if result.regressions else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            return _build(args.run_dir)
        return _compare(args)
    except ReportError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # e.g. an unreadable folder: still one line
        print(f"{PROG}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
