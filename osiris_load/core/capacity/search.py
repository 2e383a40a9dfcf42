"""The capacity search, pure: which arrival rates to probe, and what the probes say.

A *probe* is any callable ``probe(rate, duration_s, attempt) -> ProbeResult``: in production a real
headless Locust run of the scenario in open mode (``osiris_load.jobs.capacity_probe``), in tests a plain function.
Nothing here imports Locust or starts a process, so the search is tested in milliseconds.

The search, on rates in iterations/s:

1. **Bracket**: probe ``min_rate``; while it passes, multiply the rate by ``growth`` (capped at
   ``max_rate``) and probe again, until a rate does not pass (the bracket is the last passing rate
   and that one) or ``max_rate`` passes (``passes_at_highest_rate``). If ``min_rate`` does not
   pass, there is nothing to bracket (``fails_at_min_rate``).
2. **Bisect** between the highest passing rate ``low`` and the lowest failing rate ``high`` (at
   their geometric mean, since the precision is relative) until ``(high - low) / low <=
   precision``. The answer is ``low``: the highest rate that *passed with confidence*.

Not every threshold can settle in every probe: ``rate>=0.999`` needs 2995 requests without a
failure before it can PASS with 95 % confidence, 50 min at 1/s. So the search judges a rate in two
kinds of probe (``role``):

- **Bracketing** probes (steps 1 and 2) last ``probe_duration_s`` (``SearchConfig.bracket_s``:
  the budget is kept for the confirmation, not spent settling slow thresholds at low rates). A
  rate passes when no threshold FAILs with confidence and every threshold the probe was long enough for PASSes; a
  threshold left INCONCLUSIVE because the probe was too short for it at that rate is *deferred*
  (``ProbeResult.deferred``): it was checked not to FAIL, it is not held against the rate. An
  INCONCLUSIVE threshold the probe *was* long enough for (typically right at the capacity) reruns
  the probe at the same rate for twice as long, up to ``max_probe_duration_s``; a fresh run each
  time. Still INCONCLUSIVE at the cap (or when a rerun does not fit the budget), or NO_DATA, it
  counts against the rate.
3. **Confirmation**: if the candidate ``low`` deferred thresholds, one probe at ``low`` as long as
   *every* threshold needs (``SearchConfig.confirm_s``: the plan with a 10 % margin, not capped by
   ``max_probe_duration_s``, only by the budget), rerun twice as long while INCONCLUSIVE and the
   budget holds it beside the next candidate's confirmation. PASS: the answer is *confirmed*
   (every threshold PASSED with confidence at it). FAIL (or still INCONCLUSIVE): ``low`` becomes
   the lowest failing rate, and the next candidate is **one precision step below it**
   (``low / (1 + precision)``, or the highest rate that passed its bracketing probe when that lies
   within the step), confirmed in turn: near the capacity a short probe overestimates (a queue
   started empty has not filled), so every probe between a passing rate and a failed confirmation
   is a long one, and the one at the step ends the search within the precision when it PASSes
   (a midpoint would need more long probes to get there). When the budget cannot hold that
   step's confirmation, the next lower passing rate is the candidate. When the budget cannot hold
   the confirmation at all, the answer is the *latency bounded* rate, reported as such
   (``confirmed`` False, ``to_settle_s`` the budget it lacked).
4. **Refinement**: a confirmed answer whose bracket is wider than the precision (the budget
   stopped the bracketing) is raised by confirmation probes at the bracket's geometric midpoint
   while one fits what is left.

**The budget's share for the confirmations** is kept from the first candidate on: while
bracketing above the candidate, a probe starts only if the candidate's confirmation and the one a
precision step below it (the fallback after a failed confirmation) would still fit after it (only
the first when both never fit; none when not even that fits: the search then looks for a higher
rate whose confirmation fits). When only the first is kept and the bracket spans more than two
precision steps, a bisection probe keeps only its own rate's confirmation (:meth:`Search._wide`). A
higher candidate's confirmations are shorter, so the reserve only shrinks as the search climbs;
what the fallback did not need goes to the refinement.

Evidence is never pooled across probes: each verdict keeps the exact meaning of its interval, and
the confirmed answer rests on one probe at one rate that PASSED every threshold. (Pooling a
success rate across rates would be sound only if it could only worsen with load, which a target
that sheds load by failing fast at low rates, or caches at high ones, does not promise.) The
answer is therefore a rate *shown* to meet the SLO, never one that merely was not shown to miss
it, except where ``confirmed`` says otherwise.

Each probe's planned duration (``planned_duration_s``: every threshold's need at its rate,
uncapped) comes from ``osiris_load.core.capacity.plan``. ``notes`` name every threshold a bracketing probe cannot
settle at ``min_rate``, with the budget its confirmation takes, before any probe runs.

The budget is the sum of the probes' ``elapsed_s`` (their real cost, start-up included). A probe is
only started when its planned duration, a probe's start-up (the median seen) and the reserve
still fit; when none fits, the search stops with ``stopped_because == "budget"`` and reports the
bracket it has.

A probe whose generator was the bottleneck says nothing about the server at its rate: when a
threshold of it is generator-bound (the gate found it failing on the measured times but not on what
the server can be charged with, docs/verdicts.md) and no threshold FAILs on the server's account,
the probe is ``counted_as == "generator"``. It is neither a FAIL (the bracket's upper end is never
lowered on it) nor a PASS, and it is not rerun longer (more requests do not remove the client's own
delay); when its process was not saturated (:func:`generator_saturated`: the machine kept it
waiting, a CPU hog beside it), it is rerun once as it was, since a fresh run may not be held up,
and the rerun counts as it comes. The search stops climbing there: ``outcome ==
"generator_bound"``, ``stopped_because == "generator"``, ``generator_rate`` that rate, and the
answer is the highest rate shown to pass below it (confirmed as usual), a lower bound limited by
the load generator; ``None`` when even ``min_rate`` was generator-bound. A confirmation probe that
is generator-bound is no evidence either: its rate is no longer the candidate, the next lower
passing rate is (confirmed in turn), and ``generator_rate`` becomes that lower rate; the bracket's
upper end stays. Where a confirmation FAILs below the generator-bound rate, that failure is the
bracket's upper end and the outcome is the server's (``capacity_found``, or ``fails_at_min_rate``).

A probe whose load generator *stalled* is a weaker case: the generator went on (no threshold
generator-bound), but what it could not send during the stall went out late, in a burst, and a
server near its capacity queues that burst for many seconds after (a D/D/64 queue at 95 % of its
capacity drains an 0.8 s stall's burst in about 15 s): requests sent on time after the stall are
slow at the server, so the gate, which bounds only the delays the generator added to each request
itself, charges them to the server. For a FIFO server, arrivals each at most ``L`` late leave every
departure at most ``L`` later than punctual arrivals would have (by induction on the queue's
recursion, ``D_n = max(A_n, D_(n-1)) + S_n``, and the same for k servers in order), so a latency
percentile FAILed with confidence on the server's account only when its interval, less the
generator's lateness (:func:`generator_stall_ms`: its dispatchers' own, how late what fell due
went out), is still beyond the limit. A probe whose
every FAIL is such a latency FAIL the stall can explain (:func:`generator_disturbed`,
``disturbed`` in its record) is no evidence against its rate: it is
rerun once at the same rate and duration, a fresh run, when that fits beside the reserve, and the
rerun counts as it comes (its FAIL is a FAIL: one rerun, not retries until a PASS). Any other
FAIL (a rate threshold, a latency beyond the limit by more than the stall) is the server's.

A search cut short (the caller's stop signal, raised from inside a probe) keeps what it had:
:meth:`Search.interrupted` gives the probes that ended and their bracket, with ``outcome`` and
``stopped_because`` both ``"interrupted"``; the probe that was running is not among them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from osiris_load.core.capacity.estimate import crossing_estimates
from osiris_load.core.capacity.model import (
    CapacityReport,
    LimitingThreshold,
    Outcome,
    ProbeResult,
    Settlement,
    StoppedBecause,
)
from osiris_load.core.capacity.plan import SampleNeed, deferral_notes, planned_duration
from osiris_load.core.slo.generator import CPU_SATURATED

__all__ = ["CONFIRM_MARGIN", "MAX_STEPS", "Probe", "Search", "SearchConfig", "SearchError", "SearchOutcome",
           "generator_bound", "generator_disturbed", "generator_saturated", "generator_stall_ms",
           "limiting_threshold", "report", "search",
           "settlement"]

CONFIRM_MARGIN = 1.1
"""A confirmation probe lasts 10 % longer than the best case needs: a Poisson probe of 3000
expected arrivals sees +-55 (2 %), and the first iterations start a little after Locust's timer."""

