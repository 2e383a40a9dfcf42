# ruff: noqa: E501  (golden messages are compared whole)
"""Every message of the SLO file loader and of durations, word for word: what a user sees of a bad
file in a CI log (the mutation test of ``slo/`` relies on these)."""

from __future__ import annotations

import pytest

from osiris_load.core.slo.gate_options import check_gate_env, check_gate_options, flag_value, requested_rows
from osiris_load.core.slo.table import SloFileError, parse_duration, parse_table

CASES = [
    ('[[row]]\nname = true\nrequests = ["GET /a"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1: 'name' must be a string, got boolean"),
    ('[[row]]\nname = "a"\nrequests = 3\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must be an array of strings like "GET /health", got integer'),
    ('[[row]]\nname = "a"\nrequests = 3.5\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must be an array of strings like "GET /health", got float'),
    ('[[row]]\nname = "a"\nrequests = {x = 1}\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must be an array of strings like "GET /health", got table'),
    ('[[row]]\nname = "a"\nrequests = [[1]]\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': request 1 must be a string like "GET /health", got array'),
    ('[[row]]\nname = "a"\nrequests = [1979-05-27]\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': request 1 must be a string like "GET /health", got date/time'),
    ('[[row]]\nname = "a"\nrequests = ["/health"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': request '/health' has no method: write it as 'METHOD NAME', e.g. 'GET /health'"),
    ('[[row]]\nname = "a"\nrequests = ["  "]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': request '  ' has no method: write it as 'METHOD NAME', e.g. 'GET /health'"),
    ('[[row]]\nname = "a"\nrequests = ["get"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': request 'get' has no name after the method: write it as 'METHOD NAME', e.g. 'GET /health'"),
    ('[[row]]\nname = "a"\nrequests = []\nthresholds = ["p(95)<1"]\n',
     'f.toml: row 1 \'a\': \'requests\' must not be empty: list the requests this SLO judges, e.g. ["GET /health"]'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [3]\n',
     'f.toml: row 1 \'a\': threshold 1 must be a string like "p(95)<800" or a table { threshold = "...", abort_on_fail = true }, got integer'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{abort_on_fail = true}]\n',
     "f.toml: row 1 'a': threshold 1: missing key 'threshold' (the expression)"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = 1}]\n',
     "f.toml: row 1 'a': threshold 1: 'threshold' must be a string, got integer"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", abort_on_fail = "yes"}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': 'abort_on_fail' must be true or false, got string"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", abort_on_fail = true, delay_abort_eval = "10"}]\n',
     'f.toml: row 1 \'a\': threshold \'p(95)<1\': \'delay_abort_eval\': bad duration \'10\' (a string needs a unit): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", delay_abort_eval = "10s"}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': 'delay_abort_eval' has no effect without abort_on_fail = true"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", abortOnFail = true, delay_Abort_Eval = 1}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': unknown keys 'abortOnFail' (did you mean 'abort_on_fail'?), 'delay_Abort_Eval' (did you mean 'delay_abort_eval'?); allowed: threshold, abort_on_fail, delay_abort_eval"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = {}\n',
     'f.toml: row 1 \'a\': \'thresholds\' must be an array of expressions like "p(95)<800", got table'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = []\n',
     'f.toml: row 1 \'a\': \'thresholds\' must not be empty: add e.g. "p(95)<800"'),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = ["p(95)<1"]\nrequire = true\n',
     "f.toml: row 1 'a': unknown key 'require' (did you mean 'required'?); allowed: name, requests, thresholds, required, description"),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_loader_messages(text: str, message: str) -> None:
    with pytest.raises(SloFileError) as caught:
        parse_table(text, "f.toml")
    assert str(caught.value) == message


DURATIONS = [
    (True, 'bad duration True (boolean): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    (None, 'bad duration None (nothing): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('10', 'bad duration \'10\' (a string needs a unit): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('', 'bad duration \'\': use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('1x', 'bad duration \'1x\': use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ('-1s', 'bad duration \'-1s\': use e.g. "10s", "500ms", "1m" or a number of seconds'),
    ([1], 'bad duration [1] (array): use e.g. "10s", "500ms", "1m" or a number of seconds'),
    (float("inf"), 'bad duration inf: must be a finite number of seconds >= 0'),
]


@pytest.mark.parametrize(("value", "message"), DURATIONS)
def test_duration_messages(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


def test_durations_and_requests_that_load() -> None:
    assert [parse_duration(v) for v in (1.5, "1m30s", "500ms", ".5s", 0, "1h")] == [1.5, 90.0, 0.5, 0.5, 0.0, 3600.0]
    table = parse_table('[[row]]\nname = "a"\nrequests = ["get  /a b", "POST /x"]\nthresholds = '
                        '[{threshold = "p(95)<1", abort_on_fail = true, delay_abort_eval = "2s"}, "count>1"]\n')
    row = table.rows[0]
    assert row.requests == ("GET /a b", "POST /x") and row.thresholds[0].delay_abort_eval_s == 2.0
    assert row.thresholds[1].delay_abort_eval_s == 0.0 and not row.thresholds[1].abort_on_fail
    assert row.latency_limits == (1.0,) and table.row("a") is row
    with pytest.raises(KeyError):
        table.row("b")


# -- the gate's options (osiris_load.core.slo.gate_options): the checks a parser type cannot make ---------------

_ACCEPTED = 'use e.g. "10s", "500ms", "1m" or a number of seconds'
OPTION_CASES = [  # (values by option name, the message; the label is the flag)
    ({"slo_window": "0.5"}, "--slo-window '0.5': a time window is 0 (off) or at least 1 s, got 0.5"),
    ({"slo_confidence": "1"},
     "--slo-confidence '1': confidence must be 0 (intervals off) or between 0.5 and 1 (exclusive), got '1'"),
    ({"slo_confidence": "0.9", "slo_until_settled": "soon"}, f"--slo-until-settled 'soon': bad duration 'soon': {_ACCEPTED}"),
]


@pytest.mark.parametrize(("values", "message"), OPTION_CASES)
def test_gate_option_messages_name_the_flag(values: dict, message: str) -> None:
    with pytest.raises(SloFileError) as caught:
        check_gate_options(values.get)
    assert str(caught.value) == message


def test_gate_options_that_pass() -> None:
    check_gate_options({}.get)  # nothing given: nothing to check
    check_gate_options({"slo_confidence": "0.9", "slo_until_settled": "1m30s", "slo_window": "10"}.get)
    check_gate_options({"slo_confidence": 0, "slo_until_settled": "  ", "slo_window": 0}.get)  # blank: not set


def test_a_gate_option_is_named_as_the_caller_calls_it() -> None:
    values = {"slo_window": "0.5", "slo_confidence": "2"}
    with pytest.raises(SloFileError) as caught:  # named by its variable when the caller names it
        check_gate_options(values.get, {"slo_confidence": "OSIRIS_SLO_CONFIDENCE"})
    assert str(caught.value).startswith("OSIRIS_SLO_CONFIDENCE '2': confidence must be 0")
    with pytest.raises(SloFileError) as caught:  # else by its flag
        check_gate_options({"slo_window": "0.5"}.get, {"slo_confidence": "OSIRIS_SLO_CONFIDENCE"})
    assert str(caught.value).startswith("--slo-window '0.5': ")


ENV_CASES = [  # one bad variable each: the message names it and what is wrong
    ({"OSIRIS_SLO_FINAL_WAIT": "soon"}, "OSIRIS_SLO_FINAL_WAIT 'soon': not a number"),
    ({"OSIRIS_SLO_STRICT": "maybe"},
     "OSIRIS_SLO_STRICT 'maybe': 'maybe' is not one of true, false, yes, no, on, off, 1, 0"),
    ({"OSIRIS_SLO_INCONCLUSIVE": "sometimes"}, "OSIRIS_SLO_INCONCLUSIVE 'sometimes': must be one of estimate, fail, pass"),
    ({"OSIRIS_SLO_GENERATOR_MONITOR": "auto"}, "OSIRIS_SLO_GENERATOR_MONITOR 'auto': must be one of on, off"),
    ({"OSIRIS_SLO_CONFIDENCE": "0.3"},
     "OSIRIS_SLO_CONFIDENCE '0.3': confidence must be 0 (intervals off) or between 0.5 and 1 (exclusive), got '0.3'"),
    ({"OSIRIS_SLO_WINDOW": "0.5"}, "OSIRIS_SLO_WINDOW '0.5': a time window is 0 (off) or at least 1 s, got 0.5"),
]


@pytest.mark.parametrize(("environ", "message"), ENV_CASES)
def test_gate_env_messages_name_the_variable(environ: dict, message: str) -> None:
    with pytest.raises(SloFileError) as caught:
        check_gate_env(environ)
    assert str(caught.value) == message


def test_gate_env_that_passes() -> None:
    check_gate_env({})
    check_gate_env({"OSIRIS_SLO_FILE": "slo.toml", "OSIRIS_SLO_ROWS": "a,b", "OSIRIS_SLO_STRICT": "TRUE",
                    "OSIRIS_SLO_ALLOW_LOST_WORKERS": "0", "OSIRIS_SLO_CONFIDENCE": "0.95",
                    "OSIRIS_SLO_INCONCLUSIVE": "fail", "OSIRIS_SLO_UNTIL_SETTLED": "1m30s",
                    "OSIRIS_SLO_WINDOW": "10", "OSIRIS_SLO_EVAL_INTERVAL": "1.5", "OSIRIS_SLO_FINAL_WAIT": "0",
                    "OSIRIS_SLO_GENERATOR_MONITOR": "off", "PATH": "/bin"})


def test_flags_and_row_lists_read_as_the_locust_parser_reads_them() -> None:
    words = ["true", "Yes", "ON", "1", "false", "No", "off", "0"]
    assert [flag_value(w) for w in words] == [True, True, True, True, False, False, False, False]
    with pytest.raises(ValueError, match=r"^'maybe' is not one of true, false, yes, no, on, off, 1, 0$"):
        flag_value("maybe")
    assert requested_rows(" a , b,,c ") == ["a", "b", "c"]
    assert requested_rows("a b") == ["a b"]
    assert requested_rows(None) == [] and requested_rows("") == []
def _llm_row(requests: str, thresholds: str = '["p(95)<5"]') -> str:
    return f'[[row]]\nname = "x"\nrequests = {requests}\nthresholds = {thresholds}\n'


LLM_ROWS = [
    (_llm_row('["llm_ttft", 3]'),
     "f.toml: row 1 'x': request 3: a row over an llm_* key takes llm_* keys only (one metric); put HTTP requests in a row of their own"),
    (_llm_row('["GET /a", "llm_ttft"]'),
     "f.toml: row 1 'x': request 'GET /a': a row over an llm_* key takes llm_* keys only (one metric); put HTTP requests in a row of their own"),
    (_llm_row('["llm_ttfx"]'),
     "f.toml: row 1 'x': threshold key 'llm_ttfx': 'llm_ttfx' is not an LLM metric key (did you mean 'llm_ttft'?); supported: http_req_failed, checks, http_req_duration, http_reqs, iteration_duration, llm_ttft, llm_itl, llm_tpot, llm_e2el, llm_output_tokens, llm_input_tokens"),
    (_llm_row('["llm_ttft", "llm_itl"]'),
     "f.toml: row 1 'x': requests 'llm_ttft', 'llm_itl': one row judges one llm_* metric (of llm_ttft, llm_itl, llm_tpot, llm_e2el, llm_output_tokens, llm_input_tokens), got llm_itl, llm_ttft"),
]


def test_llm_rows_take_one_metric_and_list_each_entry_once() -> None:
    # the same key twice and a padded one: the entries once each, in the file's order
    table = parse_table(_llm_row('["llm_output_tokens{name:/a}", "llm_output_tokens{name:/a}", " llm_output_tokens{name:/b} "]',
                                 '["rate>5", "count>1"]'))
    [row] = table.rows
    assert (row.metric, row.requests) == ("llm_output_tokens", ("TOKENS output /a @*", "TOKENS output /b @*"))
    assert [(s.threshold.aggregation.kind, s.threshold.value) for s in row.thresholds] == [("throughput", 5.0), ("count", 1.0)]
    [single] = parse_table(_llm_row('"llm_ttft"')).rows  # one key as a string
    assert (single.metric, single.requests) == ("llm_ttft", ("LLM TTFT * @*",))
    # the LLM method written as a request is an ordinary request row (no metric)
    [entry] = parse_table(_llm_row('["llm TTFT /a"]')).rows
    assert (entry.metric, entry.requests) == ("", ("LLM TTFT /a @*",))


K6_ENTRIES = [
    ('[thresholds]\nhttp_req_duration = [{threshold = 5}]\n',
     "f.toml: [thresholds] 'http_req_duration': threshold 1: 'threshold' must be a string (the expression), got integer"),
    ('[thresholds]\nhttp_req_duration = [{threshold = "p(95)<5", abortOnFail = "yes"}]\n',
     "f.toml: [thresholds] 'http_req_duration': threshold 'p(95)<5': 'abortOnFail' must be true or false, got string"),
    ('[thresholds]\nhttp_req_duration = ["p(95)<5", 3]\n',
     'f.toml: [thresholds] \'http_req_duration\': threshold 2 must be a string like "p(95)<800" or a table { threshold = "...", abortOnFail = true }, got integer'),
    # a key that difflib finds nothing close to, but that is an allowed key once '_' are dropped and case folded
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = "p(95)<1", a__b__o__r__t_____o__n_____f__a__i__l = true}]\n',
     "f.toml: row 1 'a': threshold 'p(95)<1': unknown key 'a__b__o__r__t_____o__n_____f__a__i__l' (did you mean 'abort_on_fail'?); allowed: threshold, abort_on_fail, delay_abort_eval"),
    ('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = ["p(95)<1"]\nR__E__Q__U__I__R__E__D = true\n',
     "f.toml: row 1 'a': unknown key 'R__E__Q__U__I__R__E__D' (did you mean 'required'?); allowed: name, requests, thresholds, required, description"),
]


def test_k6_entries_abort_only_when_asked() -> None:
    table = parse_table('[thresholds]\nhttp_req_duration = ["p(95)<5", {threshold = "p(99)<9"}, '
                        '{threshold = "p(50)<1", abortOnFail = true, delayAbortEval = "2s"}]\n')
    [row] = table.rows
    assert [(s.threshold.source, s.abort_on_fail, s.delay_abort_eval_s) for s in row.thresholds] == [
        ("p(95)<5", False, 0.0), ("p(99)<9", False, 0.0), ("p(50)<1", True, 2.0)]


def test_row_threshold_tables_default_and_read_llm_keys() -> None:
    [row] = parse_table(_llm_row('["llm_output_tokens"]', '[{threshold = "rate>5", abort_on_fail = true}, {threshold = "count>1"}]')).rows
    assert [(s.threshold.aggregation.kind, s.threshold.value, s.abort_on_fail, s.delay_abort_eval_s) for s in row.thresholds] == [
        ("throughput", 5.0, True, 0.0), ("count", 1.0, False, 0.0)]
    # a threshold that is not a string is not named as the expression of an unknown-key message
    with pytest.raises(SloFileError) as caught:
        parse_table('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = [{threshold = 5, bogus = 1}]\n', "f.toml")
    assert str(caught.value) == "f.toml: row 1 'a': unknown key 'bogus'; allowed: threshold, abort_on_fail, delay_abort_eval"


DOCUMENT_CASES = [
    ('[[rows]]\nname = "x"\n',
     "f.toml: unknown key 'rows' (did you mean 'row'?); allowed: row, thresholds (each SLO is a [[row]] table, or a k6 metric key in [thresholds])"),
    ('thresholds = 5\n', "f.toml: 'thresholds' must be a table of k6 metric keys ([thresholds]), got integer"),
    ('[thresholds]\nhttp_req_duration = 5\n',
     'f.toml: [thresholds] \'http_req_duration\': expected a non-empty array of expressions like "p(95)<800" (k6\'s thresholds), got integer'),
    ('[thresholds]\nhttp_req_duration = []\n',
     'f.toml: [thresholds] \'http_req_duration\': expected a non-empty array of expressions like "p(95)<800" (k6\'s thresholds), got an empty array'),
    ('row = [1, 2]\n', "f.toml: row 1: expected a table ([[row]] with name, requests, thresholds), got integer"),
    ('[[row]]\nname = "a"\nrequests = ["FETCH /x"]\nthresholds = ["p(95)<1"]\n',
     "f.toml: row 1 'a': unknown HTTP method 'FETCH' in request 'FETCH /x'; expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, TRACE, CONNECT (or LLM for the LLM measurements, or an llm_* key)"),
]


def test_k6_keys_take_one_expression_or_one_table_and_warnings_keep_ten_decimals() -> None:
    table = parse_table('[thresholds]\nhttp_req_duration = "p(95)<5"\nhttp_reqs = {threshold = "count>2", abortOnFail = true}\n')
    assert [(r.name, [(s.threshold.source, s.abort_on_fail) for s in r.thresholds]) for r in table.rows] == [
        ("http_req_duration", [("p(95)<5", False)]), ("http_reqs", [("count>2", True)])]
    [row] = parse_table('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = ["p(95)<1"]\n').rows
    assert (row.description, row.required) == ("", False)
    # 0.0123456789012 * 100 = 1.23456789012, written to 10 decimals: 1.2345678901
    warned = parse_table('[[row]]\nname = "a"\nrequests = ["GET /a"]\nthresholds = ["rate<0.0123456789012"]\n', "f.toml")
    assert warned.warnings == (
        "f.toml: row 'a': 'rate<0.0123456789012' asks for a success rate below 1.2345678901%: a clean run fails it. "
        "If it is a failure rate, write 'fail_rate<0.0123456789012' (or, as in k6, "
        "http_req_failed = [\"rate<0.0123456789012\"] in [thresholds])",)


def test_request_names_keep_their_spaces_and_wildcards_span_lines() -> None:
    from osiris_load.core.slo.table import request_matchers

    matches = request_matchers(["get /a b", "POST /x*", "* /any"])
    assert matches("GET", "/a b") and not matches("GET", "b") and not matches("GET /a", "b")
    assert matches("post", "/x\ny")  # '*' is any run of characters, newlines included
    assert matches("DELETE", "/any") and not matches("DELETE", "/any/more")
    with pytest.raises(SloFileError) as caught:
        parse_table("[[row]]\nname = 1\n")
    assert str(caught.value).startswith("<string>: row 1: ")  # the default source


@pytest.mark.parametrize(("text", "message"), LLM_ROWS + K6_ENTRIES + DOCUMENT_CASES)
def test_more_loader_messages(text: str, message: str) -> None:
    """llm rows, k6 entries in [thresholds], key hints and document-level refusals, word for word."""
    test_loader_messages(text, message)
