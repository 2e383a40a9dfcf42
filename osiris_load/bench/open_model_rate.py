"""Benchmark: does the open model hold its arrival rate? One process and a master with N workers, side by side.

Why: issue 12 asks that over 60 s at 20 iterations/s against a fast target the achieved rate is
within 2 % of the target, in one process and with two workers. This starts the tiny target of the
tests (``osiris_load/testing/open_model_target.py``, 127.0.0.1), runs ``locustfiles/read_heavy.py`` with
``--arrival-rate`` for ``--seconds`` in each setup, and prints each verdict's ``open_model`` figures
and achieved/target, one line per setup.

``--listener`` measures instead the SLO gate's ``request`` listener per call, closed model (no
iteration in the context) against open model (corrected + uncorrected recorders and the goodput
check), side by side in one process, against the default SLO table.

Example::

    osiris-load bench open_model_rate --seconds 60 --rate 20 --arrivals constant --workers 2
    osiris-load bench open_model_rate --listener
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from osiris_load.testing.open_model_runs import Target, run_distributed, run_local


def listener_costs(calls: int = 300_000, rounds: int = 5) -> tuple[float, float]:
    """µs per call of the gate's listener, (closed, open): the median of ``rounds`` alternating rounds."""
    import statistics
    import warnings

    with warnings.catch_warnings():  # gevent's notice that redis was imported before the patch
        warnings.simplefilter("ignore")
        from locust.env import Environment

        from osiris_load.adapter.gate import Gate
        from osiris_load.core.openmodel.counts import ITERATION_KEY, Iteration
        from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table

    gate = Gate(Environment(), load_table(DEFAULT_TABLE_PATH))
    on_request = gate.recording.on_request
    iteration = Iteration()
    iteration.lateness_ms = 3.0
    contexts = {False: {}, True: {ITERATION_KEY: iteration}}
    results: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for open_model in (False, True):
            context = contexts[open_model]
            started = time.perf_counter()
            for i in range(calls):
                on_request(request_type="GET", name="/health", response_time=12.3 + (i & 63), response_length=120,
                           response=None, context=context, exception=None, start_time=0.0,
                           url="http://127.0.0.1/health")
            results[open_model].append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(results[False]), statistics.median(results[True])


def _num(value: float | None, spec: str) -> str:
    """A figure of the verdict's ``open_model`` block, or "-" where the run had none (a worker that joined
    too late on a busy machine: no iteration in the window)."""
    return "-" if value is None else format(value, spec)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--arrivals", choices=("constant", "poisson"), default="constant")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--listener", action="store_true", help="measure the gate's listener, closed vs open")
    parser.add_argument("--calls", type=int, default=300_000, help="--listener: calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="--listener: alternating rounds")


def main(args: argparse.Namespace) -> int:
    if args.listener:
        closed, opened = listener_costs(args.calls, args.rounds)
        print(f"# {platform.node()} {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        print(f"gate listener: closed {closed:.2f} us/call, open {opened:.2f} us/call, ratio {opened / closed:.2f}")
        return 0
    print(f"# {platform.node()} {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
          f"{args.rate:g}/s {args.arrivals} for {args.seconds} s")
    target = Target()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for workers in (0, args.workers):
                prefix = Path(tmp) / f"w{workers}"
                options = ("--arrival-rate", f"{args.rate:g}", "--arrivals", args.arrivals, "-t", f"{args.seconds}s")
                run = run_distributed if workers else run_local
                kwargs = {"workers": workers} if workers else {}
                result = run(target.url, prefix, *options, timeout=args.seconds + 180, **kwargs)
                doc = json.loads(Path(f"{prefix}_slo.json").read_text(encoding="utf-8"))
                model = doc["open_model"]
                setup = f"master + {workers} workers" if workers else "one process"
                rate, achieved = model["target_rate"], model["achieved_rate"]
                ratio = achieved / rate if achieved is not None and rate else None
                print(f"{setup:<20} exit {result.returncode}  target {_num(rate, '.3f')}/s  achieved "
                      f"{_num(achieved, '.3f')}/s  ratio {_num(ratio, '.4f')}  "
                      f"window {_num(model['window_s'], '.2f')} s  due {model['due']}  started {model['started']}  "
                      f"late {model['late']}  dropped {model['dropped']}  "
                      f"goodput {_num((model.get('goodput') or {}).get('share'), '.4f')}")
    finally:
        target.stop()
    return 0
