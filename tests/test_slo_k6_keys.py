"""k6's metric names as SLO keys ([thresholds]): parsing, k6's meanings, tag selectors, status and
outcome filters, throughput, what is not measured, and the rate<small warning. Pure: a recorder
filled by hand, judged by the same evaluate() every view reads."""

from __future__ import annotations

import pytest

from slo.evaluate import abort_triggers, evaluate, plan_for
from slo.expressions import ExpressionError, parse_threshold
from slo.formatting import format_limit, format_observed, format_summary
from slo.k6_metrics import K6KeyError, parse_k6_key
from slo.recorder import RecorderPlan, RequestRecorder
from slo.table import SloFileError, SloTable, parse_table
from slo.verdict import FAIL, NO_DATA, PASS, Verdict


def _table(body: str) -> SloTable:
    return parse_table(body, "k6.toml")


def _recorder(table: SloTable) -> RequestRecorder:
    return RequestRecorder(plan_for(table))


def _record(rec: RequestRecorder, method: str, name: str, ms: float, failed: bool = False, status: int = 200) -> None:
    rec.record(method, name, ms, failed, status if rec.split else None)


def _states(verdict: Verdict) -> dict[tuple[str, str], str]:
    return {(r.row, r.expression): r.state for r in verdict.thresholds}


# -- the grammar ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "op", "value"), [
    ("p(95)===800", "==", 800.0), ("avg == 1", "==", 1.0), ("med!=3", "!=", 3.0), ("min>=0", ">=", 0.0),
    ("max<=2s", "<=", 2000.0), ("count>10", ">", 10.0), ("rate<0.5", "<", 0.5),
])
def test_k6_operators_parse(text: str, op: str, value: float) -> None:
    threshold = parse_threshold(text)
    assert (threshold.op, threshold.value, threshold.source) == (op, value, text)


def test_triple_equals_keeps_its_source_and_compares_as_equality() -> None:
    table = _table('[thresholds]\nhttp_reqs = ["count===3"]\n')
    rec = _recorder(table)
    for _ in range(3):
        _record(rec, "GET", "/x", 1.0)
    [result] = evaluate(table, rec).thresholds
    assert (result.expression, result.op, result.state) == ("count===3", "==", PASS)


def test_http_reqs_rate_is_requests_per_second() -> None:
    assert parse_threshold("rate>50/s", rate_is_throughput=True).aggregation.kind == "throughput"
    with pytest.raises(ExpressionError, match="out of range"):
        parse_threshold("rate>50")  # elsewhere rate is a ratio


# -- keys and selectors ------------------------------------------------------------------------

def test_key_selectors_map_to_request_patterns_status_and_outcome() -> None:
    key = parse_k6_key("http_req_duration{name:/generate, method:post, status:503}")
    assert (key.metric, key.requests, key.status, key.expected) == ("http_req_duration", ("POST /generate",), 503, None)
    assert parse_k6_key("http_req_duration{expected_response:true}").expected is True
    assert parse_k6_key("http_reqs").requests == ("* *",)
    assert parse_k6_key("checks{method:GET}").requests == ("GET *",)


@pytest.mark.parametrize(("key", "fragment"), [
    ("http_req_waiting", "'http_req_waiting' is a k6 metric this gate does not measure"),
    ("my_trend", "not a k6 built-in metric"),
    ("http_req_duration{scenario:x}", "tag 'scenario' at column 19 is not recorded here"),
    ("http_req_duration{status:abc}", "status 'abc' at column 19 is not an HTTP status code"),
    ("http_req_duration{expected_response:yes}", "expected_response must be true or false"),
    ("http_req_duration{name}", "bad tag selector 'name' at column 19"),
    ("http_req_duration[name:x]", "expected '{tag:value,...}'"),
])
def test_bad_keys_say_what_and_where(key: str, fragment: str) -> None:
    with pytest.raises(K6KeyError, match=None) as info:
        parse_k6_key(key)
    assert fragment in str(info.value)
    with pytest.raises(SloFileError) as info2:
        _table(f'[thresholds]\n"{key}" = ["p(95)<1"]\n')
    assert str(info2.value).startswith("k6.toml: threshold key ")


