"""``osiris-load capacity`` (``python -m osiris_load capacity``): the capacity search as a command.

Starts the bundled sidecar unless ``--url`` names a target (as ``osiris-load run`` does, with the
same child handling and signals: ``osiris_load.jobs.run.MainJob``), then runs the search of
``osiris_load.core.capacity.search`` with each probe a real headless Locust run of the scenario's locustfile in
open mode (``osiris_load.jobs.capacity_probe``), and writes ``capacity.json`` and ``capacity.html`` into the out
folder beside every probe's files. Exit codes (``osiris_load.core.slo.verdict``; docs/capacity.md): 0 a capacity
was found; 96 the SLO is not met even at ``--min-rate``; 97 it is met at every rate probed (up to
``--max-rate``, or up to where the budget ran out), or at every rate up to where the load generator
was the bottleneck (a lower bound); 98 the load generator was the bottleneck already at
``--min-rate`` (nothing known about the server); 2 bad configuration; 3 the target is down; 95 a
probe ended without a verdict; 128 + signal when interrupted (130 SIGINT, 143 SIGTERM, 129 SIGHUP):
the running probe's Locust run is stopped, and ``capacity.json``/``capacity.html`` say
``interrupted`` with the probes that ended and their bracket.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from osiris_load.adapter.shape import STAGES_ENV
from osiris_load.core.capacity.answer import headline, settlement_lines
from osiris_load.core.capacity.model import CapacityReport, ProbeResult
from osiris_load.core.capacity.plan import plan_needs, scenario_rows
from osiris_load.core.capacity.search import (
    Search,
    SearchConfig,
    SearchError,
    SearchOutcome,
    generator_disturbed,
    generator_stall_ms,
    report,
)
from osiris_load.core.exit_codes import (
    EXIT_BAD_INPUT,
    EXIT_CAPACITY_ABOVE_MAX,
    EXIT_CAPACITY_BELOW_MIN,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PROBE_ERROR,
    EXIT_TARGET_DOWN,
    EXIT_TERMINATED,
)
from osiris_load.core.openmodel.stages import StagesError, parse_duration
from osiris_load.core.scenarios import ALL_SCENARIOS
from osiris_load.core.slo.confidence import DEFAULT_CONFIDENCE, check_confidence
from osiris_load.core.slo.formatting import format_duration, format_observed, format_value
from osiris_load.core.slo.gate_options import ENV_VAR
from osiris_load.core.slo.windows import WindowMarks
from osiris_load.jobs.capacity_probe import STOP_TIMEOUT_S, LocustProbe, ProbeError, ProbeSettings, probe_environment
from osiris_load.jobs.locust_config import check_locust_config
from osiris_load.jobs.preflight import (
    check_gate_environment,
    check_open_model,
    check_out_dir,
    check_prompts,
    check_shape_switch,
    check_sidecar_settings,
    check_slo,
    check_startup_timeout,
    check_target,
    check_variable_names,
    locustfile_of,
)
from osiris_load.jobs.run import (
    PLACEHOLDER_URL,
    RUNS_DIR,
    Interrupted,
    MainJob,
    default_run_dir,
    default_table,
)
from osiris_load.jobs.run_folder import make_run_folder
from osiris_load.reports.capacity_html import write_capacity_html

__all__ = ["EXIT_CODES_HELP", "add_capacity_arguments", "run_capacity"]

SCENARIO_NAMES = ALL_SCENARIOS
OUTCOME_CODES = {"capacity_found": EXIT_OK, "fails_at_min_rate": EXIT_CAPACITY_BELOW_MIN,
                 "passes_at_highest_rate": EXIT_CAPACITY_ABOVE_MAX,
                 "generator_bound": EXIT_CAPACITY_ABOVE_MAX}  # a lower bound; EXIT_INCONCLUSIVE without one
EXIT_CODES_HELP = (f"exit codes: {EXIT_OK} capacity found; {EXIT_CAPACITY_BELOW_MIN} the SLO fails even at --min-rate; "
                   f"{EXIT_CAPACITY_ABOVE_MAX} it passes at every rate probed (the capacity is above --max-rate or "
                   f"the budget ran out first, or the load generator was the bottleneck above it: a lower bound); "
                   f"{EXIT_INCONCLUSIVE} the load generator was the bottleneck already at --min-rate; "
                   f"{EXIT_BAD_INPUT} bad configuration; {EXIT_TARGET_DOWN} the target is down; "
                   f"{EXIT_PROBE_ERROR} a probe ended without a verdict; "
                   f"{EXIT_INTERRUPTED}/{EXIT_TERMINATED} interrupted")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except StagesError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _stop_timeout(text: str) -> float:
    """Locust's ``--stop-timeout``: whole seconds (``30``) or a duration (``30s``, ``1m``)."""
    return float(text) if text.strip().isdigit() else _duration(text)


