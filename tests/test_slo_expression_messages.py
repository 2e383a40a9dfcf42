# ruff: noqa: E501  (golden messages are compared whole)
"""Every message of the threshold parser, word for word (the mutation test of ``slo/`` relies on these)."""

from __future__ import annotations

import pytest

from osiris_load.core.slo.expressions import Aggregation, ExpressionError, format_number, parse_threshold

CASES = [
    ('', 'empty threshold expression'),
    ('   ', 'empty threshold expression'),
    ('(95)<1', "(95)<1: missing aggregation before '(' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count"),
    ('p95<1', "p95<1: unknown aggregation 'p95' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; did you mean p(95)?"),
    ('P(95)<1', "P(95)<1: unknown aggregation 'P' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; aggregations are lower case: did you mean 'p'?"),
    ('Avg<1', "Avg<1: unknown aggregation 'Avg' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; aggregations are lower case: did you mean 'avg'?"),
    ('http_req_duration<1', "http_req_duration<1: unknown aggregation 'http_req_duration' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; write only the aggregation (e.g. p(95)<800): the SLO row selects the requests"),
    ('iterations<1', "iterations<1: unknown aggregation 'iterations' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; write only the aggregation (e.g. p(95)<800): the SLO row selects the requests"),
    ('avgg<1', "avgg<1: unknown aggregation 'avgg' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; did you mean 'avg'?"),
    ('p<1', "p<1: expected '(' after 'p', found '<' at column 2; write the percentile in parentheses, e.g. p(95)"),
    ('p', "p: expected '(' after 'p', found the end at column 2; write the percentile in parentheses, e.g. p(95)"),
    ('p(', "p(: missing ')' after the percentile at column 3 (found the end)"),
    ('p()<1', "p()<1: missing percentile in 'p()' at column 3: write e.g. p(95)"),
    ('p(x)<1', "p(x)<1: bad percentile 'x' at column 3: expected a number greater than 0 and at most 100, e.g. p(95) or p(99.9)"),
    ('p(0)<1', 'p(0)<1: percentile 0 out of range at column 3: must be greater than 0 and at most 100'),
    ('p(101)<1', 'p(101)<1: percentile 101 out of range at column 3: must be greater than 0 and at most 100'),
    ('p(95<1', "p(95<1: missing ')' after the percentile at column 5 (found '<')"),
    ('p(95', "p(95: missing ')' after the percentile at column 5 (found the end)"),
    ('avg(1)<1', "avg(1)<1: 'avg' takes no argument at column 4; only p(N) has one"),
    ('avg', "avg: missing operator after 'avg' at column 4; expected one of <, <=, >, >=, ==, !=, ==="),
    ('avg 1', "avg 1: missing operator after 'avg' at column 5 (found '1'); expected one of <, <=, >, >=, ==, !=, ==="),
    ('avg=1', "avg=1: unknown operator '=' at column 4; expected one of <, <=, >, >=, ==, !=, ===; use == for equality"),
    ('avg=>1', "avg=>1: unknown operator '=>' at column 4; expected one of <, <=, >, >=, ==, !=, ==="),
    ('avg<', "avg<: missing value after '<' at column 5"),
    ('avg<x', "avg<x: bad number 'x' at column 5"),
    ('avg<1e', "avg<1e: bad number '1e' at column 5"),
    ('avg<8x0', "avg<8x0: bad number '8x0' at column 5"),
    ('avg<-1', 'avg<-1: negative value -1 at column 5: thresholds compare non-negative quantities'),
    ('avg<1 ms ms', "avg<1 ms ms: unexpected 'ms' after the value at column 10; an expression is <aggregation> <op> <value>, one per list entry"),
    ('avg<800,', "avg<800,: unexpected ',' after the value at column 8; an expression is <aggregation> <op> <value>, one per list entry"),
    ('avg<1 kg', "avg<1 kg: unexpected 'kg' after the value at column 7; an expression is <aggregation> <op> <value>, one per list entry"),
    ('avg<1%', "avg<1%: unknown unit '%' at column 6: avg is a latency; write milliseconds (800 or 800ms) or seconds (0.8s)"),
    ('rate<1s', "rate<1s: unit 's' not allowed on rate at column 7: it is a ratio between 0 and 1 (e.g. 0.999) or a percentage (99.9%)"),
    ('rate<2', 'rate<2: rate value 2 out of range at column 6: must be between 0 and 1 (write 0.999, not 99.9)'),
    ('rate<150%', 'rate<150%: rate value 150% out of range at column 6: must be between 0 and 1 (write 0.999, not 99.9)'),
    ('count<1ms', "count<1ms: unit 'ms' not allowed on count at column 8: count is a number of requests"),
    ('avg<1e999', "avg<1e999: bad number '1e999' at column 5: not a finite number"),
    ('rate<1x', "rate<1x: unit 'x' not allowed on rate at column 7: it is a ratio between 0 and 1 (e.g. 0.999) or a percentage (99.9%)"),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_parser_messages(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_threshold(text)
    assert str(caught.value) == message


def test_numbers_and_aggregations() -> None:
    assert [format_number(v) for v in [95.0, 99.9, 1e-05, 1e+16, 123456789012345.0, 1.5, 100.0, 0.1, 2.5]] == ['95', '99.9', '0.00001', '10000000000000000', '123456789012345', '1.5', '100', '0.1', '2.5']
    for kind, arg, message in (("zz", None, "unknown aggregation kind 'zz'"), ("p", None, "p(N) needs 0 < N <= 100, got None"),
                               ("p", 100.5, "p(N) needs 0 < N <= 100, got 100.5"), ("avg", 1.0, "avg takes no argument")):
        with pytest.raises(ValueError) as caught:
            Aggregation(kind, arg)
        assert str(caught.value) == message
    assert Aggregation("p", 100.0).label() == "p(100)" and parse_threshold("p(99.9) <= 1.2s").value == 1200.0
    assert parse_threshold("avg<800 ms").value == 800.0 and parse_threshold("rate>=99.9%").value == 0.999
    error = ExpressionError("detail")
    assert (str(error), error.expression, error.column) == ("detail", None, None)


MORE_CASES = [
    # an upper-case P before the number is the same slip as p95
    ('P95<1', 1, "P95<1: unknown aggregation 'P95' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count; did you mean p(95)?"),
    # nothing close: no hint at all
    ('zzz<1', 1, "zzz<1: unknown aggregation 'zzz' at column 1; expected one of p(N), avg, med, min, max, rate, fail_rate, count"),
    # a letter glued to the number is a unit, unless it is an exponent's e/E without digits
    ('avg<1X', 6, "avg<1X: unknown unit 'X' at column 6: avg is a latency; write milliseconds (800 or 800ms) or seconds (0.8s)"),
    ('avg<1E', 5, "avg<1E: bad number '1E' at column 5"),
]


@pytest.mark.parametrize(("text", "column", "message"), MORE_CASES)
def test_more_parser_messages(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_threshold(text)
    assert str(caught.value) == message
    assert (caught.value.expression, caught.value.column) == (text, column)


def test_throughput_reads_rate_per_second() -> None:
    throughput = parse_threshold("rate>50/s", rate_is_throughput=True)
    assert (throughput.aggregation.kind, throughput.value, throughput.canonical()) == ("throughput", 50.0, "rate>50")
    assert Aggregation("throughput").label() == "rate" and parse_threshold("rate>=0.5").canonical() == "rate>=0.5"
    with pytest.raises(ExpressionError) as caught:
        parse_threshold("rate>50ms", rate_is_throughput=True)
    assert str(caught.value) == "rate>50ms: unit 'ms' not allowed on http_reqs' rate at column 8: it is requests per second (e.g. rate>50 or rate>50/s)"
    assert (caught.value.expression, caught.value.column) == ("rate>50ms", 8)
