"""The LLM keys (``llm_ttft``, ``llm_itl``, ``llm_tpot``, ``llm_e2el``, ``llm_output_tokens``,
``llm_input_tokens``): parsed in [thresholds] and in rows, refused with what and where, and judged
from recorders filled as the scenario fills them (``Recording.record_answer``: method ``LLM``
samples named by path and user class, tokens under the reserved method): exact at a limit, with
intervals, tokens summed and per second, selected by ``{name:...}`` and ``{scenario:...}``, never
counted as requests, corrected/measured under the open model, shipped across workers losslessly.
Pure: no Locust run."""

from __future__ import annotations

import csv
import io

import pytest

from osiris_load.adapter.llm_stream import measurement_names, token_names
from osiris_load.core.openmodel.counts import GoodputPlan, Iteration
from osiris_load.core.slo import llm_history
from osiris_load.core.slo.answers import record_answer
from osiris_load.core.slo.evaluate import evaluate, plan_for
from osiris_load.core.slo.formatting import format_limit, format_observed
from osiris_load.core.slo.k6_metrics import LLM_METHOD, parse_k6_key
from osiris_load.core.slo.llm_history import COLUMNS, LlmHistory
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import LLM_TABLE_PATH, SloFileError, SloTable, load_table, parse_table
from osiris_load.core.slo.verdict import FAIL, INCONCLUSIVE, NO_DATA, PASS

CHAT = "/v1/chat/completions"
USER = "OpenAIChatUser"
TTFT, ITL, TPOT, E2EL = measurement_names(CHAT, USER)
OUTPUT, INPUT = token_names(CHAT, USER)


def _table(body: str) -> SloTable:
    return parse_table(body, "llm.toml")


def _answer(rec: RequestRecorder, ttft: float, gaps: list[float], input_tokens: int | None = 20,
            path: str = CHAT, user: str = USER) -> None:
    """One whole answer as ``LlmUser`` reports it (one token per chunk, closed model): its request,
    then its measurements (``record_answer``, what the gate's ``Recording`` calls) and tokens."""
    e2e = ttft + sum(gaps)
    rec.record("POST", path, e2e, False)
    record_answer(rec, measurement_names(path, user), ttft, gaps, sum(gaps) / len(gaps), e2e)
    output_name, input_name = token_names(path, user)
    rec.record_tokens(output_name, len(gaps) + 1)
    if input_tokens is not None:
        rec.record_tokens(input_name, input_tokens)


def _results(verdict: object) -> dict[tuple[str, str], object]:
    return {(r.row, r.expression): r for r in verdict.thresholds}  # type: ignore[attr-defined]


def test_keys_select_the_scenarios_entries_by_name_and_scenario() -> None:
    assert parse_k6_key("llm_ttft").requests == ("LLM TTFT * @*",)
    assert parse_k6_key("llm_itl{name:/v1/chat/completions}").requests == ("LLM ITL /v1/chat/completions @*",)
    assert parse_k6_key("llm_e2el{name:/v1/*}").requests == ("LLM E2EL /v1/* @*",)
    assert parse_k6_key("llm_output_tokens{name:/v1/completions}").requests == ("TOKENS output /v1/completions @*",)
    assert parse_k6_key("llm_itl{scenario:Chat,name:/v1/*}").requests == ("LLM ITL /v1/* @Chat",)
    table = _table('[thresholds]\n"llm_itl{name:/v1/completions}" = ["p(99)<50"]\n')
    [row] = table.rows
    assert row.matches_key((LLM_METHOD, measurement_names("/v1/completions", USER)[1]))
    assert not row.matches_key((LLM_METHOD, ITL))  # the other endpoint
    assert not row.matches_key(("POST", "/v1/completions"))