def add_capacity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, metavar="NAME",
                        help=f"a scenario ({', '.join(SCENARIO_NAMES)}) or the path of a locustfile")
    parser.add_argument("--url",
                        help="a running target (default: $OSIRIS_URL, else start the bundled sidecar)")
    parser.add_argument("--slo-file", type=Path, help="SLO table (default: the guide's, slo/default.toml)")
    parser.add_argument("--min-rate", type=float, default=1.0, help="first rate probed, iterations/s (default 1)")
    parser.add_argument("--max-rate", type=float, default=100.0, help="highest rate probed (default 100)")
    parser.add_argument("--growth", type=float, default=2.0, help="rate factor while bracketing (default 2)")
    parser.add_argument("--precision", type=float, default=0.1,
                        help="stop when (high - low) / low <= this (default 0.1: 10 %%)")
    parser.add_argument("--budget", type=_duration, default=600.0, metavar="DURATION",
                        help="total time the probes may take, e.g. 10m (default 10m)")
    parser.add_argument("--probe-duration", type=_duration, default=20.0, metavar="DURATION",
                        help="length of one probe (default 20s); an INCONCLUSIVE probe reruns twice as long")
    parser.add_argument("--max-probe-duration", type=_duration, metavar="DURATION",
                        help="longest INCONCLUSIVE rerun (default 4 x --probe-duration)")
    parser.add_argument("--arrivals", choices=("poisson", "constant"), default="poisson")
    parser.add_argument("--max-vus", type=int, help="users available to run iterations (default: the scenario's)")
    parser.add_argument("--workers", type=int, help="Locust worker processes per probe (default: one process)")
    parser.add_argument("--stop-timeout", type=_stop_timeout, default=STOP_TIMEOUT_S, metavar="SECONDS",
                        help="how long a probe lets the iterations running at its end finish, judged, before the "
                             "next probe (Locust's --stop-timeout, k6's gracefulStop; "
                             f"default {STOP_TIMEOUT_S:g}, 0: cut at once)")
    parser.add_argument("--slo-confidence",
                        help="confidence of the gate's intervals (default: $OSIRIS_SLO_CONFIDENCE, else the gate's, "
                             "0.95)")
    parser.add_argument("--slo-window", metavar="SECONDS",
                        help="the gate's time window for the design effect (default: $OSIRIS_SLO_WINDOW, else the "
                             "gate's, 5 s); a probe needs several windows to settle, so short probes want short "
                             "windows")
    parser.add_argument("--out", type=Path, help=f"folder (default: ./{RUNS_DIR}/<UTC timestamp>-capacity)")
    parser.add_argument("--startup-timeout", type=float, default=600.0,
                        help="seconds to wait for the bundled sidecar's /health")


def resolve_locustfile(scenario: str) -> Path:
    """A scenario's locustfile, or a given locustfile path; :class:`ValueError` says what is known."""
    if scenario in SCENARIO_NAMES:
        return locustfile_of(scenario)
    path = Path(scenario)
    if path.suffix == ".py" and path.is_file():
        return path.resolve()
    raise ValueError(f"--scenario {scenario!r}: not a scenario ({', '.join(SCENARIO_NAMES)}) nor a locustfile")


def describe(index: int, probe: ProbeResult) -> str:
    """One console line per probe: its rate, state and every threshold."""
    parts = [f"{t.row} {t.expression} {format_observed(t)} {t.state}"
             + (" generator-bound" if f"{t.row} {t.expression}" in probe.generator_bound else "")
             for t in probe.thresholds]
    extra = "".join(f", {name} {value}" for name, value in (("late", probe.late), ("dropped", probe.dropped))
                    if value)
    g = probe.generator
    if probe.generator_bound and g is not None:
        extra += (f", GENERATOR-BOUND: {g.process} CPU p95 {g.cpu_p95:.0f} %, loop lag p99 {g.lag_p99_ms:.0f} ms "
                  "(no evidence about the server at this rate)")
    disturbed = generator_disturbed(probe)
    if disturbed:
        extra += (f", the load generator dispatched up to {generator_stall_ms(probe):.0f} ms late: a queue its "
                  f"late burst built can explain the FAIL of {', '.join(disturbed)} (no evidence: rerun once when "
                  "the budget holds it)")
    return (f"  probe {index:>2}: {probe.rate:8.4g}/s for {format_duration(probe.duration_s)}"
            f"{f' (try {probe.attempt})' if probe.attempt > 1 else ''}: {probe.state}{extra}  [{'; '.join(parts)}]")


