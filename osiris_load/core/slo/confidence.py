"""How sure a verdict is: exact binomial intervals, three states, and what would settle the rest.

A point estimate (what k6, Locust, Gatling print) says nothing about how many requests it rests on:
the nearest-rank p95 of 34 requests is their second largest, and 125 requests without a failure
cannot show a 99.9 % success rate. Every percentile, median, ``rate`` and ``fail_rate`` threshold is
a statement about a *share* of requests (``p(95) < 800``: the share at or above 800 ms is at most
5 %), so its uncertainty is that of a binomial proportion, known exactly without any assumption on
the latency distribution (Clopper-Pearson, the beta quantiles of ``scipy``). ``avg`` has no
distribution-free interval (one huge outlier moves a mean anywhere), so it gets the t interval of the
central limit theorem, documented as such. ``min``, ``max`` and ``count`` are facts of this run:
they get no interval and their state is the point estimate.

Meaning of ``confidence`` C (``--slo-confidence``, default 0.95): each end of an interval is a
one-sided bound at level C, so a confident PASS and a confident FAIL are each wrong with probability
at most 1 - C (the two ends together form a 2C - 1 two-sided interval). That is the level at which
"p(95) needs 59 requests, p(99) 299, rate>=0.999 about 3000" are stated. Statements that can be
wrong on both sides (``==``, ``!=``) use each bound at 1 - (1 - C) / 2, so they keep the same error.
``confidence == 0`` turns intervals off: every state is the point estimate.

States: PASS when every value in the interval meets the limit, FAIL when none does, INCONCLUSIVE
otherwise. The point estimate lies inside the interval, so a confident state never contradicts it.

Pure: the standard library and ``scipy`` only, so that the gate core stays free of Locust.
The semantics for users are in ``docs/verdicts.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import cache
from types import ModuleType

from osiris_load.core.exit_codes import EXIT_INCONCLUSIVE, EXIT_OK
from osiris_load.core.slo.expressions import COMPARISONS, exact_fraction


@cache
def _special() -> ModuleType:
    """``scipy.special``, imported on first use: it costs 0.2 s of CPU, and every Locust process
    (master and each worker) imports this module through the SLO plugin, while only the process that
    judges uses it (which imports it at init with :func:`load_quantiles`). Cached, so the per-call
    cost stays a function call (clopper_pearson is hot)."""
    from scipy import special

    return special


def load_quantiles() -> None:
    """Import the quantile functions now. For a process that judges during its run (a Locust master
    or local runner with live evaluations): at init, before any load, not as a 0.2 s stall of its
    event loop at the first evaluation, which would delay requests and show in their latencies."""
    _special()


__all__ = [
    "load_quantiles",
    "ABOVE",
    "AT_OR_ABOVE",
    "DEFAULT_CONFIDENCE",
    "AlphaSpending",
    "InconclusivePolicy",
    "Interval",
    "Judgement",
    "ShareCheck",
    "State",
    "check_confidence",
    "clopper_pearson",
    "design_effect",
    "exit_code",
    "judge_avg",
    "judge_fact",
    "judge_percentile",
    "judge_rate",
    "mean_design_effect",
    "overall_state",
    "percentile_sides",
    "projected_state",
    "requests_to_settle",
    "seconds_to_settle",
]

# Which samples a percentile threshold counts beyond its limit L (see ``percentile_sides``).
AT_OR_ABOVE = ">="  # samples x with x >= L
ABOVE = ">"  # samples x with x > L

DEFAULT_CONFIDENCE = 0.95  # the gate's --slo-confidence unless set
_DEFAULT_CONFIDENCE = DEFAULT_CONFIDENCE
_MAX_PROJECTED_REQUESTS = 10**12


class State(StrEnum):
    """A threshold's or a run's state. The values are what every view prints and serialises."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class InconclusivePolicy(StrEnum):
    """``--slo-inconclusive``: what the exit code says about an INCONCLUSIVE run.

    ``estimate`` (default): the point estimate decides, exactly as k6 would, so migrating never makes
    a gate less strict; ``fail``: INCONCLUSIVE exits with ``EXIT_INCONCLUSIVE``; ``pass``: it exits 0.
    A confident FAIL fails the run under every policy.
    """

    ESTIMATE = "estimate"
    FAIL = "fail"
    PASS = "pass"


