"""``osiris-load``: the one front door (``make run`` calls ``osiris-load run``).

    osiris-load run [--url URL] [--scenarios ...] [--out DIR] ...   the main job (sidecar, scenarios, verdict)
    osiris-load capacity --scenario NAME [--url URL] [--max-rate R] ... the highest rate that meets the SLO
    osiris-load sidecar [--host H] [--port P] ...                   only the bundled sidecar
    osiris-load report RUN_DIR                                       (re)build report.html, junit.xml, summary.json
    osiris-load compare BASELINE CURRENT [--tolerance 10] ...        exit 1 on a regression
    osiris-load import-k6 OPTIONS.json|script.js --out slo.toml      a k6 options object -> SLO file + command
    osiris-load bench NAME [options] | --list | --all                 the benchmarks (docs/benchmarks.md)
    osiris-load completion bash                                      a bash completion script

``report`` and ``compare`` are ``python -m osiris_load.jobs.report build|compare`` (the report job's own entry
point) behind one name; they need the ``reports`` extra (pandas), and say so when it is missing.
``sidecar`` needs the ``sidecar`` extra (torch, transformers). ``bench`` imports a benchmark's module only
when that benchmark runs (:mod:`osiris_load.bench`). Exit codes are the subcommand's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from osiris_load.core.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SLO_FAILED,
    EXIT_TARGET_DOWN,
    EXIT_TERMINATED,
)

PROG = "osiris-load"
SUBCOMMANDS = ("run", "capacity", "sidecar", "report", "compare", "import-k6", "bench", "completion")
EXTRA_OF = {"report": "reports", "compare": "reports", "sidecar": "sidecar"}
NEEDS = {"reports": ("pandas",), "sidecar": ("torch", "transformers", "fastapi", "uvicorn")}


def package_version() -> str:
    try:
        return version("osiris-load")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    from osiris_load.jobs.run import add_run_arguments

    parser = argparse.ArgumentParser(
        prog=PROG, description="Load tests for the Osiris LLM sidecar on Locust, judged by an SLO gate.",
        epilog=f"'{PROG} COMMAND --help' for a command's options. Plain Locust works too: "
               "locust -f locustfiles/read_heavy.py (see README).")
    parser.add_argument("--version", action="version", version=f"{PROG} {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="the main job: start the sidecar (unless --url), run the scenarios, judge",
                         description="Start the bundled sidecar (unless --url/OSIRIS_URL), run the scenarios "
                                     f"headless, judge the SLOs, write reports; exit {EXIT_OK} pass, "
                                     f"{EXIT_SLO_FAILED} SLO failed, {EXIT_BAD_INPUT} bad input (checked before "
                                     f"anything starts), {EXIT_TARGET_DOWN} target down, "
                                     f"{EXIT_INTERRUPTED}/{EXIT_TERMINATED} interrupted.")
    add_run_arguments(run)
    from osiris_load.jobs.capacity import EXIT_CODES_HELP, add_capacity_arguments

    capacity = sub.add_parser(
        "capacity", help="the highest arrival rate at which a scenario still meets its SLO table",
        description="Search the highest open-model arrival rate (iterations/s) at which every threshold of the "
                    "rows the scenario exercises PASSES with confidence: grow the rate, then bisect. Starts the "
                    "bundled sidecar unless --url. Writes capacity.json and capacity.html (docs/capacity.md).",
        epilog=EXIT_CODES_HELP)
    add_capacity_arguments(capacity)
    sub.add_parser("sidecar", help="only the bundled sidecar (options: osiris-load sidecar --help)", add_help=False)
    sub.add_parser("report", help="(re)build report.html, junit.xml, summary.json for a run folder", add_help=False)
    sub.add_parser("compare", help="compare a run with a baseline; exit 1 on a regression", add_help=False)
    sub.add_parser("bench", help="run a benchmark: bench NAME [options], bench --list", add_help=False)
    k6 = sub.add_parser("import-k6", help="a k6 options object (JSON, or a script's export const options) -> an "
                                          "SLO file and the matching command line",
                        description="Write the SLO file for a k6 options object (its thresholds, with k6's "
                                    "meanings) and print the matching locust / osiris-load run command line. "
                                    "What cannot carry over is listed on stderr (exit 0); unreadable input "
                                    "exits 2. See docs/k6-migration.md.")
    k6.add_argument("options", help="a JSON file with the options object, or a k6 script (.js, .ts) whose "
                                    "'export const options = {...}' is a plain literal")
    k6.add_argument("--scenario", default=None, metavar="NAME",
                    help="which of the options' scenarios to import (default: the first; one load shape per run)")
    k6.add_argument("--out", default="slo.toml", help="the SLO file to write (default: slo.toml)")
    k6.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    k6.add_argument("--locustfile", default=None,
                    help="the locustfile the printed command runs (default: the scenario the file's name says, "
                         "e.g. k6_read_heavy.js -> locustfiles/read_heavy.py, else locustfiles/mixed.py)")
    completion = sub.add_parser("completion", help="print a shell completion script: eval \"$(osiris-load "
                                                   "completion bash)\"")
    completion.add_argument("shell", choices=["bash"])
    return parser


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_extra(command: str) -> str | None:
    """The one line to print when ``command``'s extra is not installed, else None."""
    extra = EXTRA_OF.get(command)
    if extra is None:
        return None
    absent = [name for name in NEEDS[extra] if not _installed(name)]
    if not absent:
        return None
    return (f"{PROG} {command}: needs the '{extra}' extra ({', '.join(absent)} not installed): "
            f"pip install 'osiris-load[{extra}]' (or make run, which installs it)")


