"""The capacity search's edges (osiris_load/core/capacity/search.py), with plain functions as probes: the exact probe
sequence of a bisection, the stop rule at exactly the precision, settings at their limits, reruns
capped at the planned length, and what the report carries. Rates below are worked out by hand:
from the bracket [8, 16] the geometric midpoints are 8 * 2^(1/2), then 8 * 2^(1/4), 8 * 2^(3/8)."""

from __future__ import annotations

import pytest

from osiris_load.core.capacity.model import GeneratorProcess, ProbeResult, ProbeThreshold
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


@pytest.mark.parametrize(("config", "message"), [
    (SearchConfig(min_rate=0), "--min-rate 0: must be a positive number of iterations/s"),
    (SearchConfig(min_rate=float("inf")), "--min-rate inf: must be a positive number of iterations/s"),
    (SearchConfig(min_rate=5, max_rate=2), "--max-rate 2: must be at least --min-rate (5)"),
    (SearchConfig(max_rate=float("inf")), "--max-rate inf: must be at least --min-rate (1)"),
    (SearchConfig(growth=1), "--growth 1: must be above 1"),
    (SearchConfig(precision=0), "--precision 0: must be a positive fraction (0.1: 10 %)"),
    (SearchConfig(precision=float("inf")), "--precision inf: must be a positive fraction (0.1: 10 %)"),
    (SearchConfig(probe_duration_s=0, max_probe_duration_s=10), "--probe-duration 0s: must be positive"),
    (SearchConfig(probe_duration_s=10, max_probe_duration_s=5),
     "--max-probe-duration 5s: must be at least --probe-duration (10s)"),
    (SearchConfig(probe_duration_s=10, budget_s=5), "--budget 5s: must fit at least one probe (--probe-duration 10s)"),
])
def test_a_setting_that_cannot_work_is_refused_with_its_value_and_the_rule(config: SearchConfig, message: str) -> None:
    with pytest.raises(SearchError) as refused:
        config.check()
    assert str(refused.value) == message


# --- a scripted target: bracketing probes (20 s) defer rate>=0.999, a confirmation (longer) settles it ---------

NEEDS = (SampleNeed("echo", "rate>=0.999", 2995, 1.0),)
INF = float("inf")


def _deferring(capacity: float, *, short_capacity: float | None = None, bound_from: float = INF,
               bound_confirm_from: float = INF, inconclusive_first_confirm: bool = False):
    """PASS below ``capacity`` and FAIL at or above it (a bracketing probe: below ``short_capacity``,
    a short probe's optimism); a bracketing probe leaves rate>=0.999 INCONCLUSIVE (too short: deferred),
    a confirmation settles it. Generator-bound (an unknown process: never rerun) from ``bound_from``
    (bracketing) or ``bound_confirm_from`` (confirmation); the first confirmation attempt INCONCLUSIVE
    with ``inconclusive_first_confirm``."""
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        long = duration > 20
        ok = rate < (capacity if long or short_capacity is None else short_capacity)
        rate_state = ("PASS" if ok else "FAIL") if long else "INCONCLUSIVE"
        if long and inconclusive_first_confirm and attempt == 1:
            rate_state = "INCONCLUSIVE"
        latency = ProbeThreshold(row="echo", expression="p(95)<100", unit="ms", limit=100.0, op="<",
                                 percentile=95.0, state="PASS" if ok else "FAIL", observed=90.0 if ok else 150.0)
        success = ProbeThreshold(row="echo", expression="rate>=0.999", unit="ratio", limit=0.999, op=">=",
                                 state=rate_state, observed=1.0)
        if rate >= (bound_confirm_from if long else bound_from):
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="INCONCLUSIVE",
                               attempt=attempt, thresholds=(success, latency.model_copy(update={"state": "PASS"})),
                               generator_bound=("echo p(95)<100",))
        state = "FAIL" if "FAIL" in (rate_state, latency.state) else "INCONCLUSIVE" if rate_state == "INCONCLUSIVE" \
            else "PASS"
        return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state=state, attempt=attempt,
                           thresholds=(success, latency))
    return probe