@dataclass(frozen=True)
class Interval:
    """A closed interval ``[low, high]``; ``None`` at an end means unbounded on that side (a rank
    interval that reaches beyond the smallest or largest sample)."""

    low: float | None
    high: float | None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the interval (ends included)."""
        return (self.low is None or self.low <= value) and (self.high is None or value <= self.high)


def check_confidence(confidence: float) -> float:
    """Validate a ``--slo-confidence`` value and return it as a float.

    0 turns intervals off; otherwise each bound is one-sided at this level, which only makes sense
    strictly between 0.5 (the bound would cross the estimate) and 1 (an interval of everything).
    """
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence must be a number, got {confidence!r}") from None
    if value == 0 or 0.5 < value < 1:
        return value
    raise ValueError(f"confidence must be 0 (intervals off) or between 0.5 and 1 (exclusive), got {confidence!r}")


def clopper_pearson(count: float, n: float, confidence: float) -> Interval:
    """The Clopper-Pearson interval of a proportion from ``count`` successes in ``n`` trials, each
    bound one-sided at ``confidence`` (so the pair is a ``2 * confidence - 1`` two-sided interval).

    Written with beta quantiles, the exact inversion of the binomial test (it equals
    ``scipy.stats.binomtest(count, n).proportion_ci(2 * confidence - 1, "exact")`` for whole counts).
    The quantile is ``scipy.special.betaincinv``, the function ``scipy.stats.beta.ppf`` evaluates,
    called directly: 4 us instead of 180 us, which matters to a live view that judges every
    threshold and bisects for requests-to-settle at each refresh. Counts may
    be fractional: an effective sample (``count / deff`` of ``n / deff``, Korn & Graubard 1998) and a
    projection to a larger run (``share * n``) use the same formula.
    """
    if not 0 <= count <= n or n <= 0:
        raise ValueError(f"need 0 <= count <= n and n > 0, got count={count!r}, n={n!r}")
    alpha = 1.0 - confidence
    low = 0.0 if count <= 0 else float(_special().betaincinv(count, n - count + 1, alpha))
    high = 1.0 if count >= n else float(_special().betaincinv(count + 1, n - count, 1.0 - alpha))
    return Interval(low, high)


# The threshold grammar's operators, applied to exact fractions for point estimates and to floats
# for interval ends.
_COMPARE = COMPARISONS


def _check_op(op: str) -> str:
    if op not in _COMPARE:
        raise ValueError(f"unknown operator {op!r}; expected one of {', '.join(_COMPARE)}")
    return op


def _interval_state(interval: Interval, op: str, limit: float) -> State:
    """PASS when every value of ``interval`` satisfies ``value <op> limit``, FAIL when none does."""
    low, high = interval.low, interval.high
    assert low is not None and high is not None
    if op in ("<", "<="):
        cmp = _COMPARE[op]
        return State.PASS if cmp(high, limit) else State.FAIL if not cmp(low, limit) else State.INCONCLUSIVE
    if op in (">", ">="):
        cmp = _COMPARE[op]
        return State.PASS if cmp(low, limit) else State.FAIL if not cmp(high, limit) else State.INCONCLUSIVE
    inside = low <= limit <= high
    point = low == high == limit
    if op == "==":
        return State.PASS if point else State.INCONCLUSIVE if inside else State.FAIL
    if op == "!=":
        return State.FAIL if point else State.INCONCLUSIVE if inside else State.PASS
    raise ValueError(f"unknown operator {op!r}")


def _bool_state(holds: bool) -> State:
    return State.PASS if holds else State.FAIL


def _all(states: Sequence[State]) -> State:
    """A conjunction: PASS if all pass, FAIL if any fails."""
    if State.FAIL in states:
        return State.FAIL
    return State.PASS if all(s == State.PASS for s in states) else State.INCONCLUSIVE


def _any(states: Sequence[State]) -> State:
    """A disjunction: PASS if any passes, FAIL if all fail."""
    if State.PASS in states:
        return State.PASS
    return State.FAIL if all(s == State.FAIL for s in states) else State.INCONCLUSIVE


def _bound_level(op: str, confidence: float) -> float:
    """Each bound's one-sided level: ``==``/``!=`` can be wrong on both sides, so they split 1 - C."""
    return 1.0 - (1.0 - confidence) / 2 if op in ("==", "!=") else confidence