def completion_script() -> str:
    words = " ".join(SUBCOMMANDS) + " --version --help"
    return (f"_osiris_load() {{\n"
            f"  if [ \"$COMP_CWORD\" -eq 1 ]; then COMPREPLY=( $(compgen -W \"{words}\" -- \"${{COMP_WORDS[1]}}\") );\n"
            f"  else COMPREPLY=( $(compgen -f -- \"${{COMP_WORDS[COMP_CWORD]}}\") ); fi\n"
            f"}}\ncomplete -F _osiris_load {PROG}\n")


def _reports(command: str, rest: list[str]) -> int:
    """The report job's ``build|compare`` under this program's name (its help and errors say ``osiris-load``)."""
    from osiris_load.jobs.report import PROG as REPORT_PROG
    from osiris_load.jobs.report import main as reports_main

    verb = "build" if command == "report" else "compare"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = reports_main([verb, *rest])
        except SystemExit as exc:  # argparse: --help, bad option
            code = exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    for text, stream in ((out.getvalue(), sys.stdout), (err.getvalue(), sys.stderr)):
        stream.write(text.replace(f"{REPORT_PROG} {verb}", f"{PROG} {command}").replace(REPORT_PROG, PROG))
    return code


def import_k6(options_path: str, out: str, *, force: bool = False, locustfile: str | None = None,
              scenario: str | None = None) -> int:
    """``osiris-load import-k6``: 0 written (warnings on stderr), 2 unreadable input, an unknown
    ``--scenario`` or --out exists."""
    from pathlib import Path

    from osiris_load.core.k6.importer import DEFAULT_LOCUSTFILE, K6ImportError, convert, guess_scenario, read_k6_options

    try:
        options, notes = read_k6_options(options_path)
        imported = convert(options, scenario=scenario, notes=notes)
    except K6ImportError as exc:
        print(f"{PROG} import-k6: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = Path(out)
    if target.exists() and not force:
        print(f"{PROG} import-k6: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        target.write_text(imported.toml, encoding="utf-8")
    except OSError as exc:
        print(f"{PROG} import-k6: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in imported.warnings:
        print(f"{PROG} import-k6: warning: {line}", file=sys.stderr)
    print(f"wrote {out} ({imported.threshold_keys} threshold keys)")
    scenario = guess_scenario(options_path)
    default = f"locustfiles/{scenario}.py" if scenario else DEFAULT_LOCUSTFILE
    print(imported.locust_command(locustfile or default, out))
    run = imported.run_command(out, scenario)
    if run is not None and locustfile is None:
        print(run)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":  # before the parser: it would import the jobs, which no benchmark needs
        from osiris_load.bench import main as bench_main

        return bench_main(argv[1:], prog=f"{PROG} bench")
    parser = _parser()
    # Pass-through commands keep their own parsers (and --help): everything after the name is theirs.
    if argv and argv[0] in EXTRA_OF:
        command, rest = argv[0], argv[1:]
        problem = missing_extra(command)
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_BAD_INPUT
        if command == "sidecar":
            from sidecar.infra.launcher import main as sidecar_main

            return sidecar_main(rest, prog=f"{PROG} sidecar")
        return _reports(command, rest)
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:  # Ctrl+C before a job installs its own handlers: while its inputs are checked
        print(f"\n{PROG} {args.command}: interrupted (SIGINT) before the job started; nothing was started or "
              "written", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "completion":
        sys.stdout.write(completion_script())
        return EXIT_OK
    if args.command == "capacity":
        from osiris_load.jobs.capacity import run_capacity

        return run_capacity(args)
    if args.command == "import-k6":
        return import_k6(args.options, args.out, force=args.force, locustfile=args.locustfile,
                         scenario=args.scenario)
    from osiris_load.jobs.run import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