def _run(probe, **config: float) -> tuple[list[tuple], object]:
    settings = {"min_rate": 1, "max_rate": 16, "growth": 2, "precision": 0.1, "budget_s": 100_000,
                "probe_duration_s": 20, **config}
    found = search(probe, SearchConfig(**settings, needs=NEEDS))
    return [(p.rate, p.role, p.counted_as) for p in found.probes], found


def test_a_failed_confirmation_at_the_max_rate_brackets_the_answer_one_step_below() -> None:
    """Every short probe passes up to --max-rate 16, its confirmation FAILs: 16/s is the lowest
    failing rate after all, and one precision step below it (16 / 1.1) is confirmed: capacity found."""
    probes, found = _run(_deferring(15, short_capacity=INF))
    assert probes == [(1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "pass"), (8, "bracket", "pass"),
                      (16, "bracket", "pass"), (16, "confirm", "fail"), (pytest.approx(16 / 1.1), "confirm", "pass")]
    assert (found.outcome, found.stopped_because, found.high, found.confirmed) == ("capacity_found", "precision", 16,
                                                                                   True)
    assert found.low == pytest.approx(16 / 1.1)


def test_a_failed_confirmation_below_the_generator_bound_rate_makes_the_answer_the_servers() -> None:
    """The climb stops where the generator is the bottleneck (16/s); the confirmation at 8/s FAILs, so
    the server's own failure bounds the answer: one step below 8/s is confirmed, capacity found."""
    probes, found = _run(_deferring(7.5, short_capacity=INF, bound_from=16))
    assert probes == [(1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "pass"), (8, "bracket", "pass"),
                      (16, "bracket", "generator"), (8, "confirm", "fail"), (pytest.approx(8 / 1.1), "confirm", "pass")]
    assert (found.outcome, found.stopped_because, found.high, found.generator_rate) == ("capacity_found", "precision",
                                                                                        8, 16)


def test_a_generator_bound_confirmation_at_the_only_passing_rate_leaves_no_answer_but_the_generators() -> None:
    probes, found = _run(_deferring(INF, short_capacity=2, bound_confirm_from=1), precision=1.0)
    assert probes == [(1, "bracket", "pass"), (2, "bracket", "fail"), (1, "confirm", "generator")]
    assert (found.outcome, found.stopped_because, found.low, found.high, found.generator_rate) == (
        "generator_bound", "generator", None, 2, 1)


def test_the_generator_bound_rate_is_the_lowest_where_the_generator_was_the_bottleneck() -> None:
    probes, found = _run(_deferring(INF, bound_from=16, bound_confirm_from=8))
    assert probes[4:] == [(16, "bracket", "generator"), (8, "confirm", "generator"), (4, "confirm", "pass")]
    assert (found.outcome, found.low, found.high, found.generator_rate) == ("generator_bound", 4, None, 8)


def test_an_inconclusive_confirmation_is_rerun_twice_as_long_as_the_next_attempt() -> None:
    found = search(_deferring(INF, inconclusive_first_confirm=True),
                   SearchConfig(min_rate=1, max_rate=4, budget_s=100_000, probe_duration_s=20, needs=NEEDS))
    # the confirmation at 4/s: 1.1 x 2995 / 4 = 823.6, rounded up to 824 s
    assert [(p.rate, p.role, p.duration_s, p.attempt, p.counted_as) for p in found.probes[3:]] == [
        (4, "confirm", 824, 1, None), (4, "confirm", 1648, 2, "pass")]
    assert found.confirmed is True and found.low == 4


def test_the_report_of_an_unconfirmed_answer_says_what_would_settle_it() -> None:
    """Three 20 s probes spend 60 s of 100; the confirmation at 4/s (824 s) does not fit: 784 s more."""
    config = SearchConfig(min_rate=1, max_rate=4, budget_s=100, probe_duration_s=20, needs=NEEDS)
    doc = report(search(_deferring(INF), config), config, scenario="echo")
    assert (doc.max_rate, doc.confirmed, doc.to_settle_s, doc.spent_s) == (4, False, 784, 60)
    assert [(s.expression, s.state, s.probe, s.requests_needed) for s in doc.settlement] == [
        ("rate>=0.999", "INCONCLUSIVE", None, 2995), ("p(95)<100", "PASS", 3, None)]


def _threshold(expression: str, state: str) -> ProbeThreshold:
    return ProbeThreshold(row="echo", expression=expression, unit="ms", limit=100.0, state=state, observed=1.0)


