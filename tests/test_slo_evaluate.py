"""Evaluation semantics (pass, fail, no data, strict, required, abort triggers) and the summary."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from osiris_load.core.slo.evaluate import abort_triggers, attach_open_model, evaluate, plan_for, share_count
from osiris_load.core.slo.formatting import format_observed, format_summary
from osiris_load.core.slo.recorder import RequestRecorder as _Recorder
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table, parse_table
from osiris_load.core.slo.verdict import (
    CSV_FIELDS,
    FAIL,
    NO_DATA,
    PASS,
    OpenModelSummary,
    ThresholdResult,
    Verdict,
    csv_rows,
)

TABLE = parse_table(
    """
[[row]]
name = "generate"
requests = ["POST /generate", "POST /generate/"]
thresholds = ["rate>=0.999", "p(95)<800", "p(99)<1200"]

[[row]]
name = "health"
requests = ["GET /health"]
thresholds = ["rate>=0.999", "p(95)<400"]

[[row]]
name = "propose"
requests = ["POST /propose_trade_adjustments/"]
thresholds = [
  "rate>=0.995",
  { threshold = "p(95)<1500", abort_on_fail = true, delay_abort_eval = "10s" },
]
""",
    "test.toml",
)


def RequestRecorder(max_keys: int = 500) -> _Recorder:  # noqa: N802  (reads as the class it builds)
    """A recorder planned for every limit these tests use (as the plugin plans it from its table)."""
    table = parse_table("".join(f'[[row]]\nname = "r{i}"\nrequests = ["GET /"]\nthresholds = ["p(50)<{v}"]\n'
                                for i, v in enumerate((20, 40, 400, 800, 1200, 1500))))
    return _Recorder(plan_for(table), max_keys=max_keys)


def _fill(recorder: RequestRecorder, method: str, name: str, times: list[float], failures: int = 0) -> None:
    for i, t in enumerate(times):
        recorder.record(method, name, t, i < failures)


def _by(verdict: Verdict) -> dict[tuple[str, str], str]:
    return {(r.row, r.expression): r.state for r in verdict.thresholds}


def test_all_pass_even_with_failures_within_budget() -> None:
    rec = RequestRecorder()
    _fill(rec, "POST", "/generate", [100.0] * 2000, failures=2)  # 0.1 % failed: rate 0.999 holds
    _fill(rec, "GET", "/health", [5.0] * 100)
    _fill(rec, "POST", "/propose_trade_adjustments/", [900.0] * 200, failures=1)  # 0.5 %
    verdict = evaluate(TABLE, rec)
    assert verdict.passed, verdict.reasons
    assert verdict.reasons == ()
    assert all(r.state == PASS for r in verdict.thresholds)
    rate = next(r for r in verdict.thresholds if r.row == "generate" and r.expression == "rate>=0.999")
    assert rate.observed == pytest.approx(0.999)
    assert rate.requests == 2000 and (rate.failures, rate.successes) == (2, 1998)
    assert rate.patterns == ("POST /generate", "POST /generate/")


def test_a_failed_threshold_fails_the_run_and_says_why() -> None:
    rec = RequestRecorder()
    _fill(rec, "POST", "/generate", [100.0] * 90 + [1000.0] * 10)  # p95 = 1000
    verdict = evaluate(TABLE, rec)
    assert not verdict.passed
    results = _by(verdict)
    assert results[("generate", "p(95)<800")] == FAIL
    assert results[("generate", "p(99)<1200")] == PASS
    assert results[("generate", "rate>=0.999")] == PASS
    (reason,) = verdict.reasons
    assert reason.startswith("generate: p(95)<800 failed: observed 1000.00 ms (limit < 800 ms, 100 requests; "
                             "10 of 100 timed samples beyond the limit, at most 5 may be")


def test_rows_pool_their_requests() -> None:
    rec = RequestRecorder()
    _fill(rec, "POST", "/generate", [100.0] * 50)
    _fill(rec, "POST", "/generate/", [1000.0] * 50)
    verdict = evaluate(TABLE, rec)
    p95 = next(r for r in verdict.thresholds if r.expression == "p(95)<800")
    assert p95.requests == 100
    assert p95.state == FAIL


def test_method_case_does_not_matter() -> None:
    rec = RequestRecorder()
    _fill(rec, "get", "/health", [5.0] * 10)
    verdict = evaluate(TABLE, rec)
    assert _by(verdict)[("health", "p(95)<400")] == PASS


def test_no_data_is_neutral_unless_required_or_strict() -> None:
    rec = RequestRecorder()
    _fill(rec, "GET", "/health", [5.0] * 10)
    verdict = evaluate(TABLE, rec)
    assert verdict.passed
    results = _by(verdict)
    assert results[("generate", "p(95)<800")] == NO_DATA
    assert results[("propose", "rate>=0.995")] == NO_DATA
    no_data = [r for r in verdict.thresholds if r.state == NO_DATA]
    assert all(r.observed is None and r.requests == 0 for r in no_data)
    assert any("generate: no data" in n for n in verdict.notes)

    strict = evaluate(TABLE, rec, strict=True)
    assert not strict.passed
    assert any(r.startswith("generate: no data") and "strict mode" in r for r in strict.reasons)
    assert any(r.startswith("propose: no data") for r in strict.reasons)

    required = parse_table(
        '[[row]]\nname = "h"\nrequests = ["GET /health"]\nthresholds = ["p(95)<400"]\n'
        '[[row]]\nname = "m"\nrequests = ["GET /metrics"]\nthresholds = ["p(95)<400"]\nrequired = true\n'
    )
    verdict = evaluate(required, rec)
    assert not verdict.passed
    assert verdict.reasons == ("m: no data: none of GET /metrics ran (a required row)",)


def test_nothing_matched_fails() -> None:
    rec = RequestRecorder()
    _fill(rec, "GET", "/renamed", [5.0] * 10)
    verdict = evaluate(TABLE, rec)
    assert not verdict.passed
    assert all(r.state == NO_DATA for r in verdict.thresholds)
    assert verdict.reasons[-1] == "no request matched any SLO row (recorded: GET /renamed)"

    empty = evaluate(TABLE, RequestRecorder())
    assert not empty.passed
    assert empty.reasons == ("no request matched any SLO row (nothing was recorded)",)


def test_overflow_is_noted_and_fails_in_strict_mode() -> None:
    rec = RequestRecorder(max_keys=1)
    _fill(rec, "GET", "/health", [5.0] * 10)
    _fill(rec, "GET", "/item/1", [5.0] * 3)
    verdict = evaluate(TABLE, rec)
    assert verdict.passed
    assert any("3 requests were not recorded" in n and "GET /item/1" in n for n in verdict.notes)
    strict = evaluate(TABLE, rec, strict=True)
    assert any("3 requests were not recorded" in r for r in strict.reasons)


def test_every_aggregation_is_evaluated() -> None:
    table = parse_table(
        '[[row]]\nname = "all"\nrequests = ["GET /x"]\nthresholds = ['
        '"avg<30", "med<=20", "min>=10", "max<50", "count==4", "fail_rate<0.3", "rate>0.7", "p(100)==40"]\n'
    )
    rec = RequestRecorder()
    _fill(rec, "GET", "/x", [10.0, 20.0, 30.0, 40.0], failures=1)
    verdict = evaluate(table, rec)
    assert verdict.passed, verdict.reasons
    assert len(verdict.thresholds) == 8


def test_abort_triggers() -> None:
    rec = RequestRecorder()
    _fill(rec, "POST", "/propose_trade_adjustments/", [3000.0] * 20)
    _fill(rec, "POST", "/generate", [3000.0] * 20)
    verdict = evaluate(TABLE, rec)
    assert not verdict.passed
    assert abort_triggers(verdict, elapsed_s=9.9) == []  # delay_abort_eval = 10s
    (trigger,) = abort_triggers(verdict, elapsed_s=10.0)
    assert trigger.row == "propose" and trigger.expression == "p(95)<1500"
    # generate fails too, but without abort_on_fail it never aborts the test.
    assert all(t.row != "generate" for t in abort_triggers(verdict, elapsed_s=1e9))

    rec2 = RequestRecorder()
    _fill(rec2, "POST", "/propose_trade_adjustments/", [100.0] * 20)
    assert abort_triggers(evaluate(TABLE, rec2), elapsed_s=100.0) == []


def test_default_table_end_to_end() -> None:
    table = load_table(DEFAULT_TABLE_PATH)
    rec = RequestRecorder()
    _fill(rec, "GET", "/health", [3.0] * 1000)
    _fill(rec, "GET", "/metrics", [3.0] * 999 + [450.0])
    verdict = evaluate(table, rec)
    assert verdict.passed  # read-heavy scenario: generate and propose have no data
    rec.record("GET", "/metrics", 2.0, True)
    rec.record("GET", "/metrics", 2.0, True)  # 2 of 1002 failed: 99.8 % < 99.9 %
    assert not evaluate(table, rec).passed


# --- summary -------------------------------------------------------------------------------------

def _mixed_verdict() -> Verdict:
    rec = RequestRecorder()
    _fill(rec, "POST", "/generate", [100.0] * 90 + [1000.0] * 10, failures=1)
    return evaluate(TABLE, rec)


def test_summary_lists_every_threshold_with_words() -> None:
    verdict = _mixed_verdict()
    text = format_summary(verdict)
    lines = text.splitlines()
    assert lines[0] == "SLO thresholds:"
    body = [line for line in lines if line.startswith(("  ✓", "  ✗", "  ∅"))]
    assert len(body) == len(verdict.thresholds)
    assert any("✗ FAIL" in line and "rate>=0.999" in line and "99.00%" in line and "100" in line
               for line in lines)
    assert any("✗ FAIL" in line and "p(95)<800" in line and "1000.00 ms" in line for line in lines)
    assert any("✓ PASS" in line and "p(99)<1200" in line for line in lines)
    assert any("∅ NO DATA" in line and "health" in line and " - " in line for line in lines)
    assert "SLO verdict: FAIL (1 passed, 2 failed, 4 no data; 100 requests judged)" in lines
    assert lines[-1].startswith("  reason: generate: ")
    ascii_text = format_summary(verdict, ascii_only=True)
    ascii_text.encode("ascii")


def test_summary_of_a_pass() -> None:
    rec = RequestRecorder()
    _fill(rec, "GET", "/health", [5.0] * 10)
    text = format_summary(evaluate(TABLE, rec))
    assert text.splitlines()[-1] == "SLO verdict: PASS (2 passed, 0 failed, 5 no data; 10 requests judged)"
    assert "note: generate: no data" in text


def test_observed_never_prints_equal_to_a_limit_it_differs_from() -> None:
    rec = RequestRecorder()
    _fill(rec, "GET", "/health", [399.996] * 10)
    verdict = evaluate(TABLE, rec)
    p95 = next(r for r in verdict.thresholds if r.row == "health" and r.expression == "p(95)<400")
    assert p95.state == PASS
    assert format_observed(p95) != "400.00 ms"
    assert format_observed(p95).startswith("399.99")
    rate = next(r for r in verdict.thresholds if r.row == "health" and r.expression == "rate>=0.999")
    assert format_observed(rate) == "100.00%"


def test_csv_rows_export_the_object() -> None:
    verdict = _mixed_verdict()
    rows = csv_rows(verdict)
    assert len(rows) == len(verdict.thresholds) + 1
    assert all(tuple(row) == CSV_FIELDS for row in rows)
    first = rows[0]
    assert (first["row"], first["expression"], first["state"], float(first["observed"]), first["n"]) == (
        "generate", "rate>=0.999", FAIL, 0.99, 100)
    assert rows[-1]["row"] == "OVERALL" and rows[-1]["n"] == 100  # requests, counted once (row 11)


def test_core_imports_nothing_of_locust() -> None:
    """The pure core must stay usable (and testable) without Locust or gevent."""
    code = ("import sys; import osiris_load.core.slo.expressions, osiris_load.core.slo.table, "
            "osiris_load.core.slo.recorder, osiris_load.core.slo.evaluate, osiris_load.core.slo.formatting; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


# --- the open model's verdict (attach_open_model), pure: two recorders judged by the same table ----

OPEN_TABLE = parse_table('[[row]]\nname = "read"\nrequests = ["GET /r"]\nthresholds = ["rate>=0.9", "p(95)<800"]\n',
                         "open.toml")


def _open_verdict(step_ms: float) -> Verdict:
    recorder = _Recorder(plan_for(OPEN_TABLE))
    _fill(recorder, "GET", "/r", [step_ms * i for i in range(1, 21)])
    return evaluate(OPEN_TABLE, recorder)


def test_an_open_model_verdict_shows_the_measured_latency_beside_the_corrected_one() -> None:
    corrected, measured = _open_verdict(20.0), _open_verdict(10.0)
    summary = OpenModelSummary(arrivals="constant", target_rate=10.0, achieved_rate=9.5, due=50, started=47,
                               late=2, dropped=3, max_vus=10)
    verdict = attach_open_model(corrected, measured, summary)
    rate, p95 = verdict.thresholds
    # p(95) of 20 samples is the 19th smallest: 19 * 20 ms corrected, 19 * 10 ms as measured.
    assert p95.observed == pytest.approx(380.0, rel=2e-3)
    assert p95.uncorrected_observed == pytest.approx(190.0, rel=2e-3)
    assert (rate.expression, rate.uncorrected_observed) == ("rate>=0.9", None)  # a rate has no corrected twin
    assert verdict.open_model == summary
    assert verdict.notes == corrected.notes + (
        "open model: 3 of 50 due iterations were dropped (all --max-vus 10 users busy and the backlog full, or the "
        "run ended): they are in no latency figure; raise --max-vus, or read it as overload",)
    assert verdict.reasons == corrected.reasons and verdict.passed == corrected.passed
    nothing_dropped = replace(summary, dropped=0, started=50)
    assert attach_open_model(corrected, measured, nothing_dropped).notes == corrected.notes


def test_an_open_model_verdict_refuses_an_uncorrected_verdict_of_another_table() -> None:
    other = evaluate(TABLE, RequestRecorder())
    summary = OpenModelSummary(arrivals="constant", target_rate=1.0, achieved_rate=1.0, due=1, started=1, late=0,
                               dropped=0)
    with pytest.raises(ValueError, match="^the uncorrected verdict judged another table$"):
        attach_open_model(_open_verdict(20.0), other, summary)


# --- avg with confidence: the t interval on the sample standard deviation (n - 1) ----------------

AVG_TABLE = parse_table('[[row]]\nname = "read"\nrequests = ["GET /r"]\nthresholds = ["avg<1000"]\n', "avg.toml")


def _avg_result(times: list[float]):
    recorder = _Recorder(plan_for(AVG_TABLE))
    _fill(recorder, "GET", "/r", times)
    return evaluate(AVG_TABLE, recorder, confidence=0.95).thresholds[0]


@pytest.mark.parametrize(("times", "stddev"), [([100.0, 200.0, 300.0], 100.0), ([100.0, 300.0], 2**0.5 * 100)])
def test_avg_with_confidence_uses_the_sample_standard_deviation(times: list[float], stddev: float) -> None:
    # Sample standard deviation by hand: 100 ms for 100/200/300, 141.4 ms for 100/300 (n - 1 in the divisor).
    from scipy.stats import t as student_t

    n, mean = len(times), sum(times) / len(times)
    half = student_t.ppf(0.95, n - 1) * stddev / n**0.5
    result = _avg_result(times)
    assert result.interval is not None
    low, high = result.interval
    assert high == pytest.approx(mean + half, rel=2e-3)  # the histogram keeps the spread within 0.1 %
    assert low == pytest.approx(max(mean - half, 0.0), abs=1.0)


def test_avg_with_confidence_of_one_request_is_inconclusive_without_an_interval() -> None:
    result = _avg_result([250.0])
    assert (result.state, result.estimate, result.interval) == ("INCONCLUSIVE", PASS, (None, None))


# --- what a time window counts (share_count) and the windows the marks delimit ---------------------

def _result(kind: str, **values) -> ThresholdResult:
    base = {"row": "r", "patterns": ("GET /r",), "expression": "e", "kind": kind, "arg": None, "op": "<",
            "limit": 1.0, "unit": "ms", "state": PASS, "observed": None, "requests": 10, "n": 10}
    return ThresholdResult(**{**base, **values})


@pytest.mark.parametrize(("result", "count"), [
    (_result("p", arg=95.0, below=7, at=1), 3.0),  # samples at or beyond the limit: 10 - 7
    (_result("med", below=10, at=0), 0.0),
    (_result("p", arg=95.0), None),  # no exact counts: nothing to count
    (_result("rate", failures=4, below=2), 4.0),  # the failures, whatever else is set
    (_result("fail_rate", failures=0), 0.0),
    (_result("rate"), None),
    (_result("avg", observed=2.5, n=4, failures=3), 10.0),  # the latency sum
    (_result("avg"), None),
    (_result("max", observed=5.0, below=1, failures=1), None),  # facts: no interval
    (_result("count", observed=5.0), None),
])
def test_share_count_of_each_kind(result: ThresholdResult, count: float | None) -> None:
    assert share_count(result) == count


WINDOW_TABLE = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["p(95)<100"]\n', "w.toml")


@pytest.mark.parametrize(("marks", "windows"), [
    # cumulative (requests, samples at or beyond 100 ms) at each boundary -> per-window differences;
    # a repeated mark is an empty window (left out), the last window runs to now (40, 10)
    ([(1, 1.0), (1, 1.0), (11, 1.0), (25, 6.0)], [(1, 1), (10, 0), (14, 5), (15, 4)]),
    ([(50, 3.0)], []),  # a mark beyond the present (the stats were reset): no windows
    ([(20, 5.0), (10, 2.0)], []),  # marks going back: no windows
])
def test_the_marks_delimit_the_windows_of_the_design_effect(marks: list, windows: list) -> None:
    from osiris_load.core.slo.confidence import design_effect

    recorder = _Recorder(plan_for(WINDOW_TABLE))
    _fill(recorder, "GET", "/r", [50.0] * 30 + [150.0] * 10)
    result = evaluate(WINDOW_TABLE, recorder, confidence=0.95, marks={("r", "p(95)<100"): marks}).thresholds[0]
    assert result.design_effect == design_effect(windows, 0.95)
    assert (result.design_effect > 3.0) == bool(windows)  # 3.16 for the first: dependence shown


# --- a row without data that is a typo of a recorded request ("did you mean") --------------------

TYPO_TABLE = parse_table("""
[thresholds]
"http_req_duration{name:my helth}" = ["p(95)<100"]
"http_req_duration{name:/abc}" = ["p(95)<100"]