@dataclass(frozen=True)
class ShareCheck:
    """One statement ``share <op> limit`` about a proportion of requests, judged.

    ``count`` of ``n`` requests are in the share ``what`` names (for a percentile, the samples beyond
    its limit; for ``rate`` the successes; for ``fail_rate`` the failures). ``interval`` is ``None``
    when intervals are off.
    """

    what: str  # "successes", "failures", "samples >= L", "samples > L"
    count: int
    n: int
    op: str
    limit: float  # the share's limit: 1 - q for a percentile, r for a rate
    interval: Interval | None
    state: State
    estimate: State

    @property
    def share(self) -> float:
        """The observed share ``count / n``."""
        return self.count / self.n


def _share_check(what: str, count: int, n: int, op: str, limit: Fraction, confidence: float,
                 deff: float, bound_level: float) -> ShareCheck:
    estimate = _bool_state(_COMPARE[op](Fraction(count, n), limit))
    if confidence == 0:
        return ShareCheck(what, count, n, op, float(limit), None, estimate, estimate)
    interval = clopper_pearson(count / deff, n / deff, bound_level)
    return ShareCheck(what, count, n, op, float(limit), interval, _interval_state(interval, op, float(limit)),
                      estimate)


@dataclass(frozen=True)
class Judgement:
    """One threshold judged with its uncertainty: the state, the point estimate's state (the gate
    without intervals, as k6 judges), and what the interval rests on, so that views render it and
    ``requests_to_settle`` can project it. ``dataclasses.asdict`` of it is JSON-ready.

    * ``checks``: the share statements behind a percentile or rate threshold (two for ``==``/``!=``
      on a percentile, one otherwise; none for ``avg``, ``min``, ``max``, ``count``).
    * ``ranks``: for a percentile, the interval of the percentile as 1-based order-statistic ranks,
      each end one-sided at ``confidence``; 0 means "below the smallest sample", ``n + 1`` "above
      the largest" (no bound on that side).
    * ``values``: the interval in the threshold's unit: the latency interval of a percentile (when a
      ``value_at_rank`` was given; ``None`` ends where the rank is 0 or ``n + 1``), of ``avg`` (ms),
      of a rate (the share itself). ``None`` when intervals are off or the aggregation has none.
    """

    kind: str
    op: str
    limit: float
    n: int
    confidence: float
    state: State
    estimate: State
    checks: tuple[ShareCheck, ...] = ()
    ranks: tuple[int, int] | None = None
    values: Interval | None = None
    design_effect: float = 1.0
    mean: float | None = None  # avg only: the observed mean and standard deviation (ms)
    stddev: float | None = None
    percentile: float | None = None  # p(N)'s N (50 for med)

    @property
    def settled(self) -> bool:
        """Whether the interval decides the threshold (PASS or FAIL with confidence)."""
        return self.state != State.INCONCLUSIVE


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"need at least one request to judge, got n={n!r}")


def _check_deff(deff: float) -> float:
    if not math.isfinite(deff) or deff < 1:
        raise ValueError(f"a design effect is a number >= 1, got {deff!r}")
    return float(deff)