@pytest.mark.parametrize(("rate", "state", "thresholds", "expected"), [
    (3, "FAIL", [("rate>=0.999", "INCONCLUSIVE"), ("p(95)<100", "FAIL")], ("FAIL", ())),
    (3, "NO_DATA", [("p(95)<100", "NO_DATA")], ("FAIL", ())),
    # 60 requests at 3/s need exactly the 20 s probe: not too short, so INCONCLUSIVE counts against the rate
    (3, "INCONCLUSIVE", [("p(95)<100", "PASS"), ("p(99)<100", "INCONCLUSIVE")], ("INCONCLUSIVE", ())),
    (2.9, "INCONCLUSIVE", [("p(95)<100", "PASS"), ("p(99)<100", "INCONCLUSIVE")], ("PASS", ("echo p(99)<100",))),
    (3, "INCONCLUSIVE", [("p(95)<100", "PASS")], ("INCONCLUSIVE", ())),  # the run itself, no threshold to defer
    (3, "PASS", [("p(95)<100", "PASS")], ("PASS", ())),
])
def test_a_bracketing_probe_defers_only_what_it_was_too_short_for(rate: float, state: str,
                                                                  thresholds: list[tuple[str, str]],
                                                                  expected: tuple[str, tuple[str, ...]]) -> None:
    config = SearchConfig(probe_duration_s=20, needs=(SampleNeed("echo", "p(99)<100", 60, 1.0),))
    result = ProbeResult(rate=rate, duration_s=20, elapsed_s=20, state=state,
                         thresholds=tuple(_threshold(e, s) for e, s in thresholds))
    assert config.bracket_state(result, 20) == expected


@pytest.mark.parametrize(("high", "wide", "narrow"), [
    (None, False, True),  # no upper end: nothing to bisect
    (8 * 1.1 ** 2 * (1 + 1e-9), False, False),  # two precision steps, to the last bit of the tolerance: not wide
    (9.7, True, False),  # beyond two steps (9.68)
    (9.6, False, False),
    (8.8, False, True),  # one step exactly
    (8.81, False, False),
    (17.0, True, False),
])
def test_the_brackets_width_against_the_precision(high: float | None, wide: bool, narrow: bool) -> None:
    state = Search(SearchConfig(precision=0.1))
    state.low, state.high = 8.0, high
    assert (state._wide(), state._narrow()) == (wide, narrow)
    state.low, state.high = 10.0, 11.000000001  # (high - low) / low is 0.1 x (1 + 1e-9) to the last bit: narrow
    assert state._narrow()


def test_what_would_settle_an_unconfirmed_answer_counts_a_probes_median_start_up() -> None:
    """Four 20 s probes whose start-up cost 2, 7, 3 and 5 s spend 97 s of 120; the confirmation at 8/s
    (1.1 x 2995 / 8 = 411.8: 412 s) and a probe's start-up (the upper median of 2, 3, 5, 7: 5 s) need 394 s more."""
    startup = {1: 2.0, 2: 7.0, 4: 3.0, 8: 5.0}
    inner = _deferring(INF)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        result = inner(rate, duration, attempt)
        return result.model_copy(update={"elapsed_s": duration + startup[rate]})

    found = search(probe, SearchConfig(min_rate=1, max_rate=8, budget_s=120, probe_duration_s=20, needs=NEEDS))
    assert (found.low, found.confirmed, found.spent_s, found.to_settle_s) == (8, False, 97, 394)


def _refining(twist: str):
    """Capacity 12/s; a 980 s budget: 1, 2, 4, 8/s pass their 20 s probes (8/s keeps its 412 s
    confirmation and the 453 s one a step below in reserve: 945 s fit), 16/s fails, and the bisection
    at 11.3/s does not fit beside that reserve (985 s). 8/s is confirmed (512 s spent); the refinement
    then probes the midpoint 11.31/s (its 20 s probe and 292 s confirmation fit: 824 s). ``twist``:
    that midpoint's short probe is generator-bound, or costs 400 s more than it lasted, or its
    confirmation is generator-bound."""
    inner = _deferring(12, bound_confirm_from=11 if twist == "bound confirmation" else INF)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        result = inner(rate, duration, attempt)
        if 11 < rate < 12 and duration <= 20 and twist == "bound probe":
            return result.model_copy(update={"state": "INCONCLUSIVE", "generator_bound": ("echo p(95)<100",)})
        if 11 < rate < 12 and duration <= 20 and twist == "slow start":
            return result.model_copy(update={"elapsed_s": duration + 400})
        return result
    return probe


