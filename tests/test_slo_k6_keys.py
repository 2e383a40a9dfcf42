"""k6's metric names as SLO keys ([thresholds]): parsing, k6's meanings, tag selectors, status and
outcome filters, throughput, iteration durations (never counted as requests), and the rate<small
warning. Pure: a recorder filled by hand, judged by the same evaluate() every view reads."""

from __future__ import annotations

import pytest

from osiris_load.core.openmodel.counts import GoodputPlan, Iteration
from osiris_load.core.slo import llm_history
from osiris_load.core.slo.answers import record_answer
from osiris_load.core.slo.evaluate import abort_triggers, evaluate, plan_for
from osiris_load.core.slo.expressions import ExpressionError, parse_threshold
from osiris_load.core.slo.formatting import format_limit, format_observed
from osiris_load.core.slo.k6_metrics import K6KeyError, parse_k6_key
from osiris_load.core.slo.llm_history import LlmHistory
from osiris_load.core.slo.recorder import RecorderPlan, RequestRecorder
from osiris_load.core.slo.table import SloFileError, SloTable, parse_table
from osiris_load.core.slo.verdict import FAIL, NO_DATA, PASS, Verdict


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
    ('checks = [{threshold = "rate>0.9", abortOnFail = true, delayAbortEval = "ten"}]',
     "'delayAbortEval': 'ten' is not a duration"),
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


# -- iteration_duration: iterations, never requests ----------------------------------------------

ITERATION_TABLE = """
[thresholds]
iteration_duration = ["p(95)<100", "avg<100", "med<100", "min>=40", "max<=60", "count==2"]
"iteration_duration{scenario:Other}" = ["count==0"]
http_req_duration = ["max<10"]
"http_req_duration{status:200}" = ["max<10"]
http_reqs = ["count==3", "rate>=3"]
http_req_failed = ["rate<0.01"]
checks = ["rate>0.99"]

[[row]]
name = "any get"
requests = ["GET *"]
thresholds = ["count==3"]
"""


def _iterations_recorded(table: SloTable, max_keys: int = 500) -> RequestRecorder:
    """Three 5 ms requests (the table splits by status) and two iterations of 40 and 60 ms."""
    rec = RequestRecorder(plan_for(table), max_keys=max_keys)
    for _ in range(3):
        _record(rec, "GET", "/x", 5.0)
    rec.record_iteration("Caller", 40.0)
    rec.record_iteration("Caller", 60.0)
    return rec


def test_iteration_duration_judges_the_iterations_with_every_aggregation() -> None:
    table = _table(ITERATION_TABLE)
    assert table.notes == () and table.row("iteration_duration").requests == ("ITERATION *",)
    verdict = evaluate(table, _iterations_recorded(table), elapsed_s=1.0)
    iteration = [r for r in verdict.thresholds if r.row == "iteration_duration"]
    assert [(r.expression, r.state, r.n) for r in iteration] == [
        ("p(95)<100", PASS, 2), ("avg<100", PASS, 2), ("med<100", PASS, 2), ("min>=40", PASS, 2),
        ("max<=60", PASS, 2), ("count==2", PASS, 2)]
    assert [r.observed for r in iteration[1:5]] == [50.0, 40.0, 40.0, 60.0]  # med: nearest rank 1 of 2
    assert [r.unit for r in iteration] == ["ms"] * 5 + ["iterations"]
    [other] = [r for r in verdict.thresholds if r.row == "iteration_duration{scenario:Other}"]
    assert (other.state, other.observed) == (PASS, 0.0)  # {scenario:...} is the user class