def percentile_sides(op: str) -> tuple[str, ...]:
    """Which counts beyond its limit L a percentile threshold with ``op`` needs (``AT_OR_ABOVE``:
    samples ``>= L``, ``ABOVE``: samples ``> L``), i.e. what the recorder must count per threshold.

    With nearest rank ``r = ceil(q * n)``, ``p(q) < L`` iff the r-th smallest sample is below L iff
    at most ``n - r`` samples are ``>= L``; ``p(q) <= L`` iff at most ``n - r`` are ``> L``; ``>=`` and
    ``>`` are their negations; ``==`` needs both (``<= L`` and not ``< L``).
    """
    if op in ("<", ">="):
        return (AT_OR_ABOVE,)
    if op in ("<=", ">"):
        return (ABOVE,)
    if op in ("==", "!="):
        return (ABOVE, AT_OR_ABOVE)
    raise ValueError(f"unknown operator {op!r}")


def _tail_limit(p: float) -> Fraction:
    """The share of samples a p-th percentile leaves beyond it: ``1 - p/100``, in exact decimal (so
    that p(99.9) of 1000 samples allows exactly 1 beyond, as the recorder's nearest rank does)."""
    if not 0 < p <= 100:
        raise ValueError(f"p(N) needs 0 < N <= 100, got {p!r}")
    return 1 - exact_fraction(p) / 100


def _percentile_checks(p: float, op: str, n: int, at_or_above: int | None, above: int | None,
                       confidence: float, deff: float) -> tuple[tuple[ShareCheck, ...], State, State]:
    tail = _tail_limit(p)
    level = _bound_level(op, confidence)
    counts = {AT_OR_ABOVE: at_or_above, ABOVE: above}
    for side in percentile_sides(op):
        count = counts[side]
        if count is None:
            raise ValueError(f"p({p:g}) {op} L needs the count of samples {side} L")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= n:
            raise ValueError(f"the count of samples {side} L must be a whole number in 0..{n}, got {count!r}")
    if at_or_above is not None and above is not None and above > at_or_above:
        raise ValueError(f"more samples above L ({above}) than at or above it ({at_or_above})")

    def check(side: str, share_op: str) -> ShareCheck:
        count = counts[side]
        assert count is not None
        return _share_check(f"samples {side} L", count, n, share_op, tail, confidence, deff, level)

    # p(q) < L  <=>  share(>= L) <= 1 - q   (and the other operators by the same duality)
    if op == "<":
        checks = (check(AT_OR_ABOVE, "<="),)
    elif op == "<=":
        checks = (check(ABOVE, "<="),)
    elif op == ">":
        checks = (check(ABOVE, ">"),)
    elif op == ">=":
        checks = (check(AT_OR_ABOVE, ">"),)
    elif op == "==":
        checks = (check(ABOVE, "<="), check(AT_OR_ABOVE, ">"))
    else:  # "!=": not (p <= L and p >= L)
        checks = (check(ABOVE, ">"), check(AT_OR_ABOVE, "<="))
    combine = _any if op == "!=" else _all
    return checks, combine([c.state for c in checks]), combine([c.estimate for c in checks])