MID = 8 * 2 ** 0.5


@pytest.mark.parametrize(("twist", "tail", "expected"), [
    ("none", [(MID, "bracket", "pass"), (MID, "confirm", "pass")], ("capacity_found", "budget", MID, 16, None, 824)),
    ("bound probe", [(MID, "bracket", "generator")], ("generator_bound", "generator", 8, 16, MID, 532)),
    ("slow start", [(MID, "bracket", "pass")], ("capacity_found", "budget", 8, 16, None, 932)),
    ("bound confirmation", [(MID, "bracket", "pass"), (MID, "confirm", "generator")],
     ("generator_bound", "generator", 8, 16, MID, 824)),
])
def test_the_refinement_above_a_confirmed_answer_stops_where_the_budget_or_the_generator_does(
        twist: str, tail: list[tuple], expected: tuple) -> None:
    probes, found = _run(_refining(twist), max_rate=64, budget_s=980)
    assert probes == [(1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "pass"), (8, "bracket", "pass"),
                      (16, "bracket", "fail"), (8, "confirm", "pass"),
                      *[(pytest.approx(rate), role, counted) for rate, role, counted in tail]]
    assert (found.outcome, found.stopped_because, pytest.approx(found.low), found.high, found.generator_rate,
            found.spent_s) == expected
    assert found.confirmed is True


def test_a_confirmation_lasts_the_plan_with_its_margin_and_at_least_a_probe() -> None:
    assert SearchConfig(probe_duration_s=1).confirm_s(5) == 1  # nothing planned: one probe
    assert SearchConfig(probe_duration_s=1, needs=NEEDS).confirm_s(5) == 659  # 1.1 x 2995 / 5 = 658.9
    assert SearchConfig(probe_duration_s=700, needs=NEEDS).confirm_s(5) == 700


@pytest.mark.parametrize(("probe", "expected"), [
    # INCONCLUSIVE: its 1648 s rerun does not fit (884 s spent), nor a lower candidate's confirmation
    (_deferring(INF, inconclusive_first_confirm=True), ("passes_at_highest_rate", 4, None, 1532)),
    # FAIL: 4/s is the lowest failing rate; the step below (3.64/s, 907 s) does not fit, so the candidate is the
    # next lower passing rate, 2/s, whose 1648 s confirmation does not fit either: 2/s, not confirmed
    (_deferring(3.9, short_capacity=INF), ("capacity_found", 2, 4, 1532)),
])
def test_a_confirmation_the_budget_cannot_follow_up_leaves_the_answer_unconfirmed_with_what_it_lacked(
        probe, expected: tuple) -> None:
    """1, 2, 4/s pass their 20 s probes (60 s of 1000); the confirmation at 4/s lasts 824 s (884 s spent)."""
    probes, found = _run(probe, max_rate=4, budget_s=1000)
    assert probes == [(1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "pass"), (4, "confirm", "fail")]
    assert (found.outcome, found.low, found.high, found.to_settle_s) == expected
    assert (found.confirmed, found.spent_s) == (False, 884)


def _starting(state_of, startup_s: float = 3.0):
    """Each probe costs its duration and ``startup_s`` of start-up; ``state_of(rate, attempt)``."""
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return _result(rate, duration, state_of(rate, attempt), attempt).model_copy(
            update={"elapsed_s": duration + startup_s})
    return probe


