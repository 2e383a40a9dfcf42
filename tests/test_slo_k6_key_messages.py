"""k6 threshold keys and expressions (osiris_load/core/slo/k6_metrics.py): every refusal's exact message, and every
tag read back. The messages are the user's only guide to a key they pasted from a k6 script, so
each word and column is asserted; the expected texts are written out by hand."""

from __future__ import annotations

import pytest

from osiris_load.core.slo.expressions import Aggregation, ExpressionError, Threshold
from osiris_load.core.slo.k6_metrics import (
    ITERATION_METHOD,
    K6_METRICS,
    K6_TAGS,
    K6Key,
    K6KeyError,
    k6_seconds,
    parse_k6_expression,
    parse_k6_key,
)

SUPPORTED = ("supported: http_req_failed, checks, http_req_duration, http_reqs, iteration_duration, llm_ttft, "
             "llm_itl, llm_tpot, llm_e2el, llm_output_tokens, llm_input_tokens")


def test_the_metric_and_tag_tables() -> None:
    assert ITERATION_METHOD == "\x00ITERATION"
    assert K6_METRICS == {"http_req_failed": ("rate",), "checks": ("rate",),
                          "http_req_duration": ("avg", "min", "max", "med", "p(N)"), "http_reqs": ("count", "rate"),
                          "iteration_duration": ("avg", "min", "max", "med", "p(N)", "count"),
                          **{k: ("avg", "min", "max", "med", "p(N)") for k in ("llm_ttft", "llm_itl", "llm_tpot",
                                                                                "llm_e2el")},
                          "llm_output_tokens": ("count", "rate"), "llm_input_tokens": ("count", "rate")}
    assert K6_TAGS == ("name", "method", "status", "expected_response")


@pytest.mark.parametrize(("key", "message"), [
    ("  {x}", "threshold key '  {x}': expected a k6 metric name at column 3"),
    ("http_req_blocked", f"threshold key 'http_req_blocked': 'http_req_blocked' is a k6 metric this gate does not "
                         f"measure; {SUPPORTED}"),
    ("vus_max", f"threshold key 'vus_max': 'vus_max' is a k6 metric this gate does not measure; {SUPPORTED}"),
    ("my_metric", f"threshold key 'my_metric': 'my_metric' is not a k6 built-in metric (custom metrics are not "
                  f"carried over); {SUPPORTED}"),
    ("http_reqs[x]", "threshold key 'http_reqs[x]': expected '{tag:value,...}' after 'http_reqs' at column 10"),
    (" http_reqs{x", "threshold key ' http_reqs{x': expected '{tag:value,...}' after 'http_reqs' at column 11"),
    ("http_reqs x}", "threshold key 'http_reqs x}': expected '{tag:value,...}' after 'http_reqs' at column 10"),
    ("http_reqs{name}", "threshold key 'http_reqs{name}': bad tag selector 'name' at column 11: write tag:value, "
                        "e.g. {name:/generate}"),
    ("http_reqs{name:/a, method}", "threshold key 'http_reqs{name:/a, method}': bad tag selector 'method' at "
                                   "column 19: write tag:value, e.g. {name:/generate}"),
    ("http_reqs{:x}", "threshold key 'http_reqs{:x}': bad tag selector ':x' at column 11: write tag:value, "
                      "e.g. {name:/generate}"),
    ("http_reqs{name: }", "threshold key 'http_reqs{name: }': bad tag selector 'name:' at column 11: write "
                          "tag:value, e.g. {name:/generate}"),
    ("http_reqs{foo:1}", "threshold key 'http_reqs{foo:1}': tag 'foo' at column 11 is not recorded here; "
                         "supported tags: name, method, status, expected_response"),
    ("iteration_duration{name:x}", "threshold key 'iteration_duration{name:x}': tag 'name' at column 20 is not "
                                   "recorded here for iteration_duration; supported tags: scenario"),
    ("http_reqs{name:a,name:b}", "threshold key 'http_reqs{name:a,name:b}': tag 'name' given twice (column 18)"),
    ("http_reqs{status:abc}", "threshold key 'http_reqs{status:abc}': status 'abc' at column 11 is not an HTTP "
                              "status code (e.g. 200; 0 is no response)"),
    ("http_reqs{status:1000}", "threshold key 'http_reqs{status:1000}': status '1000' at column 11 is not an HTTP "
                               "status code (e.g. 200; 0 is no response)"),
    ("http_reqs{expected_response:yes}", "threshold key 'http_reqs{expected_response:yes}': expected_response "
                                         "must be true or false, got 'yes' (column 11)"),
])
def test_bad_keys_say_what_and_where(key: str, message: str) -> None:
    with pytest.raises(K6KeyError) as caught:
        parse_k6_key(key)
    assert str(caught.value) == message