def _rank_bounds(p: float, n: int, confidence: float, deff: float) -> tuple[int, int]:
    """The order-statistic ranks ``(low, high)`` bounding the p-th percentile, each one-sided at
    ``confidence``, found by inverting the same interval the states use, so that the latency interval
    and the state always agree: ``high`` is the smallest rank r whose sample, taken as the limit of
    ``p(q) < L`` (r samples below it), would PASS, ``low`` the largest whose sample would make
    ``p(q) >= L`` PASS. Without a design effect they are the binomial quantiles: ``high`` =
    ``binom.ppf(C, n, q) + 1`` and ``low`` = ``binom.ppf(1 - C, n, q)``.
    """
    tail = float(_tail_limit(p))

    def high_ok(r: int) -> bool:  # n - r samples at or above the value just above x_(r)
        bound = clopper_pearson((n - r) / deff, n / deff, confidence).high
        assert bound is not None
        return bound <= tail

    def low_ok(r: int) -> bool:  # n - r + 1 samples at or above x_(r)
        bound = clopper_pearson((n - r + 1) / deff, n / deff, confidence).low
        assert bound is not None
        return bound > tail

    # Start where the normal approximation puts them (exact enough to need a few calls, not log2(n)).
    spread = float(_special().ndtri(confidence)) * math.sqrt(n * (1 - tail) * tail * deff)
    centre = n * (1 - tail)
    high = _first_true(high_ok, 0, n + 1, round(centre + spread) + 1)
    low = _first_true(lambda r: not low_ok(r), 0, n + 1, round(centre - spread) + 1) - 1
    return low, high


def _first_true(pred: Callable[[int], bool], lo: int, hi: int, guess: int) -> int:
    """The smallest r in ``(lo, hi]`` with ``pred(r)``, for ``pred`` false then true as r grows;
    ``pred(lo)`` is taken as false and ``pred(hi)`` as true without calling it. Gallops out from
    ``guess`` to bracket the change, then bisects."""
    guess = min(max(guess, lo + 1), hi)
    step = 1
    if guess == hi or pred(guess):
        hi = guess
        probe = hi - step
        while probe > lo and pred(probe):
            hi, step = probe, step * 2
            probe = hi - step
        lo = max(lo, probe)
    else:
        lo = guess
        probe = lo + step
        while probe < hi and not pred(probe):
            lo, step = probe, step * 2
            probe = lo + step
        hi = min(hi, probe)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if pred(mid) else (mid, hi)
    return hi


def judge_percentile(p: float, op: str, limit_ms: float, n: int, *, at_or_above: int | None = None,
                     above: int | None = None, confidence: float = _DEFAULT_CONFIDENCE, design_effect: float = 1.0,
                     value_at_rank: Callable[[int], float] | None = None) -> Judgement:
    """Judge ``p(p) <op> limit_ms`` (``med`` is ``p=50``) from ``n`` samples and the exact count of
    samples beyond the limit on the side(s) ``percentile_sides(op)`` names.

    The point estimate is the nearest-rank one, decided by counting (``p(q) < L`` iff
    ``at_or_above <= n - ceil(q*n)``), so it is exact at the limit. ``value_at_rank(r)`` (1-based
    order statistic, e.g. from the recorder's histogram) turns the rank interval into milliseconds.
    """
    _check_n(n)
    _check_op(op)
    confidence = check_confidence(confidence)
    deff = _check_deff(design_effect)
    checks, state, estimate = _percentile_checks(p, op, n, at_or_above, above, confidence, deff)
    ranks = values = None
    if confidence:
        ranks = _rank_bounds(p, n, confidence, deff)
        if value_at_rank is not None:
            low, high = ranks
            values = Interval(value_at_rank(low) if low >= 1 else None, value_at_rank(high) if high <= n else None)
    return Judgement("p", op, float(limit_ms), n, confidence, state, estimate, checks, ranks, values,
                     design_effect=deff, percentile=float(p))


def judge_rate(kind: str, op: str, limit: float, n: int, failures: int, *, confidence: float = _DEFAULT_CONFIDENCE,
               design_effect: float = 1.0) -> Judgement:
    """Judge ``rate <op> limit`` (share of successes) or ``fail_rate <op> limit`` (share of failures)
    from ``failures`` of ``n`` requests. The point estimate compares the exact fraction with the limit
    as written (``0.999``), so 999 of 1000 meets ``rate>=0.999`` whatever binary floats would say."""
    _check_n(n)
    _check_op(op)
    confidence = check_confidence(confidence)
    deff = _check_deff(design_effect)
    if isinstance(failures, bool) or not isinstance(failures, int) or not 0 <= failures <= n:
        raise ValueError(f"failures must be a whole number in 0..{n}, got {failures!r}")
    if kind == "rate":
        what, count = "successes", n - failures
    elif kind == "fail_rate":
        what, count = "failures", failures
    else:
        raise ValueError(f"judge_rate judges rate or fail_rate, not {kind!r}")
    check = _share_check(what, count, n, op, exact_fraction(limit), confidence, deff, _bound_level(op, confidence))
    return Judgement(kind, op, float(limit), n, confidence, check.state, check.estimate, (check,),
                     values=check.interval, design_effect=deff)


