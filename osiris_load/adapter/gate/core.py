"""The SLO gate on one Locust ``Environment``: the table, what one test measured (one reset), the
verdict, and the roles it is made of: :class:`~osiris_load.adapter.gate.recording.Recording` (the
recorders), a process role chosen once at ``init`` (``roles``, ``distributed``),
:class:`~osiris_load.adapter.gate.live.LiveLooks` and
:class:`~osiris_load.adapter.gate.hold.HoldSteady`; ``output`` writes and prints."""

from __future__ import annotations

import time
from typing import Any

from locust.event import Events
from locust.runners import MasterRunner, Runner, WorkerRunner

from osiris_load.adapter.context import context_of
from osiris_load.adapter.gate import output
from osiris_load.adapter.gate.distributed import MasterRole, WorkerRole
from osiris_load.adapter.gate.hold import HoldSteady
from osiris_load.adapter.gate.live import LiveLooks
from osiris_load.adapter.gate.options import GOODPUT_OPTION, PLAN_OPTION
from osiris_load.adapter.gate.recording import Recording
from osiris_load.adapter.gate.roles import LocalRole, Role
from osiris_load.adapter.open_model import OpenModelRun
from osiris_load.adapter.selection import option
from osiris_load.core.openmodel.counts import LATE_TOLERANCE_S, GoodputPlan
from osiris_load.core.slo.confidence import check_confidence
from osiris_load.core.slo.evaluate import attach_generator, attach_open_model, conclude, evaluate, plan_for
from osiris_load.core.slo.llm_history import LlmHistory
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import SloTable, parse_duration
from osiris_load.core.slo.verdict import Goodput, OpenModelSummary, Verdict
from osiris_load.core.slo.windows import WindowMarks
from osiris_load.core.slo.workers import WorkerLedger


def role_for(runner: Runner | None) -> type[Role]:
    """The gate's role for this kind of runner, chosen once (as Locust picks its runner class)."""
    if isinstance(runner, WorkerRunner):
        return WorkerRole
    if isinstance(runner, MasterRunner):
        return MasterRole
    return LocalRole


