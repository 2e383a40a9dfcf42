"""Benchmark: the capacity search against a queue with a known answer, beside that queue's measured curve.

The ideal answer of ``osiris_load/testing/queueing_target.py`` (``k`` workers, a known service time) comes from a
simulation of the same queue (``capacity_for``). The real system is slower than the ideal queue: HTTP,
Locust's client and a busy machine add a few milliseconds outside the queue, and where the percentile
curve is flat (M/D/2, ``p(95)<100``) a few milliseconds move the capacity by 10 % or more. So the
"true capacity" of a run has to be *measured* on the same machine in the same state as the search.
This script does both, side by side in one run:

1. starts the queueing target (``--workers``, ``--service-ms``, ``--exponential``);
2. runs the capacity search against it (``python -m osiris_load capacity``, options from ``--search``);
3. runs a *sweep*: fixed-rate open-model Locust runs (``--arrival-rate R -t S``, the probes of
   ``osiris_load.jobs.capacity_probe``) at rates around the ideal capacity (``--sweep-factors`` or ``--sweep-rates``),
   each judged by the gate; the percentile, its interval and the achieved rate are read from the
   verdict JSON each run writes (``PREFIX_slo.json``), never from console text;
4. prints one table: the ideal capacity, the measured crossing (a straight line between the two sweep
   points that straddle the limit, on their *achieved* rates: :func:`sweep_crossing`), for constant
   arrivals the D/D/k capacity from the workers' measured service time (``GET /stats``:
   ``measured_capacity``), the search's ``max_rate``, its bracket and its own estimated crossing
   (``osiris_load.core.capacity.estimate``), and the error of ``max_rate`` against each known answer; writes the same
   as ``known_answer.json`` under ``--out`` (with the search's folder and every sweep run's files).

Everything it starts (the target, the search, each sweep run) is a child of one main job
(``osiris_load.jobs.run.MainJob``): Ctrl+C or SIGTERM stops them all, and an interrupted search still
writes its ``capacity.json``.

A short check (minutes; the figures are noisy)::

    osiris-load bench capacity_known_answer --out /tmp/ka-short --sweep-factors 0.9 1.0 1.1 \\
      --sweep-duration 20s --search "--min-rate 12 --max-rate 64 --growth 1.5 --probe-duration 10s \\
      --max-probe-duration 20s --precision 0.1 --budget 3m" --slo-window 2

Constant arrivals (D/D/k: the ideal answer is workers / service, the measured one the workers'
``GET /stats``)::

    osiris-load bench capacity_known_answer --arrivals constant --out /tmp/ka-const --sweep-factors 0.9 1.0 1.1 \\
      --sweep-duration 10s --search "--min-rate 30 --max-rate 64 --growth 1.5 --probe-duration 6s \\
      --max-probe-duration 12s --precision 0.1 --budget 90s"

The long runs of docs/benchmarks.md ("Capacity search: known answers", runs 2 and 3: about 35-45
minutes each on the shared 2-core machine)::

    # run 2: Poisson arrivals, p(95)<200 (a steep curve)
    osiris-load bench capacity_known_answer --out osiris-runs/known-answer-run2 \\
      --slo-file osiris_load/bench/helpers/queue_work_poisson.toml --slo-window 2 --sweep-duration 150s \\
      --search "--min-rate 16 --max-rate 64 --growth 1.5 --probe-duration 30s --max-probe-duration 240s \\
      --precision 0.05 --budget 20m"
    # run 3: Poisson arrivals, p(95)<100 (a flat curve)
    osiris-load bench capacity_known_answer --out osiris-runs/known-answer-run3 \\
      --slo-file osiris_load/testing/queue_work.toml --slo-window 2 --sweep-duration 150s \\
      --search "--min-rate 12 --max-rate 64 --growth 1.5 --probe-duration 30s --max-probe-duration 240s \\
      --precision 0.05 --budget 20m"
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from osiris_load.adapter.shape import parse_duration
from osiris_load.core.capacity.estimate import crossing_estimates
from osiris_load.core.capacity.model import CapacityReport, CrossingEstimate, ProbeResult, ProbeThreshold
from osiris_load.core.slo.formatting import format_value
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloFileError, load_table
from osiris_load.jobs.capacity import resolve_locustfile
from osiris_load.jobs.capacity_probe import LocustProbe, ProbeSettings
from osiris_load.jobs.run import MainJob
from osiris_load.jobs.supervisor import stop_children
from osiris_load.testing import queueing_target
from osiris_load.testing.queueing_target import QUEUE_WORK, capacity_for, stats
from osiris_load.testing.support import ROOT

TARGET = Path(queueing_target.__file__)
QUEUE_WORK_TABLE = QUEUE_WORK.with_suffix(".toml")


def percentile_threshold(slo_file: Path) -> tuple[str, str, float, float]:
    """The table's first percentile threshold with an upper limit: (row, expression, q in 0..1, limit ms)."""
    try:
        table = load_table(slo_file)
    except SloFileError as exc:
        raise SystemExit(f"--slo-file: {exc}") from None
    for row in table.rows:
        for spec in row.thresholds:
            t = spec.threshold
            if t.aggregation.kind in ("p", "med") and t.op in ("<", "<="):
                q = 0.5 if t.aggregation.kind == "med" else (t.aggregation.arg or 0) / 100
                return row.name, t.source, q, t.value
    raise SystemExit(f"{slo_file}: no percentile threshold with an upper limit (p(N)<X or med<X) to know the answer of")


