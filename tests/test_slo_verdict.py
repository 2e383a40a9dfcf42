"""The verdict object and the rules of issue 8 that live in the pure core: exact limits (row 6), bad
times (row 8), typos and unjudged requests (row 5), the per-row overflow (row 4), texts that never
read as meeting a failed limit (row 9), requests counted once (row 11), row selection (row 12), the
exit-code precedence (row 1), the JSON round trip, and a core that imports nothing of Locust, Flask
or pandas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris_load.core.exit_codes import EXIT_SLO_FAILED, signal_exit_code
from osiris_load.core.slo.evaluate import conclude, evaluate, plan_for
from osiris_load.core.slo.formatting import format_limit, format_observed, format_summary
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloFileError, load_table, parse_table
from osiris_load.core.slo.verdict import (
    FAIL,
    NO_DATA,
    PASS,
    LostWorkerInfo,
    UserExceptions,
    VerdictFormatError,
    choose_exit_code,
    from_json,
    to_json,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = load_table(DEFAULT_TABLE_PATH)
US = 0.001  # one microsecond in ms
# (row, a request of it, threshold expression, limit) for every percentile limit of the default table
DEFAULT_LIMITS = [(row.name, row.requests[0].split(" ", 1), spec.threshold.source, spec.threshold.value)
                  for row in DEFAULT.rows for spec in row.thresholds if spec.threshold.aggregation.kind == "p"]


def _result(verdict, row: str, expression: str):
    return next(t for t in verdict.thresholds if t.row == row and t.expression == expression)


@pytest.mark.parametrize("distributed", [False, True], ids=["local", "merged"])
@pytest.mark.parametrize(("row", "req", "expression", "limit"), DEFAULT_LIMITS,
                         ids=[f"{r}-{e}" for r, _, e, _ in DEFAULT_LIMITS])
def test_every_default_limit_is_decided_exactly(row: str, req: list[str], expression: str, limit: float,
                                                distributed: bool) -> None:
    """Samples at L-1 us pass ``p(q)<L``, samples exactly at L and at L+1 us fail, locally and merged
    from workers; the histogram's bucket midpoint (799.80 for 800, 1200.095 for 1199.6) never decides."""
    method, name = req
    for value, want in ((limit - US, PASS), (limit, FAIL), (limit + US, FAIL), (limit * 0.9997, PASS)):
        # 90 fast samples, 9 at the value (ranks 91-99: p95 and p99 both land there), one slow: the
        # percentile is strictly inside [min, max], where only the exact counts can decide
        samples = [limit / 2] * 90 + [value] * 9 + [limit * 2]
        recorder = RequestRecorder(plan_for(DEFAULT))
        if distributed:
            for part in range(2):
                worker = RequestRecorder(plan_for(DEFAULT))
                for x in samples[part::2]:
                    worker.record(method, name, x, False)
                recorder.merge_encoded(json.loads(json.dumps(worker.drain())) if part else worker.drain())
        else:
            for x in samples:
                recorder.record(method, name, x, False)
        result = _result(evaluate(DEFAULT, recorder), row, expression)
        assert result.state == want, (value, result)
        observed, limit_text = format_observed(result), format_limit(result)
        if want == FAIL:  # the printed value reads as failing: never below the limit
            assert float(observed.split()[0]) >= limit, (observed, limit_text)
        else:
            assert float(observed.split()[0]) < limit, (observed, limit_text)
        assert result.n == 100 and result.rank is not None and result.beyond == (1 if want == PASS else 10)


def test_one_sample_at_the_limit_decides_by_rank() -> None:
    """p(95)<800 over 20 samples: rank 19, so one sample at 800 passes and two fail, exactly."""
    table = parse_table('[[row]]\nname = "g"\nrequests = ["POST /generate"]\nthresholds = ["p(95)<800"]\n')
    for at_limit, want in ((1, PASS), (2, FAIL)):
        recorder = RequestRecorder(plan_for(table))
        for i in range(20):
            recorder.record("POST", "/generate", 800.0 if i < at_limit else 100.0, False)
        result = evaluate(table, recorder).thresholds[0]
        assert (result.state, result.rank, result.beyond) == (want, 19, at_limit)


@pytest.mark.parametrize(("op", "values", "want"), [
    ("<=", [800.0] * 10, PASS), ("<=", [800.0 + US] * 10, FAIL), (">", [800.0] * 10, FAIL),
    (">", [800.0 + US] * 10, PASS), (">=", [800.0] * 10, PASS), (">=", [800.0 - US] * 10, FAIL),
    ("==", [800.0] * 10, PASS), ("==", [800.0 - US] * 10, FAIL), ("!=", [800.0] * 10, FAIL),
    ("!=", [800.0 + US] * 10, PASS)])