def judge_avg(op: str, limit_ms: float, n: int, mean_ms: float, stddev_ms: float, *,
              confidence: float = _DEFAULT_CONFIDENCE, design_effect: float = 1.0) -> Judgement:
    """Judge ``avg <op> limit_ms`` with Student's t interval ``mean -+ t(C, n-1) * s / sqrt(n)``.

    Why t and not something exact: a mean has no distribution-free interval (a single arbitrarily
    large response moves it anywhere, so no finite sample bounds it without an assumption). With a
    finite variance the central limit theorem makes this interval asymptotically exact; for skewed
    latencies its upper end is somewhat optimistic on small runs (``docs/verdicts.md`` shows the
    coverage measured by ``osiris-load bench verdict_coverage``). ``stddev_ms`` is the sample standard
    deviation (the histogram's is within its 0.1 % resolution). The lower end is clamped at 0 ms.
    With a design effect, ``n`` becomes ``n / design_effect``. One sample has no spread to judge by:
    INCONCLUSIVE unless intervals are off.
    """
    _check_n(n)
    _check_op(op)
    confidence = check_confidence(confidence)
    deff = _check_deff(design_effect)
    if not (math.isfinite(mean_ms) and math.isfinite(stddev_ms)) or stddev_ms < 0:
        raise ValueError(f"need a finite mean and a standard deviation >= 0, got {mean_ms!r}, {stddev_ms!r}")
    estimate = _bool_state(_COMPARE[op](mean_ms, limit_ms))
    state, values = estimate, None
    if confidence:
        values = _mean_interval(n / deff, mean_ms, stddev_ms, _bound_level(op, confidence))
        state = _interval_state(values, op, limit_ms) if values.high is not None else State.INCONCLUSIVE
        if values.high is None:
            values = Interval(None, None)
    return Judgement("avg", op, float(limit_ms), n, confidence, state, estimate, values=values,
                     design_effect=deff, mean=float(mean_ms), stddev=float(stddev_ms))


def _t_quantile(level: float, df: float) -> float:
    """Student's t quantile (``scipy.stats.t.ppf(level, df)``, via ``scipy.special.stdtrit``)."""
    return float(_special().stdtrit(df, level))


def _mean_interval(n_eff: float, mean: float, stddev: float, level: float) -> Interval:
    if n_eff <= 1:
        return Interval(None, None)
    half = _t_quantile(level, n_eff - 1) * stddev / math.sqrt(n_eff)
    return Interval(max(mean - half, 0.0), mean + half)


def judge_fact(kind: str, op: str, limit: float, observed: float, n: int) -> Judgement:
    """``min``, ``max``, ``count``: facts of this run, not estimates of anything (a population's
    maximum may be unbounded; the run's is what it was), so no interval and the state is the point
    estimate whatever the confidence."""
    if kind not in ("min", "max", "count"):
        raise ValueError(f"judge_fact judges min, max or count, not {kind!r}")
    estimate = _bool_state(_COMPARE[_check_op(op)](observed, limit))
    return Judgement(kind, op, float(limit), n, 0.0, estimate, estimate)