def sweep_crossing(points: Sequence[ProbeResult]) -> CrossingEstimate | None:
    """Where the sweep's observed percentile crosses its limit, on the rates the runs *achieved*
    (the nominal rate of a Poisson run is not what the target got): ``osiris_load.core.capacity.estimate``'s straight
    line between the highest rate within the limit and the lowest one beyond it. None without a
    percentile threshold; its ``rate`` is None when the sweep does not straddle the limit."""
    on_achieved = [p.model_copy(update={"rate": p.rate if p.achieved_rate is None else p.achieved_rate,
                                        "counted_as": "pass" if p.passed else "fail"}) for p in points]
    estimates = crossing_estimates(on_achieved)
    return estimates[0] if estimates else None


def judged(point: ProbeResult, expression: str) -> ProbeThreshold | None:
    """The point's result for the known answer's threshold (copied by ``osiris_load.jobs.capacity_probe``)."""
    return next((t for t in point.thresholds if t.expression == expression), None)


def error(rate: float | None, answer: float | None) -> float | None:
    """``(rate - answer) / answer``: negative when the search is below the known answer."""
    return None if rate is None or not answer else (rate - answer) / answer


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}/s"


def _interval(t: ProbeThreshold | None) -> str:
    """As capacity.html shows a probe's interval: ``[low, high]`` in the threshold's unit."""
    if t is None or t.interval is None:
        return "-"
    return f"[{format_value(t.unit, t.interval[0])}, {format_value(t.unit, t.interval[1])}]"


def _observed(t: ProbeThreshold | None) -> str:
    return "no result" if t is None else (f"{t.expression} observed {format_value(t.unit, t.observed, t.limit)} "
                                          f"{_interval(t)}")


def _crossing(c: dict) -> str:
    """The crossing's rate, or the side of the sweep it lies on when the sweep does not straddle it."""
    if c.get("rate") is not None:
        return _rate(c["rate"])
    if c.get("beyond") and not c.get("within"):
        return f"below {_rate(c['beyond']['rate'])} (no sweep point within the limit)"
    if c.get("within"):
        return f"above {_rate(c['within']['rate'])} (no sweep point beyond the limit)"
    return "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1%}"


