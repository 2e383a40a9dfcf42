"""The SLO gate as a Locust plugin: a thin adapter between Locust's events and the pure gate
(``osiris_load.core.slo``). Importing this module (or ``slo_locust``, kept for old locustfiles) registers it.

* Where users run (a local runner or a worker) every request goes into the recorder
  (``osiris_load.core.slo.recorder``), which counts exactly at every latency limit of the table. The master hands
  the recorder's plan (limits, rows) to its workers inside the options it sends with each spawn.
* Workers ship what changed with each stats report, and a **final** report when they exit (on a
  ``quit`` from the master or on their own). The master merges reports, and before it judges (in
  ``quitting`` and before ``runner.quit()``, which waits only 0.5 s) it asks every worker to quit
  and waits until each worker that ever connected has delivered its final report or is lost (no
  heartbeat, or nothing within ``--stop-timeout`` + ``--slo-final-wait``). A worker that comes back
  after being marked missing is not lost.
* The master (or the local runner) evaluates the table every few seconds while the test runs
  (abort-on-fail), and once more at the end: the verdict object (``osiris_load.core.slo.verdict``) is written as
  ``PREFIX_slo.json`` (and ``_slo.csv``, ``_slo_endpoints.csv``) and printed after Locust's tables
  (to stderr when ``--json`` owns stdout).

* **Confidence** (``--slo-confidence C``, default 0.95; 0 = off): every verdict carries each
  threshold's interval and state (PASS / FAIL / INCONCLUSIVE, ``osiris_load.core.slo.confidence``), widened for
  dependence by the counts of time windows (``--slo-window``, ``osiris_load.core.slo.windows``). A decision taken
  while the run goes on (abort-on-fail, ``--slo-until-settled``) is a *look*: looks come each time
  the judged requests double, the k-th judged at ``AlphaSpending(C).confidence_at(k)``, so that
  looking again and again does not inflate the error; the final verdict after looks is one more.
  ``--slo-until-settled DURATION`` keeps the stages shape's last non-zero stage going (through
  ``environment.osiris_hold_steady``) until every threshold is settled or DURATION has passed.

* **Iterations** (k6's ``iteration_duration``): ``OsirisUser`` times each run of a task and calls
  :meth:`SloGate.record_iteration`: no Locust request event, a reserved recorder key that ships and
  merges with the requests and that no request figure counts.

* **Open model** (``--arrival-rate``/``--rate-stages`` of the Osiris locustfiles,
  ``osiris_load.adapter.open_model``): a request whose event ``context`` carries its iteration
  (``osiris_load.core.openmodel.counts.ITERATION_KEY``) is recorded at ``latency + the iteration's lateness`` in the
  judged recorder, and as measured in a second one (``uncorrected``), shown beside; each request
  also decides whether its iteration is good (goodput, ``GoodputPlan``: one dict lookup and two
  compares). Workers ship the uncorrected recorder and the due/started/late/dropped/goodput counts
  with their reports; the master sums them. The verdict's ``open_model`` object says it all.

* **Generator health** (issue 17, ``osiris_load.core.slo.generator``,
  ``osiris_load.adapter.generator_monitor``): every process that
  runs users watches its own event loop (a greenlet that asks to wake every 5 ms: how late it woke)
  and CPU. Each request is also recorded, once the loop first stalled, in a third recorder
  (``chargeable``) at its judged time less the stalls that overlapped it (failures without an HTTP
  answer during a stall excused); workers ship it and their health with each report. The verdict
  judges both (``attach_generator``): where they disagree the threshold is INCONCLUSIVE,
  generator-bound, naming the process. Before any stall the chargeable recorder would equal the
  judged one, so it is not kept (a clone of the judged one starts it).

Exit codes (the gate never lowers one): 2 a malformed SLO file or option (before any test) >
99 an SLO failed > 98 INCONCLUSIVE under ``--slo-inconclusive fail`` > Locust's own (1 for
exceptions in user code, 2 for an error in a plugin...) > 0. Failed requests are judged by the SLO
table alone.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust import log as locust_log
from locust.env import Environment
from locust.rpc import Message
from locust.runners import (
    STATE_INIT,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    LocalRunner,
    MasterRunner,
    Runner,
    WorkerRunner,
)

from osiris_load.adapter.final_csv import write_final_locust_csv
from osiris_load.adapter.generator_monitor import SAY_EVERY_S, GeneratorMonitor
from osiris_load.adapter.selection import check_gate_options, load_gate_table, option
from osiris_load.adapter.webui import attach as attach_web_ui
from osiris_load.core.exit_codes import EXIT_BAD_INPUT
from osiris_load.core.openmodel.counts import (
    ITERATION_KEY,
    LATE_TOLERANCE_S,
    ArrivalCounts,
    CountsByWorker,
    GoodputPlan,
)
from osiris_load.core.slo.confidence import DEFAULT_CONFIDENCE, AlphaSpending, check_confidence, load_quantiles
from osiris_load.core.slo.evaluate import (
    POLICIES,
    abort_triggers,
    attach_generator,
    attach_open_model,
    conclude,
    evaluate,
    plan_for,
)
from osiris_load.core.slo.formatting import format_summary, generator_line
from osiris_load.core.slo.gate_options import ENV_VAR, GENERATOR_MONITOR_CHOICES
from osiris_load.core.slo.generator import CPU_SATURATED, LAG_NOTE_MS, health_from_data
from osiris_load.core.slo.recorder import RecorderPlan, RequestRecorder
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloFileError, SloTable, parse_duration
from osiris_load.core.slo.verdict import (
    INCONCLUSIVE,
    Goodput,
    OpenModelSummary,
    ProcessHealth,
    UserExceptions,
    Verdict,
    choose_exit_code,
    to_csv,
    to_json,
)
from osiris_load.core.slo.windows import DEFAULT_WINDOW_S, WindowMarks
from osiris_load.core.slo.workers import WorkerLedger

REPORT_KEY = "osiris_slo"
PLAN_OPTION = "osiris_slo_plan"  # on parsed_options: Locust sends custom options to workers with each spawn
GOODPUT_OPTION = "osiris_goodput_plan"  # the same way: each request key's latency bounds for goodput
ENDPOINT_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
ENDPOINT_FIELDS = ("method", "name", "count", "failures", "avg_ms", "min_ms", "max_ms",
                   *(f"p{p:g}_ms" for p in ENDPOINT_PERCENTILES))
POLL_S = 0.05
FIRST_LOOK_REQUESTS = 16  # the first sequential look; then each time the judged requests double

log = logging.getLogger("osiris.slo")


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser  # Locust's own parser: argument groups drop include_in_web_ui
    group.add_argument("--slo-file", default=str(DEFAULT_TABLE_PATH), env_var=ENV_VAR["slo_file"],
                       include_in_web_ui=True, help="TOML SLO table to judge the run against (default: the guide's)")
    group.add_argument("--slo-rows", default="", env_var=ENV_VAR["slo_rows"], include_in_web_ui=True,
                       help="comma-separated rows of the SLO table to judge (default: the rows the locustfile's "
                            "users declare in slo_rows, else all)")
    group.add_argument("--slo-strict", action="store_true", default=False, env_var=ENV_VAR["slo_strict"],
                       include_in_web_ui=True, help="a row whose requests never ran fails the run")
    group.add_argument("--slo-allow-lost-workers", action="store_true", default=False,
                       env_var=ENV_VAR["slo_allow_lost_workers"], include_in_web_ui=True,
                       help="judge on the data received even if a worker was lost (default: a lost worker fails)")
    group.add_argument("--slo-confidence", default=str(DEFAULT_CONFIDENCE), env_var=ENV_VAR["slo_confidence"],
                       include_in_web_ui=True,
                       help="confidence of each end of a threshold's interval (0.5 < C < 1; 0 turns intervals "
                            "off: point estimates only, as k6). Default 0.95")
    group.add_argument("--slo-inconclusive", default="estimate", choices=POLICIES, env_var=ENV_VAR["slo_inconclusive"],
                       include_in_web_ui=True,
                       help="exit code of an INCONCLUSIVE run: estimate (the point estimate decides, as k6; "
                            "default), fail (exit 98), pass (exit 0)")
    group.add_argument("--slo-until-settled", default="", env_var=ENV_VAR["slo_until_settled"], include_in_web_ui=True,
                       help="keep the last non-zero stage going until every threshold is settled or this much "
                            "longer has passed (e.g. 5m); needs a stages shape")
    group.add_argument("--slo-window", type=float, default=DEFAULT_WINDOW_S, env_var=ENV_VAR["slo_window"],
                       include_in_web_ui=False,
                       help="seconds per time window whose counts widen intervals for dependence (0: off)")
    group.add_argument("--slo-eval-interval", type=float, default=2.0, env_var=ENV_VAR["slo_eval_interval"],
                       include_in_web_ui=False, help="seconds between live evaluations (abort-on-fail)")
    group.add_argument("--slo-generator-monitor", default="on", choices=GENERATOR_MONITOR_CHOICES,
                       env_var=ENV_VAR["slo_generator_monitor"], include_in_web_ui=False,
                       help="measure the load generator's own delays (event-loop lag, CPU) in each process that runs "
                            "users and charge the server only with the rest (default on; off: measured times are "
                            "judged as they are)")
    group.add_argument("--slo-final-wait", type=float, default=10.0, env_var=ENV_VAR["slo_final_wait"],
                       include_in_web_ui=False,
                       help="master: seconds beyond --stop-timeout to wait for each worker's final results")


class SloGate:
    """State of the gate on one Environment: the table, the recorder, workers and the verdict."""

    def __init__(self, environment: Environment, table: SloTable | None,
                 rows_left_out: tuple[str, ...] = ()) -> None:
        self.environment = environment
        self.table = table
        self.rows_left_out = rows_left_out
        self.recorder = RequestRecorder(plan_for(table) if table is not None else None)
        self.uncorrected = RequestRecorder(self.recorder.plan)  # open model: the measured latencies
        # what the server can be charged with (judged time less the generator's stalls); None until a stall
        self.chargeable: RequestRecorder | None = None
        self.monitor: GeneratorMonitor | None = None  # where users run: this process's own health
        self.health_by_worker: dict[str, ProcessHealth] = {}  # master: each worker's latest
        self._said_by_worker: dict[str, float] = {}
        self.goodput = GoodputPlan.from_table(table) if table is not None else GoodputPlan()
        self.open_counts = CountsByWorker()  # master: the workers' open-model counts, summed
        self.verdict: Verdict | None = None
        self.aborted_by: list[str] = []
        self.started_at = self.counted_since = time.monotonic()
        self.stopped_at: float | None = None
        self._live: gevent.Greenlet | None = None
        self.bad_reports = 0
        self.workers = WorkerLedger()
        self.final = False  # worker: the next report is the last
        self._collecting = False
        self._collected = False
        self._settled = False
        self.windows = WindowMarks(0)
        self.looks = 0
        self._look_judged = 0
        self.steady_settled = False  # --slo-until-settled: settled at a look, or its duration spent
        self._hold_since: float | None = None
        environment.osiris_hold_steady = self.hold_steady  # type: ignore[attr-defined]  # the stages shape asks

    @property
    def runner(self) -> Runner | None:
        return self.environment.runner

    def set_table(self, table: SloTable, rows_left_out: tuple[str, ...]) -> None:
        """Judge against ``table`` from the next test on (its plan goes to the workers with the spawn)."""
        self.table, self.rows_left_out = table, rows_left_out
        self.goodput = GoodputPlan.from_table(table)
        if self.environment.parsed_options is not None:
            setattr(self.environment.parsed_options, PLAN_OPTION, plan_for(table).to_data())
            setattr(self.environment.parsed_options, GOODPUT_OPTION, self.goodput.to_data())

    # -- the per-request hot path: the recorder only (open model: both recorders and goodput) --
    def on_request(self, request_type: str, name: str, response_time: float | None, exception: Any = None,
                   response: Any = None, context: Any = None, **_: Any) -> None:
        failed = exception is not None
        # the table filters by status or outcome (k6's {status:...}, expected_response): keys carry the code
        status = (getattr(response, "status_code", 0) or 0) if self.recorder.split else None
        iteration = context.get(ITERATION_KEY) if context else None
        judged = response_time
        if iteration is not None:
            self.uncorrected.record(request_type, name, response_time, failed, status)
            if response_time is None:
                if failed:
                    iteration.good = False
            else:
                judged = response_time + iteration.lateness_ms
                if iteration.good and (failed or not self.goodput.meets(request_type, name, judged)):
                    iteration.good = False
        monitor = self.monitor
        bound = monitor.health.bound_ms(judged) if monitor is not None else 0.0
        if bound or self.chargeable is not None:
            self._record_chargeable(request_type, name, judged, failed, status, bound, response)
        self.recorder.record(request_type, name, judged, failed, status)

    def _record_chargeable(self, request_type: str, name: str, judged: float | None, failed: bool,
                           status: int | None, bound: float, response: Any) -> None:
        """The request at what the server can be charged with: its judged time less ``bound`` (the
        generator's stalls that overlapped it); a failure without an HTTP answer (connection error,
        client timeout) during a stall is excused. The first stall starts the recorder as a copy
        of the judged one (before this request), which it equalled until then."""
        chargeable = self.chargeable
        if chargeable is None:
            chargeable = self.chargeable = RequestRecorder(self.recorder.plan, self.recorder.max_keys)
            chargeable.merge_encoded(self.recorder.encode())
        charged = judged if judged is None or not bound else max(0.0, judged - bound)
        excused = failed and bound > 0 and not (getattr(response, "status_code", 0) or 0)
        chargeable.record(request_type, name, charged, failed and not excused, status)

    def record_iteration(self, scenario: str, duration_ms: float, open_model: bool) -> None:
        """One iteration's wall time (k6's ``iteration_duration``), from ``OsirisUser``: measured,
        never corrected, so under the open model it goes as is into both recorders. No Locust
        request event: it is in no request figure (``RequestRecorder.record_iteration``)."""
        self.recorder.record_iteration(scenario, duration_ms)
        if open_model:
            self.uncorrected.record_iteration(scenario, duration_ms)
        if self.chargeable is not None:  # as measured: the generator's share of an iteration is not bounded
            self.chargeable.record_iteration(scenario, duration_ms)

    def record_tokens(self, output_name: str, output: int, input_name: str, input_tokens: int | None,
                      open_model: bool) -> None:
        """One whole answer's tokens (``llm_output_tokens``, ``llm_input_tokens``), from ``LlmUser``:
        counts, never corrected, so as is into every recorder, as :meth:`record_iteration`."""
        for recorder in (self.recorder, self.uncorrected if open_model else None, self.chargeable):
            if recorder is not None:
                recorder.record_tokens(output_name, output)
                if input_tokens is not None:
                    recorder.record_tokens(input_name, input_tokens)

    def open_run(self) -> Any:
        """The open model of this process (``osiris_load.adapter.open_model.OpenModelRun``), or None (closed)."""
        run = getattr(self.environment, "osiris_open_model", None)
        return run if run is not None and run.active else None

    # -- workers: ship --
    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        payload = self.recorder.drain()
        if self.chargeable is not None:
            payload["chargeable"] = self.chargeable.drain()
        if self.monitor is not None:
            payload["generator"] = dataclasses.asdict(self.monitor.health.summary())
        run = self.open_run()
        if run is not None:
            payload["uncorrected"] = self.uncorrected.drain()
            payload["open_model"] = run.report()
        if self.final:
            payload["final"] = True
        data[REPORT_KEY] = payload

    def send_final_report(self, **_: Any) -> None:
        """Worker ``quitting`` (before Locust's listener tells the master "quit"): one last report,
        marked final, on the same socket, so the master has every result before it lets us go.

        A worker quitting on its own (SIGTERM, Ctrl+C) still has users running: they are stopped
        first (up to ``--stop-timeout``, as the master's "quit" does), so that what they finish is in
        this report. Sent before they stopped, it left their last requests to Locust's next periodic
        report, which the master takes (merged, though Locust logs "Discarded report from
        unrecognized worker": the worker has said "quit") only when it comes before the worker exits."""
        runner = self.runner
        if not isinstance(runner, WorkerRunner):
            return
        if runner.state in (STATE_SPAWNING, STATE_RUNNING):
            runner.stop()
        self.final = True
        try:
            runner._send_stats()  # Locust's own report: its stats and ours travel together
        except Exception as exc:  # the master is gone: nothing to deliver to
            log.warning("SLO gate: could not send the final report: %s", exc)

    # -- master: merge and account for workers --
    def on_worker_connect(self, client_id: str, **_: Any) -> None:
        self.workers.connected(client_id)

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(REPORT_KEY)
        if not isinstance(payload, dict):
            return
        final = bool(payload.get("final"))
        try:
            self.recorder.merge_encoded(payload)
            if self.chargeable is None:  # the master keeps one from the first report on
                self.chargeable = RequestRecorder(self.recorder.plan)
            self.chargeable.merge_encoded(payload.get("chargeable", payload))  # none shipped: no stall yet
            if "generator" in payload:
                self._worker_health(client_id, health_from_data(payload["generator"], client_id))
            if "uncorrected" in payload:
                self.uncorrected.merge_encoded(payload["uncorrected"])
            if "open_model" in payload:
                self.open_counts.add(client_id, ArrivalCounts.from_data(payload["open_model"]))
        except ValueError as exc:  # a worker of another version or table: say so, fail the verdict
            self.bad_reports += 1
            log.warning("SLO gate: ignored a report from worker %s: %s", client_id, exc)
            requests = 0
        else:
            requests = RequestRecorder.requests_in(payload)
        self.workers.reported(client_id, requests, time.monotonic(), final=final)

    def _worker_health(self, client_id: str, health: ProcessHealth) -> None:
        """Keep a worker's latest health; say so when its last second was late (once per 10 s)."""
        self.health_by_worker[client_id] = health
        if not health.timeline:
            return
        _, cpu, lag = health.timeline[-1]
        now = time.monotonic()
        late = cpu >= CPU_SATURATED or lag >= LAG_NOTE_MS
        if late and now - self._said_by_worker.get(client_id, -1e9) >= SAY_EVERY_S:
            self._said_by_worker[client_id] = now
            self._say(f"SLO gate: worker {client_id}: {generator_line(cpu, lag)}")

    def generator_health(self) -> tuple[ProcessHealth, ...]:
        """Every process that ran users: this one (local) or each worker (master)."""
        if isinstance(self.runner, MasterRunner):
            return tuple(self.health_by_worker[k] for k in sorted(self.health_by_worker))
        return (self.monitor.health.summary(),) if self.monitor is not None else ()

    def check_workers(self) -> None:
        """Note every connected worker and those Locust has marked missing (no heartbeat for ~3 s)."""
        runner = self.runner
        if not isinstance(runner, MasterRunner):
            return
        for node in runner.clients.all:
            self.workers.connected(node.id)
            if node.state != "missing":
                self.workers.back(node.id)
        for node in runner.clients.missing:
            if self.workers.mark_missing(node.id, time.monotonic()):
                self._say(f"SLO gate: worker {node.id} is missing (no heartbeat); its results are missing "
                          "from the verdict unless it comes back")

    def collect_final_results(self) -> None:
        """Master, at the end: ask every worker to quit and wait until each one that ever connected
        delivered its final report or is lost (missing, or silent past the deadline). Re-entrant
        calls (Locust's own quit while we wait) return at once."""
        runner = self.runner
        if not isinstance(runner, MasterRunner) or self._collecting or self._collected:
            return
        self._collecting = True
        try:
            self.check_workers()
            for worker_id in self.workers.pending() + self.workers.missing():  # a missing one may come back
                runner.server.send_to_client(Message("quit", None, worker_id))
            wait = float(self.environment.stop_timeout or 0) + float(option(self.environment, "slo_final_wait", 10.0))
            deadline = time.monotonic() + wait
            while self.workers.pending() and time.monotonic() < deadline:
                gevent.sleep(POLL_S)
                self.check_workers()
            for worker_id in self.workers.pending():
                self.workers.mark_gone(worker_id, f"no final results within {wait:g} s", time.monotonic())
        finally:
            self._collecting, self._collected = False, True

    @property
    def collecting(self) -> bool:
        return self._collecting

    def wait_collected(self) -> None:
        while self._collecting:
            gevent.sleep(POLL_S)

    # -- judging (master or local runner) --
    @property
    def strict(self) -> bool:
        return bool(option(self.environment, "slo_strict", False))

    @property
    def confidence(self) -> float:
        return check_confidence(option(self.environment, "slo_confidence", 0.0) or 0.0)

    @property
    def until_settled_s(self) -> float:
        text = str(option(self.environment, "slo_until_settled", "") or "").strip()
        return parse_duration(text) if text else 0.0

    @property
    def sequential(self) -> bool:
        """Whether decisions are taken while the run goes on: looks spend the confidence."""
        assert self.table is not None
        aborts = any(spec.abort_on_fail for row in self.table.rows for spec in row.thresholds)
        return bool(self.confidence) and (aborts or self.until_settled_s > 0)

    def hold_steady(self) -> bool:
        """The stages shape asks at the end of its last non-zero stage: keep going? Yes while
        ``--slo-until-settled`` is on, a threshold is unsettled and its duration has not passed."""
        limit = self.until_settled_s if self.table is not None else 0.0
        if not limit or self.steady_settled or not self.confidence:  # without intervals all is settled
            return False
        if self._hold_since is None:
            self._hold_since = time.monotonic()
            self._say(f"SLO gate: holding the steady stage until every threshold is settled (at most "
                      f"{limit:g} s more)")
        if time.monotonic() - self._hold_since >= limit:
            self._say(f"SLO gate: not settled after {limit:g} s more; ramping down as planned")
            self.steady_settled = True  # no more holding: the duration is spent
            return False
        return True

    def evaluate(self, *, store: bool = True, confidence: float | None = None, looks: int = 0) -> Verdict:
        """The verdict on what has been received so far, with the run-level facts; ``store`` keeps
        it as the gate's latest (the live loop and the end do; a view asking early does not)."""
        assert self.table is not None
        verdict = evaluate(self.table, self.recorder, strict=self.strict, rows_left_out=self.rows_left_out,
                           confidence=self.confidence if confidence is None else confidence,
                           policy=str(option(self.environment, "slo_inconclusive", "estimate") or "estimate"),
                           marks=self.windows.marks, elapsed_s=self.elapsed_s(), looks=looks)
        run = self.open_run()
        if run is not None:
            unc = evaluate(self.table, self.uncorrected, rows_left_out=self.rows_left_out, elapsed_s=self.elapsed_s())
            verdict = attach_open_model(verdict, unc, self.open_summary(run))
        health = self.generator_health()
        if health:
            charged = verdict
            if self.chargeable is not None:
                # no time-window widening: the windows' counts are the measured ones, and the last window of the
                # chargeable counts is skewed by the stop (the loop busy stopping users: requests read then
                # are bounded by it), which the batch means read as dependence (docs/verdicts.md)
                charged = evaluate(self.table, self.chargeable, strict=self.strict, rows_left_out=self.rows_left_out,
                                   confidence=verdict.confidence, policy=verdict.policy, elapsed_s=self.elapsed_s(),
                                   looks=looks)
            verdict = attach_generator(verdict, charged, health)
        runner = self.runner
        verdict = conclude(
            verdict, lost_workers=self.workers.lost(self.started_at),
            allow_lost=bool(option(self.environment, "slo_allow_lost_workers", False)),
            aborted_by=tuple(self.aborted_by), bad_reports=self.bad_reports,
            exceptions=_user_exceptions(runner) if runner is not None else UserExceptions())
        if store and not self._settled:  # the settled verdict is final: every view shows that one
            self.verdict = verdict
        return verdict

    def elapsed_s(self) -> float:
        """Seconds the recorder's counts span: from the test's start (or the last stats reset) to
        its stop, or to now while it runs (k6's ``http_reqs`` rate divides by this)."""
        return (self.stopped_at or time.monotonic()) - self.counted_since

    def on_test_stop(self, **_: Any) -> None:
        self.stopped_at = time.monotonic()

    def open_summary(self, run: Any) -> OpenModelSummary:
        """The verdict's ``open_model``: this process's counts, or on the master the workers' sum."""
        counts = self.open_counts.total() if isinstance(self.runner, MasterRunner) else run.snapshot()
        window = counts.window_s
        iterations = counts.iterations + counts.dropped  # a dropped iteration is not good
        return OpenModelSummary(
            arrivals=run.config.arrivals, target_rate=run.target_rate(window),
            achieved_rate=counts.started / window if window > 0 else 0.0, due=counts.due, started=counts.started,
            late=counts.late, dropped=counts.dropped, corrected=True,
            goodput=Goodput(iterations=iterations, good=counts.good,
                            share=counts.good / iterations if iterations else None),
            window_s=window, max_vus=run.config.max_vus, late_tolerance_ms=LATE_TOLERANCE_S * 1000)

    def on_test_start(self, **_: Any) -> None:
        runner = self.runner
        if isinstance(runner, WorkerRunner):
            plan = option(self.environment, PLAN_OPTION)
            try:
                self.recorder = RequestRecorder(RecorderPlan.from_data(plan) if plan is not None else None)
            except ValueError as exc:
                log.warning("SLO gate: %s; recording without limits (the master will refuse the reports)", exc)
                self.recorder = RequestRecorder()
            self.uncorrected = RequestRecorder(self.recorder.plan)
            self.chargeable = None
            self._start_monitor(runner.client_id)
            try:
                self.goodput = GoodputPlan.from_data(option(self.environment, GOODPUT_OPTION) or [])
            except ValueError as exc:
                log.warning("SLO gate: %s; every iteration counts as good", exc)
                self.goodput = GoodputPlan()
            return
        self.recorder = RequestRecorder(plan_for(self.table) if self.table is not None else None)
        self.uncorrected = RequestRecorder(self.recorder.plan)
        master = isinstance(runner, MasterRunner)
        self.chargeable = RequestRecorder(self.recorder.plan) if master else None
        self.health_by_worker, self._said_by_worker = {}, {}
        if not master:
            self._start_monitor("local")
        self.open_counts = CountsByWorker()
        self.workers.reset()
        self.verdict, self.aborted_by, self.bad_reports = None, [], 0
        self._collected = self._settled = False
        self.started_at = self.counted_since = time.monotonic()
        self.stopped_at: float | None = None
        self.windows = WindowMarks(float(option(self.environment, "slo_window", 0.0) or 0.0))
        self.windows.reset(self.started_at)
        self.looks, self._look_judged, self.steady_settled, self._hold_since = 0, 0, False, None
        if self.table is not None and self._live is None:
            self._live = gevent.spawn(self._live_loop)

    def _start_monitor(self, process: str) -> None:
        """This process runs users: measure its own health from now (a new test starts over)."""
        if str(option(self.environment, "slo_generator_monitor", "on") or "on") == "off":
            return
        if self.monitor is None:
            runner = self.runner
            say = None if isinstance(runner, WorkerRunner) else (
                lambda cpu, lag: self._say(f"SLO gate: {generator_line(cpu, lag)}"))
            self.monitor = GeneratorMonitor(process, lambda: runner.user_count if runner is not None else 0, say)
        self.monitor.start()

    def on_spawning_complete(self, **_: Any) -> None:
        """Locust resets its stats here with --reset-stats (without firing ``reset_stats``): so do we."""
        if self.environment.reset_stats:
            self.on_reset_stats()

    def on_reset_stats(self, **_: Any) -> None:
        self.recorder.reset()
        self.counted_since = time.monotonic()
        self.uncorrected.reset()
        if self.chargeable is not None:
            self.chargeable = RequestRecorder(self.recorder.plan) if isinstance(self.runner, MasterRunner) else None
        self.windows.reset(time.monotonic())
        self._look_judged = 0

    def _live_loop(self) -> None:
        interval = max(0.2, float(option(self.environment, "slo_eval_interval", 2.0) or 2.0))
        try:
            while True:
                gevent.sleep(interval)
                self.check_workers()
                verdict = self.evaluate()
                self.windows.observe(verdict, time.monotonic())
                if self.sequential:
                    verdict = self._look(verdict)
                    if verdict is None:
                        continue
                triggers = abort_triggers(verdict, time.monotonic() - self.started_at)
                if triggers:
                    self.aborted_by = [f"{t.row}: {t.expression}" for t in triggers]
                    self._say(f"SLO gate: aborting the test: abort-on-fail threshold crossed: "
                              f"{', '.join(self.aborted_by)}")
                    runner = self.runner
                    if runner is not None:
                        gevent.spawn(runner.quit)
                    return
        finally:
            self._live = None

    def _look(self, live: Verdict) -> Verdict | None:
        """A sequential look when the judged requests have doubled since the last (the first at
        :data:`FIRST_LOOK_REQUESTS`): the verdict at this look's spent confidence, or ``None``."""
        judged = live.tally.judged
        if judged < max(FIRST_LOOK_REQUESTS, 2 * self._look_judged):
            return None
        self.looks += 1
        self._look_judged = judged
        verdict = self.evaluate(store=False, confidence=AlphaSpending(self.confidence).confidence_at(self.looks),
                                looks=self.looks)
        if self.until_settled_s and not self.steady_settled and verdict.count(INCONCLUSIVE) == 0:
            self.steady_settled = True
            if self._hold_since is not None:
                self._say(f"SLO gate: every threshold settled at look {self.looks} ({judged} requests); "
                          "ramping down as planned")
        return verdict

    def final_confidence(self) -> float:
        """The final verdict's confidence: the nominal one, or after sequential looks the next look's."""
        if self.looks and self.sequential:
            return AlphaSpending(self.confidence).confidence_at(self.looks + 1)
        return self.confidence

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        """First ``quitting`` listener: finish the test (local: stop the users, waiting for the
        requests in flight; master: the workers' final results), then judge."""
        if self.table is None:
            return
        if self._live is not None:
            self._live.kill(block=False)
        runner = self.runner
        if isinstance(runner, LocalRunner) and runner.state not in (STATE_INIT, STATE_STOPPED):
            runner.stop()
        self.collect_final_results()
        self.check_workers()
        looks = self.looks + 1 if self.looks and self.sequential else 0
        self.evaluate(confidence=self.final_confidence(), looks=looks)

    def settle_exit_code(self, environment: Environment, **_: Any) -> None:
        """Last ``quitting`` listener (after every other plugin's): the exit code, then the files."""
        if self.table is None or self.verdict is None or self._settled:
            return
        self._settled = True
        verdict = self.verdict
        code = choose_exit_code(slo_failed=not verdict.passed, inconclusive=verdict.inconclusive_exit,
                                preset=environment.process_exit_code,
                                user_exceptions=verdict.exceptions.count,
                                unhandled=bool(locust_log.unhandled_greenlet_exception),
                                code_on_error=int(option(environment, "exit_code_on_error", 1) or 1))
        environment.process_exit_code = code
        self.verdict = verdict.with_exit_code(code)
        prefix = option(environment, "csv_prefix")
        if prefix:
            self.write_files(prefix, self.verdict)

    def on_quit(self, **_: Any) -> None:
        """Print the summary last, after Locust's own tables, where k6 prints its thresholds."""
        verdict = self.verdict
        if verdict is None or not self._settled:
            return
        prefix = option(self.environment, "csv_prefix")
        if prefix:
            write_final_locust_csv(self.environment, prefix)
        text = format_summary(verdict, ascii_only=not _is_utf8(self._stream()))
        word = "FAILED" if not verdict.passed else "INCONCLUSIVE" if verdict.inconclusive_exit else "PASSED"
        text += f"\nSLO gate: {word} (exit code {verdict.exit_code}"
        if verdict.confidence:
            text += f"; run state {verdict.state}, exit policy --slo-inconclusive {verdict.policy}"
        text += ")\n"
        self._say(text)

    # -- output --
    def _stream(self) -> Any:
        """Where the gate speaks: stdout, or stderr when ``--json`` makes stdout a JSON document."""
        return sys.stderr if option(self.environment, "json", False) else sys.stdout

    def _say(self, text: str) -> None:
        stream = self._stream()
        stream.write("\n" + text.rstrip("\n") + "\n")
        stream.flush()

    def write_files(self, prefix: str, verdict: Verdict) -> None:
        """``PREFIX_slo.json`` (the verdict), ``PREFIX_slo.csv`` (its export), ``PREFIX_slo_endpoints.csv``."""
        Path(prefix).parent.mkdir(parents=True, exist_ok=True)
        Path(f"{prefix}_slo.json").write_text(to_json(verdict), encoding="utf-8")
        Path(f"{prefix}_slo.csv").write_text(to_csv(verdict), encoding="utf-8")
        Path(f"{prefix}_slo_endpoints.csv").write_text(self.endpoint_csv(), encoding="utf-8")

    def endpoint_csv(self) -> str:
        """Exact per-endpoint statistics (HDR, 3 significant digits), for reports."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ENDPOINT_FIELDS)
        for method, name in sorted(self.recorder.keys()):
            stats = self.recorder.stats(method, name)
            if stats is None:
                continue
            timed = stats.timed > 0
            writer.writerow([method, name, stats.count, stats.failures,
                             round(stats.sum_ms / stats.timed, 3) if timed else "",
                             round(stats.min_ms, 3) if timed else "", round(stats.max_ms, 3) if timed else "",
                             *((round(stats.percentile(p), 3) if timed else "") for p in ENDPOINT_PERCENTILES)])
        return out.getvalue()


def _user_exceptions(runner: Runner) -> UserExceptions:
    """Unhandled exceptions in user code that Locust collected (the master has the workers' too)."""
    rows = list(getattr(runner, "exceptions", {}).values())
    if not rows:
        return UserExceptions()
    count = sum(int(r.get("count", 0)) for r in rows)
    first = rows[0]
    lines = [line.strip() for line in str(first.get("traceback", "")).splitlines() if line.strip()]
    where = [i for i, line in enumerate(lines) if line.startswith("File")]
    text = str(first.get("msg", "")).strip() or "(no message)"
    if where:  # the innermost frame: where it was raised, and the line of code
        frame = lines[where[-1]] + (f": {lines[where[-1] + 1]}" if where[-1] + 1 < len(lines) else "")
        text += f" ({frame})"
    return UserExceptions(count=count, first=text)


def _is_utf8(stream: Any) -> bool:
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "") == "utf8"


@events.init.add_listener
def on_init(environment: Environment, runner: Runner | None = None, web_ui: Any = None, **_: Any) -> None:
    """Attach the gate: record where users run, judge where the verdict is made."""
    runner = runner or environment.runner
    is_worker = isinstance(runner, WorkerRunner)
    table, left_out = None, ()
    if not is_worker:
        load_quantiles()  # this process judges: scipy now, not in the middle of the run
        try:
            table, left_out = load_gate_table(environment)
            check_gate_options(lambda name: option(environment, name))
            for line in (*table.warnings, *(f"{table.source}: {n}" for n in table.notes)):
                sys.stderr.write(f"SLO gate: warning: {line}\n")
        except SloFileError as exc:
            sys.stderr.write(f"SLO gate: {exc}\n")
            sys.stderr.flush()
            raise SystemExit(EXIT_BAD_INPUT) from None
    gate = SloGate(environment, table)
    if table is not None:
        gate.set_table(table, left_out)
    environment.slo_gate = gate  # type: ignore[attr-defined]  # state lives on the Environment
    ev = environment.events
    if not isinstance(runner, MasterRunner):
        ev.request.add_listener(gate.on_request)
    if is_worker:
        ev.report_to_master.add_listener(gate.on_report_to_master)
        ev.quitting.add_listener(gate.send_final_report)  # runs before Locust's (events fire reversed)
    if isinstance(runner, MasterRunner):
        ev.worker_report.add_listener(gate.on_worker_report)
        ev.worker_connect.add_listener(gate.on_worker_connect)
        original_quit = runner.quit

        def quit_after_final_results() -> None:
            if gate.collecting:  # Locust's own quit (its last worker left) while we wait: not before we are done
                gevent.spawn(lambda: (gate.wait_collected(), original_quit()))
                return
            gate.collect_final_results()
            original_quit()

        runner.quit = quit_after_final_results  # type: ignore[method-assign]  # Locust waits only 0.5 s
    ev.test_start.add_listener(gate.on_test_start)
    ev.test_stop.add_listener(gate.on_test_stop)
    ev.reset_stats.add_listener(gate.on_reset_stats)
    ev.spawning_complete.add_listener(gate.on_spawning_complete)
    if not is_worker:
        ev.quitting.add_listener(gate.on_quitting)  # fired in reverse: runs first
        ev.quitting._handlers.insert(0, gate.settle_exit_code)  # runs last, after every other plugin's
        ev.quit.add_listener(gate.on_quit)
    if web_ui is not None:
        attach_web_ui(environment, web_ui, gate)
    # Locust's -t timer (gevent.spawn_later, set right after init) counts from the event loop's cached clock,
    # last read when the loop last ran: before the imports. On a busy machine those take seconds, and -t 2s
    # would end the run before its first user ran. Read the clock now.
    gevent.get_hub().loop.update_now()