def test_every_operator_is_exact_at_the_limit(op: str, values: list[float], want: str) -> None:
    table = parse_table(f'[[row]]\nname = "g"\nrequests = ["GET /x"]\nthresholds = ["p(90){op}800", "med{op}800"]\n')
    recorder = RequestRecorder(plan_for(table))
    for v in values:
        recorder.record("GET", "/x", v, False)
    verdict = evaluate(table, recorder)
    assert [t.state for t in verdict.thresholds] == [want, want]


def test_rates_are_exact_fractions_and_failures_never_read_as_meeting() -> None:
    """Row 9: 998 of 1000 against rate>=0.999 fails and prints 99.80%; 9990 of 10000 at the limit passes;
    99.899 % never prints as 99.90 %."""
    table = parse_table('[[row]]\nname = "h"\nrequests = ["GET /h"]\nthresholds = ["rate>=0.999", "p(95)<800"]\n')
    for total, failures, want in ((10_000, 10, PASS), (10_000, 11, FAIL), (100_000, 101, FAIL)):
        recorder = RequestRecorder(plan_for(table))
        for i in range(total):
            recorder.record("GET", "/h", 799.999 if i % 2 else 1.0, i < failures)
        verdict = evaluate(table, recorder)
        rate = verdict.thresholds[0]
        assert rate.state == want and (rate.failures, rate.successes) == (failures, total - failures)
        if want == FAIL:
            assert format_observed(rate) != "99.90%" and "99.89" in format_observed(rate)
            assert "99.9%" in rate.reason and format_observed(rate) in rate.reason
    p95 = verdict.thresholds[1]
    assert p95.state == PASS and 799.0 < float(format_observed(p95).split()[0]) < 800.0


def test_bad_times_count_as_requests_and_invalid_ones_fail_with_a_name() -> None:
    """Row 8: None is a request without latency; NaN/negative are named invalid and fail; 2 h fails max<5000s."""
    table = parse_table('[[row]]\nname = "x"\nrequests = ["GET /x"]\nthresholds = ["max<5000s", "rate>=0.5"]\n')
    recorder = RequestRecorder(plan_for(table))
    recorder.record("GET", "/x", None, False)
    recorder.record("GET", "/x", 7_200_000.0, False)
    verdict = evaluate(table, recorder)
    assert [t.state for t in verdict.thresholds] == [FAIL, PASS]
    assert verdict.thresholds[0].observed == 7_200_000.0 and verdict.thresholds[1].n == 2
    recorder.record("GET", "/x", float("nan"), False)
    recorder.record("GET", "/x", -1.0, False)
    verdict = evaluate(table, recorder)
    assert any("x: 2 requests had an invalid response time (NaN or negative)" in r for r in verdict.reasons)
    assert verdict.tally.invalid == 2


def test_typos_fail_with_did_you_mean_and_unjudged_requests_are_listed() -> None:
    """Row 5: a NO DATA row close to a recorded request fails ("did you mean"); unjudged requests are
    listed; count on no data is 0."""
    table = parse_table('[[row]]\nname = "p"\nrequests = ["POST /propose_trade_adjustment/"]\n'
                        'thresholds = ["p(95)<1500"]\n'
                        '[[row]]\nname = "g"\nrequests = ["POST /generate"]\nthresholds = ["p(95)<800"]\n'
                        '[[row]]\nname = "c"\nrequests = ["GET /never"]\nthresholds = ["count>=30"]\n')
    recorder = RequestRecorder(plan_for(table))
    for _ in range(100):
        recorder.record("POST", "/propose_trade_adjustments/", 9000.0, True)
        recorder.record("POST", "/generate/", 100.0, False)
    verdict = evaluate(table, recorder)
    assert not verdict.passed
    assert any(r.startswith("p: no data") and "did you mean 'POST /propose_trade_adjustments/'" in r
               for r in verdict.reasons)
    assert any(r.startswith("g: no data") and "did you mean 'POST /generate/'" in r for r in verdict.reasons)
    count = _result(verdict, "c", "count>=30")
    assert (count.state, count.observed) == (FAIL, 0.0)
    assert verdict.tally.unjudged == (("POST", "/propose_trade_adjustments/", 100), ("POST", "/generate/", 100))
    assert verdict.tally.judged == 0
    text = format_summary(verdict)
    assert "unjudged: POST /propose_trade_adjustments/ (100 requests): no SLO row names it" in text