class KnownAnswerJob(MainJob):
    """The target, the search and the sweep as children of one main job (its signals stop them all)."""

    def start_target(self) -> str:
        a = self.args
        command = [sys.executable, str(TARGET), "--workers", str(a.workers), "--service-ms", str(a.service_ms)]
        proc = self.start(command + (["--exponential"] if a.exponential else []), stdout=subprocess.PIPE)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()  # "PORT n" once listening; EOF if it failed
        if not line.startswith("PORT "):
            raise SystemExit(f"the queueing target did not start: {line!r}")
        return f"http://127.0.0.1:{int(line.split()[1])}"

    def run_search(self, url: str, out: Path) -> tuple[int, CapacityReport | None]:
        a = self.args
        command = [sys.executable, "-m", "osiris_load", "capacity", "--scenario", a.scenario, "--url", url,
                   *(["--slo-file", str(a.slo_file)] if a.slo_file else []), "--arrivals", a.arrivals,
                   "--out", str(out),
                   *(["--slo-window", a.slo_window] if a.slo_window else []), *shlex.split(a.search)]
        print(f"\n=== search: {shlex.join(command[1:])}", flush=True)
        proc = self.start(command, cwd=ROOT)
        code = proc.wait()
        stop_children([proc], grace_s=0)  # sweeps its group: nothing of the search outlives it
        self.children.remove(proc)
        path = out / "capacity.json"
        return code, CapacityReport.from_json(path.read_text(encoding="utf-8")) if path.exists() else None

    def run_sweep(self, url: str, rates: Sequence[float], out: Path) -> list[ProbeResult]:
        a = self.args
        out.mkdir(parents=True, exist_ok=True)
        settings = ProbeSettings(locustfile=resolve_locustfile(a.scenario), url=url, out=out, arrivals=a.arrivals,
                                 slo_file=a.slo_file, window=a.slo_window)
        probe = LocustProbe(settings, self.run_child)
        expression = percentile_threshold(a.slo_file or DEFAULT_TABLE_PATH)[1]
        print(f"\n=== sweep: {len(rates)} fixed-rate runs of {a.sweep_duration:g}s (files: {out})", flush=True)
        points = []
        for rate in rates:
            point = probe(rate, a.sweep_duration, 1)
            t = judged(point, expression)
            print(f"  {rate:.4g}/s: achieved {_rate(point.achieved_rate)}, {_observed(t)} {point.state}", flush=True)
            points.append(point)
        return points

    def _run(self, out: Path) -> int:
        a = self.args
        if a.slo_file is None and a.scenario == str(QUEUE_WORK.relative_to(ROOT)):
            a.slo_file = QUEUE_WORK_TABLE  # queue_work's requests are in no row of the default table
        a.slo_file = a.slo_file.resolve() if a.slo_file else None  # None: the search's default, slo/default.toml
        row, expression, q, limit_ms = percentile_threshold(a.slo_file or DEFAULT_TABLE_PATH)
        service_s = a.service_ms / 1000
        deterministic_constant = a.arrivals == "constant" and not a.exponential
        print(f"Ideal capacity of the {a.workers}-worker queue at {expression} (simulation) ...", flush=True)
        ideal = (a.workers / service_s if deterministic_constant else
                 capacity_for(limit_ms / 1000, q, a.workers, service_s, exponential=a.exponential,
                              constant=a.arrivals == "constant"))
        rates = a.sweep_rates or [round(ideal * f, 2) for f in a.sweep_factors]
        load_before = os.getloadavg()
        started = time.monotonic()
        url = self.start_target()
        code, found = self.run_search(url, out / "search")
        points = self.run_sweep(url, rates, out / "sweep")
        served = stats(url)
        self.stop_all()
        mean_service_ms = 1000 * served["busy_s"] / served["requests"] if served["requests"] else None
        # D/D/k: no wait below workers / mean service, a growing queue above it (measured_capacity)
        dd_k = served["workers"] * 1000 / mean_service_ms if deterministic_constant and mean_service_ms else None
        crossing = sweep_crossing(points)
        estimate = next((e for e in found.estimates if (e.row, e.expression) == (row, expression)), None) \
            if found else None
        max_rate = found.max_rate if found else None
        result = {
            "target": {"workers": a.workers, "service_ms": a.service_ms, "exponential": a.exponential,
                       "arrivals": a.arrivals, "mean_service_ms_measured": mean_service_ms},
            "threshold": {"row": row, "expression": expression, "q": q, "limit_ms": limit_ms},
            "ideal_capacity": ideal,
            "ideal_from": "workers / service (D/D/k)" if deterministic_constant else "simulation (capacity_for)",
            "measured_crossing": None if crossing is None else crossing.model_dump(),
            "dd_k_capacity_measured": dd_k,
            "scenario": a.scenario, "slo_file": str(a.slo_file or DEFAULT_TABLE_PATH),
            "search": {"exit_code": code, "command_options": a.search, "max_rate": max_rate,
                       "confirmed": None if found is None else found.confirmed,
                       "budget_s": None if found is None else found.budget_s,
                       "bracket": None if found is None else found.bracket,
                       "outcome": None if found is None else found.outcome,
                       "stopped_because": None if found is None else found.stopped_because,
                       "probes": None if found is None else len(found.probes),
                       "spent_s": None if found is None else found.spent_s,
                       "estimate": None if estimate is None else estimate.model_dump()},
            "errors": {"vs_ideal": error(max_rate, ideal),
                       "vs_measured_crossing": error(max_rate, crossing and crossing.rate),
                       "vs_dd_k_measured": error(max_rate, dd_k)},
            "sweep": [p.model_dump() for p in points],
            "sweep_duration_s": a.sweep_duration,
            "load_average": {"before": load_before, "after": os.getloadavg()},
            "wall_s": time.monotonic() - started,
        }
        (out / "known_answer.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print_table(result)
        print(f"Wrote {out / 'known_answer.json'}")
        return 0


def print_table(r: dict) -> None:
    """The answers side by side (markdown), then the sweep's points."""
    s, e = r["search"], r["errors"]
    crossing = r["measured_crossing"] or {}
    estimate = s["estimate"] or {}
    bracket = s["bracket"] or (None, None)
    print(f"\n{r['threshold']['row']} {r['threshold']['expression']}, {r['target']['workers']} workers x "
          f"{r['target']['service_ms']:g} ms ({'exponential' if r['target']['exponential'] else 'deterministic'}), "
          f"{r['target']['arrivals']} arrivals; measured mean service {_ms(r['target']['mean_service_ms_measured'])}; "
          f"load average {r['load_average']['before'][0]:.1f} -> {r['load_average']['after'][0]:.1f}\n")
    print("| answer | rate | search max_rate error |\n|---|---:|---:|")
    print(f"| ideal capacity ({r['ideal_from']}) | {_rate(r['ideal_capacity'])} | {_share(e['vs_ideal'])} |")
    print(f"| measured crossing (sweep, achieved rates) | {_crossing(crossing)} | "
          f"{_share(e['vs_measured_crossing'])} |")
    if r["dd_k_capacity_measured"] is not None:
        print(f"| D/D/k capacity from /stats (measured service) | {_rate(r['dd_k_capacity_measured'])} | "
              f"{_share(e['vs_dd_k_measured'])} |")
    print(f"| **search max_rate** (exit {s['exit_code']}, {s['outcome']}, confirmed: {s.get('confirmed')}, stopped: "
          f"{s['stopped_because']}, {s['probes']} probes, {s['spent_s'] or 0:.0f} s of {s.get('budget_s') or 0:.0f} s) "
          f"| **{_rate(s['max_rate'])}** "
          f"[{_rate(bracket[0])}, {_rate(bracket[1])}] | |")
    print(f"| search's estimated crossing (osiris_load/core/capacity/estimate.py) | {_rate(estimate.get('rate'))} | |")
    print(f"\n| sweep rate | achieved | {r['threshold']['expression']} observed | interval | state | late | dropped |")
    print("|---:|---:|---:|---|---|---:|---:|")
    for p in r["sweep"]:
        t = judged(ProbeResult.model_validate(p), r["threshold"]["expression"])
        print(f"| {p['rate']:.4g}/s | {_rate(p['achieved_rate'])} | {format_value('ms', t and t.observed)} | "
              f"{_interval(t)} | {p['state']} | {p['late']} | {p['dropped']} |")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=2, help="the target's worker threads (default 2)")
    parser.add_argument("--service-ms", type=float, default=50.0, help="service time per request (default 50)")
    parser.add_argument("--exponential", action="store_true", help="exponential service times (default: fixed)")
    parser.add_argument("--arrivals", choices=("poisson", "constant"), default="poisson")
    parser.add_argument("--scenario", default=str(QUEUE_WORK.relative_to(ROOT)),
                        help="scenario or locustfile (default: the test-only queue_work.py; sidecar_load posts "
                             "/generate, which the target queues, and scrapes /metrics, answered at once)")
    parser.add_argument("--slo-file", type=Path,
                        help="SLO table (default: queue_work.toml for queue_work.py, else the default table "
                             "osiris_load/core/slo/default.toml, passed as no --slo-file at all: the user's own "
                             "default)")
    parser.add_argument("--slo-window", default="2", metavar="SECONDS", help="the gate's window (default 2)")
    parser.add_argument("--search", default="--min-rate 12 --max-rate 64 --growth 1.5 --probe-duration 30s "
                        "--max-probe-duration 240s --precision 0.05 --budget 20m",
                        help="options passed to the capacity search (not --scenario/--url/--out/--slo-file/"
                             "--arrivals/--slo-window: this benchmark passes those)")
    parser.add_argument("--sweep-factors", type=float, nargs="+", default=[0.85, 0.9, 0.95, 1.0, 1.05],
                        help="sweep rates as factors of the ideal capacity (default 0.85 0.9 0.95 1.0 1.05)")
    parser.add_argument("--sweep-rates", type=float, nargs="+", help="sweep rates in iterations/s (instead)")
    parser.add_argument("--sweep-duration", type=parse_duration, default=150.0, metavar="DURATION",
                        help="length of each sweep run (default 150s)")
    parser.add_argument("--out", type=Path, default=Path("osiris-runs/bench-known-answer"))


def main(args: argparse.Namespace) -> int:
    return KnownAnswerJob(args).run()
