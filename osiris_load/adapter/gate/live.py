"""Live looks: where the verdict is made (the master or a local runner), the table is evaluated
every ``--slo-eval-interval`` seconds while the test runs. The latest verdict feeds the progress
lines and the web UI's SLO tab; an ``abort_on_fail`` threshold crossed ends the run.

**Confidence** (``--slo-confidence C``, default 0.95; 0 = off): every verdict carries each
threshold's interval and state (PASS / FAIL / INCONCLUSIVE, ``osiris_load.core.slo.confidence``),
widened for dependence by the counts of time windows (``--slo-window``,
``osiris_load.core.slo.windows``). A decision taken while the run goes on (abort-on-fail,
``--slo-until-settled``) is a *look*: looks come each time the judged requests double, the k-th
judged at ``AlphaSpending(C).confidence_at(k)``, so that looking again and again does not inflate
the error; the final verdict after looks is one more.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import gevent

from osiris_load.adapter.gate.output import say
from osiris_load.adapter.selection import option
from osiris_load.core.slo.confidence import AlphaSpending
from osiris_load.core.slo.evaluate import abort_triggers
from osiris_load.core.slo.verdict import INCONCLUSIVE, Verdict

if TYPE_CHECKING:  # pragma: no cover - the owner's type only
    from osiris_load.adapter.gate.core import Gate

FIRST_LOOK_REQUESTS = 16  # the first sequential look; then each time the judged requests double


class LiveLooks:
    """The periodic evaluation of one gate, and its sequential looks."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate
        self.greenlet: gevent.Greenlet | None = None
        self.looks = 0
        self.look_judged = 0  # the judged requests at the last look

    def reset(self) -> None:
        self.looks = self.look_judged = 0

    def start(self) -> None:
        if self.greenlet is None:
            self.greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self.greenlet is not None:
            self.greenlet.kill(block=False)

    def _loop(self) -> None:
        gate = self.gate
        interval = max(0.2, float(option(gate.environment, "slo_eval_interval", 2.0) or 2.0))
        try:
            while True:
                gevent.sleep(interval)
                gate.role.check_workers()
                verdict: Verdict | None = gate.evaluate()
                gate.windows.observe(verdict, time.monotonic())
                gate.llm_history.observe(time.time(), gate.recorder)
                if gate.sequential:
                    verdict = self.look(verdict)
                    if verdict is None:
                        continue
                triggers = abort_triggers(verdict, time.monotonic() - gate.started_at)
                if triggers:
                    gate.aborted_by = [f"{t.row}: {t.expression}" for t in triggers]
                    say(gate.environment, f"SLO gate: aborting the test: abort-on-fail threshold crossed: "
                                          f"{', '.join(gate.aborted_by)}")
                    runner = gate.runner
                    if runner is not None:
                        gevent.spawn(runner.quit)
                    return
        finally:
            self.greenlet = None

    def look(self, live: Verdict) -> Verdict | None:
        """A sequential look when the judged requests have doubled since the last (the first at
        :data:`FIRST_LOOK_REQUESTS`): the verdict at this look's spent confidence, or ``None``."""
        gate = self.gate
        judged = live.tally.judged
        if judged < max(FIRST_LOOK_REQUESTS, 2 * self.look_judged):
            return None
        self.looks += 1
        self.look_judged = judged
        verdict = gate.evaluate(store=False, confidence=AlphaSpending(gate.confidence).confidence_at(self.looks),
                                looks=self.looks)
        if gate.until_settled_s and not gate.hold.settled and verdict.count(INCONCLUSIVE) == 0:
            gate.hold.settled = True
            if gate.hold.since is not None:
                say(gate.environment, f"SLO gate: every threshold settled at look {self.looks} ({judged} requests); "
                                      "ramping down as planned")
        return verdict

    def final_confidence(self) -> float:
        """The final verdict's confidence: the nominal one, or after sequential looks the next look's."""
        if self.looks and self.gate.sequential:
            return AlphaSpending(self.gate.confidence).confidence_at(self.looks + 1)
        return self.gate.confidence

    def final_looks(self) -> int:
        """The final verdict's look number: one more after sequential looks, else 0 (no looks)."""
        return self.looks + 1 if self.looks and self.gate.sequential else 0