def test_iterations_are_in_no_request_row_count_or_listing() -> None:
    table = _table(ITERATION_TABLE)
    rec = _iterations_recorded(table)
    verdict = evaluate(table, rec, elapsed_s=1.0)
    requests = {(r.row, r.expression): (r.state, r.n, r.observed) for r in verdict.thresholds
                if not r.row.startswith("iteration_duration")}
    assert requests == {("http_req_duration", "max<10"): (PASS, 3, 5.0),  # wildcard rows: not the 40/60 ms
                        ("http_req_duration{status:200}", "max<10"): (PASS, 3, 5.0),
                        ("http_reqs", "count==3"): (PASS, 3, 3.0), ("http_reqs", "rate>=3"): (PASS, 3, 3.0),
                        ("http_req_failed", "rate<0.01"): (PASS, 3, 0.0), ("checks", "rate>0.99"): (PASS, 3, 1.0),
                        ("any get", "count==3"): (PASS, 3, 3.0)}
    assert verdict.passed
    tally = verdict.tally
    assert (tally.recorded, tally.judged, tally.unjudged, tally.unrecorded) == (3, 3, (), 0)
    assert rec.keys() == [("GET", "/x")] and rec.key_counts() == {("GET", "/x"): 3}  # _slo_endpoints.csv's keys
    assert rec.total_requests == 3
    # a table with no request row lists the requests as unjudged, and never the iterations
    only = _table('[thresholds]\niteration_duration = ["p(95)<100"]\n')
    alone = RequestRecorder(plan_for(only))
    _record(alone, "GET", "/x", 5.0)
    alone.record_iteration("Caller", 40.0)
    assert evaluate(only, alone).tally.unjudged == (("GET", "/x", 1),)
    # nothing routes requests to the iteration rows (overflow pools, goodput bounds)
    assert all(not name.startswith("iteration_duration") for name, _ in plan_for(table).rows)
    assert all(not name.startswith("iteration_duration") for name, *_ in GoodputPlan.from_table(table).rows)


def test_iterations_ship_with_a_worker_report_and_count_as_no_request() -> None:
    table = _table(ITERATION_TABLE)
    worker = _iterations_recorded(table)
    report = worker.drain()
    assert RequestRecorder.requests_in(report) == 3  # what the master's worker ledger counts
    master = RequestRecorder(plan_for(table))
    master.merge_encoded(report)
    verdict = evaluate(table, master, elapsed_s=1.0)
    assert {(r.row, r.expression): r.n for r in verdict.thresholds}[("iteration_duration", "p(95)<100")] == 2
    assert (verdict.tally.recorded, verdict.passed) == (3, True)


def test_iterations_never_overflow_and_a_request_called_iteration_is_a_request() -> None:
    table = _table('[thresholds]\niteration_duration = ["count==1"]\nhttp_reqs = ["count==2"]\n')
    rec = RequestRecorder(plan_for(table), max_keys=1)
    _record(rec, "ITERATION", "Caller", 5.0)  # a Locust request_type may be any name: still a request
    _record(rec, "ITERATION", "*", 5.0)  # past the key cap: the http_reqs row's overflow pool
    rec.record_iteration("Caller", 40.0)  # past the key cap too: an iteration has its own key
    states = {(r.row, r.expression): (r.state, r.n) for r in evaluate(table, rec).thresholds}
    assert states == {("iteration_duration", "count==1"): (PASS, 1), ("http_reqs", "count==2"): (PASS, 2)}
    assert rec.unrecorded == 0


def test_iteration_duration_keys_and_expressions_keep_k6_meaning() -> None:
    with pytest.raises(SloFileError, match="tag 'name' at column 20 is not recorded here for iteration_duration"):
        _table('[thresholds]\n"iteration_duration{name:/x}" = ["p(95)<1"]\n')
    with pytest.raises(SloFileError, match="iteration_duration has no 'rate' in k6"):
        _table('[thresholds]\niteration_duration = ["rate<0.1"]\n')
    assert parse_k6_key("iteration_duration{scenario:ReadHeavyUser}").requests == ("ITERATION ReadHeavyUser",)


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


def test_delay_abort_eval_reads_as_k6_reads_it() -> None:
    """Issue 22: in [thresholds] a number is milliseconds, as k6 reads ``delayAbortEval: 1500``; a string
    takes k6's units (``1d`` included); a string of digits is milliseconds too."""
    for value, seconds in (("1500", 1.5), ("1.5", 0.0015), ('"2m"', 120.0), ('"250ms"', 0.25), ('"1500"', 1.5),
                           ('"1d"', 86400.0), ("0", 0.0)):
        table = _table(f'[thresholds]\nchecks = [{{threshold = "rate>0.9", delayAbortEval = {value}}}]\n')
        assert table.rows[0].thresholds[0].delay_abort_eval_s == pytest.approx(seconds), value
    with pytest.raises(SloFileError, match="'delayAbortEval': -5 is not a duration >= 0"):
        _table('[thresholds]\nchecks = [{threshold = "rate>0.9", delayAbortEval = -5}]\n')


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


