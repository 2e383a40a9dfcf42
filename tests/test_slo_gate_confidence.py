"""The gate with intervals (issue 9): evaluate's states at each kind of threshold, the exit policy,
abort only on a confident FAIL, the time-window widening, and the verdict object carrying it all.

The interval arithmetic itself is tested in ``test_slo_confidence.py``; here the recorder's exact
counts go through ``osiris_load.core.slo.evaluate`` as the plugin uses it.
"""

from __future__ import annotations

import pytest

from osiris_load.core.exit_codes import EXIT_INCONCLUSIVE, EXIT_SLO_FAILED
from osiris_load.core.slo.confidence import AlphaSpending, requests_to_settle
from osiris_load.core.slo.evaluate import abort_triggers, evaluate, plan_for, share_count
from osiris_load.core.slo.formatting import format_interval, format_summary
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import parse_table
from osiris_load.core.slo.verdict import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    PASS,
    ThresholdResult,
    Verdict,
    choose_exit_code,
    from_json,
    to_csv,
    to_json,
)
from osiris_load.core.slo.windows import WindowMarks

TABLE = parse_table(
    '[[row]]\nname = "h"\nrequests = ["GET /h"]\n'
    'thresholds = ["rate>=0.999", "p(95)<400", "med<=100", "avg<300", "max<5000", "count>=10", '
    '"fail_rate<0.01", { threshold = "p(99)<1200", abort_on_fail = true }]\n'
    '[[row]]\nname = "none"\nrequests = ["GET /none"]\nthresholds = ["p(95)<400"]\n', "t.toml")


def _recorder(samples: list[tuple[float, bool]]) -> RequestRecorder:
    recorder = RequestRecorder(plan_for(TABLE))
    for ms, failed in samples:
        recorder.record("GET", "/h", ms, failed)
    return recorder


def _by(verdict: Verdict) -> dict[str, ThresholdResult]:
    return {t.expression: t for t in verdict.thresholds if t.row == "h"}


def test_without_confidence_the_state_is_the_point_estimate() -> None:
    verdict = evaluate(TABLE, _recorder([(10.0, False)] * 30))
    assert all(t.state == t.estimate for t in verdict.thresholds if t.state != NO_DATA)
    assert all(t.interval is None and t.requests_needed is None for t in verdict.thresholds)
    assert verdict.state == PASS and verdict.passed and "interval" not in format_summary(verdict)


def test_few_requests_are_inconclusive_with_what_would_settle_them() -> None:
    verdict = evaluate(TABLE, _recorder([(10.0, False)] * 30), confidence=0.95, elapsed_s=10.0)
    t = _by(verdict)
    for expression in ("rate>=0.999", "p(95)<400", "p(99)<1200", "fail_rate<0.01"):
        assert t[expression].state == INCONCLUSIVE and t[expression].estimate == PASS, expression
        assert t[expression].requests_needed and t[expression].requests_needed > 30
        assert t[expression].seconds_needed == pytest.approx((t[expression].requests_needed - 30) / 3.0)
    # distribution-free sample sizes: p95 needs 59 samples below the limit, p99 299, rate>=0.999 ~3000
    assert t["p(95)<400"].requests_needed == 59 and t["p(99)<1200"].requests_needed == 299
    assert 2900 < t["rate>=0.999"].requests_needed < 3100
    assert t["med<=100"].state == PASS  # 30 samples settle a median far from its limit
    assert t["avg<300"].state == PASS and t["avg<300"].interval == (10.0, 10.0)  # no spread at all
    for fact in ("max<5000", "count>=10"):  # facts of the run: no interval
        assert t[fact].state == PASS and t[fact].interval is None
    assert verdict.state == INCONCLUSIVE and verdict.passed  # the point estimate passes: exit 0 by default
    assert _by(evaluate(TABLE, _recorder([(10.0, False)] * 59), confidence=0.95))["p(95)<400"].state == PASS
    assert _by(evaluate(TABLE, _recorder([(10.0, False)] * 58), confidence=0.95))["p(95)<400"].state == INCONCLUSIVE