class CapacityJob(MainJob):
    """The search's children (the sidecar, each probe) and its signals, as the main job's."""

    def __init__(self, args: argparse.Namespace, config: SearchConfig, settings: ProbeSettings) -> None:
        super().__init__(args)
        self.config = config
        self.settings = settings

    def scenario_names(self) -> list[str]:
        return [self.args.scenario]

    def _run(self, out: Path) -> int:
        args, config, settings_without_url = self.args, self.config, self.settings
        state = Search(config)
        url = args.url
        try:
            url = self.reach_target("osiris-load capacity")
            if url is None:
                return EXIT_TARGET_DOWN
            settings = replace(settings_without_url, url=url)
            _announce(args, config, url, out)
            probe = LocustProbe(settings, self.run_child, lambda i, p: print(describe(i, p), flush=True))
            try:
                found = state.run(probe)
            except ProbeError as exc:
                print(f"osiris-load capacity: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT if exc.code == EXIT_BAD_INPUT else EXIT_PROBE_ERROR
            self.stop_all()
            return finish(_report(found, config, args, url), out)
        except Interrupted as exc:
            # what the search had is the user's: stop the running probe (its Locust and workers), then
            # write the probes that ended and their bracket, and exit 128 + signal as documented
            print(f"\nosiris-load capacity: interrupted by {exc}: stopping the running probe ...", file=sys.stderr,
                  flush=True)
            self.stop_all()
            result = _report(state.interrupted(), config, args, url, interrupted_by=str(exc))
            return finish(result, out, code=exc.code)


def _announce(args: argparse.Namespace, config: SearchConfig, url: str, out: Path) -> None:
    print(f"Capacity search of {args.scenario} against {url}: rates {config.min_rate:g}..{config.max_rate:g}/s, "
          f"precision {config.precision:g}, budget {format_duration(config.budget_s)}, probes of "
          f"{format_duration(config.probe_duration_s)} (files: {out})", flush=True)
    if config.needs:
        print(f"  bracketing probes of {format_duration(config.bracket_s(config.min_rate))} (a threshold that "
              f"needs more requests at a probe's rate is deferred: checked not to FAIL), then one confirmation "
              f"probe at the answer, planned from the SLO table to let every threshold PASS with confidence: "
              f"{format_duration(config.confirm_s(config.min_rate))} at {config.min_rate:g}/s, "
              f"{format_duration(config.confirm_s(config.max_rate))} at {config.max_rate:g}/s", flush=True)
    for note in config.notes():
        print(f"  note: {note}", flush=True)


def _report(found: SearchOutcome, config: SearchConfig, args: argparse.Namespace, url: str | None,
            interrupted_by: str | None = None) -> CapacityReport:
    confidence = next((p.confidence for p in found.probes if p.confidence is not None), None)
    return report(found, config, scenario=args.scenario, url=url, confidence=confidence, arrivals=args.arrivals,
                  interrupted_by=interrupted_by)


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[SearchConfig, ProbeSettings]:
    """Every input of the search, checked before anything starts: its own options, then what each
    probe's Locust run reads, by the rules ``osiris-load run`` checks them with (``osiris_load.jobs.preflight``):
    the target, the SLO table and ``OSIRIS_SLO_ROWS``, the gate's ``OSIRIS_SLO_*``
    variables as the probes get them, ``OSIRIS_SHAPE``, the open model's ``OSIRIS_*`` variables beside
    the probes' own ``--arrival-rate``, the prompts file. :class:`ValueError` says what is wrong."""
    check_variable_names(environ)
    args.url = check_target(args, environ)
    if args.url is None:  # the bundled sidecar will start: its OSIRIS_* settings, as it will read them
        check_sidecar_settings()
    check_startup_timeout(args.startup_timeout)
    locustfile = resolve_locustfile(args.scenario)
    slo_file = args.slo_file.resolve() if args.slo_file else default_table(args.scenario, environ)
    # a bad table is a bad configuration before any load; the table the probes judge by plans them
    table = check_slo(slo_file, environ)
    if args.slo_confidence:
        check_confidence(args.slo_confidence)
    if args.slo_window:
        try:
            WindowMarks(float(args.slo_window))
        except ValueError as exc:
            raise ValueError(f"--slo-window {args.slo_window!r}: {exc}") from None
    for name in ("max_vus", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value}: must be at least 1")
    settings = ProbeSettings(locustfile=locustfile, url="", out=args.out, arrivals=args.arrivals,
                             max_vus=args.max_vus, workers=args.workers, slo_file=slo_file,
                             confidence=args.slo_confidence, window=args.slo_window,
                             stop_timeout_s=args.stop_timeout)
    probe_env = probe_environment(settings, environ)  # the flags above win over their OSIRIS_SLO_* variables
    check_gate_environment(probe_env)
    confidence_text = probe_env.get(ENV_VAR["slo_confidence"])
    confidence = check_confidence(confidence_text) if confidence_text else DEFAULT_CONFIDENCE
    config = SearchConfig(min_rate=args.min_rate, max_rate=args.max_rate, growth=args.growth,
                          precision=args.precision, budget_s=args.budget, probe_duration_s=args.probe_duration,
                          max_probe_duration_s=args.max_probe_duration,
                          needs=plan_needs(table, scenario_rows(locustfile), confidence))
    config.check()
    if config.probe_duration_s < 1:
        raise SearchError(f"--probe-duration {config.probe_duration_s:g}s: at least 1s (Locust's -t is in seconds)")
    check_shape_switch(environ)
    check_open_model(environ, environ.get(STAGES_ENV), {"arrival_rate": f"{args.min_rate:g}", "arrivals": args.arrivals,
                                                        **({"max_vus": str(args.max_vus)} if args.max_vus else {})})
    check_prompts([locustfile], environ)
    probe = LocustProbe(replace(settings, url=PLACEHOLDER_URL), lambda *_: 0)
    check_locust_config([probe.command(config.min_rate, math.ceil(config.probe_duration_s), args.out / "probe")[3:]],
                        probe_env)
    return config, settings


def finish(result: CapacityReport, out: Path, code: int | None = None) -> int:
    """Write ``capacity.json`` and ``capacity.html``, say the answer; the exit code is the outcome's
    unless ``code`` (128 + signal for an interrupted search) is given."""
    json_path = out / "capacity.json"
    json_path.write_text(result.to_json(), encoding="utf-8")
    html_path = write_capacity_html(result, out / "capacity.html")
    print(f"\n=== Capacity of {result.scenario}")
    print(f"  {headline(result)}")
    for line in settlement_lines(result):
        print(f"    {line}")
    if result.limiting_threshold:
        lt = result.limiting_threshold
        print(f"  limiting: {lt.row} {lt.expression}: {format_observed(lt)} "
              f"({lt.state}) at {lt.rate:.4g}/s")
    for line in estimate_lines(result):
        print(f"  {line}")
    for note in result.notes:
        print(f"  note: {note}")
    code = exit_code(result) if code is None else code
    print(f"Wrote {json_path}\nWrote {html_path}\nExit code {code}")
    return code


def exit_code(result: CapacityReport) -> int:
    """The outcome's exit code (docs/capacity.md): a search stopped by the load generator is 97 with
    a lower bound (every rate it could measure passed, as when the budget stops the climb), and 98
    (INCONCLUSIVE, the gate's code) when it could not measure even ``--min-rate``: neither a
    capacity (0) nor a failure of the server (96) was shown."""
    if result.outcome == "generator_bound" and result.max_rate is None:
        return EXIT_INCONCLUSIVE
    return OUTCOME_CODES[result.outcome]


def estimate_lines(result: CapacityReport) -> list[str]:
    """One line per percentile threshold that the probes straddle: where a straight line between
    them crosses the limit (``osiris_load.core.capacity.estimate``), labelled as the estimate it is."""
    lines = []
    for e in result.estimates:
        if e.rate is not None and e.within is not None and e.beyond is not None:
            lines.append(f"estimate (interpolated, not confident): {e.row} {e.expression} reaches "
                         f"{format_value(e.unit, e.limit)} near {e.rate:.4g}/s (straight line between "
                         f"{e.within.rate:.4g}/s: {format_value(e.unit, e.within.observed)} and "
                         f"{e.beyond.rate:.4g}/s: {format_value(e.unit, e.beyond.observed)})")
    return lines


def default_capacity_dir(now: dt.datetime | None = None) -> Path:
    """``./osiris-runs/<UTC timestamp>-capacity``."""
    plain = default_run_dir(now)
    return plain.with_name(plain.name + "-capacity")


def run_capacity(args: argparse.Namespace) -> int:
    """Check every input (``_settings``), make the out folder, search; a bad input is one line and
    exit 2 with nothing started, waited for or left behind."""
    source = "--out" if args.out is not None else "the capacity folder"
    args.out = Path(args.out or default_capacity_dir()).absolute()
    try:
        check_out_dir(args.out, source)
        config, settings = _settings(args, os.environ)
        created = make_run_folder(args.out, source)
    except ValueError as exc:  # ConfigError, SloFileError, SearchError: each names what is wrong
        print(f"osiris-load capacity: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return CapacityJob(args, config, settings).run(created)