@pytest.mark.parametrize(("body", "fragment"), [
    ('[thresholds]\n"llm_ttf" = ["p(95)<5"]\n', "'llm_ttf' is not an LLM metric key (did you mean 'llm_ttft'?)"),
    ('[thresholds]\n"llm_ttft{status:200}" = ["p(95)<5"]\n',
     "tag 'status' at column 10 is not recorded here for llm_ttft; supported tags: name, scenario"),
    ('[thresholds]\n"llm_itl{method:POST}" = ["p(95)<5"]\n', "supported tags: name, scenario"),
    ('[thresholds]\n"llm_itl{scenario:}" = ["p(95)<5"]\n', "bad tag selector 'scenario:' at column 9"),
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
        "llm_ttft", (f"LLM TTFT {CHAT} @*",), True, True)
    assert throughput.is_tokens and throughput.thresholds[0].threshold.aggregation.kind == "throughput"
    assert gaps.requests == ("LLM ITL /v1/* @*",) and gaps.matches_key((LLM_METHOD, ITL))


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
    # the answers (POST) are the requests; their measurements and tokens are not
    assert verdict.tally.recorded == 40 and verdict.tally.judged == 40 and not verdict.tally.unjudged
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
    """k6's {status:...} on another key makes the recorder split its keys; the LLM samples and tokens
    arrive unsplit (no status: they are no responses), and the split row takes none of them."""
    table = _table('[thresholds]\n"http_req_failed{status:500}" = ["rate<0.5"]\n"llm_ttft" = ["max<100"]\n'
                   '"llm_output_tokens" = ["count==2"]\n')
    rec = RequestRecorder(plan_for(table))
    assert rec.split
    _answer(rec, 50.0, [5.0])
    results = _results(evaluate(table, rec))
    assert results[("llm_ttft", "max<100")].state == PASS and results[("llm_output_tokens", "count==2")].state == PASS
    assert results[("http_req_failed{status:500}", "rate<0.5")].n == 0


def test_inconclusive_near_the_limit_with_few_answers() -> None:
    table = _table('[thresholds]\n"llm_ttft" = ["p(90)<100"]\n')
    rec = RequestRecorder(plan_for(table))
    for value in (90.0, 95.0, 99.0, 101.0, 80.0, 85.0, 70.0, 75.0, 60.0, 65.0):
        _answer(rec, value, [1.0])
    [result] = evaluate(table, rec, confidence=0.95).thresholds
    assert (result.estimate, result.state) == (PASS, INCONCLUSIVE)


TWO_USERS = """
[thresholds]
"llm_ttft{scenario:FastUser}" = ["max<100"]
"llm_ttft{scenario:SlowUser,name:/v1/*}" = ["min>=100"]
"llm_itl{scenario:SlowUser}" = ["p(50)==20"]
"llm_output_tokens{scenario:FastUser}" = ["count==6"]
"llm_ttft{scenario:FastUsr}" = ["max<100"]
"llm_ttft" = ["max<1000"]
"""


def test_scenario_selects_the_user_class_and_an_unknown_one_says_so() -> None:
    """Two LLM user classes on one path: {scenario:...} judges each apart (as on iteration_duration,
    the user class); an unknown scenario has no data and the verdict names the close one; no
    scenario pools both."""
    table = _table(TWO_USERS)
    rec = RequestRecorder(plan_for(table))
    for _ in range(3):
        _answer(rec, 50.0, [5.0], user="FastUser")
        _answer(rec, 200.0, [20.0, 20.0], user="SlowUser")
    verdict = evaluate(table, rec)
    results = _results(verdict)
    fast = results[("llm_ttft{scenario:FastUser}", "max<100")]
    assert (fast.state, fast.n) == (PASS, 3)
    assert results[("llm_ttft{scenario:SlowUser,name:/v1/*}", "min>=100")].state == PASS
    assert results[("llm_itl{scenario:SlowUser}", "p(50)==20")].n == 6  # SlowUser's gaps only
    assert results[("llm_output_tokens{scenario:FastUser}", "count==6")].state == PASS
    assert results[("llm_ttft", "max<1000")].n == 6  # both classes
    assert results[("llm_ttft{scenario:FastUsr}", "max<100")].state == NO_DATA
    assert any("llm_ttft{scenario:FastUsr}: no data: none of LLM TTFT * @FastUsr ran; did you mean "
               "'LLM TTFT /v1/chat/completions @FastUser'?" in r for r in verdict.reasons), verdict.reasons


def test_an_unnarrowed_http_key_takes_no_llm_sample_but_an_llm_row_does() -> None:
    """``http_req_duration`` (any method) judges the answers' requests, not their gaps; a row naming
    the ``LLM`` method (the old spelling, without a user class) still takes the samples."""
    table = _table('[thresholds]\n"http_req_duration" = ["max<10000"]\n'
                   '[[row]]\nname = "gaps"\nrequests = ["LLM ITL /v1/chat/completions"]\nthresholds = ["max<100"]\n')
    rec = RequestRecorder(plan_for(table))
    _answer(rec, 50.0, [5.0, 6.0, 7.0])
    results = _results(evaluate(table, rec))
    assert results[("http_req_duration", "max<10000")].n == 1
    assert results[("gaps", "max<100")].n == 3
    assert not GoodputPlan.from_table(table).meets(LLM_METHOD, ITL, 200.0)
    assert GoodputPlan.from_table(_table('[thresholds]\n"http_req_duration" = ["max<100"]\n')).meets(
        LLM_METHOD, ITL, 200.0)  # the HTTP row's limit is no bound on a gap


def test_the_open_model_corrects_ttft_and_e2el_and_keeps_gaps_measured() -> None:
    """Under the open model (an iteration 30 ms late): TTFT and E2EL judged at +30 ms with the measured
    figure in ``uncorrected``; gaps and TPOT the same in both; one gap beyond the ITL limit makes the
    iteration not good, as a request beyond its limit does."""
    table = _table('[thresholds]\n"llm_ttft" = ["max<1000"]\n"llm_e2el" = ["max<1000"]\n"llm_itl" = ["max<50"]\n'
                   '"llm_tpot" = ["max<1000"]\n')
    judged_rec, measured_rec = RequestRecorder(plan_for(table)), RequestRecorder(plan_for(table))
    goodput = GoodputPlan.from_table(table)
    iteration = Iteration()
    iteration.lateness_ms = 30.0
    record_answer(judged_rec, measurement_names(CHAT, USER), 100.0, [10.0, 20.0], 15.0, 130.0,
                  iteration=iteration, uncorrected=measured_rec, goodput=goodput)
    assert iteration.good
    judged, measured = (_results(evaluate(table, r)) for r in (judged_rec, measured_rec))
    for row, corrected, as_measured in (("llm_ttft", 130.0, 100.0), ("llm_e2el", 160.0, 130.0),
                                        ("llm_itl", 20.0, 20.0), ("llm_tpot", 15.0, 15.0)):
        [j] = [r for (name, _), r in judged.items() if name == row]
        [m] = [r for (name, _), r in measured.items() if name == row]
        assert (j.observed, m.observed) == (pytest.approx(corrected), pytest.approx(as_measured)), row
    record_answer(judged_rec, measurement_names(CHAT, USER), 100.0, [10.0, 60.0], 35.0, 170.0,
                  iteration=iteration, uncorrected=measured_rec, goodput=goodput)
    assert not iteration.good
    assert _results(evaluate(table, judged_rec))[("llm_itl", "max<50")].n == 4


def test_the_chargeable_recorder_takes_each_sample_less_the_stalls() -> None:
    """After a generator stall of 25 ms that overlapped the answer, each sample is charged 25 ms less
    (never below 0): the same bound the answer's request gets."""
    table = _table('[thresholds]\n"llm_ttft" = ["max<1000"]\n"llm_itl" = ["min>=0", "max<1000"]\n')
    judged_rec, charged = RequestRecorder(plan_for(table)), RequestRecorder(plan_for(table))
    record_answer(judged_rec, measurement_names(CHAT, USER), 100.0, [10.0, 40.0], 25.0, 150.0,
                  chargeable=charged, bound_ms=25.0)
    results = _results(evaluate(table, charged))
    assert results[("llm_ttft", "max<1000")].observed == pytest.approx(75.0)
    assert (results[("llm_itl", "min>=0")].observed, results[("llm_itl", "max<1000")].observed) == (
        0.0, pytest.approx(15.0))


def test_the_llm_history_ticks_each_entry_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate's history of the LLM entries (report.html's TTFT/ITL over time): per tick each entry's
    count and exact percentiles since the start, in Locust's history columns; thinned past MAX_TICKS
    with the last tick kept; nothing without LLM samples."""
    rec = RequestRecorder(plan_for(load_table(LLM_TABLE_PATH)))
    history = LlmHistory()
    rec.record("POST", CHAT, 5.0, False)
    history.observe(100.0, rec)
    assert history.to_csv() == ""  # no LLM sample yet: no tick, no file
    _answer(rec, 50.0, [10.0, 30.0])
    history.observe(101.0, rec)
    rows = list(csv.DictReader(io.StringIO(history.to_csv())))
    assert tuple(rows[0]) == COLUMNS
    itl = next(r for r in rows if r["Name"] == ITL)
    assert (itl["Type"], itl["Total Request Count"], float(itl["50%"]), float(itl["99%"])) == (
        "LLM", "2", 10.0, pytest.approx(30.0, rel=1e-3))
    assert {r["Name"] for r in rows} == {TTFT, ITL, TPOT, E2EL}
    monkeypatch.setattr(llm_history, "MAX_TICKS", 8)
    for t in range(13):
        history.observe(200.0 + t, rec)
    assert len(history.ticks) <= 8 and history.ticks[-1][0][0] == 212.0
