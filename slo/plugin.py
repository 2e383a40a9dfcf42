"""The SLO gate as a Locust plugin: importing this module registers it.

Where users run (a local runner or a worker) every request's response time goes into exact
per-endpoint HDR histograms (``RequestRecorder``). Workers ship the encoded histograms to the
master with each stats report and reset, like Locust's own stats. The master (or the local runner)
evaluates the SLO table every few seconds while the test runs (abort-on-fail thresholds stop it)
and once more in ``quitting``, after the workers' last reports, where it prints the summary, writes
``PREFIX_slo.csv`` and sets the exit code.

Exit codes: 0 every threshold holds, 99 an SLO failed (as k6), 2 the SLO file is malformed.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from slo.evaluate import Verdict, abort_triggers, evaluate
from slo.final_csv import write_final_locust_csv
from slo.recorder import RequestRecorder
from slo.summary import format_summary, verdict_rows
from slo.table import DEFAULT_TABLE_PATH, SloFileError, SloTable, load_table
from slo.workers import LostWorker, WorkerLedger

EXIT_SLO_FAILED = 99
EXIT_BAD_SLO_FILE = 2
REPORT_KEY = "osiris_slo"
ENDPOINT_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)

log = logging.getLogger("osiris.slo")


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser  # Locust's own parser: argument groups drop include_in_web_ui
    group.add_argument("--slo-file", default=str(DEFAULT_TABLE_PATH), env_var="OSIRIS_SLO_FILE",
                       include_in_web_ui=True, help="TOML SLO table to judge the run against (default: the guide's)")
    group.add_argument("--slo-strict", action="store_true", default=False, env_var="OSIRIS_SLO_STRICT",
                       include_in_web_ui=True, help="a row whose requests never ran fails the run")
    group.add_argument("--slo-allow-lost-workers", action="store_true", default=False,
                       env_var="OSIRIS_SLO_ALLOW_LOST_WORKERS", include_in_web_ui=True,
                       help="judge on the data received even if a worker was lost (default: a lost worker fails)")
    group.add_argument("--slo-eval-interval", type=float, default=2.0, env_var="OSIRIS_SLO_EVAL_INTERVAL",
                       include_in_web_ui=False, help="seconds between live evaluations (abort-on-fail)")


class SloGate:
    """State of the gate on one Environment: the recorder, the table and the latest verdict."""

    def __init__(self, environment: Environment, table: SloTable | None) -> None:
        self.environment = environment
        self.table = table
        self.recorder = RequestRecorder()
        self.verdict: Verdict | None = None
        self.aborted_by: list[str] = []
        self.started_at = time.monotonic()
        self._live: gevent.Greenlet | None = None
        self._judged = False
        self.passed: bool | None = None
        self.bad_reports = 0
        self.workers = WorkerLedger()
        self.lost: list[LostWorker] = []

    # -- the per-request hot path: one dict lookup and a histogram increment, nothing else --
    def on_request(self, request_type: str, name: str, response_time: float, exception: Any = None,
                   **_: Any) -> None:
        self.recorder.record(request_type, name, response_time or 0.0, exception is not None)

    # -- distributed: workers ship, the master merges --
    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        data[REPORT_KEY] = self.recorder.encode()
        self.recorder.reset()

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(REPORT_KEY)
        if payload:
            try:
                self.recorder.merge_encoded(payload)
            except ValueError as exc:  # a worker of another version: say so, keep the run going
                self.bad_reports += 1
                log.warning("SLO gate: ignored a report from worker %s: %s", client_id, exc)
                return
            requests = sum(int(entry.get("count", 0)) for entry in payload.get("entries", ()))
            self.workers.reported(client_id, requests, time.monotonic())

    def check_workers(self) -> None:
        """Note workers Locust has marked missing (no heartbeat for ~3 s); say so once each."""
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner):
            return
        for node in runner.clients.missing:
            if self.workers.mark_lost(node.id, time.monotonic()):
                sys.stdout.write(f"\nSLO gate: lost worker {node.id} (no heartbeat); its unreported results "
                                 "are missing from the verdict\n")
                sys.stdout.flush()

    # -- judging (master or local runner) --
    @property
    def strict(self) -> bool:
        options = self.environment.parsed_options
        return bool(options and getattr(options, "slo_strict", False))

    def evaluate(self) -> Verdict:
        assert self.table is not None
        self.verdict = evaluate(self.table, self.recorder, strict=self.strict)
        return self.verdict

    def lost_workers(self) -> list[LostWorker]:
        return self.workers.lost(self.started_at)

    def overall_passed(self, verdict: Verdict) -> bool:
        """The run passes when the table holds, nothing aborted it, every worker report merged, and
        no worker was lost (unless ``--slo-allow-lost-workers``)."""
        options = self.environment.parsed_options
        allow_lost = bool(options and getattr(options, "slo_allow_lost_workers", False))
        return (verdict.passed and not self.aborted_by and not self.bad_reports
                and (allow_lost or not self.lost_workers()))

    def on_test_start(self, **_: Any) -> None:
        self.recorder.reset()
        self.workers.reset()
        self.verdict, self.aborted_by, self._judged = None, [], False
        self.started_at = time.monotonic()
        if self.table is not None and self._live is None:
            self._live = gevent.spawn(self._live_loop)

    def on_reset_stats(self) -> None:
        self.recorder.reset()

    def _live_loop(self) -> None:
        options = self.environment.parsed_options
        interval = max(0.2, float(getattr(options, "slo_eval_interval", 2.0) or 2.0))
        try:
            while True:
                gevent.sleep(interval)
                self.check_workers()
                verdict = self.evaluate()
                triggers = abort_triggers(verdict, time.monotonic() - self.started_at)
                if triggers:
                    self.aborted_by = [f"{t.row}: {t.spec.threshold.source}" for t in triggers]
                    message = ", ".join(self.aborted_by)
                    sys.stdout.write(f"\nSLO gate: aborting the test: abort-on-fail threshold crossed: {message}\n")
                    sys.stdout.flush()
                    self.environment.process_exit_code = EXIT_SLO_FAILED
                    runner = self.environment.runner
                    if runner is not None:
                        gevent.spawn(runner.quit)
                    return
        finally:
            self._live = None

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.table is None or self._judged:
            return
        self._judged = True
        if self._live is not None:
            self._live.kill(block=False)
        self.check_workers()
        verdict = self.evaluate()
        self.lost = self.lost_workers()
        passed = self.overall_passed(verdict)
        options = environment.parsed_options
        if environment.process_exit_code in (None, 0):
            environment.process_exit_code = 0 if passed else EXIT_SLO_FAILED
        elif not passed:
            environment.process_exit_code = EXIT_SLO_FAILED
        prefix = getattr(options, "csv_prefix", None) if options else None
        if prefix:
            self.write_csv(prefix, verdict, passed)
        self.passed = passed

    def on_quit(self, **_: Any) -> None:
        """Print the summary last, after Locust's own tables, where k6 prints its thresholds."""
        if self.verdict is None or self.passed is None:
            return
        options = self.environment.parsed_options
        prefix = getattr(options, "csv_prefix", None) if options else None
        if prefix:
            write_final_locust_csv(self.environment, prefix)
        passed = self.passed
        text = format_summary(self.verdict, ascii_only=not _stdout_is_utf8())
        if self.aborted_by:
            text += f"\nAborted early by: {', '.join(self.aborted_by)}"
        for lost in self.lost:
            text += f"\nSLO gate: {lost.describe()}"
        text += f"\nSLO gate: {'PASSED' if passed else 'FAILED'} (exit code {0 if passed else EXIT_SLO_FAILED})\n"
        sys.stdout.write("\n" + text)
        sys.stdout.flush()

    def write_csv(self, prefix: str, verdict: Verdict, passed: bool) -> None:
        """``PREFIX_slo.csv`` (one row per threshold and an overall row) and ``PREFIX_slo_endpoints.csv``."""
        path = Path(f"{prefix}_slo.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = verdict_rows(verdict)
        reasons = list(verdict.reasons) + [f"aborted by {a}" for a in self.aborted_by]
        if self.bad_reports:
            reasons.append(f"{self.bad_reports} worker reports could not be merged")
        reasons += [lost.describe() for lost in self.lost]
        fields = ["row", "requests", "expression", "observed", "samples", "verdict"]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
            writer.writerow({"row": "OVERALL", "requests": "", "expression": "; ".join(reasons),
                             "observed": "", "samples": sum(r.samples for r in verdict.results),
                             "verdict": "pass" if passed else "fail"})
        self.write_endpoint_csv(Path(f"{prefix}_slo_endpoints.csv"))

    def write_endpoint_csv(self, path: Path) -> None:
        """Exact per-endpoint statistics (HDR, 3 significant digits), for reports."""
        header = ["method", "name", "count", "failures", "avg_ms", "min_ms", "max_ms"]
        header += [f"p{p:g}_ms" for p in ENDPOINT_PERCENTILES]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for method, name in sorted(self.recorder.keys()):
                stats = self.recorder.stats(method, name)
                if stats is None or stats.count == 0:
                    continue
                writer.writerow([method, name, stats.count, stats.failures, round(stats.sum_ms / stats.count, 3),
                                 round(stats.min_ms, 3), round(stats.max_ms, 3),
                                 *(round(stats.percentile(p), 3) for p in ENDPOINT_PERCENTILES)])


def _stdout_is_utf8() -> bool:
    return (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "") == "utf8"


def _load_table_or_exit(environment: Environment) -> SloTable:
    options = environment.parsed_options
    path = getattr(options, "slo_file", None) or str(DEFAULT_TABLE_PATH)
    try:
        return load_table(path)
    except SloFileError as exc:
        sys.stderr.write(f"SLO gate: {exc}\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_BAD_SLO_FILE) from None


@events.init.add_listener
def on_init(environment: Environment, runner: Runner | None = None, web_ui: Any = None, **_: Any) -> None:
    """Attach the gate: record where users run, judge where the verdict is made."""
    runner = runner or environment.runner
    is_worker = isinstance(runner, WorkerRunner)
    table = None if is_worker else _load_table_or_exit(environment)
    gate = SloGate(environment, table)
    environment.slo_gate = gate  # type: ignore[attr-defined]  # state lives on the Environment
    ev = environment.events
    if not isinstance(runner, MasterRunner):
        ev.request.add_listener(gate.on_request)
    if is_worker:
        ev.report_to_master.add_listener(gate.on_report_to_master)
    if isinstance(runner, MasterRunner):
        ev.worker_report.add_listener(gate.on_worker_report)
    ev.test_start.add_listener(gate.on_test_start)
    ev.reset_stats.add_listener(gate.on_reset_stats)
    if not is_worker:
        ev.quitting.add_listener(gate.on_quitting)
        ev.quit.add_listener(gate.on_quit)
    if web_ui is not None:
        import slo.webui

        slo.webui.attach(environment, web_ui, gate)