def test_a_probe_starts_only_when_its_duration_and_a_probes_start_up_fit_the_budget() -> None:
    # 1/s and 2/s cost 23 s each (46 of 65); 4/s would need 20 s and the 3 s start-up seen: 69 > 65
    found = search(_starting(lambda rate, attempt: "PASS"), SearchConfig(min_rate=1, max_rate=100, budget_s=65,
                                                                          probe_duration_s=20))
    assert ([p.rate for p in found.probes], found.stopped_because, found.spent_s) == ([1, 2], "budget", 46)
    # 2/s INCONCLUSIVE: its 40 s rerun and the 3 s start-up seen (43 s) do not fit beside the 46 s spent of 87, so
    # it counts against 2/s; the bisection's 1.41/s fits (69 s), the next midpoint not (92 s)
    found = search(_starting(lambda rate, attempt: "INCONCLUSIVE" if rate == 2 and attempt == 1 else "PASS"),
                   SearchConfig(min_rate=1, max_rate=100, budget_s=87, probe_duration_s=20))
    assert [(p.rate, p.attempt, p.counted_as) for p in found.probes] == [(1, 1, "pass"), (2, 1, "fail"),
                                                                         (pytest.approx(2 ** 0.5), 1, "pass")]
    assert (found.outcome, found.stopped_because, found.spent_s) == ("capacity_found", "budget", 69)
    # a budget of exactly one probe runs it (nothing seen yet: no start-up to add)
    found = search(_below(100), SearchConfig(min_rate=1, max_rate=100, budget_s=5, probe_duration_s=5))
    assert ([p.rate for p in found.probes], found.stopped_because) == ([1], "budget")


def test_a_search_run_again_after_its_budget_is_spent_stops_at_once() -> None:
    """Search.run on a Search whose budget is spent (a misuse: one run per Search) must not loop nor
    probe: the lowest rate does not fit, and it says so."""
    calls: list[float] = []

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        calls.append(rate)
        return _result(rate, duration, "PASS", attempt)

    state = Search(SearchConfig(min_rate=1, max_rate=100, budget_s=10, probe_duration_s=5))
    first = state.run(probe)
    again = state.run(probe)
    assert calls == [1, 2] and (first.stopped_because, first.low) == ("budget", 2)
    assert (again.outcome, again.stopped_because, len(again.probes)) == ("fails_at_min_rate", "budget", 2)


def test_the_generator_bound_rate_stays_the_lowest_when_a_higher_rate_is_bound_later() -> None:
    """Capacity 12/s. The bisection brackets [8 x 2^0.5, 12.34]; the confirmation at 8 x 2^0.5 = 11.31/s
    is generator-bound, so 8/s is confirmed and the refinement climbs (9.94, 11.07/s) until its short
    probe at 11.69/s is generator-bound too: the generator-bound rate stays 11.31/s, the lowest."""
    inner = _deferring(12)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        result = inner(rate, duration, attempt)
        if (duration > 20 and abs(rate - 8 * 2 ** 0.5) < 1e-9) or (duration <= 20 and 11.5 <= rate < 12):
            return result.model_copy(update={"state": "INCONCLUSIVE", "generator_bound": ("echo p(95)<100",)})
        return result

    probes, found = _run(probe, max_rate=64)
    bound = [rate for rate, _, counted in probes if counted == "generator"]
    assert bound[0] == pytest.approx(8 * 2 ** 0.5) and len(bound) == 2 and 11.5 <= bound[1] < 12
    assert found.generator_rate == pytest.approx(8 * 2 ** 0.5) and found.outcome == "generator_bound"


WAITING = GeneratorProcess(process="local", cpu_p95=10.0, cpu_max=12.0, saturated_s=0.0, lag_p99_ms=40.0,
                           lag_max_ms=591.0)


def _kept_waiting(inner, *, long: bool):
    """``inner``, but the first attempt of each short (``long`` False) or long probe above 1/s is
    generator-bound with a process at 10 % CPU (the machine kept it waiting: rerun once if it fits);
    every probe costs 3 s of start-up."""
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        result = inner(rate, duration, attempt).model_copy(update={"elapsed_s": duration + 3})
        if rate > 1 and attempt == 1 and (duration > 20) == long:
            return result.model_copy(update={"state": "INCONCLUSIVE", "generator_bound": ("echo p(95)<100",),
                                             "generator": WAITING})
        return result
    return probe