@pytest.mark.parametrize(("body", "fragment"), [
    ('http_req_failed = ["p(95)<1"]', "http_req_failed has no 'p(95)' in k6; use rate"),
    ('http_req_duration = ["rate<0.1"]', "http_req_duration has no 'rate' in k6"),
    ('http_reqs = ["avg<1"]', "http_reqs has no 'avg' in k6; use count or rate"),
    ('checks = [{threshold = "rate>0.9", abort_on_fail = true}]',
     "unknown key 'abort_on_fail' (did you mean 'abortOnFail'?)"),
    ('checks = [{threshold = "rate>0.9", abortOnFail = "yes"}]', "'abortOnFail' must be true or false"),
    ('checks = [{threshold = "rate>0.9", abortOnFail = true, delayAbortEval = "ten"}]', "'delayAbortEval': bad"),
    ('checks = []', "expected a non-empty array"),
    ('checks = ["rate>>0.9"]', "unknown operator '>>' at column 5"),
])
def test_bad_thresholds_name_key_and_expression(body: str, fragment: str) -> None:
    with pytest.raises(SloFileError) as info:
        _table(f"[thresholds]\n{body}\n")
    assert fragment in str(info.value)
    assert str(info.value).startswith("k6.toml: [thresholds] ")


def test_thresholds_table_needs_no_rows_and_keeps_rows_beside_it() -> None:
    table = _table('[thresholds]\nhttp_req_failed = ["rate<0.01"]\n\n[[row]]\nname = "h"\nrequests = ["GET /h"]\n'
                   'thresholds = ["p(95)<400"]\n')
    assert [r.name for r in table.rows] == ["h", "http_req_failed"]
    with pytest.raises(SloFileError, match="is also the name of row 1"):
        _table('[thresholds]\nchecks = ["rate>0.9"]\n[[row]]\nname = "checks"\nrequests = ["GET /h"]\n'
               'thresholds = ["p(95)<400"]\n')


# -- k6's meanings -------------------------------------------------------------------------------

def test_http_req_failed_rate_is_the_share_failed() -> None:
    """k6's most common line: a clean run passes it, a run with 2 % errors fails it."""
    table = _table('[thresholds]\nhttp_req_failed = ["rate<0.01"]\nchecks = ["rate>0.99"]\n')
    clean, broken = _recorder(table), _recorder(table)
    for i in range(100):
        _record(clean, "GET", "/x", 5.0)
        _record(broken, "GET", "/x", 5.0, failed=i < 2)
    assert _states(evaluate(table, clean)) == {("http_req_failed", "rate<0.01"): PASS, ("checks", "rate>0.99"): PASS}
    verdict = evaluate(table, broken)
    assert _states(verdict) == {("http_req_failed", "rate<0.01"): FAIL, ("checks", "rate>0.99"): FAIL}
    failed = verdict.thresholds[0]
    assert (failed.kind, failed.observed, format_observed(failed), format_limit(failed)) == \
        ("fail_rate", 0.02, "2.00%", "< 1%")
    assert not table.warnings  # k6's spelling under its metric is not the mistake the warning is about


def test_expected_response_true_excludes_fast_failures_from_latency() -> None:
    """Fast 503s must not pull p95 down: with them, p95 is 1 ms; of the successes only, 500 ms."""
    table = _table('[thresholds]\n"http_req_duration{expected_response:true}" = ["p(95)<400"]\n'
                   'http_req_duration = ["p(95)<400"]\n')
    rec = _recorder(table)
    assert rec.split
    for _ in range(3):
        _record(rec, "POST", "/generate", 500.0)
    for _ in range(97):
        _record(rec, "POST", "/generate", 1.0, failed=True, status=503)
    verdict = evaluate(table, rec)
    by_row = {r.row: r for r in verdict.thresholds}
    assert by_row["http_req_duration"].state == PASS  # every request: the 503s hide the slow successes
    expected = by_row["http_req_duration{expected_response:true}"]
    assert (expected.state, expected.n, expected.requests) == (FAIL, 3, 3)
    assert verdict.tally.judged == 100 and not verdict.tally.unjudged


def test_status_name_and_method_selectors_pick_their_requests() -> None:
    table = _table('[thresholds]\n"http_reqs{status:503}" = ["count<5"]\n'
                   '"http_reqs{name:/health}" = ["count==2"]\n"http_reqs{method:POST}" = ["count==7"]\n'
                   '"http_req_duration{name:/generate,method:POST,status:200}" = ["max<100"]\n')
    rec = _recorder(table)
    for _ in range(2):
        _record(rec, "GET", "/health", 3.0)
    for _ in range(5):
        _record(rec, "POST", "/generate", 50.0)
    _record(rec, "POST", "/generate", 900.0, failed=True, status=503)
    _record(rec, "POST", "/other", 1.0, failed=True, status=0)
    by_row = {r.row: r for r in evaluate(table, rec).thresholds}
    assert by_row["http_reqs{status:503}"].observed == 1 and by_row["http_reqs{status:503}"].state == PASS
    assert by_row["http_reqs{name:/health}"].state == PASS
    assert by_row["http_reqs{method:POST}"].state == PASS
    assert by_row["http_req_duration{name:/generate,method:POST,status:200}"].observed == 50.0
    # the split keys fold back per (method, name) for the per-endpoint views
    assert rec.key_counts() == {("GET", "/health"): 2, ("POST", "/generate"): 6, ("POST", "/other"): 1}
    assert rec.stats("POST", "/generate").count == 6


