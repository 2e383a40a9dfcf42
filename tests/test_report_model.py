"""The report model (osiris_load/core/report/model.py) on hand-built data: pure, no run folder, no pandas.

Every expected text and number below is written out by hand from the documented rules (the gate's
formatter, the verdict precedence), never computed by the code under test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from osiris_load.core.report.model import (
    FAIL,
    INCONCLUSIVE,
    NO_DATA,
    NOT_JUDGED,
    PASS,
    PERCENTILES,
    Endpoint,
    Failure,
    Gate,
    Run,
    Scenario,
    Series,
    format_ms,
    series_key,
    verdict_word,
)
from osiris_load.core.slo import verdict as v
from osiris_load.core.slo.formatting import (
    format_interval,
    format_limit,
    format_observed,
    format_settle,
    format_uncorrected,
)


def _result(**overrides: object) -> v.ThresholdResult:
    values: dict[str, object] = dict(row="api", patterns=("GET /a", "POST /b*"), expression="p(95)<800", kind="p",
                                     arg=95.0, op="<", limit=800.0, unit="ms", state=v.PASS, observed=612.5,
                                     requests=40, n=38)
    values.update(overrides)
    return v.ThresholdResult(**values)  # type: ignore[arg-type]


def _endpoint(method: str, name: str, count: int = 10, failures: int = 0) -> Endpoint:
    return Endpoint(method=method, name=name, count=count, failures=failures, rps=1.0, failures_per_s=0.0,
                    avg_ms=1.0, min_ms=1.0, max_ms=1.0)


def _scenario(gate: Gate | None, **kw: object) -> Scenario:
    return Scenario(name="s", endpoints=kw.pop("endpoints", ()), total=kw.pop("total", None), gate=gate,  # type: ignore[arg-type]
                    **kw)  # type: ignore[arg-type]


def test_constants_are_the_documented_words() -> None:
    assert (PASS, FAIL, INCONCLUSIVE, NO_DATA, NOT_JUDGED) == ("pass", "fail", "inconclusive", "no data", "not judged")
    assert PERCENTILES == ("p50", "p90", "p95", "p99", "p99.9")


def test_format_ms() -> None:
    assert format_ms(962.164) == "962.16 ms"
    assert format_ms(None) == "-"


def test_a_threshold_renders_from_the_verdicts_result_through_the_gates_formatter() -> None:
    """The report has no threshold shape of its own: it renders the verdict's ``ThresholdResult``."""
    result = _result(interval=(500.0, 790.0), estimate=v.PASS, confidence=0.95)
    gate = Gate(v.Verdict(table="t.toml", thresholds=(result,)))
    (t,) = gate.thresholds
    assert t is result
    assert (t.row, t.patterns, t.expression, t.observed, t.requests, t.kind, t.arg, t.op,
            t.limit) == ("api", ("GET /a", "POST /b*"), "p(95)<800", 612.5, 40, "p", 95.0, "<", 800.0)
    assert verdict_word(t.state) == "pass" and verdict_word(t.estimate) == "pass"
    assert t.interval == (500.0, 790.0)
    assert format_interval(t) == "500.00 .. 790.00 ms"
    assert format_observed(t) == "612.50 ms"
    assert format_limit(t) == "< 800 ms"
    assert t.is_latency is True
    assert format_settle(t) == ""
    assert t.uncorrected_observed is None


@pytest.mark.parametrize(("state", "word"), [(v.PASS, "pass"), (v.FAIL, "fail"), (v.INCONCLUSIVE, "inconclusive"),
                                             (v.NO_DATA, "no data")])
def test_verdict_words(state: str, word: str) -> None:
    assert verdict_word(_result(state=state, estimate=state if state != v.NO_DATA else None).state) == word


def test_estimate_none_for_no_data_and_fail_word() -> None:
    assert _result(state=v.NO_DATA, observed=None, estimate=None).estimate is None
    assert verdict_word(_result(state=v.INCONCLUSIVE, estimate=v.FAIL).estimate) == "fail"


