"""The gate's role in one Locust process, chosen once at ``init`` from the runner, as Locust picks
its runner class (``LocalRunner``, ``MasterRunner``, ``WorkerRunner``): where users run, the gate
records (a local runner, a worker); where the verdict is made, it judges (a local runner, the
master). :class:`LocalRole` does both; the distributed roles are in
``osiris_load.adapter.gate.distributed``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from locust.event import Events
from locust.runners import STATE_INIT, STATE_STOPPED

from osiris_load.adapter.gate.output import say
from osiris_load.adapter.selection import option
from osiris_load.core.openmodel.counts import ArrivalCounts
from osiris_load.core.slo.evaluate import plan_for
from osiris_load.core.slo.formatting import generator_line
from osiris_load.core.slo.recorder import RecorderPlan
from osiris_load.core.slo.verdict import ProcessHealth

if TYPE_CHECKING:  # pragma: no cover - the owner's type only
    from osiris_load.adapter.gate.core import Gate


class Role:
    """What differs between the kinds of process; the defaults are a process that runs users and judges."""

    judges = True
    """The verdict is made here: live looks, the end's evaluation, exit code and outputs."""
    keeps_chargeable = False
    """The chargeable recorder is kept from the start (the master merges the workers' into it)."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def attach(self, events: Events) -> None:
        """This role's own listeners (the gate adds the common ones)."""
        events.request.add_listener(self.gate.recording.on_request)

    def recorder_plan(self) -> RecorderPlan | None:
        """The limits and rows to record at: the table's."""
        table = self.gate.table
        return plan_for(table) if table is not None else None

    def window_s(self) -> float:
        """Seconds per time window (``--slo-window``; 0 where nothing is judged)."""
        return float(option(self.gate.environment, "slo_window", 0.0) or 0.0)

    def reset(self) -> None:
        """This role's part of the gate's one reset (a new test)."""

    def start_test(self) -> None:
        """A test starts, after the reset."""

    def start_monitor(self, process: str, say_late: Any) -> None:
        """Users run here: watch this process's own event loop and CPU, unless turned off."""
        gate = self.gate
        if str(option(gate.environment, "slo_generator_monitor", "on") or "on") == "off":
            return
        runner = gate.runner
        gate.recording.start_monitor(process, lambda: runner.user_count if runner is not None else 0, say_late)

    def finish(self) -> None:
        """At ``quitting``, before the last verdict: let what is in flight end."""

    def check_workers(self) -> None:
        """Note the workers' state (the master)."""

    def generator_health(self) -> tuple[ProcessHealth, ...]:
        """Every process that ran users: this one."""
        monitor = self.gate.recording.monitor
        return (monitor.health.summary(),) if monitor is not None else ()

    def open_counts(self, run: Any) -> ArrivalCounts:
        """The open model's counts for the verdict: this process's own."""
        return run.snapshot()


class LocalRole(Role):
    """A local runner (or no runner, as in benches): users run here and the verdict is made here."""

    def start_test(self) -> None:
        environment = self.gate.environment
        self.start_monitor("local", lambda cpu, lag: say(environment, f"SLO gate: {generator_line(cpu, lag)}"))

    def finish(self) -> None:
        """Stop the users, waiting for the requests in flight, so that they are in the verdict."""
        runner = self.gate.runner
        if runner is not None and runner.state not in (STATE_INIT, STATE_STOPPED):
            runner.stop()
