"""``osiris-load bench``: the benchmarks as commands of the package, as ``vllm bench`` has them.

    osiris-load bench --list                     each benchmark and what it measures
    osiris-load bench NAME [options]             one benchmark (``NAME --help``: its options)
    osiris-load bench --all [--only a,b]         every one with the settings docs/benchmarks.md records
                                                 (``make bench``; hours in all)

Each benchmark is a module ``osiris_load.bench.NAME`` with ``add_arguments(parser)`` (typed argparse
options) and ``main(args) -> int``. This registry names them without importing them: a benchmark's
module (and what it needs: torch, Locust, nginx) is imported only when that benchmark runs, so the front
door stays light. Their figures, and the commands that made them: docs/benchmarks.md. Every registered
benchmark has a smoke case in ``tests/test_benches.py`` (a tiny input; the suite fails without one).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from osiris_load.core.exit_codes import EXIT_BAD_INPUT


@dataclass(frozen=True)
class Bench:
    """One benchmark: a line saying what it measures, and the runs ``--all`` (``make bench``) makes of it,
    one argument list each (the settings docs/benchmarks.md records figures with)."""

    summary: str
    recorded: tuple[tuple[str, ...], ...] = ((),)


BENCHES: dict[str, Bench] = {
    "batching": Bench("sidecar throughput of dynamic batching against one request at a time (torch)"),
    "capacity_known_answer": Bench("the capacity search against a queue with a known answer, beside its measured "
                                   "curve"),
    "capacity_sidecar": Bench("each scenario's capacity against the bundled sidecar, max batch size 1 vs 16"),
    "decode_cost": Bench("cost per generated token of the sidecar's decode paths, side by side (torch)",
                         (("--rounds", "5"),)),
    "gate_overhead": Bench("the SLO gate's cost: generator CPU per request, percentile error, memory",
                           (("--rounds", "7", "--seconds", "10", "--users", "10"),)),
    "generator_cases": Bench("issue 17's known-answer cases: what the gate says when the generator is slow"),
    "generator_cost": Bench("generator CPU per request side by side with k6, users held, memory per user "
                            "(needs nginx, 2 CPUs)"),
    "generator_overhead": Bench("the generator self-monitor's cost: CPU per request with and without it",
                                (("--rounds", "5", "--seconds", "15", "--users", "20"),)),
    "generator_profile": Bench("where a request's generator CPU goes, by function (cProfile or py-spy)",
                               (("--client", "read-heavy"),)),
    "llm_answer_cost": Bench("the client's cost of one streamed answer's measurements: a Locust event each vs "
                             "the gate's record_answer", (("--tokens", "128"), ("--tokens", "128", "--open"))),
    "open_model_rate": Bench("the open model's achieved rate (one process, master + workers); --listener: the "
                             "gate's listener, closed vs open",
                             (("--seconds", "60", "--rate", "20", "--arrivals", "constant", "--workers", "2"),
                              ("--listener",))),
    "record_split": Bench("the recorder's record() per call, keys unsplit vs split by status"),
    "runner_loop": Bench("the sidecar's event loop while the model decodes, and a refusal's cost (torch)"),
    "sidecar_stress": Bench("the sidecar's latency and memory under slow clients and overload"),
    "slo_report_cost": Bench("one worker report at the key cap: encode and merge, sparse deltas vs whole "
                             "histograms", (("--keys", "500", "--per-key", "60", "--rounds", "5"),)),
    "soak": Bench("does the load generator's memory stay flat in a long run", (("--seconds", "300"),)),
    "verdict_cases": Bench("issue 8's verdict cases run as a user would, to compare two trees"),
    "verdict_coverage": Bench("how often the gate's intervals hold the truth, with and without the dependence "
                              "widening"),
}


def command(name: str, args: Sequence[str] = ()) -> list[str]:
    """The command line that runs benchmark ``name`` in a process of its own."""
    return [sys.executable, "-m", "osiris_load", "bench", name, *args]


def _listing() -> str:
    width = max(map(len, BENCHES))
    return "\n".join(f"  {name:<{width}}  {bench.summary}" for name, bench in BENCHES.items())


def run_one(name: str, argv: Sequence[str], prog: str) -> int:
    """Import benchmark ``name`` (only now), parse ``argv`` with its options, run it."""
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "osiris_load":
            raise
        print(f"{prog} {name}: needs the module '{exc.name}', which is not installed (make install installs "
              "every extra)", file=sys.stderr)
        return EXIT_BAD_INPUT
    parser = argparse.ArgumentParser(prog=f"{prog} {name}", description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    return int(module.main(parser.parse_args(list(argv))))


def run_all(names: Sequence[str]) -> int:
    """Every recorded run of ``names``, one after another, each in a process of its own: 1 if any failed."""
    from osiris_load.testing.support import ROOT  # the checkout: the benches read its locustfiles and model cache

    failed = []
    for name in names:
        for args in BENCHES[name].recorded:
            cmd = command(name, args)
            print(f"== {name}: osiris-load {' '.join(cmd[3:])}", flush=True)
            started = time.monotonic()
            code = subprocess.run(cmd, cwd=ROOT).returncode
            print(f"== {name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
            if code:
                failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: Sequence[str], prog: str = "osiris-load bench") -> int:
    """``osiris-load bench ...``: everything after ``bench`` is a benchmark's name and its options."""
    argv = list(argv)
    if argv and not argv[0].startswith("-"):
        name = argv[0]
        if name not in BENCHES:
            print(f"{prog}: unknown benchmark '{name}'; known: {', '.join(BENCHES)} ({prog} --list)",
                  file=sys.stderr)
            return EXIT_BAD_INPUT
        return run_one(name, argv[1:], prog)
    parser = argparse.ArgumentParser(prog=prog, usage=f"{prog} NAME [options] | --list | --all [--only a,b]",
                                     description=__doc__.splitlines()[0].replace("``", ""),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=f"benchmarks ('{prog} NAME --help' for one's options):\n{_listing()}")
    parser.add_argument("--list", action="store_true", help="name each benchmark with what it measures")
    parser.add_argument("--all", action="store_true",
                        help="run every benchmark with the settings docs/benchmarks.md records (make bench)")
    parser.add_argument("--only", default="", metavar="A,B", help="--all: only these (comma-separated names)")
    args = parser.parse_args(argv)
    if args.list:
        print(_listing())
        return 0
    if not args.all:
        parser.print_usage(sys.stderr)
        print(f"{prog}: a benchmark's name, --list or --all expected", file=sys.stderr)
        return EXIT_BAD_INPUT
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    return run_all(names)
