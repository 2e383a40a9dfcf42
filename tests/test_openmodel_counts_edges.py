"""The open model's counters and goodput plan at their edges (osiris_load/core/openmodel/counts.py), pure: zero
counts read back, the exact refusal, the span a dispatcher issued and the share integrated over
it (worked out by hand: half the plan for 10 s then all of it for 10 s is 0.5 * 10 + 1 * 10 = 15
plan-seconds), and the goodput bounds of the user's default table."""

from __future__ import annotations

import math

import pytest

from osiris_load.core.openmodel import ArrivalCounts, GoodputPlan, IssuedSpan
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table, parse_table

ZERO = {"due": 0, "started": 0, "late": 0, "dropped": 0, "iterations": 0, "good": 0, "window_s": 0.0,
        "share_s": 0.0}


def test_zero_counts_read_back() -> None:
    assert ArrivalCounts.from_data(ZERO) == ArrivalCounts()


@pytest.mark.parametrize("bad", [{"due": -1}, {"window_s": -0.5}, {"share_s": math.inf}])
def test_negative_or_infinite_counts_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError) as caught:
        ArrivalCounts.from_data({**ZERO, **bad})
    assert str(caught.value) == "malformed open-model counts: negative or infinite"


def test_the_dispatchers_longest_lateness_travels_and_the_larger_is_kept() -> None:
    counts = ArrivalCounts(due=3, window_s=2.0, share_s=2.0, dispatch_late_max_s=0.25)
    assert ArrivalCounts.from_data(counts.to_data()).dispatch_late_max_s == 0.25
    assert ArrivalCounts.from_data(ZERO).dispatch_late_max_s == 0.0  # a worker of an older version: none
    with pytest.raises(ValueError, match="negative or infinite"):
        ArrivalCounts.from_data({**ZERO, "dispatch_late_max_s": -0.1})
    counts.add(ArrivalCounts(dispatch_late_max_s=0.125))
    assert counts.dispatch_late_max_s == 0.25
    counts.add(ArrivalCounts(dispatch_late_max_s=0.5))
    assert counts.dispatch_late_max_s == 0.5
    sent = counts.drain()  # a report carries the largest since the previous one
    assert (sent.dispatch_late_max_s, counts.dispatch_late_max_s) == (0.5, 0.0)


def test_a_fresh_span_covers_up_to_now_and_never_below_zero() -> None:
    span = IssuedSpan()
    assert (span.weight, span.pending_s) == (1.0, math.inf)
    assert span.covered(5.0) == 5.0
    assert span.covered(0.5) == 0.5
    assert span.covered(-1.0) == 0.0
    assert span.covered(5.0, end_s=3.0) == 3.0
    span.pending_s = 2.0
    assert span.covered(5.0) == 2.0


def test_the_share_is_integrated_piece_by_piece() -> None:
    span = IssuedSpan(weight=0.25)
    span.share_from(0.0, 0.5)
    span.share_from(10.0, 1.0)
    assert span.weight == 0.25
    assert span.share_s(20.0) == 15.0
    assert span.share_s(10.0) == 5.0
    assert span.share_s(4.0) == 2.0


def test_goodput_bounds_of_the_default_table() -> None:
    plan = GoodputPlan.from_table(load_table(DEFAULT_TABLE_PATH))
    # the smallest '<' latency limit of each row; its 'rate' thresholds bound nothing
    assert [(name, lt, le) for name, _, lt, le in plan.rows] == [
        ("generate", 800.0, math.inf), ("health", 400.0, math.inf), ("metrics", 400.0, math.inf),
        ("propose", 1500.0, math.inf)]
    assert plan.bounds("POST", "/generate") == (800.0, math.inf)


def test_an_iteration_row_is_left_out_and_the_rows_after_it_kept() -> None:
    table = parse_table('[thresholds]\niteration_duration = ["p(95)<100"]\n'
                        '"http_req_duration{name:/a}" = ["p(95)<200", "max<=300"]\n', "k6.toml")
    assert GoodputPlan.from_table(table).rows == (("http_req_duration{name:/a}", ("* /a",), 200.0, 300.0),)


def test_a_fresh_iteration_is_on_time_and_good() -> None:
    from osiris_load.core.openmodel import Iteration

    iteration = Iteration()
    assert (iteration.lateness_ms, iteration.good) == (0.0, True)


def test_goodput_plan_travels_with_null_for_no_bound_and_holds_le_inclusively() -> None:
    plan = GoodputPlan([("r", ("GET /a",), math.inf, 300.0), ("s", ("GET /b",), 200.0, math.inf)])
    assert plan.to_data() == [["r", ["GET /a"], None, 300.0], ["s", ["GET /b"], 200.0, None]]
    assert GoodputPlan.from_data([["r", ["GET /a"], None, None]]).rows == (("r", ("GET /a",), math.inf, math.inf),)
    assert plan.meets("GET", "/a", 300.0) is True
    assert plan.meets("GET", "/a", 300.5) is False
    assert plan.meets("GET", "/b", 200.0) is False
    assert plan.meets("GET", "/b", 199.9) is True
    assert plan.meets("GET", "/c", 1e9) is True