MAX_STEPS = 2
"""Confirmations one precision step below a failed one, in a row, before the search falls back to
the next lower rate that passed its bracketing probe: a short probe near the capacity overestimates
by about the precision (12 % for a 20 s probe of a queue started empty), rarely by twice that."""

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
    needs: tuple[SampleNeed, ...] = ()  # what the table's thresholds need to PASS (osiris_load.core.capacity.plan)

    @property
    def rerun_cap_s(self) -> float:
        return self.max_probe_duration_s if self.max_probe_duration_s is not None else 4 * self.probe_duration_s

    def planned_s(self, rate: float) -> float | None:
        """How long a probe at ``rate`` must last for every threshold to be able to PASS (uncapped);
        ``None`` without needs."""
        return planned_duration(self.needs, rate) if self.needs else None

    def bracket_s(self, rate: float) -> float:
        """How long a bracketing probe at ``rate`` lasts: ``probe_duration_s``. The thresholds that
        need more requests than that makes at ``rate`` are deferred (the confirmation settles them):
        planning bracketing probes for them too would spend the budget at low rates (59 s at 1/s for
        the default table's ``p(95)``, 75 s at 4/s for its ``p(99)``) that the confirmation at the
        answer needs."""
        return self.probe_duration_s

    def confirm_s(self, rate: float) -> float:
        """The confirmation probe at ``rate``: every threshold's need, with :data:`CONFIRM_MARGIN`
        (arrivals vary, and the open model starts a little after the timer), at least a probe."""
        return max(self.probe_duration_s, math.ceil(CONFIRM_MARGIN * (self.planned_s(rate) or 0.0)))

    def bracket_state(self, result: ProbeResult, duration_s: float) -> tuple[str, tuple[str, ...]]:
        """What a bracketing probe says of its rate, and which thresholds it deferred: FAIL when any
        threshold (or the run) failed with confidence, INCONCLUSIVE when a threshold it was long
        enough for is, else PASS; the INCONCLUSIVE thresholds it was too short for are deferred.
        NO_DATA counts as FAIL; GENERATOR when the load generator was the bottleneck (:func:`generator_bound`)."""
        if generator_bound(result):
            return "GENERATOR", ()
        if result.state in ("FAIL", "NO_DATA"):
            return "FAIL", ()
        too_short = {f"{n.row} {n.expression}" for n in self.needs if n.seconds(result.rate) > duration_s + 1e-9}
        unsettled = [f"{t.row} {t.expression}" for t in result.thresholds if t.state == "INCONCLUSIVE"]
        if any(name not in too_short for name in unsettled) or (result.state == "INCONCLUSIVE" and not unsettled):
            return "INCONCLUSIVE", ()
        return "PASS", tuple(unsettled)

    def notes(self) -> list[str]:
        """One line per threshold that a bracketing probe cannot settle at ``min_rate``: what it
        needs, and the budget that would settle it (said before the first probe)."""
        return deferral_notes(self.needs, self.min_rate, self.probe_duration_s, self.budget_s, CONFIRM_MARGIN)

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
    confirmed: bool | None = None  # every threshold PASSED at low (None: no low)
    to_settle_s: float | None = None  # not confirmed: the budget the confirmation lacked
    generator_rate: float | None = None  # the lowest rate whose generator was the bottleneck (None: never)

    @property
    def limiting(self) -> LimitingThreshold | None:
        return limiting_threshold(self.probes, self.high)


