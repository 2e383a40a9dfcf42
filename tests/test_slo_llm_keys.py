"""The LLM keys (``llm_ttft``, ``llm_itl``, ``llm_tpot``, ``llm_e2el``, ``llm_output_tokens``,
``llm_input_tokens``): parsed in [thresholds] and in rows, refused with what and where, and judged
from a recorder filled by hand as the scenario fills it (request type ``LLM`` entries, tokens under
the reserved method): exact at a limit, with intervals, tokens summed and per second, tokens never
counted as requests, shipped across workers losslessly. Pure: no Locust."""

from __future__ import annotations

import pytest

from osiris_load.adapter.llm_stream import measurement_names, token_names
from osiris_load.core.openmodel.counts import GoodputPlan
from osiris_load.core.slo.evaluate import evaluate, plan_for
from osiris_load.core.slo.formatting import format_limit, format_observed
from osiris_load.core.slo.k6_metrics import LLM_METHOD, parse_k6_key
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import LLM_TABLE_PATH, SloFileError, SloTable, load_table, parse_table
from osiris_load.core.slo.verdict import FAIL, INCONCLUSIVE, NO_DATA, PASS

CHAT = "/v1/chat/completions"
TTFT, ITL, TPOT, E2EL = measurement_names(CHAT)
OUTPUT, INPUT = token_names(CHAT)


def _table(body: str) -> SloTable:
    return parse_table(body, "llm.toml")


def _answer(rec: RequestRecorder, ttft: float, gaps: list[float], input_tokens: int | None = 20,
            path: str = CHAT) -> None:
    """One whole answer as ``LlmUser`` reports it (one token per chunk)."""
    ttft_name, itl_name, tpot_name, e2el_name = measurement_names(path)
    output_name, input_name = token_names(path)
    e2e = ttft + sum(gaps)
    rec.record("POST", path, e2e, False)
    rec.record(LLM_METHOD, ttft_name, ttft, False)
    for gap in gaps:
        rec.record(LLM_METHOD, itl_name, gap, False)
    rec.record(LLM_METHOD, tpot_name, sum(gaps) / len(gaps), False)
    rec.record(LLM_METHOD, e2el_name, e2e, False)
    rec.record_tokens(output_name, len(gaps) + 1)
    if input_tokens is not None:
        rec.record_tokens(input_name, input_tokens)


def _results(verdict: object) -> dict[tuple[str, str], object]:
    return {(r.row, r.expression): r for r in verdict.thresholds}  # type: ignore[attr-defined]


def test_keys_select_the_scenarios_entries_by_name() -> None:
    assert parse_k6_key("llm_ttft").requests == ("LLM TTFT *",)
    assert parse_k6_key("llm_itl{name:/v1/chat/completions}").requests == ("LLM ITL /v1/chat/completions",)
    assert parse_k6_key("llm_e2el{name:/v1/*}").requests == ("LLM E2EL /v1/*",)
    assert parse_k6_key("llm_output_tokens{name:/v1/completions}").requests == ("TOKENS output /v1/completions",)
    table = _table('[thresholds]\n"llm_itl{name:/v1/completions}" = ["p(99)<50"]\n')
    [row] = table.rows
    assert row.matches_key((LLM_METHOD, "ITL /v1/completions"))
    assert not row.matches_key((LLM_METHOD, ITL))  # the other endpoint
    assert not row.matches_key(("POST", "/v1/completions"))