def test_token_keys_count_tokens_and_their_rate_under_a_second() -> None:
    """``llm_output_tokens``: count is the answers' tokens summed (60 + 40), rate is tokens per second
    of the run, also over less than a second (100 tokens in 0.5 s: 200/s)."""
    table = _table('[thresholds]\nllm_output_tokens = ["count>=100", "rate>=150", "count<3"]\n')
    rec = _recorder(table)
    rec.record_tokens("output /v1/chat/completions @OpenAIChatUser", 60)
    rec.record_tokens("output /v1/chat/completions @OpenAIChatUser", 40)
    count, rate, answers = evaluate(table, rec, elapsed_s=0.5).thresholds
    assert (count.state, count.observed, count.unit, count.n) == (PASS, 100.0, "tokens", 2)
    assert (rate.state, rate.estimate, rate.observed, rate.unit, rate.n) == (PASS, PASS, 200.0, "tokens/s", 2)
    assert (answers.state, answers.observed) == (FAIL, 100.0)  # tokens, not the 2 answers
    no_time = evaluate(table, rec, elapsed_s=0.0).thresholds[1]
    assert (no_time.state, no_time.observed, no_time.n, no_time.row) == (NO_DATA, None, 0, "llm_output_tokens")


def test_a_status_row_takes_no_overflow_pool_of_every_status() -> None:
    """Past the key cap, requests named by rows are pooled per set of rows, without their status: a row
    that filters by status cannot take that pool (3 of its 5 requests were 200s), a row without a
    filter does."""
    table = _table('[thresholds]\n"http_reqs{name:/x,status:503}" = ["count<100"]\n'
                   '"http_reqs{name:/x}" = ["count<100"]\n')
    rec = RequestRecorder(plan_for(table), max_keys=1)
    rec.record("GET", "/a", 1.0, False, 200)  # takes the only key
    for status in (200, 200, 200, 503, 503):
        rec.record("GET", "/x", 1.0, status != 200, status)
    filtered, unfiltered = evaluate(table, rec).thresholds
    assert (filtered.observed, unfiltered.observed) == (0.0, 5.0)


def test_iterations_are_neither_unjudged_requests_nor_typo_candidates() -> None:
    table = _table('[thresholds]\n"http_req_duration{name:Readr}" = ["p(95)<100"]\n')
    rec = _recorder(table)
    rec.record_iteration("Reader", 120.0)  # a user class called Reader: not a request named Reader
    verdict = evaluate(table, rec)
    assert verdict.tally.unjudged == ()
    assert verdict.notes == ("http_req_duration{name:Readr}: no data: none of * Readr ran",)


def test_unjudged_requests_are_summed_over_their_statuses() -> None:
    table = _table('[thresholds]\n"http_reqs{name:/x,status:500}" = ["count<10"]\n')  # split by status
    rec = _recorder(table)
    for status in (200, 500, 200):
        rec.record("GET", "/u", 1.0, status != 200, status)
    assert evaluate(table, rec).tally.unjudged == (("GET", "/u", 3),)


# -- one streamed answer into the recorders (slo/answers.py) and the LLM history (slo/llm_history.py) --------
# Pure tests of the two LLM modules in the mutation selection (tests/test_slo_llm_keys.py, which judges them
# through evaluate(), is not in it). Entry names are plain strings: record_answer takes any four names.

NAMES = ("T", "I", "P", "E")  # TTFT, ITL, TPOT, E2EL


def _seen(rec: RequestRecorder) -> dict[str, tuple[int, float, float, float]]:
    """Per LLM entry: (samples, exact min, exact max, exact sum) in ms, as recorded."""
    out = {}
    for (method, name) in rec.key_counts():
        assert method == "LLM"
        s = rec.stats(method, name)
        assert s is not None
        out[name] = (s.timed, s.min_ms, s.max_ms, s.sum_ms)
    return out