def generator_saturated(result: ProbeResult) -> bool:
    """Whether the load generator of a generator-bound ``result`` was short of CPU of its own (its
    worst process at or above 90 % of a core at p95, or any second saturated), or is unknown: then a
    fresh run at the same rate would be as bound (the client's own work), so it is not rerun. A
    process that was not saturated was kept waiting by the machine (another process, a CPU hog, a
    stop): a fresh run may not be, so a generator-bound probe of it is rerun once."""
    g = result.generator
    return g is None or g.saturated_s > 0 or g.cpu_p95 >= CPU_SATURATED


class _Budget(Exception):
    """No probe of the planned duration fits what is left of the budget."""


class _GeneratorBound(Exception):
    """The probe's load generator was the bottleneck: nothing is known about the server at its rate."""


def generator_bound(result: ProbeResult) -> bool:
    """Whether ``result`` is no evidence about the server: a threshold is generator-bound and none
    FAILs (or has NO_DATA) on the server's account. A threshold that still FAILs on what the server
    can be charged with is the server's failure (the gate's verdict is FAIL), whatever the others."""
    return bool(result.generator_bound) and not any(t.state in ("FAIL", "NO_DATA") for t in result.thresholds)


_SHIFTABLE = ("<", "<=")  # latency limits a late burst can only push a FIFO server's times beyond