class Gate:
    """State of the gate on one Environment: the table, the recorders, workers and the verdict."""

    def __init__(self, environment: Any, table: SloTable | None = None, rows_left_out: tuple[str, ...] = (),
                 role: type[Role] | None = None) -> None:
        self.environment = environment
        self.table = table
        self.rows_left_out = rows_left_out
        self.recording = Recording()
        self.role: Role = (role or role_for(environment.runner))(self)
        self.live = LiveLooks(self)
        self.hold = HoldSteady(self)
        self.workers = WorkerLedger()
        self.llm_history = LlmHistory()  # the LLM measurements over time (no Locust entry has them)
        self.settled = False  # the exit code is set: the verdict is final
        self.reset()
        if table is not None:
            self.set_table(table, rows_left_out)

    @property
    def runner(self) -> Runner | None:
        return self.environment.runner

    @property
    def recorder(self) -> RequestRecorder:
        """The judged recorder (what the verdict counts)."""
        return self.recording.recorder

    def attach(self, events: Events) -> None:
        """Register the gate's listeners: its role's, then the common ones."""
        self.role.attach(events)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)
        events.reset_stats.add_listener(self.on_reset_stats)
        events.spawning_complete.add_listener(self.on_spawning_complete)
        if self.role.judges:
            events.quitting.add_listener(self.on_quitting)  # fired in reverse: runs before the earlier ones
            events.quit.add_listener(self.on_quit)

    def set_table(self, table: SloTable, rows_left_out: tuple[str, ...]) -> None:
        """Judge against ``table`` from the next test on (its plan goes to the workers with the spawn)."""
        self.table, self.rows_left_out = table, rows_left_out
        self.recording.goodput = GoodputPlan.from_table(table)
        if self.environment.parsed_options is not None:
            setattr(self.environment.parsed_options, PLAN_OPTION, plan_for(table).to_data())
            setattr(self.environment.parsed_options, GOODPUT_OPTION, self.recording.goodput.to_data())

    def reset(self) -> None:
        """The one reset: everything one test measures starts over (at init and at each ``test_start``)."""
        self.recording.reset(self.role.recorder_plan(), chargeable=self.role.keeps_chargeable)
        self.role.reset()
        self.live.reset()
        self.hold.reset()
        self.workers.reset()
        self.llm_history.reset()
        self.verdict: Verdict | None = None
        self.aborted_by: list[str] = []
        self.bad_reports = 0
        self.settled = False
        self.started_at = self.counted_since = time.monotonic()
        self.stopped_at: float | None = None
        self.windows = WindowMarks(self.role.window_s())
        self.windows.reset(self.started_at)

    # -- Locust's events --
    def on_test_start(self, **_: Any) -> None:
        self.reset()
        self.role.start_test()
        if self.table is not None and self.role.judges:
            self.live.start()

    def on_test_stop(self, **_: Any) -> None:
        self.stopped_at = time.monotonic()

    def on_spawning_complete(self, **_: Any) -> None:
        """Locust resets its stats here with --reset-stats (without firing ``reset_stats``): so do we."""
        if self.environment.reset_stats:
            self.on_reset_stats()

    def on_reset_stats(self, **_: Any) -> None:
        now = time.monotonic()
        self.recording.reset_stats(chargeable=self.role.keeps_chargeable)
        self.counted_since = now
        self.windows.reset(now)
        self.live.look_judged = 0

    def on_quitting(self, **_: Any) -> None:
        """Early ``quitting`` listener: finish the test (local: stop the users, waiting for the
        requests in flight; master: the workers' final results), then judge."""
        if self.table is None:
            return
        self.live.stop()
        self.role.finish()
        self.role.check_workers()
        self.evaluate(confidence=self.live.final_confidence(), looks=self.live.final_looks())
        self.llm_history.observe(time.time(), self.recording.recorder)

    def settle_exit_code(self) -> None:
        """Last ``quitting`` listener (after every other plugin's): the exit code, then the files."""
        if self.table is None or self.verdict is None or self.settled:
            return
        self.settled = True
        self.verdict = output.settle_exit_code(self.environment, self.verdict, self.recording.recorder,
                                               self.llm_history.to_csv())

    def on_quit(self, **_: Any) -> None:
        """Print the summary last, after Locust's own tables, where k6 prints its thresholds."""
        if self.verdict is None or not self.settled:
            return
        output.print_summary(self.environment, self.verdict)

    # -- the options of judging --
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

    def elapsed_s(self) -> float:
        """Seconds the recorder's counts span: from the test's start (or the last stats reset) to
        its stop, or to now while it runs (k6's ``http_reqs`` rate divides by this)."""
        return (self.stopped_at or time.monotonic()) - self.counted_since

    def open_run(self) -> OpenModelRun | None:
        """The open model of this process when the run is open, else None (closed)."""
        return context_of(self.environment).active_open_model()

    # -- judging (master or local runner) --
    def evaluate(self, *, store: bool = True, confidence: float | None = None, looks: int = 0) -> Verdict:
        """The verdict on what has been received so far, with the run-level facts; ``store`` keeps
        it as the gate's latest (the live loop and the end do; a view asking early does not)."""
        assert self.table is not None
        recording = self.recording
        verdict = evaluate(self.table, recording.recorder, strict=self.strict, rows_left_out=self.rows_left_out,
                           confidence=self.confidence if confidence is None else confidence,
                           policy=str(option(self.environment, "slo_inconclusive", "estimate") or "estimate"),
                           marks=self.windows.marks, elapsed_s=self.elapsed_s(), looks=looks)
        run = self.open_run()
        if run is not None:
            unc = evaluate(self.table, recording.uncorrected, rows_left_out=self.rows_left_out,
                           elapsed_s=self.elapsed_s())
            verdict = attach_open_model(verdict, unc, self.open_summary(run))
        health = self.role.generator_health()
        if health:
            charged = verdict
            if recording.chargeable is not None:
                # no time-window widening: the windows' counts are the measured ones, and the last window of the
                # chargeable counts is skewed by the stop (the loop busy stopping users: requests read then
                # are bounded by it), which the batch means read as dependence (docs/verdicts.md)
                charged = evaluate(self.table, recording.chargeable, strict=self.strict,
                                   rows_left_out=self.rows_left_out, confidence=verdict.confidence,
                                   policy=verdict.policy, elapsed_s=self.elapsed_s(), looks=looks)
            verdict = attach_generator(verdict, charged, health)
        verdict = conclude(
            verdict, lost_workers=self.workers.lost(self.started_at),
            allow_lost=bool(option(self.environment, "slo_allow_lost_workers", False)),
            aborted_by=tuple(self.aborted_by), bad_reports=self.bad_reports,
            exceptions=output.user_exceptions(self.runner))
        if store and not self.settled:  # the settled verdict is final: every view shows that one
            self.verdict = verdict
        return verdict

    def open_summary(self, run: OpenModelRun) -> OpenModelSummary:
        """The verdict's ``open_model``: this process's counts, or on the master the workers' sum."""
        counts = self.role.open_counts(run)
        window = counts.window_s
        iterations = counts.iterations + counts.dropped  # a dropped iteration is not good
        assert run.config is not None
        return OpenModelSummary(
            arrivals=run.config.arrivals, target_rate=run.target_rate(window),
            achieved_rate=counts.started / window if window > 0 else 0.0, due=counts.due, started=counts.started,
            late=counts.late, dropped=counts.dropped, corrected=True,
            goodput=Goodput(iterations=iterations, good=counts.good,
                            share=counts.good / iterations if iterations else None),
            window_s=window, max_vus=run.config.max_vus, late_tolerance_ms=LATE_TOLERANCE_S * 1000,
            dispatch_late_max_ms=counts.dispatch_late_max_s * 1000)

    # -- what views ask for --
    def endpoint_csv(self) -> str:
        """Exact per-endpoint statistics (``PREFIX_slo_endpoints.csv``)."""
        return output.endpoint_csv(self.recording.recorder)

    def write_files(self, prefix: str, verdict: Verdict) -> None:
        """``PREFIX_slo.json``, ``PREFIX_slo.csv`` and ``PREFIX_slo_endpoints.csv``."""
        output.write_files(prefix, verdict, self.recording.recorder, self.llm_history.to_csv())