@pytest.mark.parametrize("catch_all", ["GET *", "GET /*", "GET /heal*"])
def test_a_typo_fails_even_when_another_row_judged_the_request(catch_all: str) -> None:
    """Issue 17's typo hole: ``GET /helth`` reads NO DATA while ``GET /health`` was recorded and
    pooled by a catch-all row: the run fails with "did you mean", as when no row judged it."""
    table = parse_table(f'[[row]]\nname = "all"\nrequests = ["{catch_all}"]\nthresholds = ["p(95)<800"]\n'
                        '[[row]]\nname = "health"\nrequests = ["GET /helth"]\nthresholds = ["p(95)<100"]\n')
    recorder = RequestRecorder(plan_for(table))
    for _ in range(50):
        recorder.record("GET", "/health", 5.0, False)
    verdict = evaluate(table, recorder)
    assert not verdict.passed and choose_exit_code(slo_failed=not verdict.passed, preset=None, user_exceptions=0,
                                                   unhandled=False, code_on_error=1) == EXIT_SLO_FAILED
    assert ("health: no data: none of GET /helth ran; did you mean 'GET /health'? (it was requested, judged by "
            "row 'all')") in verdict.reasons
    assert verdict.tally.unjudged == ()


def test_a_typo_in_a_k6_key_is_caught_and_a_filtered_row_is_no_typo() -> None:
    """A k6 key names no method (``* /helth``): its name alone is compared. A row whose name is right
    but whose status/outcome filter saw nothing is no typo of its own request; the user's default
    table, its rows far apart, flags nothing."""
    table = parse_table('[thresholds]\n"http_req_duration{name:/health}" = ["p(95)<800"]\n'
                        '"http_req_failed{name:/helth}" = ["rate<0.01"]\n'
                        '"http_req_duration{name:/health,expected_response:false}" = ["p(95)<800"]\n')
    recorder = RequestRecorder(plan_for(table))
    for _ in range(50):
        recorder.record("GET", "/health", 5.0, False)
    verdict = evaluate(table, recorder)
    typo = [r for r in verdict.reasons if "did you mean" in r]
    assert typo == ["http_req_failed{name:/helth}: no data: none of * /helth ran; did you mean 'GET /health'? "
                    "(it was requested, judged by row 'http_req_duration{name:/health}')"]
    default = RequestRecorder(plan_for(DEFAULT))
    for _ in range(50):
        default.record("GET", "/health", 5.0, False)
    assert evaluate(DEFAULT, default).passed  # generate, metrics, propose: no data, no typo


def test_a_wildcard_row_judges_every_request_past_the_key_cap() -> None:
    """Row 4: ``GET /items/*`` over 2000 ids, those from 500 up failing at 3 s: the row sees all 2000."""
    table = parse_table('[[row]]\nname = "items"\nrequests = ["GET /items/*"]\nthresholds = ["rate>=0.99", '
                        '"p(95)<100"]\n')
    recorder = RequestRecorder(plan_for(table))
    for i in range(2000):
        recorder.record("GET", f"/items/{i}", 3000.0 if i >= 500 else 50.0, i >= 500)
    verdict = evaluate(table, recorder)
    assert [t.state for t in verdict.thresholds] == [FAIL, FAIL]
    assert all(t.requests == 2000 for t in verdict.thresholds)
    assert verdict.tally.judged == 2000 and recorder.unrecorded == 0


def test_requests_are_counted_once_overall() -> None:
    """Row 11: two rows naming the same requests, two thresholds each: the tally counts each request once."""
    table = parse_table('[[row]]\nname = "a"\nrequests = ["GET /x"]\nthresholds = ["p(95)<800", "rate>=0.9"]\n'
                        '[[row]]\nname = "b"\nrequests = ["GET /*"]\nthresholds = ["p(99)<900", "rate>=0.9"]\n')
    recorder = RequestRecorder(plan_for(table))
    for _ in range(346):
        recorder.record("GET", "/x", 5.0, False)
    verdict = evaluate(table, recorder)
    assert verdict.tally.judged == 346 and verdict.tally.recorded == 346


def test_row_selection_names_the_rows_left_out() -> None:
    """Row 12: a scenario judges its rows; the others are named once and not judged."""
    table, left_out = DEFAULT.select(["propose"])
    assert [r.name for r in table.rows] == ["propose"] and left_out == ("generate", "health", "metrics")
    recorder = RequestRecorder(plan_for(table))
    recorder.record("POST", "/propose_trade_adjustments/", 900.0, False)
    verdict = evaluate(table, recorder, rows_left_out=left_out)
    assert {t.state for t in verdict.thresholds} == {PASS} and len(verdict.thresholds) == 2
    assert "not judged (rows this run does not exercise): generate, health, metrics" in format_summary(verdict)
    with pytest.raises(SloFileError, match="no row called 'helth' \\(did you mean 'health'\\?\\)"):
        DEFAULT.select(["helth"])


