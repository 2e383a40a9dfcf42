"""The capacity search, pure: which arrival rates to probe, and what the probes say.

A *probe* is any callable ``probe(rate, duration_s, attempt) -> ProbeResult``: in production a real
headless Locust run of the scenario in open mode (``capacity.probe``), in tests a plain function.
Nothing here imports Locust or starts a process, so the search is tested in milliseconds.

The search, on rates in iterations/s:

1. **Bracket**: probe ``min_rate``; while it passes, multiply the rate by ``growth`` (capped at
   ``max_rate``) and probe again, until a rate does not pass (the bracket is the last passing rate
   and that one) or ``max_rate`` passes (``passes_at_highest_rate``). If ``min_rate`` does not
   pass, there is nothing to bracket (``fails_at_min_rate``).
2. **Bisect** between the highest passing rate ``low`` and the lowest failing rate ``high`` (at
   their geometric mean, since the precision is relative) until ``(high - low) / low <=
   precision``. The answer is ``low``: the highest rate that *passed with confidence*.

A probe passes only when the gate's confident state is PASS. An INCONCLUSIVE probe (the samples
cannot settle a threshold) is rerun at the same rate for twice as long, again and again, up to
``max_probe_duration_s``; a fresh run each time (samples are not pooled across runs, so each verdict
keeps the exact meaning of its interval). If it is still INCONCLUSIVE (or a rerun does not fit the
budget), it counts against the rate, as NO_DATA does: the answer is a rate that was *shown* to meet
the SLO, never one that merely was not shown to miss it.

Each probe's duration is *planned* (``capacity.plan``): the longer of ``probe_duration_s`` and the
time the table's thresholds need at that rate before they could PASS with confidence (``needs``),
capped by ``max_probe_duration_s`` and what is left of the budget. ``notes`` name every threshold
that the cap keeps from passing at ``min_rate``, before any probe runs.

The budget is the sum of the probes' ``elapsed_s`` (their real cost, start-up included). A probe is
only started when its planned duration still fits; when none fits, the search stops with
``stopped_because == "budget"`` and reports the bracket it has.

A search cut short (the caller's stop signal, raised from inside a probe) keeps what it had:
:meth:`Search.interrupted` gives the probes that ended and their bracket, with ``outcome`` and
``stopped_because`` both ``"interrupted"``; the probe that was running is not among them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from capacity.estimate import crossing_estimates
from capacity.model import CapacityReport, LimitingThreshold, Outcome, ProbeResult, StoppedBecause
from capacity.plan import SampleNeed, planned_duration, unreachable_notes

__all__ = ["Probe", "Search", "SearchConfig", "SearchError", "SearchOutcome", "limiting_threshold", "report",
           "search"]

Probe = Callable[[float, float, int], ProbeResult]
"""``probe(rate, duration_s, attempt)``: run the scenario at ``rate`` iterations/s for ``duration_s``."""


class SearchError(ValueError):
    """A search setting that cannot work; the message names the option."""


@dataclass(frozen=True)
class SearchConfig:
    min_rate: float = 1.0
    max_rate: float = 100.0
    growth: float = 2.0
    precision: float = 0.1
    budget_s: float = 600.0
    probe_duration_s: float = 20.0
    max_probe_duration_s: float | None = None  # default: 4 x probe_duration_s
    needs: tuple[SampleNeed, ...] = ()  # what the table's thresholds need to PASS (capacity.plan)

    @property
    def rerun_cap_s(self) -> float:
        return self.max_probe_duration_s if self.max_probe_duration_s is not None else 4 * self.probe_duration_s

    def planned_s(self, rate: float) -> float | None:
        """How long a probe at ``rate`` must last for every threshold to be able to PASS (uncapped);
        ``None`` without needs."""
        return planned_duration(self.needs, rate) if self.needs else None

    def notes(self) -> list[str]:
        """One line per threshold that cannot PASS at ``min_rate`` in the longest probe allowed."""
        return unreachable_notes(self.needs, self.min_rate, min(self.rerun_cap_s, self.budget_s))

    def check(self) -> None:
        """Raise :class:`SearchError` naming the first option that cannot work."""
        if not (math.isfinite(self.min_rate) and self.min_rate > 0):
            raise SearchError(f"--min-rate {self.min_rate:g}: must be a positive number of iterations/s")
        if not (math.isfinite(self.max_rate) and self.max_rate >= self.min_rate):
            raise SearchError(f"--max-rate {self.max_rate:g}: must be at least --min-rate ({self.min_rate:g})")
        if not self.growth > 1:
            raise SearchError(f"--growth {self.growth:g}: must be above 1")
        if not (math.isfinite(self.precision) and self.precision > 0):
            raise SearchError(f"--precision {self.precision:g}: must be a positive fraction (0.1: 10 %)")
        if not self.probe_duration_s > 0:
            raise SearchError(f"--probe-duration {self.probe_duration_s:g}s: must be positive")
        if self.rerun_cap_s < self.probe_duration_s:
            raise SearchError(f"--max-probe-duration {self.rerun_cap_s:g}s: must be at least --probe-duration "
                              f"({self.probe_duration_s:g}s)")
        if self.budget_s < self.probe_duration_s:
            raise SearchError(f"--budget {self.budget_s:g}s: must fit at least one probe (--probe-duration "
                              f"{self.probe_duration_s:g}s)")


@dataclass
class SearchOutcome:
    """What the search found: ``low`` the highest passing rate (the answer), ``high`` the lowest
    failing one (``None`` where not found), every probe in the order run."""

    outcome: Outcome
    stopped_because: StoppedBecause
    low: float | None
    high: float | None
    probes: list[ProbeResult] = field(default_factory=list)
    spent_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def limiting(self) -> LimitingThreshold | None:
        return limiting_threshold(self.probes, self.high)


class _Budget(Exception):
    """No probe of the planned duration fits what is left of the budget."""


class Search:
    """One search, its state kept as it goes: :meth:`run` drives it to its end; when it is cut
    short (a stop signal raised inside a probe), :meth:`interrupted` is what it had: every probe
    that ended, and the bracket they made. Nothing here knows about signals: the caller decides
    what an interruption is."""

    def __init__(self, config: SearchConfig) -> None:
        config.check()
        self.config = config
        self.probes: list[ProbeResult] = []
        self.spent_s = 0.0
        self.low: float | None = None  # highest rate that passed so far
        self.high: float | None = None  # lowest rate that failed so far
        self._probe: Probe | None = None

    def run(self, probe: Probe) -> SearchOutcome:
        """Find the highest rate at which ``probe`` passes (see the module docstring)."""
        self._probe = probe
        config = self.config
        rate = config.min_rate
        try:
            if not self._passes(rate):
                self.high = rate
                return self._done("fails_at_min_rate", "min_rate")
        except _Budget:  # unreachable after check(); kept so that a zero-cost misuse cannot loop
            return self._done("fails_at_min_rate", "budget")
        self.low = low = rate
        # bracket by growing the rate, then bisect (geometric midpoint): one probe per step either way
        while self.high is None or (self.high - low) / low > config.precision:
            if self.high is None and low >= config.max_rate:
                return self._done("passes_at_highest_rate", "max_rate")
            rate = min(low * config.growth, config.max_rate) if self.high is None else math.sqrt(low * self.high)
            try:
                passed = self._passes(rate)
            except _Budget:
                return self._done("passes_at_highest_rate" if self.high is None else "capacity_found", "budget")
            if passed:
                self.low = low = rate
            else:
                self.high = rate
        return self._done("capacity_found", "precision")

    def interrupted(self) -> SearchOutcome:
        """What the search had when it was cut short: the probes that ended and their bracket."""
        return self._done("interrupted", "interrupted")

    def _done(self, outcome: Outcome, why: StoppedBecause) -> SearchOutcome:
        return SearchOutcome(outcome, why, self.low, self.high, list(self.probes), self.spent_s, self.config.notes())

    def _fits(self, duration_s: float) -> bool:
        return self.spent_s + duration_s <= self.config.budget_s + 1e-9

    def _passes(self, rate: float) -> bool:
        """Probe ``rate`` until its state is settled (or the rerun cap); raise :class:`_Budget` when
        not even the first run fits."""
        config, probe = self.config, self._probe
        assert probe is not None
        planned = config.planned_s(rate)
        left = config.budget_s - self.spent_s
        duration, attempt = max(config.probe_duration_s, min(planned or 0.0, config.rerun_cap_s, left)), 1
        if not self._fits(duration):
            raise _Budget
        while True:
            result = probe(rate, duration, attempt).model_copy(update={"planned_duration_s": planned})
            self.spent_s += result.elapsed_s
            settled = result.state in ("PASS", "FAIL")
            longer = min(duration * 2, config.rerun_cap_s)
            if settled or result.state != "INCONCLUSIVE" or longer <= duration or not self._fits(longer):
                counted = "pass" if result.state == "PASS" else "fail"
                self.probes.append(result.model_copy(update={"counted_as": counted}))
                return counted == "pass"
            self.probes.append(result)  # superseded by the longer rerun: counted_as stays None
            duration, attempt = longer, attempt + 1


def search(probe: Probe, config: SearchConfig) -> SearchOutcome:
    """Find the highest rate at which ``probe`` passes (see the module docstring)."""
    return Search(config).run(probe)


_BLAME_ORDER = ("FAIL", "INCONCLUSIVE", "NO_DATA")


def limiting_threshold(probes: list[ProbeResult], rate: float | None) -> LimitingThreshold | None:
    """The threshold that kept ``rate`` (the lowest failing one) from passing, from its counted
    probe: the first FAIL in table order, else the first INCONCLUSIVE, else NO_DATA; ``None`` when
    the run failed for a reason of its own (no threshold to blame)."""
    counted = [p for p in probes if p.rate == rate and p.counted_as == "fail"]
    if not counted:
        return None
    probe = counted[-1]
    for state in _BLAME_ORDER:
        for t in probe.thresholds:
            if t.state == state:
                return LimitingThreshold(row=t.row, expression=t.expression, state=t.state, observed=t.observed,
                                         unit=t.unit, limit=t.limit, rate=probe.rate)
    return None


def report(found: SearchOutcome, config: SearchConfig, *, scenario: str, url: str | None = None,
           confidence: float | None = None, arrivals: str | None = None,
           interrupted_by: str | None = None) -> CapacityReport:
    """``capacity.json``'s document for a finished, budget-stopped or interrupted search
    (``interrupted_by``: the signal's name)."""
    return CapacityReport(
        scenario=scenario, url=url, outcome=found.outcome,
        max_rate=None if found.outcome == "interrupted" else found.low, bracket=(found.low, found.high),
        limiting_threshold=found.limiting, stopped_because=found.stopped_because, precision=config.precision,
        budget_s=config.budget_s, spent_s=found.spent_s, min_rate=config.min_rate, max_rate_allowed=config.max_rate,
        probe_duration_s=config.probe_duration_s, max_probe_duration_s=config.rerun_cap_s, confidence=confidence,
        arrivals=arrivals, interrupted_by=interrupted_by, probes=tuple(found.probes),
        estimates=crossing_estimates(found.probes), notes=tuple(found.notes))