@pytest.mark.parametrize(("body", "fragment"), [
    ('[thresholds]\n"llm_ttf" = ["p(95)<5"]\n', "'llm_ttf' is not an LLM metric key (did you mean 'llm_ttft'?)"),
    ('[thresholds]\n"llm_ttft{scenario:X}" = ["p(95)<5"]\n',
     "tag 'scenario' at column 10 is not recorded here for llm_ttft; the LLM entries carry the request's name only"),
    ('[thresholds]\n"llm_itl{method:POST}" = ["p(95)<5"]\n', "supported tags: name"),
    ('[thresholds]\n"llm_ttft" = ["rate>1"]\n', "llm_ttft has no 'rate'; use avg or min or max or med or p(N)"),
    ('[thresholds]\n"llm_output_tokens" = ["p(95)<5"]\n', "llm_output_tokens has no 'p(95)'; use count or rate"),
    ('[thresholds]\n"llm_input_tokens" = ["rate>1%"]\n', "llm_input_tokens"),
    ('[[row]]\nname = "x"\nrequests = ["llm_ttft", "llm_itl"]\nthresholds = ["p(95)<5"]\n',
     "row 1 'x': requests 'llm_ttft', 'llm_itl': one row judges one llm_* metric"),
    ('[[row]]\nname = "x"\nrequests = ["llm_ttft", "POST /v1/chat/completions"]\nthresholds = ["p(95)<5"]\n',
     "row 1 'x': request 'POST /v1/chat/completions': a row over an llm_* key takes llm_* keys only"),
    ('[[row]]\nname = "x"\nrequests = ["llm_tpot"]\nthresholds = ["count>5"]\n',
     "row 1 'x': threshold 'count>5': llm_tpot has no 'count'"),
])
def test_bad_llm_keys_say_what_and_where(body: str, fragment: str) -> None:
    with pytest.raises(SloFileError) as caught:
        _table(body)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("llm.toml: ")


def test_rows_take_llm_keys_and_the_llm_method() -> None:
    table = _table('''
[[row]]
name = "ttft"
requests = ["llm_ttft{name:/v1/chat/completions}"]
thresholds = [{ threshold = "p(95)<300", abort_on_fail = true }]
required = true

[[row]]
name = "throughput"
requests = "llm_output_tokens"
thresholds = ["rate>=10"]

[[row]]
name = "gaps by entry"
requests = ["llm ITL /v1/*"]
thresholds = ["p(99)<100"]
''')
    ttft, throughput, gaps = table.rows
    assert (ttft.metric, ttft.requests, ttft.required, ttft.thresholds[0].abort_on_fail) == (
        "llm_ttft", (f"LLM TTFT {CHAT}",), True, True)
    assert throughput.is_tokens and throughput.thresholds[0].threshold.aggregation.kind == "throughput"
    assert gaps.requests == ("LLM ITL /v1/*",) and gaps.matches_key((LLM_METHOD, ITL))


def test_the_default_llm_table_judges_a_run_and_shows_its_units() -> None:
    table = load_table(LLM_TABLE_PATH)
    rec = RequestRecorder(plan_for(table))
    for i in range(40):
        _answer(rec, 100.0 + i, [10.0, 10.0, 10.0, 40.0])
    verdict = evaluate(table, rec, confidence=0.95, elapsed_s=10.0)
    results = _results(verdict)
    assert {r.estimate for r in verdict.thresholds} == {PASS}  # 40 answers: too few to settle p(99) at 95 %
    itl = results[("llm_itl", "p(99)<100")]
    assert (itl.n, itl.unit, itl.observed) == (160, "ms", pytest.approx(40.0, rel=1e-3))  # every gap one sample
    assert itl.interval is not None  # percentiles carry their interval
    tokens = results[("llm_output_tokens", "rate>0")]
    assert (tokens.unit, tokens.observed, tokens.n) == ("tokens/s", 200 / 10.0, 40)
    assert format_observed(tokens) == "20.00 tokens/s" and format_limit(tokens) == "> 0 tokens/s"
    # the answers (POST) and the LLM entries are requests; tokens are not
    assert verdict.tally.recorded == 40 * (1 + 1 + 4 + 1 + 1) and not verdict.tally.unjudged
    assert rec.total_requests == verdict.tally.recorded


def test_percentiles_are_decided_exactly_at_the_limit() -> None:
    """99 of 100 gaps at exactly 50 ms: p(99)<50 fails, p(99)<=50 passes, whatever the histogram's bucket."""
    table = _table('[thresholds]\n"llm_itl" = ["p(99)<50", "p(99)<=50", "p(98)<50.001"]\n')
    rec = RequestRecorder(plan_for(table))
    _answer(rec, 10.0, [50.0] * 99 + [49.0])
    results = _results(evaluate(table, rec))
    assert results[("llm_itl", "p(99)<50")].state == FAIL
    assert results[("llm_itl", "p(99)<=50")].state == PASS
    assert results[("llm_itl", "p(98)<50.001")].state == PASS
    assert results[("llm_itl", "p(99)<50")].at == 99