@pytest.mark.parametrize("limit_side, state", [(399.999, PASS), (400.0, FAIL)])
def test_percentile_states_at_the_limit_are_exact(limit_side: float, state: str) -> None:
    """200 samples all at L - 1 us pass p(95)<400 with confidence; all exactly at L fail it."""
    t = _by(evaluate(TABLE, _recorder([(limit_side, False)] * 200), confidence=0.95))["p(95)<400"]
    assert t.state == state == t.estimate
    low, high = t.interval
    assert (high is not None and high < 400) if state == PASS else (low is not None and low >= 400)


def test_a_confident_fail_and_an_estimate_that_fails_without_confidence() -> None:
    many_slow = [(900.0, False)] * 40
    t = _by(evaluate(TABLE, _recorder(many_slow), confidence=0.95))
    assert t["p(95)<400"].state == FAIL and t["p(95)<400"].reason and "failed:" in t["p(95)<400"].reason
    # 3 of 60 beyond the limit: the p95 estimate fails (at most 3 may be; here 4), the interval straddles
    borderline = [(10.0, False)] * 56 + [(500.0, False)] * 4
    verdict = evaluate(TABLE, _recorder(borderline), confidence=0.95)
    p95 = _by(verdict)["p(95)<400"]
    assert p95.estimate == FAIL and p95.state == INCONCLUSIVE
    assert "failed on its point estimate" in (p95.reason or "") and "straddles" in (p95.reason or "")
    # estimate policy: the point estimate fails the exit code, as k6 would; the run's state is INCONCLUSIVE
    assert verdict.state == INCONCLUSIVE and not verdict.passed and p95.reason in verdict.reasons
    for policy, passed, inconclusive_exit in (("fail", True, True), ("pass", True, False)):
        other = evaluate(TABLE, _recorder(borderline), confidence=0.95, policy=policy)
        assert other.state == INCONCLUSIVE and other.passed == passed and other.inconclusive_exit == inconclusive_exit
        assert _by(other)["p(95)<400"].reason == p95.reason  # shown, but not counted against the exit code


def test_rate_states_at_each_side() -> None:
    failing = [(10.0, i % 10 == 0) for i in range(200)]  # 10 % failures against rate>=0.999
    t = _by(evaluate(TABLE, _recorder(failing), confidence=0.95))
    assert t["rate>=0.999"].state == FAIL and t["fail_rate<0.01"].state == FAIL
    low, high = t["rate>=0.999"].interval
    assert low is not None and high is not None and low < 0.9 < high < 0.999
    clean = [(10.0, False)] * 3000
    assert _by(evaluate(TABLE, _recorder(clean), confidence=0.95))["rate>=0.999"].state == PASS
    assert _by(evaluate(TABLE, _recorder(clean[:2900]), confidence=0.95))["rate>=0.999"].state == INCONCLUSIVE


def test_avg_gets_a_t_interval() -> None:
    samples = [(100.0 + (i % 7) * 10, False) for i in range(300)]
    t = _by(evaluate(TABLE, _recorder(samples), confidence=0.95))["avg<300"]
    low, high = t.interval
    assert t.state == PASS and low is not None and high is not None and low < t.observed < high < 300


def test_the_exit_code_precedence_with_inconclusive() -> None:
    args = {"preset": None, "user_exceptions": 0, "unhandled": False, "code_on_error": 1}
    assert choose_exit_code(slo_failed=True, inconclusive=False, **args) == EXIT_SLO_FAILED
    assert choose_exit_code(slo_failed=False, inconclusive=True, **args) == EXIT_INCONCLUSIVE == 98
    assert choose_exit_code(slo_failed=False, inconclusive=True, **{**args, "user_exceptions": 2}) == 98
    assert choose_exit_code(slo_failed=False, inconclusive=False, **{**args, "user_exceptions": 2}) == 1
    assert choose_exit_code(slo_failed=False, inconclusive=False, **args) == 0