def test_record_answer_closed_model_records_each_value_as_measured() -> None:
    rec = RequestRecorder()
    record_answer(rec, NAMES, 100.0, [10.0, 40.0], 25.0, 150.0)
    assert _seen(rec) == {"T": (1, 100.0, 100.0, 100.0), "E": (1, 150.0, 150.0, 150.0),
                          "I": (2, 10.0, 40.0, 50.0), "P": (1, 25.0, 25.0, 25.0)}
    # an answer of one chunk: no gap, no TPOT; the entries after an empty one are still recorded
    one = RequestRecorder()
    record_answer(one, NAMES, 7.0, [], None, 9.0)
    assert _seen(one) == {"T": (1, 7.0, 7.0, 7.0), "E": (1, 9.0, 9.0, 9.0)}
    no_gap = RequestRecorder()
    record_answer(no_gap, NAMES, 7.0, (), 3.0, 9.0)
    assert _seen(no_gap) == {"T": (1, 7.0, 7.0, 7.0), "E": (1, 9.0, 9.0, 9.0), "P": (1, 3.0, 3.0, 3.0)}


def test_record_answer_open_model_corrects_ttft_and_e2el_only() -> None:
    """An iteration 30 ms late: TTFT 100 -> 130 and E2EL 150 -> 180 judged, the gaps and TPOT as
    measured; ``uncorrected`` gets every value as measured. Limits (goodput): TTFT < 120 fails only
    corrected (130), so the iteration is not good."""
    judged, measured = RequestRecorder(), RequestRecorder()
    iteration = Iteration()
    iteration.lateness_ms = 30.0
    record_answer(judged, NAMES, 100.0, [10.0, 40.0], 25.0, 150.0, iteration=iteration, uncorrected=measured,
                  goodput=GoodputPlan([("t", ("LLM T",), 1000.0, 1000.0)]))
    assert iteration.good is True  # 130 < 1000
    assert _seen(judged) == {"T": (1, 130.0, 130.0, 130.0), "E": (1, 180.0, 180.0, 180.0),
                             "I": (2, 10.0, 40.0, 50.0), "P": (1, 25.0, 25.0, 25.0)}
    assert _seen(measured) == {"T": (1, 100.0, 100.0, 100.0), "E": (1, 150.0, 150.0, 150.0),
                               "I": (2, 10.0, 40.0, 50.0), "P": (1, 25.0, 25.0, 25.0)}
    late = Iteration()
    late.lateness_ms = 30.0
    record_answer(RequestRecorder(), NAMES, 100.0, [10.0], 10.0, 150.0, iteration=late, uncorrected=RequestRecorder(),
                  goodput=GoodputPlan([("t", ("LLM T",), 120.0, float("inf"))]))
    assert late.good is False  # judged 130, not the measured 100, against < 120
    on_time = Iteration()  # lateness 0: judged as measured, 100 < 120
    record_answer(RequestRecorder(), NAMES, 100.0, [10.0], 10.0, 150.0, iteration=on_time,
                  uncorrected=RequestRecorder(), goodput=GoodputPlan([("t", ("LLM T",), 120.0, float("inf"))]))
    assert on_time.good is True


@pytest.mark.parametrize(("rows", "good"), [
    ([("i", ("LLM I",), 50.0, float("inf"))], False),   # the larger gap (60) is judged: 60 < 50 fails
    ([("i", ("LLM I",), 61.0, float("inf"))], True),    # 60 < 61
    ([("i", ("LLM I",), float("inf"), 60.0)], True),    # 60 <= 60
    ([("i", ("LLM I",), float("inf"), 59.0)], False),
    ([("p", ("LLM P",), 35.0, float("inf"))], False),   # TPOT 35 < 35 fails
    ([("e", ("LLM E",), 171.0, float("inf"))], True),   # E2EL 170 (no lateness)
    ([("e", ("LLM E",), 170.0, float("inf"))], False),
])
def test_record_answer_goodput_judges_each_entrys_largest_sample(rows: list, good: bool) -> None:
    iteration = Iteration()
    record_answer(RequestRecorder(), NAMES, 100.0, [10.0, 60.0], 35.0, 170.0, iteration=iteration,
                  uncorrected=RequestRecorder(), goodput=GoodputPlan(rows))
    assert iteration.good is good