[[row]]
name = "typo"
requests = ["GET /helth"]
thresholds = ["p(95)<100"]

[[row]]
name = "catch"
requests = ["GET /*"]
thresholds = ["p(95)<1000"]

[[row]]
name = "h"
requests = ["GET /h*"]
thresholds = ["p(95)<1000"]
""", "typo.toml")


def test_a_row_without_data_names_the_recorded_request_it_is_a_typo_of() -> None:
    recorder = _Recorder(plan_for(TYPO_TABLE))
    for method, name in (("GET", "my health"), ("GET", "/health"), ("POST", "/abd")):
        recorder.record(method, name, 50.0, False)
    verdict = evaluate(TYPO_TABLE, recorder)
    # difflib ratios (2 * matches / total length): "/helth" in "GET /health" 0.95 and "my helth" vs
    # "my health" (a k6 key's name alone) 0.94 are typos (>= 0.88); "/abc" vs "/abd" (0.75) is not
    assert verdict.reasons == (
        "typo: no data: none of GET /helth ran; did you mean 'GET /health'? (it was requested, judged by rows "
        "'catch', 'h')",
        "http_req_duration{name:my helth}: no data: none of * my helth ran; did you mean 'GET my health'? (it was "
        "requested, and no row judges it)")
    assert verdict.notes == ("http_req_duration{name:/abc}: no data: none of * /abc ran",)


# --- what is shown and judged at the edges of a percentile ----------------------------------------

def test_a_percentile_above_a_limit_fails_when_its_sample_is_below() -> None:
    table = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["p(50)>100", "p(50)>=50"]\n')
    recorder = _Recorder(plan_for(table))
    _fill(recorder, "GET", "/r", [50.0] * 3)
    above, at_least = evaluate(table, recorder).thresholds
    assert (above.state, above.observed, at_least.state, at_least.observed) == (FAIL, 50.0, PASS, 50.0)


def test_an_equality_that_fails_shows_the_side_its_sample_is_on() -> None:
    # p(50) of 4 is the 2nd smallest (60 ms): below 100, so "== 100" fails and the value shown stays 60
    table = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["p(50)==100", "p(50)!=100"]\n')
    recorder = _Recorder(plan_for(table))
    _fill(recorder, "GET", "/r", [50.0, 60.0, 150.0, 160.0])
    equal, unequal = evaluate(table, recorder).thresholds
    assert (equal.state, unequal.state) == (FAIL, PASS)
    assert equal.observed == pytest.approx(60.0, rel=1e-3) and unequal.observed == pytest.approx(60.0, rel=1e-3)


def _bucket_ms(ns: int) -> tuple[int, int]:
    """The histogram bucket (ns) that holds ``ns``: what the recorder shows is its middle."""
    from osiris_load.core.slo.recorder import new_histogram

    hist = new_histogram()
    return hist.get_lowest_equivalent_value(ns), hist.get_highest_equivalent_value(ns)


@pytest.mark.parametrize(("op", "upper_half", "shown"), [
    ("<", False, "below"),  # the estimate (the bucket's middle) is the limit: moved below it
    ("<=", False, "limit"),  # at the limit is on the decided side of <=: shown as is
    (">", True, "above"),
    (">=", True, "limit"),
])
def test_an_estimate_equal_to_the_limit_is_shown_on_the_decided_side(op: str, upper_half: bool, shown: str) -> None:
    low, high = _bucket_ms(1_000_000_000)  # 1 s: a bucket 2**19 ns wide (3 significant digits)
    sample_ns = high - 1000 if upper_half else low + 1000
    limit = (low + high) / 2 / 1e6  # the bucket's middle, in ms: the histogram's estimate of the sample
    table = parse_table(f'[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["p(50){op}{limit!r}"]\n')
    recorder = _Recorder(plan_for(table))
    _fill(recorder, "GET", "/r", [1.0, sample_ns / 1e6, 5000.0])  # p(50) of 3: the 2nd smallest
    result = evaluate(table, recorder).thresholds[0]
    assert result.state == PASS  # the exact count decides: the sample is on the passing side
    assert {"below": low / 1e6 <= result.observed < limit, "limit": result.observed == limit,
            "above": limit < result.observed <= high / 1e6}[shown]


# --- judge_threshold's own defaults and the time to settle ---------------------------------------

def test_judge_threshold_without_a_confidence_judges_the_estimate() -> None:
    from osiris_load.core.slo.evaluate import judge_threshold

    recorder = _Recorder(plan_for(WINDOW_TABLE))
    _fill(recorder, "GET", "/r", [50.0] * 40)
    row = WINDOW_TABLE.rows[0]
    result = judge_threshold(row, row.thresholds[0], recorder.pooled(recorder.keys()))
    assert (result.state, result.interval, result.confidence) == (PASS, None, 0.0)
    assert evaluate(WINDOW_TABLE, recorder).looks == 0


def test_the_time_to_settle_counts_timed_requests_for_latency_and_all_for_rates() -> None:
    table = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["p(95)<100", "rate>=0.9"]\n')
    recorder = _Recorder(plan_for(table))
    _fill(recorder, "GET", "/r", [50.0] * 60 + [150.0])
    _fill(recorder, "GET", "/r", [float("nan")] * 3, failures=3)  # counted, not timed
    latency, rate = evaluate(table, recorder, confidence=0.95, elapsed_s=10.0).thresholds
    assert (latency.state, rate.state) == ("INCONCLUSIVE", "INCONCLUSIVE")
    assert (latency.n, rate.n) == (61, 64) and latency.requests_needed and rate.requests_needed
    # (requests needed - requests so far) / (the row's rate: 61 timed, resp. 64 requests in 10 s)
    assert latency.seconds_needed == pytest.approx((latency.requests_needed - 61) / 6.1)
    assert rate.seconds_needed == pytest.approx((rate.requests_needed - 64) / 6.4)


def test_avg_with_confidence_uses_the_histograms_spread_exactly() -> None:
    # The spread is the histogram's (population) standard deviation in ns, in ms and times
    # sqrt(n / (n - 1)); the interval is Student's t over it: to 1e-9, not just within the 0.1 %.
    from scipy.stats import t as student_t

    times = [100.0, 200.0, 300.0, 700.0]
    recorder = _Recorder(plan_for(AVG_TABLE))
    _fill(recorder, "GET", "/r", times)
    hist = recorder.pooled(recorder.keys()).histogram
    assert hist is not None
    stddev = hist.get_stddev() / 1e6 * (4 / 3) ** 0.5
    high = 325.0 + student_t.ppf(0.95, 3) * stddev / 2
    result = evaluate(AVG_TABLE, recorder, confidence=0.95).thresholds[0]
    assert result.interval is not None and result.interval[1] == pytest.approx(high, rel=1e-9)


def test_every_interval_kind_takes_the_confidence_and_the_windows_design_effect() -> None:
    """At a confidence other than the default (0.9), each kind's design effect is the one of its
    windows (computed here with confidence.py from the windows written out) and its interval the one
    confidence.py gives for those counts; ``med`` is ``p(50)``."""
    from osiris_load.core.slo import confidence as conf

    table = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\n'
                        'thresholds = ["p(95)<100", "med<100", "p(50)<100", "rate>=0.5", "avg<1000"]\n')
    recorder = _Recorder(plan_for(table))
    _fill(recorder, "GET", "/r", [150.0] * 10, failures=4)
    _fill(recorder, "GET", "/r", [50.0] * 30)
    marks = {("r", "p(95)<100"): [(10, 2.0), (25, 6.0)], ("r", "med<100"): [(10, 2.0), (25, 6.0)],
             ("r", "p(50)<100"): [(10, 2.0), (25, 6.0)], ("r", "rate>=0.5"): [(10, 1.0), (25, 3.0)],
             ("r", "avg<1000"): [(10, 1000.0), (25, 2500.0)]}
    p95, med, p50, rate, avg = evaluate(table, recorder, confidence=0.9, marks=marks).thresholds
    share_windows = [(10, 2.0), (15, 4.0), (15, 4.0)]  # 10 samples at or beyond 100 ms in all
    assert p95.design_effect == med.design_effect == conf.design_effect(share_windows, 0.9)
    assert med.interval == p50.interval and med.requests_needed == p50.requests_needed
    rate_deff = conf.design_effect([(10, 1.0), (15, 2.0), (15, 1.0)], 0.9)  # 4 failures in all
    expected = conf.judge_rate("rate", ">=", 0.5, 40, 4, confidence=0.9, design_effect=rate_deff).values
    assert expected is not None and rate.interval == (expected.low, expected.high)
    assert rate.design_effect == rate_deff
    hist = recorder.pooled(recorder.keys()).histogram
    assert hist is not None
    stddev = hist.get_stddev() / 1e6 * (40 / 39) ** 0.5
    avg_deff = conf.mean_design_effect([(10, 1000.0), (15, 1500.0), (15, 500.0)], stddev, 0.9)  # 3000 ms in all
    expected = conf.judge_avg("<", 1000.0, 40, 75.0, stddev, confidence=0.9, design_effect=avg_deff).values
    assert expected is not None and avg.design_effect == pytest.approx(avg_deff, rel=1e-12)
    assert avg.interval == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert p95.design_effect > 1 and rate_deff > 1 and avg_deff > 1  # the windows do widen each


def test_med_is_judged_as_p50_with_confidence() -> None:
    # 10, 20, ..., 400 ms: the median (nearest rank 20 of 40) is 200 ms, under 205; the 21st (210) is not
    table = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["med<205", "p(50)<205"]\n')
    recorder = _Recorder(plan_for(table))
    _fill(recorder, "GET", "/r", [10.0 * i for i in range(1, 41)])
    med, p50 = evaluate(table, recorder, confidence=0.9).thresholds
    assert (med.estimate, med.state, med.interval, med.requests_needed) == \
        (p50.estimate, p50.state, p50.interval, p50.requests_needed) == (PASS, "INCONCLUSIVE", p50.interval, None)


def test_no_data_is_judged_on_no_sample() -> None:
    table = parse_table('[[row]]\nname = "r"\nrequests = ["GET /r"]\nthresholds = ["rate>0.5", "p(95)<100", "avg<1"]\n')
    results = evaluate(table, _Recorder(plan_for(table))).thresholds
    assert [(r.state, r.observed, r.n, r.estimate) for r in results] == [(NO_DATA, None, 0, None)] * 3
