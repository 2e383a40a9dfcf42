"""k6 threshold expressions: what parses, what it means, and that every mistake is named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_load.core.slo.expressions import (
    OPERATORS,
    Aggregation,
    ExpressionError,
    Threshold,
    format_number,
    parse_threshold,
)


@pytest.mark.parametrize(
    ("text", "kind", "arg", "op", "value"),
    [
        ("p(95)<800", "p", 95.0, "<", 800.0),
        ("p(99.9)<=1200", "p", 99.9, "<=", 1200.0),
        ("p(100)<5", "p", 100.0, "<", 5.0),
        ("p(0.1)>0", "p", 0.1, ">", 0.0),
        ("  p ( 95 ) <  800  ", "p", 95.0, "<", 800.0),
        ("avg<200", "avg", None, "<", 200.0),
        ("med<100", "med", None, "<", 100.0),
        ("min>=1", "min", None, ">=", 1.0),
        ("max<2000", "max", None, "<", 2000.0),
        ("rate>=0.999", "rate", None, ">=", 0.999),
        ("rate<0.01", "rate", None, "<", 0.01),
        ("fail_rate<=0.001", "fail_rate", None, "<=", 0.001),
        ("count>100", "count", None, ">", 100.0),
        ("count==0", "count", None, "==", 0.0),
        ("avg!=3", "avg", None, "!=", 3.0),
        ("p(95)<800ms", "p", 95.0, "<", 800.0),
        ("p(95)<800 ms", "p", 95.0, "<", 800.0),
        ("p(95)<0.8s", "p", 95.0, "<", 800.0),
        ("p(99)<1.2s", "p", 99.0, "<", 1200.0),
        ("p(50)<500us", "p", 50.0, "<", 0.5),
        ("max<1e3", "max", None, "<", 1000.0),
        ("avg<.5", "avg", None, "<", 0.5),
        ("rate>=99.9%", "rate", None, ">=", 0.999),
        ("fail_rate < 0.5 %", "fail_rate", None, "<", 0.005),
        ("rate>=1", "rate", None, ">=", 1.0),
    ],
)
def test_valid_expressions(text: str, kind: str, arg: float | None, op: str, value: float) -> None:
    t = parse_threshold(text)
    assert t.aggregation == Aggregation(kind, arg)
    assert t.op == op
    assert t.value == pytest.approx(value, rel=0, abs=0)
    assert t.source == text.strip()


def test_labels() -> None:
    assert parse_threshold("p(95)<1").aggregation.label() == "p(95)"
    assert parse_threshold("p(99.9)<1").aggregation.label() == "p(99.9)"
    assert parse_threshold("p(95.0)<1").aggregation.label() == "p(95)"
    assert parse_threshold("p(0.00001)<1").aggregation.label() == "p(0.00001)"
    assert parse_threshold("fail_rate<0.1").aggregation.label() == "fail_rate"


def test_holds_uses_the_operator() -> None:
    assert parse_threshold("p(95)<800").holds(799.9)
    assert not parse_threshold("p(95)<800").holds(800)
    assert parse_threshold("p(95)<=800").holds(800)
    assert parse_threshold("rate>=0.999").holds(0.999)
    assert not parse_threshold("rate>=0.999").holds(0.9989)
    assert parse_threshold("rate>0.5").holds(0.6)
    assert parse_threshold("count==10").holds(10)
    assert parse_threshold("count!=10").holds(11)
    assert not parse_threshold("count!=10").holds(10)


def test_units_are_converted_exactly() -> None:
    # Decimal conversion: 0.3s is 300 ms, not 300.00000000000006.
    assert parse_threshold("p(95)<0.3s").value == 300.0
    assert parse_threshold("rate>=99.95%").value == 0.9995


def test_aggregation_validates_itself() -> None:
    with pytest.raises(ValueError):
        Aggregation("p", None)
    with pytest.raises(ValueError):
        Aggregation("p", 0)
    with pytest.raises(ValueError):
        Aggregation("avg", 3.0)
    with pytest.raises(ValueError):
        Aggregation("mean")


# (expression, expected fragment of the message, expected column)
ERRORS = [
    ("", "empty threshold expression", None),
    ("   ", "empty threshold expression", None),
    ("foo<1", "unknown aggregation 'foo' at column 1; expected one of p(N), avg, med, min, max, rate, "
     "fail_rate, count", 1),
    ("p95<800", "did you mean p(95)?", 1),
    ("P(95)<800", "aggregations are lower case", 1),
    ("http_req_duration<5", "the SLO row selects the requests", 1),
    ("averge<5", "did you mean 'avg'?", 1),
    ("<800", "missing aggregation before '<' at column 1", 1),
    ("p()<1", "missing percentile in 'p()' at column 3", 3),
    ("p(0)<1", "percentile 0 out of range at column 3", 3),
    ("p(101)<1", "percentile 101 out of range at column 3", 3),
    ("p(100.5)<1", "percentile 100.5 out of range at column 3", 3),
    ("p(abc)<1", "bad percentile 'abc' at column 3", 3),
    ("p(-5)<1", "bad percentile '-5' at column 3", 3),
    ("p(95<800", "missing ')' after the percentile at column 5 (found '<')", 5),
    ("p(95", "missing ')' after the percentile at column 5 (found the end)", 5),
    ("p(9 5)<1", "missing ')' after the percentile at column 5 (found '5')", 5),
    ("p 95<800", "expected '(' after 'p', found '9' at column 3", 3),
    ("p<800", "expected '(' after 'p', found '<' at column 2", 2),
    ("avg(5)<1", "'avg' takes no argument at column 4", 4),
    ("p(95)", "missing operator after 'p(95)' at column 6", 6),
    ("rate ", "missing operator after 'rate' at column 6", 6),
    ("p(95)800", "missing operator after 'p(95)' at column 6 (found '8')", 6),
    ("p(95)=800", "unknown operator '=' at column 6; expected one of <, <=, >, >=, ==, !=, ===; use ==", 6),
    ("p(95)=<800", "unknown operator '=<' at column 6", 6),
    ("p(95)<>800", "unknown operator '<>' at column 6", 6),
    ("p(95)<", "missing value after '<' at column 7", 7),
    ("p(95)<=   ", "missing value after '<=' at column 8", 8),
    ("p(95)<8x0", "bad number '8x0' at column 7", 7),
    ("p(95)<abc", "bad number 'abc' at column 7", 7),
    ("p(95)<1e", "bad number '1e' at column 7", 7),
    ("p(95)<1.2.3", "bad number '1.2.3' at column 7", 7),
    ("p(95)<1e999", "bad number '1e999' at column 7: not a finite number", 7),
    ("p(95)<800 foo", "unexpected 'foo' after the value at column 11", 11),
    ("p(95)<800, p(99)<1200", "unexpected ',' after the value at column 10", 10),
    ("p(95)<-1", "negative value -1 at column 7", 7),
    ("p(95)<800x", "unknown unit 'x' at column 10: p(95) is a latency", 10),
    ("avg<800%", "unknown unit '%' at column 8: avg is a latency", 8),
    ("rate>=1.5", "rate value 1.5 out of range at column 7: must be between 0 and 1", 7),
    ("fail_rate<2", "fail_rate value 2 out of range at column 11", 11),
    ("rate>=150%", "rate value 150% out of range at column 7", 7),
    ("rate<0.5ms", "unit 'ms' not allowed on rate at column 9", 9),
    ("fail_rate<0.5 s", "unit 's' not allowed on fail_rate at column 15", 15),
    ("count<5s", "unit 's' not allowed on count at column 8", 8),
]


@pytest.mark.parametrize(("text", "fragment", "column"), ERRORS)
def test_error_messages(text: str, fragment: str, column: int | None) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_threshold(text)
    message = str(info.value)
    assert fragment in message
    assert info.value.column == column
    if text.strip():
        # The message starts with the expression, so a log line is self-contained.
        assert message.startswith(f"{text}: ")
        assert info.value.detail in message


def test_error_messages_are_distinct() -> None:
    details = set()
    for text, _, _ in ERRORS:
        with pytest.raises(ExpressionError) as info:
            parse_threshold(text)
        details.add(info.value.detail)
    assert len(details) >= len(ERRORS) - 1  # only "" and "   " share one


def test_non_string_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="must be a string, got int"):
        parse_threshold(800)  # type: ignore[arg-type]


def test_error_is_a_value_error() -> None:
    assert issubclass(ExpressionError, ValueError)


@pytest.mark.parametrize("value", [95.0, 99.9, 0.001, 1e-05, 12345.678, 3.0, 1e20, 0.1 + 0.2])
def test_format_number_round_trips(value: float) -> None:
    text = format_number(value)
    assert "e" not in text
    assert float(text) == value


# --- properties ----------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("pavgmedinxrtfl_co()<>=!.0123456789 e%sm-+")) ), )
def test_parse_raises_only_expression_error_on_grammar_soup(text: str) -> None:
    try:
        result = parse_threshold(text)
    except ExpressionError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Threshold)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_raises_only_expression_error_on_any_text(text: str) -> None:
    try:
        result = parse_threshold(text)
    except ExpressionError:
        pass
    else:
        assert isinstance(result, Threshold)


_percentiles = st.one_of(
    st.integers(min_value=1, max_value=100).map(float),
    st.decimals(min_value="0.001", max_value="100", places=3, allow_nan=False).map(float),
).filter(lambda p: 0 < p <= 100)
_latency = st.one_of(
    st.tuples(st.sampled_from(["p"]), _percentiles),
    st.tuples(st.sampled_from(["avg", "med", "min", "max"]), st.none()),
)
_latency_values = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
_rate_values = st.floats(min_value=0, max_value=1, allow_nan=False)
_count_values = st.integers(min_value=0, max_value=10**9).map(float)


@st.composite
def thresholds(draw: st.DrawFn) -> tuple[Aggregation, str, float]:
    family = draw(st.sampled_from(["latency", "rate", "count"]))
    if family == "latency":
        kind, arg = draw(_latency)
        value = draw(_latency_values)
    elif family == "rate":
        kind, arg = draw(st.sampled_from(["rate", "fail_rate"])), None
        value = draw(_rate_values)
    else:
        kind, arg, value = "count", None, draw(_count_values)
    return Aggregation(kind, arg), draw(st.sampled_from(OPERATORS)), value


@settings(max_examples=300, deadline=None)
@given(thresholds(), st.sampled_from(["", " ", "  "]))
def test_round_trip_of_generated_expressions(parts: tuple[Aggregation, str, float], space: str) -> None:
    aggregation, op, value = parts
    text = f"{space}{aggregation.label()}{space}{op}{space}{format_number(value)}{space}"
    parsed = parse_threshold(text)
    assert parsed.aggregation == aggregation
    assert parsed.op == op
    assert parsed.value == value
    again = parse_threshold(parsed.canonical())
    assert (again.aggregation, again.op, again.value) == (aggregation, op, value)


@settings(max_examples=100, deadline=None)
@given(_percentiles, st.integers(min_value=0, max_value=100_000))
def test_seconds_and_milliseconds_agree(p: float, ms: int) -> None:
    label = Aggregation("p", p).label()
    in_ms = parse_threshold(f"{label}<{ms}ms")
    in_s = parse_threshold(f"{label}<{format_number(ms / 1000)}s")
    assert in_ms.value == in_s.value == ms