def test_tokens_count_and_rate_and_input_tokens_only_where_usage_said() -> None:
    table = _table('[thresholds]\n"llm_output_tokens" = ["count==12", "rate>=1.2"]\n'
                   '"llm_input_tokens" = ["count==20", "rate<3"]\n'
                   '"llm_input_tokens{name:/v1/completions}" = ["count>0"]\n')
    rec = RequestRecorder(plan_for(table))
    _answer(rec, 5.0, [1.0] * 5)  # 6 tokens, 20 in
    _answer(rec, 5.0, [1.0] * 5, input_tokens=None)  # no usage: no input sample
    results = _results(evaluate(table, rec, elapsed_s=10.0))
    count = results[("llm_output_tokens", "count==12")]
    assert (count.observed, count.unit, format_observed(count)) == (12, "tokens", "12 tokens")
    assert results[("llm_output_tokens", "rate>=1.2")].state == PASS
    assert (results[("llm_input_tokens", "count==20")].state, results[("llm_input_tokens", "count==20")].n) == (PASS, 1)
    assert results[("llm_input_tokens", "rate<3")].observed == 2.0
    assert results[("llm_input_tokens{name:/v1/completions}", "count>0")].state == FAIL  # count of nothing is 0
    assert evaluate(table, rec).thresholds[1].state == NO_DATA  # a rate needs the run's length


def test_workers_ship_llm_entries_and_tokens_losslessly_and_past_the_key_cap() -> None:
    table = load_table(LLM_TABLE_PATH)
    plan = plan_for(table)
    master, workers = RequestRecorder(plan), [RequestRecorder(plan, max_keys=2) for _ in range(3)]
    for i, worker in enumerate(workers):
        for j in range(5):
            _answer(worker, 80.0 + i + j, [12.0, 30.0 + j])
        master.merge_encoded(worker.drain())
    single = RequestRecorder(plan)
    for i in range(3):
        for j in range(5):
            _answer(single, 80.0 + i + j, [12.0, 30.0 + j])
    assert RequestRecorder.requests_in(workers[0].encode()) == 0
    merged, alone = (evaluate(table, r, elapsed_s=5.0) for r in (master, single))
    assert [(r.row, r.observed, r.n) for r in merged.thresholds] == [(r.row, r.observed, r.n) for r in alone.thresholds]
    assert _results(merged)[("llm_output_tokens", "rate>0")].observed == 45 / 5.0


def test_goodput_holds_each_llm_sample_to_its_rows_limits_and_tokens_to_none() -> None:
    table = _table('[thresholds]\n"llm_ttft" = ["p(95)<500"]\n"llm_itl" = ["p(99)<100"]\n'
                   '"llm_output_tokens" = ["count>0"]\n')
    plan = GoodputPlan.from_table(table)
    assert plan.bounds(LLM_METHOD, ITL)[0] == 100 and plan.bounds(LLM_METHOD, TTFT)[0] == 500
    assert [row[0] for row in plan.rows] == ["llm_ttft", "llm_itl"]


def test_a_split_table_still_judges_the_llm_keys() -> None:
    """k6's {status:...} on another key makes the recorder split its keys; LLM entries arrive with
    status 0 (no response object), tokens unsplit."""
    table = _table('[thresholds]\n"http_req_failed{status:500}" = ["rate<0.5"]\n"llm_ttft" = ["max<100"]\n'
                   '"llm_output_tokens" = ["count==3"]\n')
    rec = RequestRecorder(plan_for(table))
    assert rec.split
    rec.record(LLM_METHOD, TTFT, 50.0, False, 0)
    rec.record_tokens(OUTPUT, 3)
    results = _results(evaluate(table, rec))
    assert results[("llm_ttft", "max<100")].state == PASS and results[("llm_output_tokens", "count==3")].state == PASS


def test_inconclusive_near_the_limit_with_few_answers() -> None:
    table = _table('[thresholds]\n"llm_ttft" = ["p(90)<100"]\n')
    rec = RequestRecorder(plan_for(table))
    for value in (90.0, 95.0, 99.0, 101.0, 80.0, 85.0, 70.0, 75.0, 60.0, 65.0):
        _answer(rec, value, [1.0])
    [result] = evaluate(table, rec, confidence=0.95).thresholds
    assert (result.estimate, result.state) == (PASS, INCONCLUSIVE)
