"""Confidence of a verdict (``osiris_load.core.slo.confidence``): the three states at every kind of threshold and at
the exact edges, consistency with the nearest-rank point estimate and with the rank interval, the
exit policies, the sequential rule's total error, and requests-to-settle."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binom, binomtest
from scipy.stats import t as student_t

from osiris_load.core.exit_codes import EXIT_INCONCLUSIVE
from osiris_load.core.slo.confidence import (
    ABOVE,
    AT_OR_ABOVE,
    AlphaSpending,
    InconclusivePolicy,
    Interval,
    Judgement,
    ShareCheck,
    State,
    check_confidence,
    clopper_pearson,
    design_effect,
    exit_code,
    judge_avg,
    judge_fact,
    judge_percentile,
    judge_rate,
    mean_design_effect,
    overall_state,
    percentile_sides,
    projected_state,
    requests_to_settle,
    seconds_to_settle,
)
from osiris_load.core.slo.recorder import nearest_rank

PASS, FAIL, INC = State.PASS, State.FAIL, State.INCONCLUSIVE
OPS = ("<", "<=", ">", ">=", "==", "!=")
ORDER = {FAIL: 0, INC: 1, PASS: 2}
FAST = settings(max_examples=150, deadline=None)


def _counts(samples: list[int], limit: int) -> dict[str, int]:
    return {"at_or_above": sum(x >= limit for x in samples), "above": sum(x > limit for x in samples)}


# --- the interval itself -------------------------------------------------------------------------

@FAST
@given(n=st.integers(1, 3000), data=st.data(), confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_clopper_pearson_is_scipys_exact_interval(n: int, data: st.DataObject, confidence: float) -> None:
    k = data.draw(st.integers(0, n))
    ours = clopper_pearson(k, n, confidence)
    ci = binomtest(k, n).proportion_ci(confidence_level=2 * confidence - 1, method="exact")
    assert ours.low == pytest.approx(ci.low, abs=1e-12)
    assert ours.high == pytest.approx(ci.high, abs=1e-12)
    assert ours.low <= k / n <= ours.high


@FAST
@given(n=st.floats(0.5, 5000), share=st.just(0.0) | st.floats(1e-6, 1.0),
       confidence=st.sampled_from([0.9, 0.95, 0.999]))
def test_fractional_counts_use_the_beta_quantiles_of_scipy_stats(n: float, share: float, confidence: float) -> None:
    # An effective sample (count / deff of n / deff) has fractional counts: same formula, same scipy.
    # (Counts are 0 or at least 1 / n in use; scipy.stats itself overflows on subnormal ones.)
    k = share * n
    ours = clopper_pearson(k, n, confidence)
    assert ours.low == (0.0 if k == 0 else pytest.approx(beta.ppf(1 - confidence, k, n - k + 1), rel=1e-9, abs=1e-15))
    assert ours.high == (1.0 if k == n else pytest.approx(beta.ppf(confidence, k + 1, n - k), rel=1e-9, abs=1e-15))


def test_zero_successes_give_the_rule_of_three_bound() -> None:
    # With no event in n trials the one-sided bound is 1 - alpha**(1/n) (about 3/n at 95 %).
    assert clopper_pearson(0, 300, 0.95).high == pytest.approx(1 - 0.05 ** (1 / 300))
    assert clopper_pearson(300, 300, 0.95) == Interval(pytest.approx(0.05 ** (1 / 300)), 1.0)


@pytest.mark.parametrize("bad", [-0.1, 0.3, 0.5, 1, 1.5, "x", None, float("nan")])
def test_bad_confidence_is_refused_with_a_message(bad: object) -> None:
    with pytest.raises(ValueError, match="confidence must be"):
        check_confidence(bad)  # type: ignore[arg-type]


def test_zero_confidence_turns_intervals_off() -> None:
    j = judge_percentile(95, "<", 1500, 34, at_or_above=0, confidence=0)
    assert (j.state, j.estimate, j.ranks, j.values, j.checks[0].interval) == (PASS, PASS, None, None, None)
    r = judge_rate("rate", ">=", 0.999, 125, 0, confidence=0)
    assert (r.state, r.values) == (PASS, None)
    assert requests_to_settle(r) == 125


# --- percentiles: the guide's sample sizes and each state at each operator -----------------------

@pytest.mark.parametrize(("p", "needed"), [(95, 59), (99, 299), (50, 5), (99.9, 2995)])
def test_a_percentile_with_every_sample_below_needs_the_distribution_free_minimum(p: float, needed: int) -> None:
    assert judge_percentile(p, "<", 1500, needed, at_or_above=0).state == PASS
    below = judge_percentile(p, "<", 1500, needed - 1, at_or_above=0)
    assert (below.state, below.estimate) == (INC, PASS)
    assert requests_to_settle(below) == needed


def test_the_point_estimate_is_exact_nearest_rank_at_the_edge() -> None:
    # p(95) of 100 samples is the 95th smallest: 5 samples at or above L still pass, 6 do not.
    assert judge_percentile(95, "<", 800, 100, at_or_above=5).estimate == PASS
    assert judge_percentile(95, "<", 800, 100, at_or_above=6).estimate == FAIL
    # p(99.9) of 1000 samples allows exactly one sample beyond (decimal, not binary, arithmetic).
    assert judge_percentile(99.9, "<=", 800, 1000, above=1).estimate == PASS
    assert judge_percentile(99.9, "<=", 800, 1000, above=2).estimate == FAIL


# (p, op, n, at_or_above, above) -> state with confidence 0.95
PERCENTILE_CASES = [
    (95, "<", 1000, 10, None, PASS), (95, "<", 1000, 100, None, FAIL), (95, "<", 34, 1, None, INC),
    (95, "<=", 1000, None, 10, PASS), (95, "<=", 1000, None, 100, FAIL), (95, "<=", 34, None, 1, INC),
    (95, ">", 1000, None, 100, PASS), (95, ">", 1000, None, 10, FAIL), (95, ">", 34, None, 2, INC),
    (95, ">=", 1000, 100, None, PASS), (95, ">=", 1000, 10, None, FAIL), (95, ">=", 34, 2, None, INC),
    (50, "==", 1000, 600, 400, PASS), (50, "==", 1000, 600, 580, FAIL), (50, "==", 10, 6, 4, INC),
    (50, "!=", 1000, 600, 580, PASS), (50, "!=", 1000, 600, 400, FAIL), (50, "!=", 10, 6, 4, INC),
]


@pytest.mark.parametrize(("p", "op", "n", "at_or_above", "above", "state"), PERCENTILE_CASES)
def test_each_percentile_operator_reaches_each_state(p: float, op: str, n: int, at_or_above: int | None,
                                                     above: int | None, state: State) -> None:
    j = judge_percentile(p, op, 800, n, at_or_above=at_or_above, above=above)
    assert j.state == state
    if state != INC:
        assert j.estimate == state
        assert requests_to_settle(j) == n
        assert seconds_to_settle(j, 10.0) == 0.0


@pytest.mark.parametrize("op", OPS)
def test_a_percentile_refuses_a_missing_or_impossible_count(op: str) -> None:
    with pytest.raises(ValueError, match="count of samples"):
        judge_percentile(95, op, 800, 10)
    with pytest.raises(ValueError, match="0..10"):
        judge_percentile(95, op, 800, 10, at_or_above=11, above=11)
    with pytest.raises(ValueError, match="at least one request"):
        judge_percentile(95, op, 800, 0, at_or_above=0, above=0)


def test_percentile_sides_name_what_the_recorder_counts() -> None:
    assert percentile_sides("<") == percentile_sides(">=") == (AT_OR_ABOVE,)
    assert percentile_sides("<=") == percentile_sides(">") == (ABOVE,)
    assert set(percentile_sides("==")) == set(percentile_sides("!=")) == {ABOVE, AT_OR_ABOVE}


@FAST
@given(samples=st.lists(st.integers(1, 30), min_size=1, max_size=300), limit=st.integers(0, 31),
       p=st.sampled_from([1, 50, 90, 95, 99, 99.9, 100]), op=st.sampled_from(OPS),
       confidence=st.sampled_from([0, 0.9, 0.95]))
def test_states_agree_with_nearest_rank_on_the_samples(samples: list[int], limit: int, p: float, op: str,
                                                       confidence: float) -> None:
    """The estimate is exactly ``sorted[rank-1] <op> L``; a confident state never contradicts it."""
    ordered = sorted(samples)
    n = len(ordered)
    j = judge_percentile(p, op, limit, n, confidence=confidence, **_counts(samples, limit))
    truth = {"<": lambda a: a < limit, "<=": lambda a: a <= limit, ">": lambda a: a > limit,
             ">=": lambda a: a >= limit, "==": lambda a: a == limit, "!=": lambda a: a != limit}[op]
    assert j.estimate == (PASS if truth(ordered[nearest_rank(p, n) - 1]) else FAIL)
    assert j.state in (j.estimate, INC)
    if confidence == 0:
        assert j.state == j.estimate


@FAST
@given(samples=st.lists(st.integers(1, 50), min_size=1, max_size=400), limit=st.integers(0, 51),
       p=st.sampled_from([50, 90, 95, 99]), deff=st.sampled_from([1.0, 1.7, 4.0]))
def test_the_latency_interval_and_the_state_agree(samples: list[int], limit: int, p: float, deff: float) -> None:
    """PASS of ``p(q) < L`` iff the interval's upper value is below L; FAIL iff its lower one is at
    or above L: the band drawn on a chart never contradicts the verdict beside it."""
    ordered = sorted(samples)
    n = len(ordered)
    j = judge_percentile(p, "<", limit, n, design_effect=deff, value_at_rank=lambda r: ordered[r - 1],
                         **_counts(samples, limit))
    assert j.ranks is not None and j.values is not None
    low, high = j.ranks
    assert 0 <= low <= nearest_rank(p, n) <= high <= n + 1
    assert (j.state == PASS) == (j.values.high is not None and j.values.high < limit)
    assert (j.state == FAIL) == (j.values.low is not None and j.values.low >= limit)


@FAST
@given(n=st.integers(1, 5000), p=st.sampled_from([50, 90, 95, 99, 99.9]), confidence=st.sampled_from([0.9, 0.95]))
def test_rank_bounds_are_binomial_quantiles(n: int, p: float, confidence: float) -> None:
    j = judge_percentile(p, "<", 1, n, at_or_above=0, confidence=confidence)
    q = p / 100
    low, high = int(binom.ppf(1 - confidence, n, q)), int(binom.ppf(confidence, n, q)) + 1
    assert j.ranks is not None
    assert j.ranks[1] == high
    # Where the binomial tail is exactly alpha (p(95) of 1 sample: 0.05) floats may round either way.
    assert j.ranks[0] == low or binom.cdf(j.ranks[0] - 1, n, q) == pytest.approx(1 - confidence, abs=1e-12)


@FAST
@given(n=st.integers(1, 2000), data=st.data(), op=st.sampled_from(["<", "<="]),
       p=st.sampled_from([50, 95, 99]))
def test_more_samples_beyond_never_improve_the_state(n: int, data: st.DataObject, op: str, p: float) -> None:
    k = data.draw(st.integers(0, n - 1))
    side = "at_or_above" if op == "<" else "above"
    fewer = judge_percentile(p, op, 800, n, **{side: k})
    more = judge_percentile(p, op, 800, n, **{side: k + 1})
    assert ORDER[more.state] <= ORDER[fewer.state]
    assert ORDER[more.estimate] <= ORDER[fewer.estimate]


@FAST
@given(n=st.integers(1, 3000), data=st.data(), op=st.sampled_from(OPS), limit=st.sampled_from([0.9, 0.99, 0.999]))
def test_a_state_settled_at_higher_confidence_is_the_same_at_lower(n: int, data: st.DataObject, op: str,
                                                                   limit: float) -> None:
    failures = data.draw(st.integers(0, n))
    strict = judge_rate("rate", op, limit, n, failures, confidence=0.99)
    loose = judge_rate("rate", op, limit, n, failures, confidence=0.9)
    assert loose.state in (loose.estimate, INC) and strict.state in (strict.estimate, INC)
    if strict.state != INC:
        assert loose.state == strict.state


# --- rates ----------------------------------------------------------------------------------------

RATE_CASES = [
    ("rate", ">=", 0.999, 2995, 0, PASS), ("rate", ">=", 0.999, 2994, 0, INC), ("rate", ">=", 0.999, 125, 0, INC),
    ("rate", ">=", 0.999, 1000, 10, FAIL), ("rate", ">", 0.9, 100, 2, PASS), ("rate", ">", 0.9, 100, 30, FAIL),
    ("rate", "<", 0.5, 100, 80, PASS), ("rate", "<=", 0.5, 100, 10, FAIL), ("rate", "<", 0.5, 10, 5, INC),
    ("rate", "==", 0.9, 1000, 500, FAIL), ("rate", "==", 0.9, 1000, 100, INC),
    ("rate", "!=", 0.9, 1000, 500, PASS), ("rate", "!=", 0.9, 1000, 100, INC),
    ("fail_rate", "<", 0.01, 1000, 0, PASS), ("fail_rate", "<", 0.01, 1000, 30, FAIL),
    ("fail_rate", "<=", 0.01, 100, 0, INC), ("fail_rate", ">", 0.01, 1000, 50, PASS),
    ("fail_rate", ">=", 0.01, 1000, 0, FAIL),
]


@pytest.mark.parametrize(("kind", "op", "limit", "n", "failures", "state"), RATE_CASES)
def test_each_rate_operator_reaches_each_state(kind: str, op: str, limit: float, n: int, failures: int,
                                               state: State) -> None:
    j = judge_rate(kind, op, limit, n, failures)
    assert j.state == state
    assert j.values == j.checks[0].interval
    assert j.values is not None and j.values.contains(j.checks[0].share)


def test_rate_estimates_are_exact_at_the_limit() -> None:
    # 999 of 1000 is exactly 0.999: meets >=, misses >; 1 - 1/1000 in floats would not be trusted here.
    assert judge_rate("rate", ">=", 0.999, 1000, 1, confidence=0).state == PASS
    assert judge_rate("rate", ">", 0.999, 1000, 1, confidence=0).state == FAIL
    assert judge_rate("fail_rate", "<=", 0.001, 1000, 1, confidence=0).state == PASS
    assert judge_rate("fail_rate", "==", 0.003, 1000, 3, confidence=0).state == PASS


def test_rate_equal_to_a_limit_never_passes_with_confidence() -> None:
    # An interval is never a single point, so equality can only be refuted, not confirmed.
    j = judge_rate("rate", "==", 0.999, 10**6, 1000)
    assert (j.state, j.estimate) == (INC, PASS)
    assert requests_to_settle(j) is None


def test_bad_rate_input_is_refused() -> None:
    with pytest.raises(ValueError, match="failures must be"):
        judge_rate("rate", ">=", 0.9, 10, 11)
    with pytest.raises(ValueError, match="not 'avg'"):
        judge_rate("avg", ">=", 0.9, 10, 1)


# --- avg and the facts ---------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "mean", "n", "state"), [
    ("<", 900, 30, PASS), ("<", 1100, 30, FAIL), ("<", 950, 10, INC), (">", 1100, 30, PASS), (">=", 900, 30, FAIL),
    ("==", 1000, 30, INC), ("==", 900, 30, FAIL), ("!=", 900, 30, PASS),
])
def test_avg_states(op: str, mean: float, n: int, state: State) -> None:
    j = judge_avg(op, 1000, n, mean, 200)
    assert j.state == state
    assert j.values is not None and j.values.contains(mean)


def test_avg_interval_is_students_t_and_one_sample_is_inconclusive() -> None:
    j = judge_avg("<", 1000, 30, 900, 200)
    assert j.values is not None and j.values.high is not None
    from scipy.stats import t
    assert j.values.high == pytest.approx(900 + t.ppf(0.95, 29) * 200 / math.sqrt(30))
    one = judge_avg("<", 1000, 1, 10, 0)
    assert (one.state, one.estimate) == (INC, PASS)
    assert judge_avg("<", 1000, 1, 10, 0, confidence=0).state == PASS
    assert judge_avg("<", 1000, 100, 5, 50).values == Interval(0.0, pytest.approx(5 + t.ppf(0.95, 99) * 5))


@pytest.mark.parametrize("kind", ["min", "max", "count"])
def test_min_max_count_are_facts_without_interval(kind: str) -> None:
    j = judge_fact(kind, "<", 100, 99.0, 3)
    assert (j.state, j.estimate, j.values, j.ranks, j.confidence) == (PASS, PASS, None, None, 0.0)
    assert judge_fact(kind, "<", 100, 100.0, 3).state == FAIL
    assert requests_to_settle(j) == 3


# --- requests to settle ---------------------------------------------------------------------------

@FAST
@given(n=st.integers(1, 2000), data=st.data(), op=st.sampled_from(OPS),
       kind=st.sampled_from(["rate", "fail_rate"]), limit=st.sampled_from([0.5, 0.95, 0.999]),
       deff=st.sampled_from([1.0, 2.5]))
def test_requests_to_settle_is_the_first_settled_size(n: int, data: st.DataObject, op: str, kind: str,
                                                      limit: float, deff: float) -> None:
    j = judge_rate(kind, op, limit, n, data.draw(st.integers(0, n)), design_effect=deff)
    needed = requests_to_settle(j)
    if j.state != INC:
        assert needed == n
    elif needed is not None:
        assert needed > n
        assert projected_state(j, needed) != INC
        assert needed - 1 == n or projected_state(j, needed - 1) == INC


@FAST
@given(n=st.integers(1, 500), data=st.data(), op=st.sampled_from(OPS), p=st.sampled_from([50, 95, 99]))
def test_requests_to_settle_a_percentile(n: int, data: st.DataObject, op: str, p: float) -> None:
    above = data.draw(st.integers(0, n))
    j = judge_percentile(p, op, 800, n, above=above, at_or_above=data.draw(st.integers(above, n)))
    needed = requests_to_settle(j)
    if needed is not None and needed > n:
        assert projected_state(j, needed) != INC
        assert needed - 1 == n or projected_state(j, needed - 1) == INC


def test_requests_to_settle_with_no_failure_is_a_whole_count_fact() -> None:
    # Zero failures stay zero at any size, so the projection is an exact judgement at that size.
    j = judge_rate("rate", ">=", 0.995, 125, 0)
    needed = requests_to_settle(j)
    assert needed == 598
    assert judge_rate("rate", ">=", 0.995, needed, 0).state == PASS
    assert judge_rate("rate", ">=", 0.995, needed - 1, 0).state == INC
    assert seconds_to_settle(j, 4.0) == pytest.approx((598 - 125) / 4.0)
    assert seconds_to_settle(j, 0.0) is None


def test_an_unreachable_limit_never_settles() -> None:
    assert requests_to_settle(judge_rate("rate", ">=", 1.0, 100, 0)) is None
    assert requests_to_settle(judge_percentile(100, "<", 800, 100, at_or_above=0)) is None
    assert seconds_to_settle(judge_rate("rate", ">=", 1.0, 100, 0), 5.0) is None


# --- overall state, exit policy, sequential rule, dependence --------------------------------------

def test_overall_state() -> None:
    assert overall_state([PASS, INC, FAIL]) == FAIL
    assert overall_state([PASS, INC]) == INC
    assert overall_state([PASS, PASS]) == PASS
    assert overall_state([]) == PASS


def test_exit_policies() -> None:
    settled_pass = judge_rate("rate", ">=", 0.9, 1000, 0)
    unsure_pass = judge_rate("rate", ">=", 0.999, 125, 0)  # INCONCLUSIVE, estimate PASS
    unsure_fail = judge_rate("rate", ">=", 0.999, 125, 1)  # INCONCLUSIVE, estimate FAIL
    settled_fail = judge_rate("rate", ">=", 0.999, 1000, 50)
    assert (unsure_pass.state, unsure_fail.state, unsure_fail.estimate) == (INC, INC, FAIL)
    table = {
        # judgements: (estimate, fail, pass)
        (settled_pass,): (0, 0, 0),
        (settled_pass, unsure_pass): (0, EXIT_INCONCLUSIVE, 0),
        (settled_pass, unsure_fail): (99, EXIT_INCONCLUSIVE, 0),
        (unsure_pass, settled_fail): (99, 99, 99),
    }
    for judgements, codes in table.items():
        got = tuple(exit_code(judgements, policy, failed=99) for policy in ("estimate", "fail", "pass"))
        assert got == codes
    assert EXIT_INCONCLUSIVE not in (0, 1, 2, 3, 99)
    assert [p.value for p in InconclusivePolicy] == ["estimate", "fail", "pass"]
    with pytest.raises(ValueError):
        exit_code([], "maybe", failed=99)


def test_the_sequential_rule_spends_at_most_alpha() -> None:
    rule = AlphaSpending(0.95)
    assert rule.spent(1) == pytest.approx(0.05 * 6 / math.pi**2)
    assert rule.spent(10_000) < 0.05
    assert rule.spent(10_000) > 0.05 * (1 - 1e-3)
    assert [rule.confidence_at(k) < rule.confidence_at(k + 1) for k in range(1, 50)] == [True] * 49
    assert rule.confidence_at(3) == pytest.approx(1 - 0.05 * 6 / (9 * math.pi**2))
    with pytest.raises(ValueError, match="from 1"):
        rule.alpha_at(0)
    with pytest.raises(ValueError, match="above 0"):
        AlphaSpending(0)


def test_design_effect_from_windows() -> None:
    steady = [(100, 1)] * 20
    bursty = [(100, 0)] * 19 + [(100, 20)]
    assert design_effect(steady) == pytest.approx(1.0, abs=0.2)
    assert design_effect(bursty) > 10
    assert design_effect(bursty, confidence=0) < design_effect(bursty)
    assert design_effect([(100, 5)]) == 1.0  # one window: nothing to learn from
    assert design_effect([(100, 0)] * 10) == 1.0  # no event: nothing to learn from
    assert design_effect([(1, 1), (1, 0)]) <= 2.0  # never more than the number of requests
    wide = judge_rate("fail_rate", "<", 0.03, 2000, 20, design_effect=design_effect(bursty))
    narrow = judge_rate("fail_rate", "<", 0.03, 2000, 20)
    assert narrow.state == PASS and wide.state == INC
    with pytest.raises(ValueError, match="design effect"):
        judge_rate("rate", ">=", 0.9, 10, 1, design_effect=0.5)


def test_the_module_is_pure() -> None:
    code = ("import sys\nfor name in ('locust', 'flask', 'pandas'):\n    sys.modules[name] = None\n"
            "import osiris_load.core.slo.confidence\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mean_design_effect_from_window_sums() -> None:
    steady = [(100, 100 * 300.0)] * 20
    bursty = [(100, 100 * 300.0)] * 19 + [(100, 100 * 1300.0)]
    assert mean_design_effect(steady, 100.0) == pytest.approx(1.0, abs=0.2)
    assert mean_design_effect(bursty, 100.0) > 10
    assert mean_design_effect(bursty, 0.0) == 1.0  # no spread: nothing to compare with
    assert mean_design_effect([(100, 3000.0)], 100.0) == 1.0
    j = judge_avg("<", 400, 2000, 350, 100, design_effect=mean_design_effect(bursty, 100.0))
    assert (j.state, judge_avg("<", 400, 2000, 350, 100).state) == (INC, PASS)


def test_an_unknown_operator_is_refused_by_every_judge() -> None:
    for judge in (lambda: judge_percentile(95, "=<", 800, 10, at_or_above=0, above=0),
                  lambda: judge_rate("rate", "=>", 0.9, 10, 0), lambda: judge_avg("~", 1, 10, 1, 1),
                  lambda: judge_fact("max", "<>", 1, 1, 1)):
        with pytest.raises(ValueError, match="unknown operator"):
            judge()


def test_a_judgement_serialises_to_json() -> None:
    import dataclasses
    import json
    j = judge_percentile(95, "==", 800, 100, at_or_above=6, above=4, value_at_rank=float)
    data = json.loads(json.dumps(dataclasses.asdict(j)))
    assert data["state"] == "inconclusive" and data["checks"][0]["what"] == "samples > L"
    assert data["values"] == {"low": float(j.ranks[0]), "high": float(j.ranks[1])}


# --- edges found by mutation testing (issue 24): exact messages, interval ends, windows -------------
# Every expected number is computed from its definition (scipy.stats quantiles, the batch-means
# formula written out with Fraction), never read back from the module under test.


def _exactly(message: str) -> str:
    """A ``pytest.raises(match=)`` pattern that accepts this message and nothing around it."""
    return f"^{re.escape(message)}$"


def _batch_means_deff(windows: list[tuple[int, float]], unit_variance: float, confidence: float) -> float:
    """The docstring's definition, written out: the batch-means variance of the pooled mean over
    ``unit_variance / N``, at least 1, times ``(t(C, m-1) / t(C, N-1))**2``, at most N."""
    m = len(windows)
    total = sum(n for n, _ in windows)
    mean = Fraction(sum(Fraction(s) for _, s in windows)) / total
    between = Fraction(m, m - 1) * sum((Fraction(s) - mean * n) ** 2 for n, s in windows) / total**2
    deff = max(float(between / (Fraction(unit_variance) / total)), 1.0)
    if confidence:  # no confidence, no interval: nothing to correct
        deff *= (student_t.ppf(confidence, m - 1) / student_t.ppf(confidence, total - 1)) ** 2
    return min(deff, float(total))


# --- Interval -------------------------------------------------------------------------------------

def test_an_interval_contains_its_ends_and_nothing_beyond() -> None:
    closed = Interval(1.0, 2.0)
    assert [closed.contains(v) for v in (0.5, 1.0, 1.5, 2.0, 3.0)] == [False, True, True, True, False]
    # None is unbounded on that side, and only on that side.
    assert [Interval(None, 2.0).contains(v) for v in (-1e9, 2.0, 2.5)] == [True, True, False]
    assert [Interval(1.0, None).contains(v) for v in (0.5, 1.0, 1e9)] == [False, True, True]
    assert Interval(None, None).contains(0.0)


# --- facts ----------------------------------------------------------------------------------------

def test_a_fact_keeps_its_kind_and_refuses_others_by_name() -> None:
    assert [judge_fact(kind, ">=", 5, 5, 7).kind for kind in ("min", "max", "count")] == ["min", "max", "count"]
    with pytest.raises(ValueError, match=_exactly("judge_fact judges min, max or count, not 'avg'")):
        judge_fact("avg", "<", 1, 1, 1)


# --- avg ------------------------------------------------------------------------------------------

def test_two_requests_already_give_a_t_interval_with_one_degree_of_freedom() -> None:
    j = judge_avg("<", 1000, 2, 100.0, 10.0)
    half = student_t.ppf(0.95, 1) * 10.0 / math.sqrt(2)  # 6.314 * 7.07 = 44.6 ms
    assert j.values == Interval(pytest.approx(100.0 - half), pytest.approx(100.0 + half))
    assert j.state == PASS
    # With a design effect the effective sample is n / deff: 3 requests at deff 2 are 1.5, df 0.5.
    k = judge_avg("<", 1000, 3, 100.0, 10.0, design_effect=2.0)
    half = student_t.ppf(0.95, 0.5) * 10.0 / math.sqrt(1.5)
    assert k.values == Interval(pytest.approx(max(100.0 - half, 0.0)), pytest.approx(100.0 + half))


@pytest.mark.parametrize(("mean", "stddev"), [(math.nan, 1.0), (1.0, math.inf), (math.inf, 1.0), (1.0, -0.5)])
def test_avg_refuses_a_mean_or_spread_that_is_not_a_number_by_value(mean: float, stddev: float) -> None:
    message = f"need a finite mean and a standard deviation >= 0, got {mean!r}, {stddev!r}"
    with pytest.raises(ValueError, match=_exactly(message)):
        judge_avg("<", 1000, 10, mean, stddev)


# --- design effect of a mean ----------------------------------------------------------------------

def test_empty_windows_are_left_out_of_the_mean_design_effect() -> None:
    windows = [(10, 10 * 100.0), (10, 10 * 110.0), (10, 10 * 105.0)]
    expected = _batch_means_deff(windows, 20.0**2, 0.95)
    assert 1.0 < expected < 30  # neither floor nor cap: an extra window would change it
    assert mean_design_effect(windows + [(0, 0.0)], 20.0) == pytest.approx(expected, rel=1e-12)
    assert mean_design_effect([(0, 0.0)] + windows, 20.0) == pytest.approx(expected, rel=1e-12)


def test_windows_of_one_request_count_in_the_mean_design_effect() -> None:
    windows = [(1, 100.0), (1, 400.0), (1, 250.0), (1, 900.0)]
    expected = _batch_means_deff(windows, 300.0**2, 0.95)
    assert mean_design_effect(windows, 300.0) == pytest.approx(expected, rel=1e-12)
    assert 1.0 < expected < 4


def test_a_spread_below_one_millisecond_still_has_a_design_effect() -> None:
    windows = [(100, 100 * 3.0), (100, 100 * 3.4), (100, 100 * 2.6), (100, 100 * 3.2)]
    expected = _batch_means_deff(windows, 0.5**2, 0.95)
    assert 1.0 < expected < 400
    assert mean_design_effect(windows, 0.5) == pytest.approx(expected, rel=1e-12)


# --- seconds to settle ----------------------------------------------------------------------------

def test_seconds_to_settle_below_one_request_a_second_and_under_a_cap() -> None:
    # Zero failures of n stay zero, so rate>=0.995 settles at the first n with 0.05**(1/n) >= 0.995.
    needed = math.ceil(math.log(0.05) / math.log(0.995))
    assert needed == 598
    j = judge_rate("rate", ">=", 0.995, 125, 0)
    assert seconds_to_settle(j, 0.5) == pytest.approx((needed - 125) / 0.5)
    # A run capped below that size does not settle: no time is promised.
    assert seconds_to_settle(j, 4.0, max_requests=needed - 1) is None
    assert seconds_to_settle(j, 4.0, max_requests=needed) == pytest.approx((needed - 125) / 4.0)


# --- the sequential rule --------------------------------------------------------------------------

def test_the_sequential_rule_refuses_fractional_looks_and_no_confidence_by_name() -> None:
    rule = AlphaSpending(0.95)
    for look in (1.5, 2.0, True):
        with pytest.raises(ValueError, match=_exactly(f"looks are numbered from 1, got {look!r}")):
            rule.alpha_at(look)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=_exactly("a sequential rule needs a confidence above 0")):
        AlphaSpending(0)


def test_a_judged_mean_carries_every_field_it_was_judged_on() -> None:
    half = student_t.ppf(0.95, 29) * 200.0 / math.sqrt(30)
    j = judge_avg("<", 1000, 30, 900.0, 200.0, design_effect=1.0)
    expected = Judgement("avg", "<", 1000.0, 30, 0.95, PASS, PASS, values=Interval(900.0 - half, 900.0 + half),
                         design_effect=1.0, mean=900.0, stddev=200.0)
    assert j == expected
    assert type(j.limit) is float and type(j.mean) is float and type(j.stddev) is float
    wide = judge_avg("<", 1000, 30, 900.0, 200.0, design_effect=3.0)
    half3 = student_t.ppf(0.95, 9) * 200.0 / math.sqrt(10)
    assert (wide.design_effect, wide.values) == (3.0, Interval(pytest.approx(900.0 - half3),
                                                               pytest.approx(900.0 + half3)))


def test_an_equality_on_a_mean_uses_each_bound_at_the_split_level() -> None:
    # == can be wrong on both sides: each bound is one-sided at 1 - 0.05 / 2 = 0.975.
    j = judge_avg("==", 1000, 30, 900.0, 200.0)
    half = student_t.ppf(0.975, 29) * 200.0 / math.sqrt(30)
    assert j.values == Interval(pytest.approx(900.0 - half), pytest.approx(900.0 + half))


def test_one_request_has_an_unbounded_mean_interval() -> None:
    j = judge_avg("<", 1000, 1, 10.0, 0.0)
    assert (j.state, j.estimate, j.values) == (INC, PASS, Interval(None, None))


def test_a_judged_fact_carries_its_operator_and_limit() -> None:
    assert judge_fact("max", ">=", 5, 6.0, 7) == Judgement("max", ">=", 5.0, 7, 0.0, PASS, PASS)
    assert type(judge_fact("max", ">=", 5, 6.0, 7).limit) is float


def test_two_windows_are_enough_for_a_design_effect() -> None:
    windows = [(50, 50 * 100.0), (50, 50 * 180.0)]
    expected = _batch_means_deff(windows, 300.0**2, 0.95)
    assert 1.0 < expected < 100
    assert mean_design_effect(windows, 300.0) == pytest.approx(expected, rel=1e-12)


def test_without_confidence_the_design_effect_has_no_degrees_of_freedom_correction() -> None:
    windows = [(10, 10 * 100.0), (10, 10 * 160.0), (10, 10 * 130.0)]
    # Window sums 1000, 1600, 1300 of 30 requests (mean 130): 3/2 * ((-300)**2 + 300**2 + 0**2) / 30**2 = 300,
    # over 20**2 / 30 = 13.33: 22.5. Corrected (x 2.95 for 3 windows) it would be capped at N = 30.
    assert mean_design_effect(windows, 20.0, confidence=0) == pytest.approx(22.5, rel=1e-12)
    assert _batch_means_deff(windows, 20.0**2, 0) == pytest.approx(22.5, rel=1e-12)
    assert mean_design_effect(windows, 20.0) == 30.0


def test_two_single_requests_have_a_design_effect_capped_at_two() -> None:
    # Sums 100 and 300 ms (mean 200): 2/1 * (100**2 + 100**2) / 2**2 = 10000 over 50**2 / 2 = 1250: 8,
    # with one degree of freedom on both sides (factor 1), capped at N = 2.
    assert mean_design_effect([(1, 100.0), (1, 300.0)], 50.0) == 2.0
    assert _batch_means_deff([(1, 100.0), (1, 300.0)], 50.0**2, 0.95) == pytest.approx(2.0)


def test_the_design_effect_of_a_share_leaves_out_empty_windows_and_keeps_single_requests() -> None:
    counts = [(10, 1), (10, 4), (10, 2)]
    p = Fraction(7, 30)
    expected = _batch_means_deff([(n, float(k)) for n, k in counts], float(p * (1 - p)), 0.95)
    assert 1.0 < expected < 30
    assert design_effect(counts + [(0, 0)]) == pytest.approx(expected, rel=1e-12)
    singles = [(1, 1), (1, 0), (1, 0), (1, 1), (1, 0)]
    # Share 0.4: 5/4 * (2 * 0.6**2 + 3 * 0.4**2) / 5**2 = 0.06 over 0.4 * 0.6 / 5 = 0.048: 1.25 (factor 1).
    assert design_effect(singles) == pytest.approx(1.25, rel=1e-12)


def test_a_mean_projects_to_a_larger_run_with_the_same_spread() -> None:
    j = judge_avg("<", 1000, 10, 950.0, 200.0)
    assert j.state == INC  # 950 + t(0.95, 9) * 200 / sqrt(10) = 1066 ms

    def upper(n: int) -> float:
        return 950.0 + student_t.ppf(0.95, n - 1) * 200.0 / math.sqrt(n)

    needed = next(n for n in range(11, 10_000) if upper(n) < 1000.0)
    assert needed == 46  # t(0.95, 45) * 200 / sqrt(46) = 49.5 ms < 50; at 45 requests 50.1 ms
    assert (projected_state(j, needed - 1), projected_state(j, needed)) == (INC, PASS)
    assert requests_to_settle(j) == needed
    # A mean above the limit projects to a confident FAIL once its lower end clears 1000.
    k = judge_avg("<", 1000, 10, 1050.0, 200.0)
    lower_needed = next(n for n in range(11, 10_000) if 1050.0 - (upper(n) - 950.0) >= 1000.0)
    assert requests_to_settle(k) == lower_needed
    assert projected_state(k, lower_needed) == FAIL


def test_without_confidence_a_projection_is_the_state_itself() -> None:
    j = judge_rate("rate", ">=", 0.9, 100, 50, confidence=0)
    assert j.state == FAIL
    assert [projected_state(j, n) for n in (100, 10_000, 10**9)] == [FAIL, FAIL, FAIL]


def _first_settled(settled, start: int) -> int:
    """The first whole number of requests from ``start`` on at which ``settled(n)`` holds (a scan)."""
    return next(n for n in range(start, 1_000_000) if settled(n))


def test_a_mean_projects_with_its_design_effect_and_its_operators_level() -> None:
    # deff 2: the effective sample of n requests is n / 2.
    j = judge_avg("<", 1000, 10, 950.0, 200.0, design_effect=2.0)
    needed = _first_settled(lambda n: 950.0 + student_t.ppf(0.95, n / 2 - 1) * 200.0 / math.sqrt(n / 2) < 1000.0, 11)
    assert requests_to_settle(j) == needed
    assert projected_state(j, 2) == INC  # one effective request: no spread to judge by
    assert projected_state(j, 1) == INC
    # == uses each bound at 0.975: refuted once the upper end is below the limit.
    k = judge_avg("==", 1000, 10, 900.0, 200.0)
    needed = _first_settled(lambda n: 900.0 + student_t.ppf(0.975, n - 1) * 200.0 / math.sqrt(n) < 1000.0, 11)
    assert requests_to_settle(k) == needed
    assert projected_state(k, needed) == FAIL


def test_a_share_projects_with_its_design_effect_and_its_operators_level() -> None:
    # 95 of 100 successes, rate != 0.9: settled (PASS) once the lower 0.975 bound exceeds 0.9.
    j = judge_rate("rate", "!=", 0.9, 100, 5)
    assert j.state == INC
    needed = _first_settled(lambda n: beta.ppf(0.025, 0.95 * n, 0.05 * n + 1) > 0.9, 101)
    assert requests_to_settle(j) == needed
    assert projected_state(j, needed) == PASS
    # With deff 2 the same share rests on n / 2 effective requests.
    k = judge_rate("rate", ">=", 0.9, 100, 5, design_effect=2.0)
    needed = _first_settled(lambda n: beta.ppf(0.05, 0.95 * n / 2, 0.05 * n / 2 + 1) >= 0.9, 101)
    assert requests_to_settle(k) == needed


def test_a_percentiles_inequality_projects_as_either_side_refuted() -> None:
    # p(50) != L holds when p(50) > L or p(50) < L: 6 of 10 above L (7 at or above) is unsure, but at
    # 1000 requests 600 above L put the 0.975 lower bound of that share (beta quantile) above 0.5: PASS,
    # although the other side (share at or above L <= 0.5) fails.
    j = judge_percentile(50, "!=", 800, 10, above=6, at_or_above=7)
    assert j.state == INC
    assert beta.ppf(0.025, 600, 1000 - 600 + 1) > 0.5
    assert beta.ppf(0.025, 700, 1000 - 700 + 1) > 0.5  # the other check, share(>= L) <= 0.5, fails
    assert projected_state(j, 1000) == PASS


@pytest.mark.parametrize("failures", [2.5, True, -1, 11])
def test_a_rate_refuses_failures_that_are_not_a_count_by_value(failures: object) -> None:
    with pytest.raises(ValueError, match=_exactly(f"failures must be a whole number in 0..10, got {failures!r}")):
        judge_rate("rate", ">=", 0.9, 10, failures)  # type: ignore[arg-type]


def test_a_judged_rate_carries_its_share_check_with_scipys_bounds() -> None:
    j = judge_rate("rate", ">=", 0.99, 1000, 10)
    interval = Interval(pytest.approx(beta.ppf(0.05, 990, 11)), pytest.approx(beta.ppf(0.95, 991, 10)))
    check = ShareCheck("successes", 990, 1000, ">=", 0.99, interval, INC, PASS)
    assert j == Judgement("rate", ">=", 0.99, 1000, 0.95, INC, PASS, (check,), values=interval)
    assert type(j.limit) is float
    f = judge_rate("fail_rate", "==", 0.1, 1000, 100)  # == splits 1 - C: each bound at 0.975
    interval = Interval(pytest.approx(beta.ppf(0.025, 100, 901)), pytest.approx(beta.ppf(0.975, 101, 900)))
    assert f.checks == (ShareCheck("failures", 100, 1000, "==", 0.1, interval, INC, PASS),)


def test_rank_bounds_with_a_design_effect_invert_the_effective_interval() -> None:
    # p(95) of 1000 samples at deff 2: the high rank is the smallest r whose n - r samples beyond leave
    # the 0.95 upper bound of the share, on 500 effective requests, at or below 0.05; the low rank the
    # largest r whose n - r + 1 samples keep the 0.95 lower bound above 0.05.
    n, deff = 1000, 2.0
    j = judge_percentile(95, "<", 1, n, at_or_above=0, design_effect=deff)

    def upper(k: float) -> float:
        return 1.0 if k >= n / deff else beta.ppf(0.95, k + 1, n / deff - k)

    def lower(k: float) -> float:
        return 0.0 if k <= 0 else beta.ppf(0.05, k, n / deff - k + 1)

    high = next(r for r in range(1, n + 2) if r == n + 1 or upper((n - r) / deff) <= 0.05)
    low = max(r for r in range(0, n + 1) if r == 0 or lower((n - r + 1) / deff) > 0.05)
    assert j.ranks == (low, high)
    assert low < 950 < high


def test_rank_bounds_where_a_bound_equals_the_tail_exactly() -> None:
    # One sample, p(5) at 0.95: the upper bound of 0 of 1 beyond is 1 - 0.05 = 0.95, exactly the share
    # 1 - q that p(5) < L allows: it passes (<=), so the high rank is 1 (the sample itself).
    j = judge_percentile(5, "<", 1, 1, at_or_above=0, confidence=0.95)
    assert (beta.ppf(0.95, 1, 1), j.state, j.ranks) == (pytest.approx(0.95), PASS, (0, 1))
    # One sample, p(75) at 0.75: the lower bound of 1 of 1 is 0.25, exactly 1 - q: p(75) >= x_(1) is
    # not confidently shown (it needs > 0.25), so no sample is a low bound (rank 0) and it is INCONCLUSIVE.
    k = judge_percentile(75, "<", 1, 1, at_or_above=0, confidence=0.75)
    assert (beta.ppf(0.25, 1, 1), k.ranks) == (pytest.approx(0.25), (0, 2))
    assert judge_percentile(75, ">=", 1, 1, at_or_above=1, confidence=0.75).state == INC


# Where the normal approximation starts the search for a rank far from it (small samples, extreme
# percentiles, large design effects), the gallop of _first_true runs several steps.
@pytest.mark.parametrize("confidence", [0.9, 0.95])
@pytest.mark.parametrize("p", [1, 5, 10, 25, 50, 75, 90, 95, 99])
def test_rank_bounds_are_binomial_quantiles_at_every_size_up_to_200(p: float, confidence: float) -> None:
    sizes = np.arange(1, 201)
    q = p / 100
    highs = binom.ppf(confidence, sizes, q).astype(int) + 1
    lows = binom.ppf(1 - confidence, sizes, q).astype(int)
    for n, high, low in zip(sizes.tolist(), highs.tolist(), lows.tolist(), strict=True):
        ranks = judge_percentile(p, "<", 1, n, at_or_above=0, confidence=confidence).ranks
        assert ranks is not None and type(ranks[0]) is int and type(ranks[1]) is int
        assert ranks[1] == high, (n, ranks)
        assert ranks[0] == low or binom.cdf(ranks[0] - 1, n, q) == pytest.approx(1 - confidence, abs=1e-12), (n, ranks)



def _ranks_by_scan(p: float, n: int, confidence: float, deff: float) -> tuple[int, int]:
    """The rank interval from its definition, every rank tried (scipy.stats.beta on the effective
    counts): high = the smallest r whose n - r samples beyond keep the upper bound of their share at or
    below 1 - q (n + 1 if none); low = the largest r whose n - r + 1 samples at or above keep the lower
    bound above 1 - q (0 if none)."""
    tail = float(1 - Fraction(str(p)) / 100)  # the exact decimal share, as the recorder counts
    n_eff = n / deff
    r = np.arange(1, n + 1)
    beyond = (n - r) / deff
    with np.errstate(all="ignore"):
        upper = np.where(beyond >= n_eff, 1.0, beta.ppf(confidence, beyond + 1, n_eff - beyond))
        at_or_above = (n - r + 1) / deff
        lower = np.where(at_or_above <= 0, 0.0, beta.ppf(1 - confidence, at_or_above, n_eff - at_or_above + 1))
    highs = r[upper <= tail]
    lows = r[lower > tail]
    return (int(lows.max()) if lows.size else 0), (int(highs.min()) if highs.size else n + 1)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
@pytest.mark.parametrize("deff", [5.0, 20.0])
@pytest.mark.parametrize("p", [1, 5, 50, 95])
def test_rank_bounds_with_large_design_effects_are_the_scanned_ones(p: float, deff: float, confidence: float) -> None:
    for n in (3, 5, 10, 30, 100, 1000):
        ranks = judge_percentile(p, "<", 1, n, at_or_above=0, confidence=confidence, design_effect=deff).ranks
        assert ranks == _ranks_by_scan(p, n, confidence, deff), (n, ranks)
        assert ranks is not None and type(ranks[0]) is int and type(ranks[1]) is int


@pytest.mark.parametrize("count", [2.5, True])
def test_a_percentile_refuses_a_count_that_is_not_whole_by_value(count: object) -> None:
    message = f"the count of samples >= L must be a whole number in 0..10, got {count!r}"
    with pytest.raises(ValueError, match=_exactly(message)):
        judge_percentile(95, "<", 800, 10, at_or_above=count)  # type: ignore[arg-type]


def test_a_percentile_refuses_more_samples_above_than_at_or_above_by_value() -> None:
    with pytest.raises(ValueError, match=_exactly("more samples above L (4) than at or above it (3)")):
        judge_percentile(50, "==", 800, 10, at_or_above=3, above=4)


@pytest.mark.parametrize("p", [0, -1, 100.5])
def test_a_percentile_outside_0_to_100_is_refused_by_value(p: float) -> None:
    with pytest.raises(ValueError, match=_exactly(f"p(N) needs 0 < N <= 100, got {p!r}")):
        judge_percentile(p, "<", 800, 10, at_or_above=0)


def test_percentile_sides_refuses_an_unknown_operator_by_name() -> None:
    with pytest.raises(ValueError, match=_exactly("unknown operator '=<'")):
        percentile_sides("=<")


def test_a_percentiles_equality_checks_each_side_at_the_split_level() -> None:
    # p(50) == L: 40 of 100 above L (share <= 0.5) and 60 at or above (share > 0.5), each bound at 0.975.
    j = judge_percentile(50, "==", 800, 100, above=40, at_or_above=60)
    above, at_or_above = j.checks
    assert (above.what, above.count, above.op, at_or_above.what, at_or_above.count, at_or_above.op) == (
        "samples > L", 40, "<=", "samples >= L", 60, ">")
    assert above.interval == Interval(pytest.approx(beta.ppf(0.025, 40, 61)), pytest.approx(beta.ppf(0.975, 41, 60)))
    assert at_or_above.interval == Interval(pytest.approx(beta.ppf(0.025, 60, 41)),
                                            pytest.approx(beta.ppf(0.975, 61, 40)))


def test_without_confidence_a_share_check_keeps_what_it_counted() -> None:
    j = judge_rate("rate", ">=", 0.99, 1000, 10, confidence=0)
    assert j.checks == (ShareCheck("successes", 990, 1000, ">=", 0.99, None, PASS, PASS),)


def test_a_judged_percentile_carries_every_field_and_the_largest_samples_value() -> None:
    # 59 samples, none at or above L: the 0.95 upper bound of 0 of 59 beyond is 1 - 0.05**(1/59) < 0.05,
    # so the high rank is 59 itself (binom.ppf(0.95, 59, 0.95) + 1), and its value is the largest sample's.
    n = 59
    high = int(binom.ppf(0.95, n, 0.95)) + 1
    low = int(binom.ppf(0.05, n, 0.95))
    assert high == n
    j = judge_percentile(95, "<", 800, n, at_or_above=0, value_at_rank=lambda r: 10.0 * r, design_effect=1.0)
    check = ShareCheck("samples >= L", 0, n, "<=", 0.05, Interval(0.0, pytest.approx(1 - 0.05 ** (1 / n))), PASS,
                       PASS)
    assert j == Judgement("p", "<", 800.0, n, 0.95, PASS, PASS, (check,), (low, high),
                          Interval(10.0 * low, 10.0 * n), design_effect=1.0, percentile=95.0)
    assert type(j.limit) is float and type(j.percentile) is float
    assert judge_percentile(95, "<", 800, n, at_or_above=0, design_effect=2.0).design_effect == 2.0


def test_equality_at_an_intervals_end_and_on_a_point_interval() -> None:
    # No failure in 100: the interval of the fail rate is [0, 0.0295]: it neither shows it is exactly 0
    # (an interval is no point) nor refutes it (0 is its end): INCONCLUSIVE for == and for !=.
    assert judge_rate("fail_rate", "==", 0.0, 100, 0).state == INC
    assert judge_rate("fail_rate", "!=", 0.0, 100, 0).state == INC
    assert judge_rate("rate", "==", 1.0, 100, 0).state == INC  # [0.97, 1]: 1 is its upper end
    assert judge_rate("rate", "!=", 1.0, 100, 0).state == INC
    # Ten identical latencies: the t interval of the mean is the point itself (no spread).
    assert judge_avg("==", 100, 10, 100.0, 0.0).values == Interval(100.0, 100.0)
    assert [judge_avg(op, 100, 10, 100.0, 0.0).state for op in ("==", "!=")] == [PASS, FAIL]
    assert [judge_avg(op, 100, 10, 90.0, 0.0).state for op in ("==", "!=")] == [FAIL, PASS]


@pytest.mark.parametrize("n", [10.5, True, 0])
def test_a_judge_refuses_a_request_count_that_is_not_whole_by_value(n: object) -> None:
    with pytest.raises(ValueError, match=_exactly(f"need at least one request to judge, got n={n!r}")):
        judge_rate("rate", ">=", 0.9, n, 0)  # type: ignore[arg-type]


def test_an_unknown_operator_is_refused_with_the_six_that_exist() -> None:
    with pytest.raises(ValueError, match=_exactly("unknown operator '=<'; expected one of <, <=, >, >=, ==, !=")):
        judge_rate("rate", "=<", 0.9, 10, 0)


@pytest.mark.parametrize(("count", "n"), [(5, 3), (-1, 3), (0, 0), (0, -2)])
def test_clopper_pearson_refuses_an_impossible_proportion_by_value(count: float, n: float) -> None:
    with pytest.raises(ValueError, match=_exactly(f"need 0 <= count <= n and n > 0, got count={count!r}, n={n!r}")):
        clopper_pearson(count, n, 0.95)
