"""The distributed protocol: workers ship what they recorded with each stats report, the master
merges the reports and accounts for every worker.

* The master hands the recorder's plan (limits, rows) and the goodput plan to its workers inside
  the options Locust sends with each spawn (``PLAN_OPTION``, ``GOODPUT_OPTION``).
* Workers ship what changed with each stats report (``report_to_master``), and a **final** report
  when they exit (on a ``quit`` from the master or on their own). Each report carries the judged
  recorder, the chargeable one once the loop stalled, the worker's health and, under the open
  model, the uncorrected recorder and the due/started/late/dropped/goodput counts.
* The master merges reports, and before it judges (in ``quitting`` and before ``runner.quit()``,
  which waits only 0.5 s) it asks every worker to quit and waits until each worker that ever
  connected has delivered its final report or is lost (no heartbeat, or nothing within
  ``--stop-timeout`` + ``--slo-final-wait``). A worker that comes back after being marked missing
  is not lost.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import gevent
from locust.event import Events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from osiris_load.adapter import seams
from osiris_load.adapter.gate.options import GOODPUT_OPTION, PLAN_OPTION, REPORT_KEY
from osiris_load.adapter.gate.output import say
from osiris_load.adapter.gate.roles import Role
from osiris_load.adapter.generator_monitor import SAY_EVERY_S
from osiris_load.adapter.selection import option
from osiris_load.core.openmodel.counts import ArrivalCounts, CountsByWorker, GoodputPlan
from osiris_load.core.slo.formatting import generator_line
from osiris_load.core.slo.generator import CPU_SATURATED, LAG_NOTE_MS, health_from_data
from osiris_load.core.slo.recorder import RecorderPlan, RequestRecorder
from osiris_load.core.slo.verdict import ProcessHealth

POLL_S = 0.05

log = logging.getLogger("osiris.slo")


class WorkerRole(Role):
    """A worker: users run here; what they did goes to the master with each stats report."""

    judges = False

    def __init__(self, gate: Any) -> None:
        super().__init__(gate)
        self.runner: WorkerRunner = gate.runner  # this role is chosen for a WorkerRunner (``role_for``)
        self.final = False  # the next report is the last

    def attach(self, events: Events) -> None:
        super().attach(events)
        events.report_to_master.add_listener(self.on_report_to_master)
        events.quitting.add_listener(self.send_final_report)  # runs before Locust's (events fire reversed)

    def recorder_plan(self) -> RecorderPlan | None:
        """The master's plan, from the options of its spawn message (none before the first)."""
        plan = option(self.gate.environment, PLAN_OPTION)
        try:
            return RecorderPlan.from_data(plan) if plan is not None else None
        except ValueError as exc:
            log.warning("SLO gate: %s; recording without limits (the master will refuse the reports)", exc)
            return None

    def window_s(self) -> float:
        return 0.0  # nothing is judged here

    def start_test(self) -> None:
        self.start_monitor(self.runner.client_id, None)
        try:
            self.gate.recording.goodput = GoodputPlan.from_data(option(self.gate.environment, GOODPUT_OPTION) or [])
        except ValueError as exc:
            log.warning("SLO gate: %s; every iteration counts as good", exc)
            self.gate.recording.goodput = GoodputPlan()

    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        recording = self.gate.recording
        payload = recording.recorder.drain()
        if recording.chargeable is not None:
            payload["chargeable"] = recording.chargeable.drain()
        if recording.monitor is not None:
            payload["generator"] = dataclasses.asdict(recording.monitor.health.summary())
        run = self.gate.open_run()
        if run is not None:
            payload["uncorrected"] = recording.uncorrected.drain()
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
        unrecognized worker": the worker has said "quit") only when it comes before the worker exits.

        The report is Locust's own stats report, made as its runner makes one: ``report_to_master``
        fills it (Locust's stats and ours travel together), ``send_message("stats", ...)`` sends it."""
        runner = self.runner
        if runner.state in (STATE_SPAWNING, STATE_RUNNING):
            runner.stop()
        self.final = True
        try:
            data: dict[str, Any] = {}
            self.gate.environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
            runner.send_message("stats", data)
        except Exception as exc:  # the master is gone: nothing to deliver to
            log.warning("SLO gate: could not send the final report: %s", exc)


class MasterRole(Role):
    """The master: no user runs here; the workers' reports are merged and the verdict is made here."""

    keeps_chargeable = True

    def __init__(self, gate: Any) -> None:
        super().__init__(gate)
        self.runner: MasterRunner = gate.runner  # this role is chosen for a MasterRunner (``role_for``)
        self.health_by_worker: dict[str, ProcessHealth] = {}  # each worker's latest
        self.said_by_worker: dict[str, float] = {}
        self.counts = CountsByWorker()  # the workers' open-model counts, summed
        self.collecting = False
        self.collected = False

    def attach(self, events: Events) -> None:  # no request listener: no user runs here
        events.worker_report.add_listener(self.on_worker_report)
        events.worker_connect.add_listener(self.on_worker_connect)
        seams.run_before_master_quit(self.runner, self.before_quit)

    def reset(self) -> None:
        self.health_by_worker, self.said_by_worker = {}, {}
        self.counts = CountsByWorker()
        self.collected = False

    def before_quit(self, quit: Any) -> None:
        """Instead of ``runner.quit()``: the workers' final results first, then Locust's quit."""
        if self.collecting:  # Locust's own quit (its last worker left) while we wait: not before we are done
            gevent.spawn(lambda: (self.wait_collected(), quit()))
            return
        self.collect_final_results()
        quit()

    def finish(self) -> None:
        self.collect_final_results()

    def generator_health(self) -> tuple[ProcessHealth, ...]:
        """Every process that ran users: each worker."""
        return tuple(self.health_by_worker[k] for k in sorted(self.health_by_worker))

    def open_counts(self, run: Any) -> ArrivalCounts:
        return self.counts.total()

    # -- merge and account for workers --
    def on_worker_connect(self, client_id: str, **_: Any) -> None:
        self.gate.workers.connected(client_id)

    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(REPORT_KEY)
        if not isinstance(payload, dict):
            return
        gate = self.gate
        recording = gate.recording
        final = bool(payload.get("final"))
        try:
            recording.recorder.merge_encoded(payload)
            if recording.chargeable is None:  # the master keeps one from the first report on
                recording.chargeable = RequestRecorder(recording.recorder.plan)
            recording.chargeable.merge_encoded(payload.get("chargeable", payload))  # none shipped: no stall yet
            if "generator" in payload:
                self._worker_health(client_id, health_from_data(payload["generator"], client_id))
            if "uncorrected" in payload:
                recording.uncorrected.merge_encoded(payload["uncorrected"])
            if "open_model" in payload:
                self.counts.add(client_id, ArrivalCounts.from_data(payload["open_model"]))
        except ValueError as exc:  # a worker of another version or table: say so, fail the verdict
            gate.bad_reports += 1
            log.warning("SLO gate: ignored a report from worker %s: %s", client_id, exc)
            requests = 0
        else:
            requests = RequestRecorder.requests_in(payload)
        gate.workers.reported(client_id, requests, time.monotonic(), final=final)

    def _worker_health(self, client_id: str, health: ProcessHealth) -> None:
        """Keep a worker's latest health; say so when its last second was late (once per 10 s)."""
        self.health_by_worker[client_id] = health
        if not health.timeline:
            return
        _, cpu, lag = health.timeline[-1]
        now = time.monotonic()
        late = cpu >= CPU_SATURATED or lag >= LAG_NOTE_MS
        if late and now - self.said_by_worker.get(client_id, -1e9) >= SAY_EVERY_S:
            self.said_by_worker[client_id] = now
            say(self.gate.environment, f"SLO gate: worker {client_id}: {generator_line(cpu, lag)}")

    def check_workers(self) -> None:
        """Note every connected worker and those Locust has marked missing (no heartbeat for ~3 s)."""
        runner = self.runner
        workers = self.gate.workers
        for node in runner.clients.all:
            workers.connected(node.id)
            if node.state != "missing":
                workers.back(node.id)
        for node in runner.clients.missing:
            if workers.mark_missing(node.id, time.monotonic()):
                say(self.gate.environment, f"SLO gate: worker {node.id} is missing (no heartbeat); its results are "
                                           "missing from the verdict unless it comes back")

    def collect_final_results(self) -> None:
        """At the end: ask every worker to quit and wait until each one that ever connected
        delivered its final report or is lost (missing, or silent past the deadline). Re-entrant
        calls (Locust's own quit while we wait) return at once."""
        runner = self.runner
        if self.collecting or self.collected:
            return
        self.collecting = True
        workers = self.gate.workers
        environment = self.gate.environment
        try:
            self.check_workers()
            for worker_id in workers.pending() + workers.missing():  # a missing one may come back
                runner.send_message("quit", None, worker_id)
            wait = float(environment.stop_timeout or 0) + float(option(environment, "slo_final_wait", 10.0))
            deadline = time.monotonic() + wait
            while workers.pending() and time.monotonic() < deadline:
                gevent.sleep(POLL_S)
                self.check_workers()
            for worker_id in workers.pending():
                workers.mark_gone(worker_id, f"no final results within {wait:g} s", time.monotonic())
        finally:
            self.collecting, self.collected = False, True

    def wait_collected(self) -> None:
        while self.collecting:
            gevent.sleep(POLL_S)