def test_abort_only_on_a_confident_fail() -> None:
    unsure = evaluate(TABLE, _recorder([(2000.0, False)] + [(10.0, False)] * 50), confidence=0.95)
    assert _by(unsure)["p(99)<1200"].estimate == FAIL and _by(unsure)["p(99)<1200"].state == INCONCLUSIVE
    assert abort_triggers(unsure, 100.0) == []
    sure = evaluate(TABLE, _recorder([(2000.0, False)] * 30), confidence=0.95)
    assert [t.expression for t in abort_triggers(sure, 100.0)] == ["p(99)<1200"]
    point = evaluate(TABLE, _recorder([(2000.0, False)] + [(10.0, False)] * 50))  # confidence 0: as k6
    assert [t.expression for t in abort_triggers(point, 100.0)] == ["p(99)<1200"]


def test_alpha_spending_makes_later_looks_stricter() -> None:
    spending = AlphaSpending(0.95)
    samples = [(10.0, False)] * 70
    first = _by(evaluate(TABLE, _recorder(samples), confidence=spending.confidence_at(1)))["p(95)<400"]
    tenth = _by(evaluate(TABLE, _recorder(samples), confidence=spending.confidence_at(10)))["p(95)<400"]
    assert first.state == PASS and tenth.state == INCONCLUSIVE  # 70 samples: enough at look 1, not at look 10
    assert spending.spent(1000) < 0.05


def test_time_windows_widen_the_interval_of_a_bursty_server() -> None:
    """Failures that come in bursts (a stall) widen a rate's interval; steady ones do not."""
    recorder = RequestRecorder(plan_for(TABLE))
    marks = WindowMarks(5)
    marks.reset(0.0)
    for window in range(10):
        burst = window % 5 == 0  # every fifth window fails a third of its requests
        for i in range(200):
            recorder.record("GET", "/h", 10.0, burst and i % 3 == 0)
        marks.observe(evaluate(TABLE, recorder), 5.0 * (window + 1))
    plain = _by(evaluate(TABLE, recorder, confidence=0.95))["fail_rate<0.01"]
    widened = _by(evaluate(TABLE, recorder, confidence=0.95, marks=marks.marks))["fail_rate<0.01"]
    assert plain.design_effect == 1.0 and widened.design_effect > 2
    assert widened.interval[1] > plain.interval[1] and widened.interval[0] < plain.interval[0]
    assert share_count(widened) == widened.failures
    verdict = evaluate(TABLE, recorder, confidence=0.95, marks=marks.marks)
    assert f"(D {widened.design_effect:.2f})" in format_summary(verdict)
    assert len(marks.marks[("h", "fail_rate<0.01")]) == 10
    with pytest.raises(ValueError, match="0 .off. or at least 1 s"):
        WindowMarks(0.5)


def test_the_verdict_object_carries_intervals_losslessly() -> None:
    verdict = evaluate(TABLE, _recorder([(10.0, False)] * 30 + [(500.0, False)] * 2), confidence=0.95,
                       policy="fail", elapsed_s=4.0, looks=3).with_exit_code(98)
    again = from_json(to_json(verdict))
    assert again == verdict and again.state == INCONCLUSIVE and again.policy == "fail" and again.looks == 3
    p95 = _by(again)["p(95)<400"]
    assert p95.requests_needed == requests_to_settle_of(p95)
    assert format_interval(p95).endswith(" ms")
    csv_text = to_csv(verdict)
    header, *rows = csv_text.splitlines()
    assert header.split(",")[:5] == ["row", "requests", "expression", "state", "estimate"]
    assert "INCONCLUSIVE" in rows[-1] and "0.95" in rows[-1]  # the OVERALL row: the run's state and level


def requests_to_settle_of(result: ThresholdResult) -> int | None:
    """The same projection, recomputed from the judgement's inputs."""
    from osiris_load.core.slo.confidence import judge_percentile

    assert result.below is not None and result.at is not None and result.arg is not None
    j = judge_percentile(result.arg, result.op, result.limit, result.n, at_or_above=result.n - result.below,
                         above=result.n - result.below - result.at, confidence=result.confidence)
    return requests_to_settle(j)


def test_a_version_1_verdict_still_reads() -> None:
    verdict = evaluate(TABLE, _recorder([(10.0, False)] * 30))
    text = to_json(verdict).replace('"version": 2', '"version": 1')
    assert from_json(text).state == PASS