def test_every_tag_is_read() -> None:
    key = parse_k6_key("  http_req_duration{ name : /a , method:get,status:0,expected_response:false}  ")
    assert key == K6Key(source="http_req_duration{ name : /a , method:get,status:0,expected_response:false}",
                        metric="http_req_duration", name="/a", method="GET", status=0, expected=False, scenario=None)
    assert key.requests == ("GET /a",)
    assert parse_k6_key("http_reqs{status:999,expected_response:true}") == K6Key(
        source="http_reqs{status:999,expected_response:true}", metric="http_reqs", status=999, expected=True)


@pytest.mark.parametrize(("key", "requests"), [
    ("http_reqs", ("* *",)),
    ("http_reqs{name:/x}", ("* /x",)),
    ("http_reqs{method:post}", ("POST *",)),
    ("checks{name:0}", ("* 0",)),
    ("http_reqs{name:/a:b}", ("* /a:b",)),  # the value runs to the next comma, colons included
    ("iteration_duration", ("ITERATION *",)),
    ("iteration_duration{scenario:Reader}", ("ITERATION Reader",)),
])
def test_requests_pattern_of_a_key(key: str, requests: tuple[str, ...]) -> None:
    assert parse_k6_key(key).requests == requests


@pytest.mark.parametrize(("metric", "text", "message"), [
    ("http_req_failed", "avg<1", "avg<1: http_req_failed has no 'avg' in k6; use rate"),
    ("checks", "count>1", "count>1: checks has no 'count' in k6; use rate"),
    ("http_reqs", "p(95)<1", "p(95)<1: http_reqs has no 'p(95)' in k6; use count or rate"),
    ("http_req_duration", "rate<1", "rate<1: http_req_duration has no 'rate' in k6; use avg or min or max or med "
                                    "or p(N)"),
    ("http_req_duration", "count<1", "count<1: http_req_duration has no 'count' in k6; use avg or min or max or med "
                                     "or p(N)"),
    ("iteration_duration", "rate>1", "rate>1: iteration_duration has no 'rate' in k6; use avg or min or max or med "
                                     "or p(N) or count"),
])
def test_an_aggregation_the_metric_lacks_is_refused(metric: str, text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_k6_expression(metric, text)
    assert (str(caught.value), caught.value.column) == (message, 1)


@pytest.mark.parametrize(("metric", "text", "threshold"), [
    ("http_req_failed", "rate<0.01", Threshold("rate<0.01", Aggregation("fail_rate"), "<", 0.01)),
    ("checks", "rate>0.9", Threshold("rate>0.9", Aggregation("rate"), ">", 0.9)),
    ("http_reqs", "rate>=10", Threshold("rate>=10", Aggregation("throughput"), ">=", 10.0)),
    ("http_reqs", "count>5", Threshold("count>5", Aggregation("count"), ">", 5.0)),
    ("http_req_duration", "p(95)<800", Threshold("p(95)<800", Aggregation("p", 95.0), "<", 800.0)),
    ("http_req_duration", "med<=1s", Threshold("med<=1s", Aggregation("med"), "<=", 1000.0)),
    ("iteration_duration", "count>5", Threshold("count>5", Aggregation("count"), ">", 5.0)),
    ("iteration_duration", "max<2000", Threshold("max<2000", Aggregation("max"), "<", 2000.0)),
])
def test_k6_meanings_of_the_expressions(metric: str, text: str, threshold: Threshold) -> None:
    assert parse_k6_expression(metric, text) == threshold


@pytest.mark.parametrize(("key", "message"), [
    # a close name is hinted: difflib's ratio 2*M/T, "http_req" in "http_reqs": 2*8/17 = 0.94 >= 0.75
    ("http_req", f"threshold key 'http_req': 'http_req' is not a k6 built-in metric (custom metrics are not carried "
                 f"over) (did you mean 'http_reqs'?); {SUPPORTED}"),
    # "duration" in "http_req_duration": 2*8/25 = 0.64, under the 0.75 cutoff: no hint
    ("duration", f"threshold key 'duration': 'duration' is not a k6 built-in metric (custom metrics are not carried "
                 f"over); {SUPPORTED}"),
    # an LLM-looking key, any case, compared lower-cased ("llm_ttft" itself: ratio 1)
    ("LLM_TTFT", f"threshold key 'LLM_TTFT': 'LLM_TTFT' is not an LLM metric key (did you mean 'llm_ttft'?); "
                 f"{SUPPORTED}"),
    ("llm_ttft{method:GET}", "threshold key 'llm_ttft{method:GET}': tag 'method' at column 10 is not recorded here "
                             "for llm_ttft; supported tags: name, scenario"),
    ("llm_input_tokens{status:200}", "threshold key 'llm_input_tokens{status:200}': tag 'status' at column 18 is not "
                                     "recorded here for llm_input_tokens; supported tags: name, scenario"),
])
def test_misnamed_and_llm_keys_say_what_and_where(key: str, message: str) -> None:
    with pytest.raises(K6KeyError) as caught:
        parse_k6_key(key)
    assert str(caught.value) == message


def test_llm_keys_take_their_name_and_scenario_tags() -> None:
    """The entries are named "<prefix> <path> @<user class>": an absent tag is the pattern "*"."""
    assert parse_k6_key("llm_itl{name:/v1/chat}").requests == ("LLM ITL /v1/chat @*",)
    assert parse_k6_key("llm_output_tokens{name:/v1}").requests == ("TOKENS output /v1 @*",)
    assert parse_k6_key("llm_tpot{scenario:Chat}").requests == ("LLM TPOT * @Chat",)
    assert parse_k6_key("llm_input_tokens{scenario:Chat,name:/v1}").requests == ("TOKENS input /v1 @Chat",)


@pytest.mark.parametrize(("metric", "text", "message"), [  # no "in k6" for the LLM keys: k6 has none
    ("llm_ttft", "rate<1", "rate<1: llm_ttft has no 'rate'; use avg or min or max or med or p(N)"),
    ("llm_output_tokens", "p(95)<1", "p(95)<1: llm_output_tokens has no 'p(95)'; use count or rate"),
])
def test_an_aggregation_an_llm_key_lacks_is_refused(metric: str, text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_k6_expression(metric, text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("value", "message"), [
    (True, "True is not a duration (a number of milliseconds or a string like '30s')"),
    ([30], "[30] is not a duration (a number of milliseconds or a string like '30s')"),
    ("1m30x", "'1m30x' is not a duration (e.g. '30s', '1m30s', '500ms', or a number of ms)"),
    (-5, "-5 is not a duration >= 0"),
])
def test_k6_duration_refusals(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        k6_seconds(value)
    assert str(caught.value) == message


def test_k6_durations() -> None:
    # ns, us and µs, ms, s, m, h, d summed by hand; "1m500ms": the longer suffix "ms" wins over "m"
    assert k6_seconds("1m500ms") == 60.5
    assert k6_seconds(" 30 ") == 0.03  # a string of digits is milliseconds, as a number is
    assert [k6_seconds(v) for v in ("2d", "1h", "1.5s", "250us", "250µs", "100ns", 1500, 2.5)] == pytest.approx(
        [172800.0, 3600.0, 1.5, 0.00025, 0.00025, 1e-7, 1.5, 0.0025])