def test_record_answer_a_bad_iteration_stays_bad_and_needs_its_recorders() -> None:
    iteration = Iteration()
    iteration.good = False
    record_answer(RequestRecorder(), NAMES, 1.0, [1.0], 1.0, 2.0, iteration=iteration, uncorrected=RequestRecorder(),
                  goodput=GoodputPlan())  # every sample meets (no limit): stays not good
    assert iteration.good is False
    for uncorrected, goodput in ((None, GoodputPlan()), (RequestRecorder(), None)):
        with pytest.raises(AssertionError):
            record_answer(RequestRecorder(), NAMES, 1.0, [1.0], 1.0, 2.0, iteration=Iteration(),
                          uncorrected=uncorrected, goodput=goodput)


def test_record_answer_chargeable_takes_the_judged_samples_less_the_stalls() -> None:
    """Stalls of 25 ms: TTFT 100 + 30 late = 130 -> 105, E2EL 150 + 30 -> 155, gaps 10 -> 0 (never
    below 0) and 40 -> 15, TPOT 25 -> 0. No bound (the default): charged as judged."""
    iteration = Iteration()
    iteration.lateness_ms = 30.0
    charged = RequestRecorder()
    record_answer(RequestRecorder(), NAMES, 100.0, [10.0, 40.0], 25.0, 150.0, iteration=iteration,
                  uncorrected=RequestRecorder(), goodput=GoodputPlan(), chargeable=charged, bound_ms=25.0)
    assert _seen(charged) == {"T": (1, 105.0, 105.0, 105.0), "E": (1, 155.0, 155.0, 155.0),
                              "I": (2, 0.0, 15.0, 15.0), "P": (1, 0.0, 0.0, 0.0)}
    unbounded = RequestRecorder()
    record_answer(RequestRecorder(), NAMES, 100.0, [10.0, 40.0], 25.0, 150.0, chargeable=unbounded)
    assert _seen(unbounded) == {"T": (1, 100.0, 100.0, 100.0), "E": (1, 150.0, 150.0, 150.0),
                                "I": (2, 10.0, 40.0, 50.0), "P": (1, 25.0, 25.0, 25.0)}
    invalid = RequestRecorder()  # without a bound an invalid gap (NaN) stays invalid, not a 0 ms sample
    record_answer(RequestRecorder(), NAMES, 100.0, [float("nan")], None, 150.0, chargeable=invalid)
    gap = invalid.stats("LLM", "I")
    assert gap is not None and (gap.count, gap.timed, gap.invalid) == (1, 0, 1)


def test_llm_history_ticks_only_timed_llm_entries_as_locusts_history_csv() -> None:
    """Two ticks: entry "A" (10 and 30 ms: p50 is the 1st of 2 = 10, p95 and p99 the 2nd = 30, exact),
    "B" (one sample 7.12345: every percentile, rounded to 3 decimals 7.123); a request and an LLM entry
    without a timed sample (a NaN, an untimed count) are no rows; the time rounded to 3 decimals."""
    rec = RequestRecorder()
    rec.record("POST", "/v1/chat", 5.0, False)  # a request, first: skipped, not the end of the tick
    rec.record("LLM", "U", None, False)         # counted, no timed sample: skipped
    rec.record("LLM", "N", float("nan"), False)
    history = LlmHistory()
    assert history.to_csv() == ""
    history.observe(1.0, rec)
    assert history.ticks == [] and history.to_csv() == ""  # no timed LLM sample: no tick
    rec.record_values("LLM", "A", [10.0, 30.0])
    rec.record("LLM", "B", 7.12345, False)
    history.observe(1700000000.12345, rec)
    rec.record("LLM", "A", 20.0, False)  # 10, 20, 30: p50 = 2nd (bucket middle, within 0.1 %), p95 = p99 = 30
    history.observe(1700000001.5, rec)
    header = "Timestamp,User Count,Type,Name,50%,95%,99%,Total Request Count,Total Failure Count\n"
    lines = history.to_csv().split("\n")
    assert lines[0] + "\n" == header and lines[-1] == ""
    assert lines[1:3] == ["1700000000.123,0,LLM,A,10.0,30.0,30.0,2,0", "1700000000.123,0,LLM,B,7.123,7.123,7.123,1,0"]
    time, kind, name, p50, p95, p99, count = lines[3].split(",")[0], *lines[3].split(",")[2:8]
    assert (time, kind, name, p95, p99, count) == ("1700000001.5", "LLM", "A", "30.0", "30.0", "3")
    assert float(p50) == pytest.approx(20.0, rel=1e-3)
    assert lines[4] == "1700000001.5,0,LLM,B,7.123,7.123,7.123,1,0" and len(lines) == 6
    history.reset()
    assert history.to_csv() == ""
    history.observe(2.0, rec)
    assert len(history.ticks) == 1