def projected_state(j: Judgement, n: int) -> State:
    """The state ``j`` would have at ``n`` requests if the observed shares (or mean and spread) held:
    the same interval on the fractional counts ``share * n`` (what ``requests_to_settle`` bisects on,
    and what a live view can show as "settles at ...")."""
    if j.kind not in ("p", "rate", "fail_rate", "avg") or not j.confidence:
        return j.state
    if j.kind == "avg":
        assert j.mean is not None and j.stddev is not None
        interval = _mean_interval(n / j.design_effect, j.mean, j.stddev, _bound_level(j.op, j.confidence))
        return State.INCONCLUSIVE if interval.high is None else _interval_state(interval, j.op, j.limit)
    level = _bound_level(j.op, j.confidence)
    states = [_interval_state(clopper_pearson(c.share * n / j.design_effect, n / j.design_effect, level), c.op,
                              c.limit) for c in j.checks]
    return (_any if j.kind == "p" and j.op == "!=" else _all)(states)


def requests_to_settle(j: Judgement, *, max_requests: int = _MAX_PROJECTED_REQUESTS) -> int | None:
    """The smallest total number of requests at which ``j`` would be settled (PASS or FAIL with
    confidence) if its observed shares (for ``avg``: mean and spread) held, found by bisection on the
    same interval; ``j.n`` when it is already settled. ``None`` when no run of up to ``max_requests``
    settles it (the observed share sits on the limit, or the limit is unreachable, e.g. ``rate>=1``
    without a failure) or the aggregation has no interval.
    """
    if j.settled:
        return j.n
    if j.kind not in ("p", "rate", "fail_rate", "avg") or not j.confidence:
        return None
    low = j.n  # unsettled
    high = max(2 * low, low + 1)
    while projected_state(j, high) == State.INCONCLUSIVE:
        if high >= max_requests:
            return None
        low, high = high, min(2 * high, max_requests)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if projected_state(j, mid) != State.INCONCLUSIVE else (mid, high)
    return high


def seconds_to_settle(j: Judgement, requests_per_s: float, *,
                      max_requests: int = _MAX_PROJECTED_REQUESTS) -> float | None:
    """How much longer the run would need at ``requests_per_s`` (the row's observed rate) to settle
    ``j``: ``(requests_to_settle - n) / rate``; 0 when settled, ``None`` when it would not settle."""
    needed = requests_to_settle(j, max_requests=max_requests)
    if needed == j.n:
        return 0.0
    if needed is None or not requests_per_s > 0:
        return None
    return (needed - j.n) / requests_per_s


def overall_state(states: Iterable[State]) -> State:
    """The run's state: FAIL if any threshold fails with confidence, else INCONCLUSIVE if any is,
    else PASS (also for no thresholds: NO DATA rules belong to the gate, not here)."""
    seen = set(states)
    if State.FAIL in seen:
        return State.FAIL
    return State.INCONCLUSIVE if State.INCONCLUSIVE in seen else State.PASS


def exit_code(judgements: Iterable[Judgement], policy: InconclusivePolicy | str, *, failed: int) -> int:
    """The SLO part of the exit code: ``failed`` (the gate's SLO-failed code, 99) or
    ``EXIT_INCONCLUSIVE`` or 0, per ``policy`` (see ``InconclusivePolicy``)."""
    policy = InconclusivePolicy(policy)
    items = list(judgements)
    if policy == InconclusivePolicy.ESTIMATE:
        return failed if any(j.estimate == State.FAIL for j in items) else EXIT_OK
    state = overall_state(j.state for j in items)
    if state == State.FAIL:
        return failed
    if state == State.INCONCLUSIVE and policy == InconclusivePolicy.FAIL:
        return EXIT_INCONCLUSIVE
    return EXIT_OK