def test_texts_of_an_inconclusive_open_model_rate() -> None:
    t = _result(kind="rate", arg=None, op=">=", limit=0.999, unit="ratio", observed=0.9995,
                state=v.INCONCLUSIVE, requests_needed=3000, n=1000, seconds_needed=200.0,
                uncorrected_observed=0.9991, interval=(0.9950, None))
    assert format_settle(t) == "~2000 more requests (~3 min at this rate)"
    assert format_uncorrected(t) == "99.91%"
    assert format_limit(t) == ">= 99.9%"
    assert format_observed(t) == "99.95%"
    assert format_interval(t) == ">= 99.50%"
    assert t.is_latency is False
    assert series_key(t) is None


@pytest.mark.parametrize(("kind", "arg", "key"), [("med", None, "p50"), ("p", 50.0, "p50"), ("p", 95.0, "p95"),
                                                  ("p", 99.0, "p99"), ("p", 90.0, None), ("p", 99.9, None),
                                                  ("avg", None, None), ("max", None, None)])
def test_series_key_names_the_charted_percentiles_only(kind: str, arg: float | None, key: str | None) -> None:
    assert series_key(_result(kind=kind, arg=arg)) == key


def _gate(*states: str, reasons: tuple[str, ...] = (), **kw: object) -> Gate:
    thresholds = tuple(_result(row=f"r{i}", state=s, reason=None) for i, s in enumerate(states))
    return Gate(v.Verdict(table="t.toml", thresholds=thresholds, reasons=reasons, **kw))  # type: ignore[arg-type]


def test_gate_counts_and_passes() -> None:
    gate = _gate(v.PASS, v.PASS, v.FAIL, v.INCONCLUSIVE, reasons=("r2 failed",))
    assert [t.row for t in gate.thresholds] == ["r0", "r1", "r2", "r3"]
    assert (gate.count("pass"), gate.count("fail"), gate.count("inconclusive"), gate.count("no data")) == (2, 1, 1, 0)
    assert gate.passed is False
    assert gate.reasons == ("r2 failed",)
    assert gate.open_model_text is None
    assert _gate(v.PASS).passed is True


def test_gate_open_model_text_is_the_gates_line() -> None:
    model = v.OpenModelSummary(arrivals="poisson", target_rate=20.0, achieved_rate=19.5, due=300, started=298,
                               late=3, dropped=2, goodput=v.Goodput(iterations=298, good=290, share=290 / 298),
                               window_s=15.0, late_tolerance_ms=100.0)
    assert _gate(v.PASS, open_model=model).open_model_text == (
        "open model (poisson arrivals, 15.0 s): target 20.00/s, achieved 19.50/s; 300 due, 298 started, "
        "3 late (> 100 ms), 2 dropped; goodput 97.32% (290 of 298 iterations); "
        "latencies corrected for late starts (uncorrected beside)")


def test_endpoint_key_and_fail_rate() -> None:
    assert _endpoint("GET", "/health").key == "GET /health"
    assert _endpoint("", "Aggregated").key == "Aggregated"
    assert _endpoint("GET", "/a", count=8, failures=2).fail_rate == 0.25
    assert _endpoint("GET", "/a", count=0, failures=0).fail_rate == 0.0
    assert _endpoint("GET", "/a").percentiles == {} and _endpoint("GET", "/a").exact is False


def test_series_length_and_default_window() -> None:
    series = Series(t=(0.0, 1.0, 2.0), users=(1, 2, 3), rps=(None, 1.0, 2.0), errors_per_s=(0.0, 0.0, 0.0),
                    p50=(1.0, 1.0, 1.0), p95=(2.0, 2.0, 2.0), p99=(3.0, 3.0, 3.0))
    assert len(series) == 3
    assert series.window == "current"


@pytest.mark.parametrize(("error", "message"), [
    ("CatchResponseError('status 500: boom')", "status 500: boom"),
    ('HTTPError("404 Client Error")', "404 Client Error"),
    ("ConnectionError('it\\'s down')", "it's down"),
    ("plain text", "plain text"),
    ("Not an identifier('x')", "Not an identifier('x')"),  # the head is not a Python name
    ("Err('unterminated)", "Err('unterminated)"),  # quotes do not match
    ("Err('x'", "Err('x'"),  # no closing parenthesis
    ("Err()", "Err()"),  # nothing quoted
    ("Err(')", "Err(')"),  # too short to hold a quoted text
    ("Err(x')", "Err(x')"),  # does not start with a quote
    ("Err('')", ""),  # an empty quoted message
])
def test_failure_message_unwraps_only_a_quoted_exception(error: str, message: str) -> None:
    failure = Failure(method="GET", name="/a", error=error, occurrences=3)
    assert failure.message == message