def test_llm_history_p50_p95_p99_are_those_ranks() -> None:
    """100 samples 1..100 ms: the p-th percentile is the p-th smallest (nearest rank), to within 0.1 %."""
    rec = RequestRecorder()
    rec.record_values("LLM", "A", [float(v) for v in range(1, 101)])
    history = LlmHistory()
    history.observe(5.0, rec)
    [[(now, name, count, p50, p95, p99)]] = history.ticks
    assert (now, name, count) == (5.0, "A", 100)
    assert (p50, p95, p99) == (pytest.approx(50.0, rel=1e-3), pytest.approx(95.0, rel=1e-3),
                               pytest.approx(99.0, rel=1e-3))


def test_llm_history_thins_every_other_tick_past_2048_and_keeps_the_last() -> None:
    assert llm_history.MAX_TICKS == 2048
    rec = RequestRecorder()
    rec.record("LLM", "A", 1.0, False)
    full = LlmHistory()
    full.ticks = [[(float(t), "A", 1, 1.0, 1.0, 1.0)] for t in range(2047)]
    full.observe(9999.0, rec)  # the 2048th tick: kept, nothing dropped
    assert [tick[0][0] for tick in full.ticks] == [*map(float, range(2047)), 9999.0]
    full.observe(10000.0, rec)  # the 2049th: ticks 0, 2, .., 2046, then the last
    assert [tick[0][0] for tick in full.ticks] == [*map(float, range(0, 2047, 2)), 10000.0]
    assert len(full.ticks) == 1025


def test_an_llm_keys_unknown_scenario_is_hinted_among_the_same_measurement_and_path() -> None:
    """``{scenario:...}`` of an ``llm_*`` key is compared with the user classes of the same measurement
    and path only (difflib ratio 2M/T by hand, cutoff 0.88): FastUsr/FastUser 14/15 = 0.93 (not the ITL
    entry of FastUsr itself), Chat/Chats 8/9 = 0.89 (not /v2's Chat), the class after the last " @" of a
    path that holds one (Chatt/Chat 0.89); Slow/Slower 8/10 = 0.8 is no typo."""
    table = _table('[thresholds]\n"llm_ttft{scenario:FastUsr}" = ["max<100"]\n'
                   '"llm_itl{name:/v1/chat,scenario:Chat}" = ["max<100"]\n'
                   '"llm_e2el{name:/a @b,scenario:Chatt}" = ["max<100"]\n"llm_tpot{scenario:Slow}" = ["max<100"]\n')
    rec = _recorder(table)
    for name in ("ITL /v1/chat @FastUsr", "TTFT /v1/chat @FastUser", "ITL /v2/chat @Chat", "ITL /v1/chat @Chats",
                 "E2EL /a @b @Chat", "TPOT /v1/chat @Slower"):
        rec.record("LLM", name, 5.0, False)
    verdict = evaluate(table, rec)
    assert verdict.reasons[:3] == (
        "llm_ttft{scenario:FastUsr}: no data: none of LLM TTFT * @FastUsr ran; did you mean "
        "'LLM TTFT /v1/chat @FastUser'? (it was requested, and no row judges it)",
        "llm_itl{name:/v1/chat,scenario:Chat}: no data: none of LLM ITL /v1/chat @Chat ran; did you mean "
        "'LLM ITL /v1/chat @Chats'? (it was requested, and no row judges it)",
        "llm_e2el{name:/a @b,scenario:Chatt}: no data: none of LLM E2EL /a @b @Chatt ran; did you mean "
        "'LLM E2EL /a @b @Chat'? (it was requested, and no row judges it)")
    assert not any("llm_tpot" in reason for reason in verdict.reasons)
    assert "llm_tpot{scenario:Slow}: no data: none of LLM TPOT * @Slow ran" in verdict.notes