def design_effect(windows: Iterable[tuple[int, int]], confidence: float = _DEFAULT_CONFIDENCE) -> float:
    """How much dependence between requests widens a share's interval, from per-time-window counts
    ``(requests, count)``: the batch-means variance of the share over the binomial one, with Korn &
    Graubard's (1998) degrees-of-freedom correction ``(t(C, N-1) / t(C, m-1))**2`` for having only m
    windows. Judge with ``count / deff`` of ``n / deff`` (``design_effect=`` of the judge functions).

    Why: requests of a load test are not independent draws (a stall slows, or fails, the requests
    around it together), so the binomial interval is too narrow. Windows long compared with such
    episodes are close to independent, and their spread shows the real variance. Never below 1
    (dependence is not evidence of precision); 1 when fewer than 2 non-empty windows or when the
    share is 0 or 1 (no spread to learn from: the interval then rests on independence).
    """
    pairs = [(int(n_i), float(k_i)) for n_i, k_i in windows if n_i > 0]
    total = sum(n_i for n_i, _ in pairs)
    count = sum(k_i for _, k_i in pairs)
    if count in (0, total):
        return 1.0
    share = count / total
    return _batch_means_deff(pairs, share * (1 - share), confidence)


def mean_design_effect(windows: Iterable[tuple[int, float]], stddev_ms: float,
                       confidence: float = _DEFAULT_CONFIDENCE) -> float:
    """``design_effect`` for ``avg``: from per-time-window ``(requests, sum of latencies in ms)``, the
    batch-means variance of the mean over ``stddev_ms**2 / n`` (what the t interval assumes), with the
    same degrees-of-freedom correction. Pass it as ``judge_avg(..., design_effect=)``."""
    pairs = [(int(n_i), float(s_i)) for n_i, s_i in windows if n_i > 0]
    if not stddev_ms > 0:
        return 1.0
    return _batch_means_deff(pairs, float(stddev_ms) ** 2, confidence)


def _batch_means_deff(pairs: list[tuple[int, float]], unit_variance: float, confidence: float) -> float:
    """Ratio-estimator (batch-means) variance of ``sum(totals) / sum(n)`` over ``unit_variance / N``,
    at least 1, at most N, times Korn & Graubard's ``(t(C, m-1) / t(C, N-1))**2``."""
    m = len(pairs)
    total = sum(n_i for n_i, _ in pairs)
    if m < 2 or total < 2:
        return 1.0
    mean = sum(t_i for _, t_i in pairs) / total
    between = m / (m - 1) * sum((t_i - mean * n_i) ** 2 for n_i, t_i in pairs) / total**2
    deff = max(between / (unit_variance / total), 1.0)
    if confidence:
        deff *= (_t_quantile(confidence, m - 1) / _t_quantile(confidence, total - 1)) ** 2
    return min(deff, float(total))


@dataclass(frozen=True)
class AlphaSpending:
    """``--slo-until-settled``'s rule: the confidence to judge at the k-th look (k = 1, 2, ...).

    Looking again and again until an interval excludes the limit would make a wrong PASS or FAIL
    ever more likely; spending ``alpha = 1 - confidence`` as ``alpha_k = alpha * 6 / (pi**2 * k**2)``
    makes the chance of any wrong confident verdict over all looks at most ``sum alpha_k = alpha``
    (Bonferroni over the looks; ``sum 1/k**2 = pi**2 / 6``), however many looks are taken and
    whatever stops the run. Later looks need more evidence, so look on a growing spacing (e.g. each
    time the smallest row's requests double) rather than every second.
    """

    confidence: float = _DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if check_confidence(self.confidence) == 0:
            raise ValueError("a sequential rule needs a confidence above 0")

    def alpha_at(self, look: int) -> float:
        """The error this look may spend."""
        if isinstance(look, bool) or not isinstance(look, int) or look < 1:
            raise ValueError(f"looks are numbered from 1, got {look!r}")
        return (1.0 - self.confidence) * 6.0 / (math.pi**2 * look**2)

    def confidence_at(self, look: int) -> float:
        """The confidence to judge at this look (pass it as ``confidence=``)."""
        return 1.0 - self.alpha_at(look)

    def spent(self, looks: int) -> float:
        """The error spent by the first ``looks`` looks: below ``1 - confidence`` for any number."""
        return sum(self.alpha_at(k) for k in range(1, looks + 1))