@pytest.mark.parametrize(("long", "budget_s", "max_rate", "probes", "expected"), [
    # bracketing: 1/s and 2/s spend 46 s of 66; 2/s's rerun would cost 20 + 3 s: 69 > 66, so it counts as it came
    (False, 66, 16, [(1, "bracket", "pass"), (2, "bracket", "generator")], (2, 1, False, 46)),
    # 2/s is rerun (reserving nothing), then 1651 s for its confirmation are kept: 4/s starts (1743 of 1760) but
    # its rerun would not fit beside that reserve (1766): generator-bound; 2/s is confirmed
    (False, 1760, 4, [(1, "bracket", "pass"), (2, "bracket", None), (2, "bracket", "pass"),
                      (4, "bracket", "generator"), (2, "confirm", "pass")], (4, 2, True, 1743)),
    # confirmation at 4/s: 69 s of bracketing and 827 s (824 s and 3 s of start-up) spent of 1720; its rerun
    # would end at 1723 s: not rerun, generator-bound; 2/s's confirmation (1651 s) does not fit: not confirmed
    (True, 1720, 4, [(1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "pass"),
                     (4, "confirm", "generator")], (4, 2, False, 896)),
    # with 2000 s the 910 s confirmation one step below 4/s is kept beside it: the rerun (827 s) does not fit
    (True, 2000, 4, [(1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "pass"),
                     (4, "confirm", "generator")], (4, 2, False, 896)),
])
def test_a_probe_held_up_by_the_machine_is_rerun_only_when_the_rerun_its_start_up_and_the_reserve_fit(
        long: bool, budget_s: float, max_rate: float, probes: list[tuple], expected: tuple) -> None:
    run, found = _run(_kept_waiting(_deferring(INF), long=long), max_rate=max_rate, budget_s=budget_s)
    assert run == probes
    assert (found.outcome, found.generator_rate, found.low, found.confirmed, found.spent_s) == (
        "generator_bound", *expected)


@pytest.mark.parametrize(("budget_s", "tail", "confirmed", "to_settle_s"), [
    # 850 + 1648 + 3 = 2501: the rerun fits exactly
    (2501, [(4, "confirm", None), (4, "confirm", "pass")], True, None),
    # half a second short: INCONCLUSIVE counts against 4/s, and half a second more would have settled it
    (2500.5, [(4, "confirm", "fail")], False, 0.5),
])
def test_an_inconclusive_confirmation_at_the_lowest_rate_is_rerun_when_it_and_a_start_up_fit(
        budget_s: float, tail: list[tuple], confirmed: bool, to_settle_s: float | None) -> None:
    """--min-rate = --max-rate = 4/s, 3 s of start-up a probe: 23 s bracketing, 827 s confirmation (850 s
    spent), nothing below 4/s to keep in reserve; the rerun lasts 1648 s."""
    inner = _deferring(INF, inconclusive_first_confirm=True)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return inner(rate, duration, attempt).model_copy(update={"elapsed_s": duration + 3})

    probes, found = _run(probe, min_rate=4, max_rate=4, budget_s=budget_s)
    assert probes == [(4, "bracket", "pass"), *tail] and found.confirmed is confirmed
    assert found.to_settle_s == to_settle_s


@pytest.mark.parametrize(("budget_s", "tail", "low", "spent_s"), [
    # 493 + 250 + 500 = 1243: the rerun fits exactly, without keeping 4/s's 824 s (which would not fit beside it)
    (1243, [(16 / 1.1 ** 2, "confirm", None), (16 / 1.1 ** 2, "confirm", "fail")], 4, 1243),
    (1242, [(16 / 1.1 ** 2, "confirm", "fail")], 16 / 1.1 ** 2, 743),  # a second short: no rerun
])
def test_after_two_failed_steps_the_next_passing_rates_confirmation_is_kept_only_where_it_fits(
        budget_s: float, tail: list[tuple], low: float, spent_s: float) -> None:
    """Growth 4: 1, 4, 16/s pass their 20 s probes (60 s); capacity 11/s. The confirmations at 16/s (206 s) and
    one step below, 14.55/s (227 s), FAIL; two steps below, 13.22/s (250 s, 493 s spent before it), is
    INCONCLUSIVE once; after two steps the fallback is the next passing rate, 4/s (824 s), which does not fit
    beside 13.22/s's confirmation, so nothing is kept for it and the 500 s rerun is judged on its own."""
    inner = _deferring(11, short_capacity=INF)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        result = inner(rate, duration, attempt)
        if duration > 20 and rate == pytest.approx(16 / 1.1 ** 2) and attempt == 1:
            success, latency = result.thresholds
            return result.model_copy(update={"state": "INCONCLUSIVE", "thresholds": (
                success.model_copy(update={"state": "INCONCLUSIVE"}), latency)})
        return result

    probes, found = _run(probe, growth=4, budget_s=budget_s)
    assert probes == [(1, "bracket", "pass"), (4, "bracket", "pass"), (16, "bracket", "pass"), (16, "confirm", "fail"),
                      (pytest.approx(16 / 1.1), "confirm", "fail"),
                      *[(pytest.approx(rate), role, counted) for rate, role, counted in tail]]
    assert (found.low, found.confirmed, found.spent_s) == (pytest.approx(low), False, spent_s)