def test_exit_code_is_never_lowered() -> None:
    """Row 1: precedence SLO failed 99 > Locust's own codes > 0; failed requests are the table's business."""
    assert choose_exit_code(slo_failed=False, preset=None, user_exceptions=3, unhandled=False, code_on_error=1) == 1
    assert choose_exit_code(slo_failed=False, preset=None, user_exceptions=0, unhandled=True, code_on_error=1) == 2
    assert choose_exit_code(slo_failed=False, preset=3, user_exceptions=0, unhandled=False, code_on_error=1) == 3
    assert choose_exit_code(slo_failed=False, preset=None, user_exceptions=0, unhandled=False, code_on_error=1) == 0
    assert choose_exit_code(slo_failed=True, preset=1, user_exceptions=2, unhandled=True, code_on_error=1) == 99
    assert EXIT_SLO_FAILED == 99


def test_a_job_stopped_by_a_signal_exits_as_a_shell_reports_it() -> None:
    """128 + the signal's number, as bash's ``$?`` after a process killed by it (README's exit codes)."""
    assert [signal_exit_code(signum) for signum in (1, 2, 15)] == [129, 130, 143]  # SIGHUP, SIGINT, SIGTERM


def test_json_round_trip_is_lossless() -> None:
    """Row 9: reasons with '; ' inside stay one reason; every field comes back as written."""
    table = parse_table('[[row]]\nname = "h"\nrequests = ["GET /h"]\nthresholds = ["rate>=0.999", "p(95)<800"]\n'
                        '[[row]]\nname = "n"\nrequests = ["GET /n"]\nthresholds = ["p(99)<1200"]\n')
    recorder = RequestRecorder(plan_for(table))
    for i in range(200):
        recorder.record("GET", "/h", 800.0, i < 5)
    lost = (LostWorkerInfo("w1", 10, True, 3, "no heartbeat; then gone"),)
    verdict = conclude(evaluate(table, recorder), lost_workers=lost, aborted_by=("h: p(95)<800",),
                       exceptions=UserExceptions(2, "ZeroDivisionError: x")).with_exit_code(99)
    text = to_json(verdict)
    doc = json.loads(text)
    assert doc["schema"] == "osiris-load/slo-verdict" and doc["version"] == 4 and doc["state"] == FAIL
    again = from_json(text)
    assert again == verdict
    assert any("; then gone" in r for r in again.reasons)
    p95 = _result(again, "h", "p(95)<800")
    assert (p95.n, p95.rank, p95.below, p95.at, p95.beyond) == (200, 190, 0, 200, 200)
    assert (p95.interval, p95.requests_needed) == (None, None)
    assert _result(again, "n", "p(99)<1200").state == NO_DATA
    for bad, message in (("{", "not JSON"), ("{}", "not an SLO verdict"),
                         (text.replace('"version": 4', '"version": 7'), "version 7"),
                         (text.replace('"state": "FAIL"', '"state": "PASS"', 1), "does not match")):
        with pytest.raises(VerdictFormatError, match=message):
            from_json(bad)



def test_median_and_count_thresholds_in_detail() -> None:
    """``med`` is decided by counts like ``p(50)`` (the histogram reads 799.80 for 800.000 here);
    ``count`` is in requests; NO_DATA carries n = 0; a pool never made counts 0."""
    table = parse_table('[[row]]\nname = "m"\nrequests = ["GET /m"]\nthresholds = ["med<800", "count<6", '
                        '"avg<1000", "min>=100", "max<=900"]\n')
    recorder = RequestRecorder(plan_for(table))
    for x in (100.0, 100.0, 800.0, 900.0, 900.0):
        recorder.record("GET", "/m", x, False)
    med, count, avg, low, high = evaluate(table, recorder).thresholds
    assert (med.state, med.rank, med.below, med.at) == (FAIL, 3, 2, 1)
    assert float(format_observed(med).split()[0]) >= 800
    assert (count.state, count.unit, count.observed, count.n) == (PASS, "requests", 5.0, 5)
    assert (avg.state, avg.observed, avg.n, avg.unit) == (PASS, 560.0, 5, "ms")
    assert (low.state, high.state) == (PASS, PASS)
    empty = evaluate(table, RequestRecorder(plan_for(table))).thresholds
    assert [(t.state, t.n, t.observed) for t in empty] == [(NO_DATA, 0, None), (PASS, 0, 0.0), (NO_DATA, 0, None),
                                                         (NO_DATA, 0, None), (NO_DATA, 0, None)]
    assert recorder.pool_count(("m",)) == 0
    stats = recorder.pooled([("GET", "/m")])
    with pytest.raises(KeyError, match="limit 1.0 ms is not in the recorder's plan"):
        stats.limit_counts(1.0)