def test_scenario_verdict_precedence() -> None:
    assert _scenario(None).verdict == NOT_JUDGED
    assert _scenario(_gate(v.PASS, v.FAIL, reasons=("r1 failed",))).verdict == FAIL
    assert _scenario(_gate(v.PASS, v.PASS)).verdict == PASS
    # passed (no reason under the exit policy) while a threshold is not settled: the run's state shows
    assert _scenario(_gate(v.PASS, v.INCONCLUSIVE)).verdict == INCONCLUSIVE
    # a reason of the run's own (a lost worker) fails it even with every threshold passing
    assert _scenario(_gate(v.PASS, reasons=("worker lost",))).verdict == FAIL


def test_scenario_counts_and_users() -> None:
    endpoints = (_endpoint("GET", "/a", count=3), _endpoint("POST", "/b", count=4))
    assert _scenario(None, endpoints=endpoints).request_count == 7
    assert _scenario(None, endpoints=endpoints, total=_endpoint("", "Aggregated", count=9)).request_count == 9
    assert _scenario(None).max_users == 0
    history = Series(t=(0.0, 1.0, 2.0), users=(2, 5, 4), rps=(1.0, 1.0, 1.0), errors_per_s=(0.0, 0.0, 0.0),
                     p50=(1.0,) * 3, p95=(1.0,) * 3, p99=(1.0,) * 3)
    assert _scenario(None, history=history).max_users == 5
    empty = Series(t=(), users=(), rps=(), errors_per_s=(), p50=(), p95=(), p99=())
    assert _scenario(None, history=empty).max_users == 0
    scenario = _scenario(None)
    assert (scenario.failures, scenario.exceptions, scenario.notes, scenario.endpoint_history) == ((), (), (), {})
    assert (scenario.started_at, scenario.duration_s, scenario.locust_html, scenario.history) == (None,) * 4


def test_thresholds_for_uses_the_rows_request_patterns() -> None:
    exact = _result(row="exact", patterns=("GET /a",))
    wildcard = _result(row="wild", patterns=("POST /b*",))
    both = _result(row="both", patterns=("GET /a", "POST /b*"))
    again = _result(row="exact", patterns=("GET /a",), expression="avg<100", kind="avg", arg=None)
    scenario = _scenario(Gate(v.Verdict(table="t", thresholds=(exact, wildcard, both, again))))
    assert [t.row for t in scenario.thresholds_for(_endpoint("GET", "/a"))] == ["exact", "both", "exact"]
    assert [t.row for t in scenario.thresholds_for(_endpoint("POST", "/b/1"))] == ["wild", "both"]
    assert scenario.thresholds_for(_endpoint("GET", "/b/1")) == ()
    assert _scenario(None).thresholds_for(_endpoint("GET", "/a")) == ()


def test_run_name_and_verdict_precedence(tmp_path: Path) -> None:
    passing = _scenario(_gate(v.PASS))
    failing = _scenario(_gate(v.FAIL, reasons=("r0 failed",)))
    unsettled = _scenario(_gate(v.INCONCLUSIVE))
    unjudged = _scenario(None)

    def verdict(*scenarios: Scenario) -> str:
        return Run(path=tmp_path / "run-7", scenarios=scenarios).verdict

    assert Run(path=tmp_path / "run-7", scenarios=()).name == "run-7"
    assert verdict() == NOT_JUDGED
    assert verdict(passing, passing) == PASS
    assert verdict(passing, unsettled) == INCONCLUSIVE
    assert verdict(unsettled, unjudged) == NOT_JUDGED
    assert verdict(unjudged, failing, unsettled) == FAIL
    assert verdict(passing, unjudged) == NOT_JUDGED


def test_scenario_started_at_is_carried() -> None:
    at = dt.datetime(2026, 12, 6, 18, 0, tzinfo=dt.UTC)
    assert _scenario(None, started_at=at, duration_s=12.5).started_at == at