def test_split_keys_survive_a_worker_report() -> None:
    table = _table('[thresholds]\n"http_req_duration{expected_response:true}" = ["p(95)<400"]\n')
    plan = RecorderPlan.from_data(plan_for(table).to_data())
    worker, master = RequestRecorder(plan), RequestRecorder(plan)
    _record(worker, "GET", "/x", 10.0)
    _record(worker, "GET", "/x", 1.0, failed=True, status=500)
    master.merge_encoded(worker.drain())
    assert master.raw_key_counts() == {("GET", "/x", 200, False): 1, ("GET", "/x", 500, True): 1}
    [result] = evaluate(table, master).thresholds
    assert (result.state, result.n) == (PASS, 1)


def test_http_reqs_rate_is_a_throughput_over_the_elapsed_time() -> None:
    table = _table('[thresholds]\nhttp_reqs = ["count>=100", "rate>=20"]\n')
    rec = _recorder(table)
    for _ in range(100):
        _record(rec, "GET", "/x", 1.0)
    states = _states(evaluate(table, rec, elapsed_s=4.0))
    assert states == {("http_reqs", "count>=100"): PASS, ("http_reqs", "rate>=20"): PASS}  # 25/s
    verdict = evaluate(table, rec, elapsed_s=10.0)  # 10/s
    rate = verdict.thresholds[1]
    assert (rate.state, rate.observed, rate.unit, format_observed(rate), format_limit(rate)) == \
        (FAIL, 10.0, "requests/s", "10.00/s", ">= 20/s")
    assert evaluate(table, rec).thresholds[1].state == NO_DATA  # no duration known: not judged


def test_iteration_duration_is_listed_as_not_measured() -> None:
    table = _table('[thresholds]\niteration_duration = ["p(95)<2000"]\nhttp_reqs = ["count>0"]\n')
    assert [r.name for r in table.rows] == ["http_reqs"]
    assert len(table.notes) == 1 and table.notes[0].startswith("iteration_duration: not measured")
    rec = _recorder(table)
    _record(rec, "GET", "/x", 1.0)
    verdict = evaluate(table, rec)
    assert any("iteration_duration: not measured" in n and "'p(95)<2000' not judged" in n for n in verdict.notes)
    assert "iteration_duration: not measured" in format_summary(verdict)


def test_abort_on_fail_spelled_as_in_k6() -> None:
    table = _table('[thresholds]\nhttp_req_failed = [{threshold = "rate<0.01", abortOnFail = true, '
                   'delayAbortEval = "10s"}]\n')
    [spec] = table.rows[0].thresholds
    assert (spec.abort_on_fail, spec.delay_abort_eval_s) == (True, 10.0)
    rec = _recorder(table)
    _record(rec, "GET", "/x", 1.0, failed=True, status=500)
    verdict = evaluate(table, rec)
    assert abort_triggers(verdict, 5.0) == []
    assert [r.row for r in abort_triggers(verdict, 10.0)] == ["http_req_failed"]


# -- the warning -----------------------------------------------------------------------------------

def test_small_success_rate_limit_warns_once_with_a_suggestion() -> None:
    table = _table('[[row]]\nname = "generate"\nrequests = ["POST /generate"]\nthresholds = ["rate<0.01", '
                   '"p(95)<800"]\n[[row]]\nname = "ok"\nrequests = ["GET /h"]\nthresholds = ["rate>=0.999", '
                   '"fail_rate<0.01"]\n[thresholds]\nchecks = ["rate<=0.1"]\n')
    assert table.warnings == (
        "k6.toml: row 'generate': 'rate<0.01' asks for a success rate below 1%: a clean run fails it. If it is "
        "a failure rate, write 'fail_rate<0.01' (or, as in k6, http_req_failed = [\"rate<0.01\"] in [thresholds])",
        "k6.toml: row 'checks': 'rate<=0.1' asks for a success rate below 10%: a clean run fails it. If it is "
        "a failure rate, write 'fail_rate<=0.1' under http_req_failed",
    )