def generator_stall_ms(result: ProbeResult) -> float:
    """How late the load generator sent what fell due, at worst, in ``result``: the open model's
    dispatchers' own longest lateness (0 when not measured). Not the loop monitor's lag max: it
    counts a stretch of work and, during a poll, only the time the process waited for a CPU, so a
    process stopped or paging while it polled (seen: SIGSTOP for 0.8 s, loop lag max 134 ms) is
    invisible to it; and its longest stretch is often the users' spawn (80-130 ms on a quiet
    machine), before any iteration was due. A dispatcher that wakes after its due time sees every
    delay of the process while the schedule runs. It bounds the lateness of the iteration's start,
    not a stall between that and the send: an under-estimate, so it excuses less, never more."""
    return result.dispatch_late_max_ms or 0.0


def generator_disturbed(result: ProbeResult) -> tuple[str, ...]:
    """The ``row expression`` of each threshold whose FAIL the load generator's longest stall could
    explain, when that is every FAIL of ``result`` (else ``()``: the failure is the server's).

    Why: a stall of ``L`` (:func:`generator_stall_ms`) sends what fell due meanwhile up to ``L``
    late, in a burst; a FIFO server's every departure is then at most ``L`` later than with
    punctual arrivals, so each request's time from its due time exceeds the server's own by at most
    ``L``. A latency percentile (``<``/``<=`` limit, in ms) that FAILed is the server's only when its
    interval's low end (the observed value without intervals) less ``L`` is still beyond the limit.
    A FAIL of anything else (a rate, an average), NO_DATA, a run that failed without a failing
    threshold, or a generator-bound probe (issue 17's own rule) is not explained by a stall."""
    stall = generator_stall_ms(result)
    if not stall > 0 or result.state != "FAIL" or generator_bound(result):
        return ()
    explained = []
    for t in result.thresholds:
        if t.state == "NO_DATA":
            return ()
        if t.state != "FAIL":
            continue
        low = t.interval[0] if t.interval is not None and t.interval[0] is not None else t.observed
        if t.percentile is None or t.op not in _SHIFTABLE or t.unit != "ms" or low is None:
            return ()
        server_low = low - stall
        if server_low > t.limit or (t.op == "<" and server_low >= t.limit):
            return ()  # beyond the limit even had the generator been punctual
        explained.append(f"{t.row} {t.expression}")
    return tuple(explained)


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
        self.passing: list[float] = []  # every rate that passed its bracketing probe, in the order found
        self.generator_rate: float | None = None  # the lowest rate at which the load generator was the bottleneck
        self._reserving = 0  # confirmations kept in reserve while bracketing above the candidate: 0, 1 or 2
        self._steps: dict[float, int] = {}  # rate -> how many precision steps below a bracketed candidate
        self._probe: Probe | None = None

    def run(self, probe: Probe) -> SearchOutcome:
        """Find the highest rate at which ``probe`` passes (see the module docstring)."""
        self._probe = probe
        bracketed = self._bracket()
        if bracketed.outcome == "fails_at_min_rate" or self.low is None:
            return bracketed
        return self._confirm(bracketed)

    def _bracket(self) -> SearchOutcome:
        config = self.config
        rate = config.min_rate
        try:
            if not self._passes(rate):
                self.high = rate
                return self._done("fails_at_min_rate", "min_rate")
        except _Budget:  # unreachable after check(); kept so that a zero-cost misuse cannot loop
            return self._done("fails_at_min_rate", "budget")
        except _GeneratorBound:
            return self._done("generator_bound", "generator")
        self._passed(rate)
        low = rate
        # bracket by growing the rate, then bisect (geometric midpoint): one probe per step either way
        while self.high is None or (self.high - low) / low > config.precision:
            if self.high is None and low >= config.max_rate:
                return self._done("passes_at_highest_rate", "max_rate")
            rate = min(low * config.growth, config.max_rate) if self.high is None else math.sqrt(low * self.high)
            try:
                passed = self._passes(rate)
            except _Budget:
                return self._done("passes_at_highest_rate" if self.high is None else "capacity_found", "budget")
            except _GeneratorBound:
                return self._done("generator_bound", "generator")
            if passed:
                self._passed(rate)
                low = rate
            else:
                self.high = rate
        return self._done("capacity_found", "precision")

    def _passed(self, rate: float) -> None:
        """``rate`` is the new candidate: keep its confirmation in reserve from now on, and the
        confirmation one precision step below it too (:meth:`_step_down`: where the search goes when
        the candidate's confirmation FAILs), when they fit now."""
        self.low = rate
        self.passing.append(rate)
        self._reserving = 0
        if self._counted(rate)[0].deferred:
            one = self._confirmation(rate)
            self._reserving = 2 if self._fits(one + self._confirmation(self._step_down(rate))) else int(self._fits(one))

    def _confirm(self, bracketed: SearchOutcome) -> SearchOutcome:
        """Settle at the candidate ``low`` what its bracketing probe deferred: one probe as long as
        every threshold needs (longer reruns while INCONCLUSIVE and the budget holds them beside the
        next candidate's confirmation). When it FAILs (or stays INCONCLUSIVE), the rate fails and the
        next candidate is one precision step below it (:meth:`_fallback`), confirmed in turn: a
        confirmation that PASSes there ends the search within the precision of a rate that a long
        probe showed to fail. When it is generator-bound, the rate is not shown either way and the
        next lower passing rate is the candidate (the bracket's upper end stays)."""
        while self.low is not None:
            counted = self._counted(self.low)
            if counted and not counted[0].deferred:
                return self._done(self._outcome(bracketed), bracketed.stopped_because, confirmed=True)
            duration = self.config.confirm_s(self.low)
            if not self._fits(self._confirmation(self.low)):  # its duration and a probe's start-up
                return self._done(self._outcome(bracketed), bracketed.stopped_because, confirmed=False,
                                  to_settle_s=self._to_settle(duration))
            fallback = self._fallback(self.low, self._confirmation(self.low))
            reserve = self._confirmation(fallback) if fallback is not None else 0.0
            reserve = reserve if self._fits(self._confirmation(self.low) + reserve) else 0.0
            state = self._settle(self.low, duration, reserve)
            if state == "PASS":
                return self._refine(bracketed)
            fallback = self._below(self.low) if state == "GENERATOR" else self._fallback(self.low, 0.0)
            if state == "INCONCLUSIVE" and (fallback is None or not self._fits(self._confirmation(fallback))):
                # still INCONCLUSIVE when no longer rerun fits, nor a lower candidate's confirmation
                return self._done(self._outcome(bracketed), bracketed.stopped_because, confirmed=False,
                                  to_settle_s=self._to_settle(2 * duration))
            if state != "GENERATOR":
                self.high = self.low  # FAILED, or not shown to PASS by a long probe: its bracketing PASS was optimistic
            if self.low in self.passing:
                self.passing.remove(self.low)
            self.low = fallback
        if self._generator_limits():
            return self._done("generator_bound", "generator")
        return self._done("fails_at_min_rate", "min_rate")

    def _refine(self, bracketed: SearchOutcome) -> SearchOutcome:
        """``low`` is confirmed: while the bracket is wider than the precision (the budget stopped the
        bracketing, keeping two confirmations in reserve) and a bracketing probe and a confirmation
        at its geometric midpoint fit what is left, probe the midpoint: a short probe first (it
        errs high near the capacity, so its FAIL is cheap and sure), then, if it passed, its
        confirmation. PASS raises the confirmed answer, anything else lowers the bracket's upper end."""
        self._reserving = 0  # low is confirmed: nothing to keep for it
        while not self._narrow():
            assert self.low is not None and self.high is not None
            rate = math.sqrt(self.low * self.high)
            if not self._fits(self.config.bracket_s(rate) + self._overhead() + self._confirmation(rate)):
                break
            confirmed = self.low
            try:
                passed = self._passes(rate)
            except (_Budget, _GeneratorBound):
                break
            if passed and self._counted(rate)[0].deferred:
                if not self._fits(self._confirmation(rate)):
                    break
                passed = self._settle(rate, self.config.confirm_s(rate)) == "PASS"
                if self.generator_rate == rate:
                    break
            self.low, self.high = (rate, self.high) if passed else (confirmed, rate)
        return self._done(self._outcome(bracketed), "precision" if self.high is not None and self._narrow()
                          else bracketed.stopped_because, confirmed=True)

    def _wide(self) -> bool:
        """Whether the bracket spans more than two precision steps: its low end, confirmed, would not
        be an answer within the precision. A bisection probe then keeps in reserve only what its
        own confirmation would need should it pass (shorter: a higher rate), not the low end's:
        at worst the low end stays unconfirmed, at best a rate twice as close is confirmed (the
        issue's target: [8, 16] with 158 s spent, 8/s's 416 s confirmation blocked 11.3/s's probe)."""
        if self.high is None or self.low is None:
            return False
        return self.high > self.low * (1 + self.config.precision) ** 2 * (1 + 1e-9)

    def _narrow(self) -> bool:
        """Whether the bracket is within the precision (a bracket without an upper end is too: no
        midpoint to probe). One precision step below a rate is within it, whatever the rounding."""
        if self.high is None or self.low is None:
            return True
        return (self.high - self.low) / self.low <= self.config.precision * (1 + 1e-9)

    def _step_down(self, rate: float) -> float:
        """One precision step below ``rate``: the highest rate whose bracket with ``rate`` is within
        the precision (never below ``--min-rate``)."""
        return max(self.config.min_rate, rate / (1 + self.config.precision))

    def _below(self, rate: float) -> float | None:
        """The highest rate below ``rate`` that passed its bracketing probe (``None``: none did)."""
        lower = [r for r in self.passing if r < rate]
        return max(lower) if lower else None

    def _fallback(self, rate: float, spending_s: float) -> float | None:
        """The next candidate if the confirmation at ``rate`` (``spending_s``: what it will still cost) does not
        PASS: the next lower rate that passed its bracketing probe when it lies within one precision
        step (:meth:`_step_down`), else that step itself when its confirmation still fits the
        budget (a rate not yet probed: only its confirmation can show it), else the next lower
        passing rate; the next lower passing rate too after :data:`MAX_STEPS` steps failed in a row
        (then the capacity lies further below than a short probe overestimates, and steps of the
        precision would walk down slowly). Not a midpoint: near the capacity a short probe overestimates, so every probe
        between a passing rate and a failed confirmation is a confirmation (long), and the one at the
        step ends the search when it PASSes."""
        below, step = self._below(rate), self._step_down(rate)
        depth = self._steps.get(rate, 0) + 1
        if below is not None and below >= step or depth > MAX_STEPS:
            return below
        if step < rate and self._fits(spending_s + self._confirmation(step)):
            self._steps[step] = depth
            return step
        return below

    def _generator_limits(self) -> bool:
        """Whether the load generator, not a failure of the server, is what stops the answer: it was
        the bottleneck below the lowest failing rate (or with none)."""
        return self.generator_rate is not None and (self.high is None or self.generator_rate < self.high)

    def _outcome(self, bracketed: SearchOutcome) -> Outcome:
        """A failed confirmation at ``--max-rate`` (or below a generator-bound rate) makes it the
        lowest failing rate: a bracket; a generator-bound probe below it makes the answer a lower
        bound."""
        if self._generator_limits():
            return "generator_bound"
        if bracketed.outcome in ("passes_at_highest_rate", "generator_bound") and self.high:
            return "capacity_found"
        return bracketed.outcome

    def _generator(self, rate: float, result: ProbeResult) -> None:
        """``result`` at ``rate`` was generator-bound: recorded as no evidence either way."""
        self.generator_rate = rate if self.generator_rate is None else min(rate, self.generator_rate)
        self.probes.append(result.model_copy(update={"counted_as": "generator"}))

    def _settle(self, rate: float, duration: float, reserve: float = 0.0) -> str:
        """The confirmation probe(s) at ``rate``: its state, rerun twice as long while INCONCLUSIVE
        and the rerun fits beside ``reserve`` (the next candidate's confirmation)."""
        assert self._probe is not None
        attempt, rerun = 1, False
        while True:
            result = self._probe(rate, duration, attempt).model_copy(
                update={"planned_duration_s": self.config.planned_s(rate), "role": "confirm"})
            self.spent_s += result.elapsed_s
            if self._rerun_once(result, rerun, duration + self._overhead() + reserve):
                attempt, rerun = attempt + 1, True
                continue
            if generator_bound(result):
                self._generator(rate, result)
                return "GENERATOR"
            longer = 2 * duration
            if result.state == "INCONCLUSIVE" and self._fits(longer + self._overhead() + reserve):
                self.probes.append(result)  # superseded by the longer rerun: counted_as stays None
                duration, attempt = longer, attempt + 1
                continue
            self.probes.append(result.model_copy(update={"counted_as": "pass" if result.state == "PASS" else "fail"}))
            return result.state

    def _rerun_once(self, result: ProbeResult, rerun: bool, cost_s: float) -> bool:
        """Whether ``result`` is no evidence because of the machine, not the server nor the load
        generator's own work, and is rerun as it was (``cost_s`` with the reserve fits, and it was
        not a rerun already): a stall explains its every FAIL (:func:`generator_disturbed`), or it
        is generator-bound without the generator being saturated (:func:`generator_saturated`). It
        is recorded superseded (``counted_as`` None); the rerun counts as it comes."""
        if rerun or not self._fits(cost_s):
            return False
        disturbed = generator_disturbed(result)
        if not disturbed and not (generator_bound(result) and not generator_saturated(result)):
            return False
        self.probes.append(result.model_copy(update={"disturbed": disturbed}))
        return True

    def interrupted(self) -> SearchOutcome:
        """What the search had when it was cut short: the probes that ended and their bracket."""
        return self._done("interrupted", "interrupted")

    def _done(self, outcome: Outcome, why: StoppedBecause, *, confirmed: bool | None = None,
              to_settle_s: float | None = None) -> SearchOutcome:
        why = "generator" if outcome == "generator_bound" else why
        return SearchOutcome(outcome, why, self.low, self.high, list(self.probes), self.spent_s, self.config.notes(),
                             confirmed=confirmed if self.low is not None else None, to_settle_s=to_settle_s,
                             generator_rate=self.generator_rate)

    def _counted(self, rate: float) -> list[ProbeResult]:
        return [p for p in self.probes if p.rate == rate and p.counted_as is not None]

    def _fits(self, duration_s: float) -> bool:
        return self.spent_s + duration_s <= self.config.budget_s + 1e-9

    def _overhead(self) -> float:
        """A probe's cost beyond its duration so far (Locust's start-up, the final judgement): the
        median of those seen (the upper one of an even count). Not the largest: one stall of a busy
        machine (20 s beside the usual 3-5 s, seen on the issue's target) would add itself to every
        confirmation kept in reserve and crowd out the fallback's; a later probe's start-up longer
        than the median costs the budget that much (seconds, within its 10 %)."""
        seen = sorted(max(0.0, p.elapsed_s - p.duration_s) for p in self.probes)
        return seen[len(seen) // 2] if seen else 0.0

    def _to_settle(self, duration: float) -> float:
        """How much more budget a confirmation probe of ``duration`` needs than is left (with a
        probe's overhead, so that the budget it names is enough)."""
        return max(0.0, self.spent_s + duration + self._overhead() - self.config.budget_s)

    def _confirmation(self, rate: float) -> float:
        """What the confirmation at ``rate`` costs the budget: its duration and a probe's overhead."""
        return self.config.confirm_s(rate) + self._overhead()

    def _reserve(self) -> float:
        """Budget kept for the confirmation at the current candidate while bracketing above it (a
        higher candidate's confirmation is shorter), and for the one a precision step below it
        when both fitted when the candidate was found: none when there is nothing to confirm, or
        when not even the first fitted (the search then looks for a higher rate whose confirmation
        fits). Once kept, a probe that would eat into it is not started: the search stops
        bracketing and confirms; an INCONCLUSIVE one is not rerun longer (it counts against its rate).
        Keeping the second whenever the first is kept would block every rerun above a low candidate
        whose two confirmations never fit (8/s with the default table: 871 s of a 10 min budget)."""
        if not self._reserving or self.low is None:
            return 0.0
        step = self._confirmation(self._step_down(self.low)) if self._reserving == 2 else 0.0
        return self._confirmation(self.low) + step

    def _passes(self, rate: float) -> bool:
        """Probe ``rate`` until its state is settled (or the rerun cap); raise :class:`_Budget` when
        not even the first run fits. A threshold left INCONCLUSIVE because the probe was too short
        for it at this rate is *deferred* (to the confirmation), not held against the rate. Raise
        :class:`_GeneratorBound` when the load generator was the bottleneck (no rerun: a longer probe
        does not remove the client's own delay)."""
        config, probe = self.config, self._probe
        assert probe is not None
        planned = config.planned_s(rate)
        reserve = self._reserve()
        if self._reserving == 1 and self._wide():  # a confirmed low would be far below; no fallback kept anyway
            reserve = min(reserve, self._confirmation(rate))
        left = config.budget_s - self.spent_s - reserve
        duration, attempt = max(config.probe_duration_s, min(config.bracket_s(rate), left)), 1
        if not self._fits(duration + self._overhead() + reserve):
            raise _Budget
        rerun = False
        while True:
            result = probe(rate, duration, attempt).model_copy(update={"planned_duration_s": planned})
            self.spent_s += result.elapsed_s
            if self._rerun_once(result, rerun, duration + self._overhead() + reserve):
                attempt, rerun = attempt + 1, True
                continue
            state, deferred = config.bracket_state(result, duration)
            if state == "GENERATOR":
                self._generator(rate, result)
                raise _GeneratorBound
            longer = min(duration * 2, config.rerun_cap_s)
            if state != "INCONCLUSIVE" or longer <= duration or not self._fits(longer + self._overhead() + reserve):
                counted = "pass" if state == "PASS" else "fail"
                self.probes.append(result.model_copy(update={"counted_as": counted, "deferred": deferred}))
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


def settlement(probes: list[ProbeResult], rate: float | None,
               needs: tuple[SampleNeed, ...] = ()) -> tuple[Settlement, ...]:
    """How each threshold stands at ``rate`` (the answer), in table order: its state in the probe
    that decided the rate (the last counted there: the confirmation when there was one, which
    judges every threshold at once), and the first probe at that rate where it had that settled
    state; INCONCLUSIVE with no probe when the deciding probe left it unsettled."""
    if rate is None:
        return ()
    at = [(i, p) for i, p in enumerate(probes, 1) if p.rate == rate and p.counted_as is not None]
    if not at:
        return ()
    samples = {(n.row, n.expression): n.samples for n in needs}
    found = []
    for t in at[-1][1].thresholds:
        first = next(((i, p) for i, p in at for u in p.thresholds
                      if (u.row, u.expression) == (t.row, t.expression) and u.state == t.state), None)
        settled = first is not None and t.state in ("PASS", "FAIL")
        found.append(Settlement(row=t.row, expression=t.expression, state=t.state, rate=rate,
                                probe=first[0] if settled and first else None,
                                role=first[1].role if settled and first else None,
                                requests_needed=samples.get((t.row, t.expression))))
    return tuple(found)


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
        estimates=crossing_estimates(found.probes), notes=tuple(found.notes), confirmed=found.confirmed,
        settlement=settlement(found.probes, found.low, config.needs), to_settle_s=found.to_settle_s,
        generator_bound_rate=found.generator_rate)
