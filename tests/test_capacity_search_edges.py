"""The capacity search's edges (osiris_load/core/capacity/search.py), with plain functions as probes: the exact probe
sequence of a bisection, the stop rule at exactly the precision, settings at their limits, reruns
capped at the planned length, and what the report carries. Rates below are worked out by hand:
from the bracket [8, 16] the geometric midpoints are 8 * 2^(1/2), then 8 * 2^(1/4), 8 * 2^(3/8)."""

from __future__ import annotations

import pytest

from osiris_load.core.capacity.model import ProbeResult, ProbeThreshold
from osiris_load.core.capacity.plan import SampleNeed
from osiris_load.core.capacity.search import (
    Search,
    SearchConfig,
    SearchError,
    limiting_threshold,
    report,
    search,
    settlement,
)


def _result(rate: float, duration: float, state: str, attempt: int = 1, row: str = "echo",
            observed: float = 120.0) -> ProbeResult:
    threshold = ProbeThreshold(row=row, expression="p(95)<100", unit="ms", limit=100.0, state=state,
                               observed=observed, percentile=95.0)
    return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state=state, attempt=attempt,
                       thresholds=(threshold,))


def _below(capacity: float):
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return _result(rate, duration, "PASS" if rate < capacity else "FAIL", attempt)
    return probe


def test_the_bisection_probes_the_geometric_midpoints_and_stops_within_the_precision() -> None:
    found = search(_below(10), SearchConfig(min_rate=1, max_rate=100, growth=2, precision=0.1, budget_s=1000,
                                            probe_duration_s=5))
    # (16 - 8 * 2^(3/8)) ... the last bracket [8 * 2^(1/4), 8 * 2^(3/8)] is 2^(1/8) - 1 = 9.05 % wide
    assert [p.rate for p in found.probes] == pytest.approx([1, 2, 4, 8, 16, 8 * 2 ** 0.5, 8 * 2 ** 0.25,
                                                            8 * 2 ** 0.375])
    assert (found.low, found.high) == pytest.approx((8 * 2 ** 0.25, 8 * 2 ** 0.375))


def test_a_bracket_exactly_as_wide_as_the_precision_is_final() -> None:
    found = search(_below(10), SearchConfig(min_rate=1, max_rate=100, growth=2, precision=1.0, budget_s=1000,
                                            probe_duration_s=5))
    assert [p.rate for p in found.probes] == [1, 2, 4, 8, 16]
    assert (found.outcome, found.stopped_because, found.low, found.high) == ("capacity_found", "precision", 8, 16)


def test_settings_at_their_limits_are_accepted() -> None:
    SearchConfig(min_rate=5, max_rate=5).check()
    SearchConfig(probe_duration_s=10, max_probe_duration_s=10).check()
    SearchConfig(probe_duration_s=10, budget_s=10).check()
    found = search(_below(100), SearchConfig(min_rate=5, max_rate=5, budget_s=100, probe_duration_s=1))
    assert (found.outcome, found.stopped_because, [p.rate for p in found.probes]) == (
        "passes_at_highest_rate", "max_rate", [5])


def test_a_zero_probe_duration_is_refused() -> None:
    with pytest.raises(SearchError) as caught:
        Search(SearchConfig(probe_duration_s=0))
    assert str(caught.value) == "--probe-duration 0s: must be positive"


def test_a_short_probe_lasts_what_was_asked() -> None:
    found = search(_below(100), SearchConfig(min_rate=1, max_rate=1, budget_s=10, probe_duration_s=0.5))
    assert [p.duration_s for p in found.probes] == [0.5]


def test_an_inconclusive_probe_at_the_rerun_cap_is_not_rerun() -> None:
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return _result(rate, duration, "INCONCLUSIVE", attempt)

    found = search(probe, SearchConfig(min_rate=1, max_rate=10, budget_s=100, probe_duration_s=10,
                                       max_probe_duration_s=10))
    assert [(p.duration_s, p.counted_as) for p in found.probes] == [(10, "fail")]
    assert (found.outcome, found.high) == ("fails_at_min_rate", 1)


def test_the_limiting_threshold_is_the_one_at_the_given_rate() -> None:
    probes = [_result(5, 1, "FAIL", row="a", observed=130.0).model_copy(update={"counted_as": "fail"}),
              _result(7, 1, "FAIL", row="b").model_copy(update={"counted_as": "fail"})]
    limiting = limiting_threshold(probes, 5)
    assert limiting is not None
    assert (limiting.row, limiting.observed, limiting.rate, limiting.limit, limiting.unit) == ("a", 130.0, 5, 100.0,
                                                                                               "ms")


def test_the_report_carries_the_callers_facts() -> None:
    config = SearchConfig(min_rate=1, max_rate=4, budget_s=100, probe_duration_s=1)
    doc = report(search(_below(100), config), config, scenario="s", url="http://127.0.0.1:1", confidence=0.9,
                 arrivals="poisson", interrupted_by=None)
    assert (doc.url, doc.confidence, doc.arrivals, doc.max_rate, doc.outcome) == (
        "http://127.0.0.1:1", 0.9, "poisson", 4, "passes_at_highest_rate")


def _judged(at: float, counted: str | None, role: str, **states: str) -> ProbeResult:
    """A probe at ``at`` /s whose thresholds (``p95=``, ``rate=``) have these states."""
    names = {"p95": "p(95)<100", "rate": "rate>=0.999"}
    thresholds = tuple(ProbeThreshold(row="echo", expression=names[k], unit="ms", limit=100.0, state=state,
                                      observed=1.0) for k, state in states.items())
    return ProbeResult(rate=at, duration_s=1, elapsed_s=1, state="PASS", counted_as=counted, role=role,
                       thresholds=thresholds)


def test_each_threshold_is_settled_by_the_first_probe_at_the_answer_that_showed_its_final_state() -> None:
    """Probes 1-based in run order: at 10/s the bracketing probe (2) PASSed p(95) and deferred the
    rate; a superseded confirmation (3, not counted) did not settle it; the longer one (4) did."""
    probes = [_judged(8, "pass", "bracket", p95="PASS", rate="PASS"),
              _judged(10, "pass", "bracket", p95="PASS", rate="INCONCLUSIVE"),
              _judged(10, None, "confirm", p95="PASS", rate="PASS"),
              _judged(10, "pass", "confirm", p95="PASS", rate="PASS"),
              _judged(12, "fail", "bracket", p95="FAIL", rate="INCONCLUSIVE")]
    needs = (SampleNeed("echo", "rate>=0.999", 2995, 1.0),)
    assert [(s.expression, s.state, s.rate, s.probe, s.role, s.requests_needed)
            for s in settlement(probes, 10, needs)] == [("p(95)<100", "PASS", 10, 2, "bracket", None),
                                                         ("rate>=0.999", "PASS", 10, 4, "confirm", 2995)]
    # the deciding probe left the rate INCONCLUSIVE: not settled by any probe; a FAIL is settled where shown
    assert [(s.expression, s.state, s.probe, s.role) for s in settlement(probes[:2], 10)] == [
        ("p(95)<100", "PASS", 2, "bracket"), ("rate>=0.999", "INCONCLUSIVE", None, None)]
    assert [(s.expression, s.state, s.probe, s.role) for s in settlement(probes, 12)] == [
        ("p(95)<100", "FAIL", 5, "bracket"), ("rate>=0.999", "INCONCLUSIVE", None, None)]
    assert settlement(probes, None) == () and settlement(probes, 11) == ()
    assert settlement([_judged(10, None, "confirm", p95="PASS")], 10) == ()  # nothing counted at 10/s