def test_a_passing_rate_exactly_one_step_below_is_the_next_candidate_not_a_further_step() -> None:
    """Precision 1 (a step halves the rate), growth 4: 1, 4, 16/s pass their short probes; capacity 1.5/s.
    16/s fails its confirmation: the step, 8/s, is confirmed (one step down); it fails: 4/s, a rate that
    passed and lies exactly one step below, is next (no step of its own); it fails: the step 2/s, then 1/s."""
    probes, found = _run(_deferring(1.5, short_capacity=INF), growth=4, precision=1.0)
    assert [rate for rate, role, _ in probes if role == "confirm"] == [16, 8, 4, 2, 1]
    assert (found.low, found.high, found.confirmed) == (1, 2, True)


def _two_steps_down(*inconclusive_once: float):
    """The target of the test above: capacity 11/s, and the first long attempt at each rate of
    ``inconclusive_once`` INCONCLUSIVE on rate>=0.999."""
    inner = _deferring(11, short_capacity=INF)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        result = inner(rate, duration, attempt)
        if duration > 20 and attempt == 1 and any(rate == pytest.approx(r) for r in inconclusive_once):
            success, latency = result.thresholds
            return result.model_copy(update={"state": "INCONCLUSIVE", "thresholds": (
                success.model_copy(update={"state": "INCONCLUSIVE"}), latency)})
        return result
    return probe


@pytest.mark.parametrize(("inconclusive_once", "budget_s", "confirmed_rates", "low"), [
    # refinement of [4, 13.22] (2067 s spent): 7.27/s (20 + 453 s) and 9.81/s (20 + 336 s) pass, 11.39/s fails its
    # confirmation (3206 s); in [9.81, 11.39] the midpoint 10.57/s (20 + 312 s) fits exactly in 3538 s, not in 3537 s
    ((16 / 1.1 ** 2,), 3538, [4, 7.273, 9.807, 11.387, 10.567], 10.567),
    ((16 / 1.1 ** 2,), 3537, [4, 7.273, 9.807, 11.387], 9.807),
    # 7.27/s's confirmation INCONCLUSIVE once (2540 s spent): its 906 s rerun fits exactly in 3446 s and PASSes
    ((16 / 1.1 ** 2, 8 / 1.1), 3446, [4, 7.273, 7.273], 7.273),
])
def test_the_refinement_after_a_fallback_spends_the_budget_to_the_second(
        inconclusive_once: tuple[float, ...], budget_s: float, confirmed_rates: list[float], low: float) -> None:
    probes, found = _run(_two_steps_down(*inconclusive_once), growth=4, budget_s=budget_s)
    after_fallback = [rate for rate, role, _ in probes[7:] if role == "confirm"]
    assert after_fallback == pytest.approx(confirmed_rates, abs=1e-3)
    assert found.low == pytest.approx(low, abs=1e-3) and found.confirmed is True


@pytest.mark.parametrize(("budget_s", "spent_s", "low"), [(3586, 3586, 10.567), (3585, 3248, 9.807)])
def test_the_refinement_starts_a_midpoint_only_when_its_probe_its_confirmation_and_two_start_ups_fit(
        budget_s: float, spent_s: float, low: float) -> None:
    """The target above with 3 s of start-up a probe: before the midpoint 10.57/s 3248 s are spent; its short
    probe (23 s) and confirmation (312 + 3 s) need 3586 s. One second short, it is not started at all."""
    inner = _two_steps_down(16 / 1.1 ** 2)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return inner(rate, duration, attempt).model_copy(update={"elapsed_s": duration + 3})

    _, found = _run(probe, growth=4, budget_s=budget_s)
    assert (found.spent_s, found.low) == (spent_s, pytest.approx(low, abs=1e-3))
