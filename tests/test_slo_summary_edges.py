"""The console summary's and settle lines' exact texts with intervals, looks, a design effect and an
open model (osiris_load/core/slo/formatting.py), pure; every expected line is written out by hand (column widths
counted: the widest state word is "? INCONCLUSIVE", 14 characters; the widest interval cell
"500.00 .. 700.00 ms (D 1.50)", 28)."""

from __future__ import annotations

import pytest

from osiris_load.core.slo.formatting import format_duration, format_summary, settle_lines
from osiris_load.core.slo.verdict import (
    Goodput,
    OpenModelSummary,
    ProcessHealth,
    RequestTally,
    ThresholdResult,
    Verdict,
)

LATENCY = ThresholdResult(row="gen", patterns=("POST /g",), expression="p(95)<800", kind="p", arg=95.0, op="<",
                          limit=800.0, unit="ms", state="PASS", observed=612.5, requests=40, n=40,
                          interval=(500.0, 700.0), estimate="PASS", confidence=0.95, design_effect=1.5,
                          uncorrected_observed=600.0)
RATE = ThresholdResult(row="gen", patterns=("POST /g",), expression="rate>=0.999", kind="rate", arg=None, op=">=",
                       limit=0.999, unit="ratio", state="INCONCLUSIVE", observed=1.0, requests=40, n=40, failures=0,
                       interval=(0.93, 1.0), estimate="PASS", confidence=0.95, requests_needed=3000,
                       seconds_needed=600.0)
MODEL = OpenModelSummary(arrivals="poisson", target_rate=20.0, achieved_rate=19.5, due=300, started=298, late=3,
                         dropped=2, goodput=Goodput(iterations=298, good=149, share=0.5), window_s=15.0)
VERDICT = Verdict(table="t", thresholds=(LATENCY, RATE), confidence=0.95, looks=2, open_model=MODEL,
                  tally=RequestTally(recorded=40, judged=40))


def test_settle_lines() -> None:
    assert settle_lines(VERDICT) == [
        "gen: p(95)<800 settled PASS on 40 samples (interval 500.00 .. 700.00 ms (D 1.50))",
        "gen: rate>=0.999 not settled (40 samples, interval 93.00 .. 100.00%): needs ~2960 more requests "
        "(~10 min at this rate)",
    ]


def test_summary_with_intervals_looks_and_an_open_model() -> None:
    lines = format_summary(VERDICT).split("\n")
    assert lines[0] == "SLO thresholds (95% intervals, look 2):"
    assert lines[1] == ("  " + " " * 14 + "  row  threshold    corrected  uncorrected  " + " " * 20 + "interval"
                        + "     limit  requests")
    assert lines[2] == ("  ✓ PASS" + " " * 8 + "  gen  p(95)<800    612.50 ms    600.00 ms  "
                        + "500.00 .. 700.00 ms (D 1.50)  < 800 ms        40")
    assert lines[3] == ("  ? INCONCLUSIVE  gen  rate>=0.999    100.00%" + " " * 13 + "  " + " " * 12
                        + "93.00 .. 100.00%  >= 99.9%        40")
    assert lines[4] == ("  open model (poisson arrivals, 15.0 s): target 20.00/s, achieved 19.50/s; 300 due, "
                        "298 started, 3 late (> 0 ms), 2 dropped; goodput 50.00% (149 of 298 iterations); "
                        "latencies corrected for late starts (uncorrected beside)")
    assert lines[5:] == [
        "  inconclusive: gen: rate>=0.999 needs ~2960 more requests (~10 min at this rate)",
        "SLO verdict: INCONCLUSIVE (1 passed, 0 failed, 1 inconclusive, 0 no data; 40 requests judged)",
    ]


def test_summary_without_looks_names_only_the_level() -> None:
    verdict = Verdict(table="t", thresholds=(LATENCY,), confidence=0.999, tally=RequestTally(judged=40))
    assert format_summary(verdict).split("\n")[0] == "SLO thresholds (99.9% intervals):"


@pytest.mark.parametrize(("seconds", "text"), [(0.2, "1 s"), (1.6, "2 s"), (119.4, "119 s"), (120, "2 min"),
                                               (7199, "120 min"), (7200, "2.0 h"), (9000, "2.5 h")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_level_to_six_decimals_and_settle_lines_skip_facts() -> None:
    verdict = Verdict(table="t", thresholds=(LATENCY,), confidence=0.512345678)
    assert format_summary(verdict).split("\n")[0] == "SLO thresholds (51.234568% intervals):"
    count = ThresholdResult(row="gen", patterns=("POST /g",), expression="count>1", kind="count", arg=None, op=">",
                            limit=1.0, unit="requests", state="PASS", observed=40.0, requests=40, n=40)
    assert len(settle_lines(Verdict(table="t", thresholds=(count, LATENCY), confidence=0.95))) == 1


def test_texts_at_their_edges() -> None:
    from dataclasses import replace

    from osiris_load.core.slo.formatting import format_open_model, format_settle, format_uncorrected

    assert format_uncorrected(replace(LATENCY, uncorrected_observed=799.996)) == "799.996 ms"
    measured = replace(MODEL, corrected=False, goodput=Goodput())
    assert format_open_model(measured).endswith("; goodput - (no iterations); latencies as measured")
    assert format_settle(replace(RATE, requests_needed=None)) == (
        "would not settle at the observed share (it sits on the limit)")
    assert format_settle(replace(RATE, requests_needed=41, seconds_needed=None)) == "~1 more requests"
    assert format_duration(7380.5) == "2.1 h"  # 2.0501 h, not 2.0496


@pytest.mark.parametrize(("interval", "unit", "limit", "text"), [
    (None, "ms", 800.0, "-"),
    ((None, None), "ms", 800.0, "unbounded"),
    ((None, 799.996), "ms", 800.0, "<= 799.996 ms"),
    ((799.996, None), "ms", 800.0, ">= 799.996 ms"),
    ((799.996, 900.0), "ms", 800.0, "799.996 .. 900.00 ms"),
    ((700.0, 800.004), "ms", 800.0, "700.00 .. 800.004 ms"),
    ((3.0, 5.0), "requests", 4.0, "3 .. 5"),
])
def test_format_interval(interval: tuple | None, unit: str, limit: float, text: str) -> None:
    from dataclasses import replace

    from osiris_load.core.slo.formatting import format_interval

    assert format_interval(replace(LATENCY, interval=interval, unit=unit, limit=limit)) == text


def test_failure_reasons_name_the_interval_and_whether_it_is_settled() -> None:
    from dataclasses import replace

    from osiris_load.core.slo.formatting import failure_reason

    failed = replace(LATENCY, state="FAIL", observed=900.0, interval=(850.0, 950.0), confidence=0.512345678,
                     rank=38, below=30, beyond=10)
    assert failure_reason(failed) == (
        "gen: p(95)<800 failed: observed 900.00 ms (limit < 800 ms, 40 requests; 10 of 40 timed samples beyond "
        "the limit, at most 2 may be; 51.234568% interval 850.00 .. 950.00 ms)")
    estimate = replace(RATE, observed=0.99, failures=1)
    assert failure_reason(estimate) == (
        "gen: rate>=0.999 failed on its point estimate: observed 99.00% (limit >= 99.9%, 40 requests, 1 failed; "
        "95% interval 93.00 .. 100.00%; not settled: the interval straddles the limit)")


def test_limits_and_values_keep_their_digits() -> None:
    from dataclasses import replace

    from osiris_load.core.slo.formatting import format_limit, format_value

    assert format_limit(replace(RATE, limit=0.12345678901234)) == ">= 12.3456789012%"  # 10 decimals
    assert format_value("ms", 800.0000000001, 800.0) == "800.000000000 ms"  # at most 9 decimals


# --- the generator's health, generator-bound thresholds and the run's headline ---------------------------------
# Every expected text below is written out by hand from the format strings' contracts (rounding noted where it
# matters); none is produced by the code under test.

HEALTH = ProcessHealth("local", users=5, requests=900, requests_per_s=95.06, cpu_p50=45.4, cpu_p95=98.7, cpu_max=100.0,
                       saturated_s=12.4, lag_p50_ms=0.14, lag_p99_ms=152.26, lag_max_ms=160.0, stalls=80, stall_s=12.34)
BOUND = ThresholdResult(row="gen", patterns=("POST /g",), expression="p(95)<800", kind="p", arg=95.0, op="<",
                        limit=800.0, unit="ms", state="INCONCLUSIVE", observed=900.0, requests=40, n=40,
                        estimate="FAIL", confidence=0.95, chargeable_observed=700.0, generator_bound=True)
ADVICE = ("run fewer users per process (--processes N, or more workers), or make the locustfile's checks lighter")


def test_generator_health_and_progress_lines() -> None:
    from osiris_load.core.slo.formatting import format_health, generator_line

    # 45.4 -> 45, 98.7 -> 99, 12.4 -> 12 (no decimals); 0.14 -> 0.1, 152.26 -> 152.3, 12.34 -> 12.3, 95.06 -> 95.1
    assert format_health(HEALTH) == (
        "local: CPU p50 45 % p95 99 % max 100 % (12 s saturated), loop lag p50 0.1 ms p99 152.3 ms max 160.0 ms, "
        "80 stalls (12.3 s), 5 users, 95.1 requests/s")
    assert generator_line(87.6, 152.4) == (
        "generator: CPU 88 %, loop lag up to 152 ms in the last second: latencies include the client's own delay")


def test_generator_bound_reasons_for_a_latency_and_a_rate() -> None:
    from dataclasses import replace

    from osiris_load.core.slo.formatting import GENERATOR_ADVICE, format_chargeable, generator_bound_reason

    assert GENERATOR_ADVICE == ADVICE
    assert format_chargeable(BOUND) == "700.00 ms"
    assert format_chargeable(replace(BOUND, chargeable_observed=None)) == "-"
    assert format_chargeable(replace(BOUND, chargeable_observed=799.996)) == "799.996 ms"  # the limit's digits
    chargeable = replace(BOUND, observed=700.0, estimate="PASS")
    near = generator_bound_reason(BOUND, replace(chargeable, observed=799.996), HEALTH)
    assert "but PASS at 799.996 ms on what" in near  # the limit's digits: not "800.00 ms"
    assert generator_bound_reason(BOUND, chargeable, HEALTH) == (
        "gen: p(95)<800 generator-bound: FAIL on the measured times (900.00 ms) but PASS at 700.00 ms on what the "
        "server can be charged with (after removing the load generator's own stalls); the load generator may be "
        "what is slow: process local had loop lag p99 152 ms (max 160 ms), CPU p95 99 %; " + ADVICE)
    rate = replace(BOUND, expression="rate>=0.999", kind="rate", arg=None, op=">=", limit=0.999, unit="ratio",
                   observed=0.99, estimate=None, state="INCONCLUSIVE")
    rate_chargeable = replace(rate, observed=0.9995, estimate="PASS")
    assert generator_bound_reason(rate, rate_chargeable, HEALTH) == (
        "gen: rate>=0.999 generator-bound: INCONCLUSIVE on the measured times (99.00%) but PASS at 99.95% on what "
        "the server can be charged with (counting failures without an HTTP answer during the generator's stalls "
        "as possibly its own); the load generator may be what is slow: process local had loop lag p99 152 ms "
        "(max 160 ms), CPU p95 99 %; " + ADVICE)


def test_summary_with_generator_health_notes_and_a_generator_bound_threshold() -> None:
    from dataclasses import replace

    verdict = Verdict(table="t", thresholds=(BOUND,), confidence=0.95, notes=("first note", "second note"),
                      generator=(HEALTH, replace(HEALTH, process="w2")), rows_left_out=("a", "b"),
                      tally=RequestTally(judged=40, unjudged=(("GET", "/x", 3), ("POST", "/y", 1))))
    # widths: state 14 ("? INCONCLUSIVE"), row 3, threshold 9, observed 9, interval 8, limit 8, requests 8
    assert format_summary(verdict, ascii_only=True).split("\n") == [
        "SLO thresholds (95% intervals):",
        "  " + " " * 14 + "  row  threshold   observed  interval     limit  requests",
        "  ? INCONCLUSIVE  gen  p(95)<800  900.00 ms         -  < 800 ms        40",
        "  not judged (rows this run does not exercise): a, b",
        "  unjudged: GET /x (3 requests): no SLO row names it",
        "  unjudged: POST /y (1 requests): no SLO row names it",
        "  generator local: CPU p50 45 % p95 99 % max 100 % (12 s saturated), loop lag p50 0.1 ms p99 152.3 ms "
        "max 160.0 ms, 80 stalls (12.3 s), 5 users, 95.1 requests/s",
        "  generator w2: CPU p50 45 % p95 99 % max 100 % (12 s saturated), loop lag p50 0.1 ms p99 152.3 ms "
        "max 160.0 ms, 80 stalls (12.3 s), 5 users, 95.1 requests/s",
        "  note: first note",
        "  note: second note",
        "  inconclusive: gen: p(95)<800 is generator-bound: observed 900.00 ms, chargeable to the server "
        "700.00 ms; " + ADVICE,
        "SLO verdict: INCONCLUSIVE (0 passed, 0 failed, 1 inconclusive, 0 no data; 40 requests judged)",
    ]
    rate = replace(BOUND, row="r", expression="rate>=0.5", kind="rate", arg=None, op=">=", limit=0.5,
                   unit="ratio", observed=0.25, chargeable_observed=0.75)
    assert ("  inconclusive: r: rate>=0.5 is generator-bound: observed 25.00%, chargeable to the server -; "
            + ADVICE) in format_summary(replace(verdict, thresholds=(rate,))).split("\n")


def test_summary_marks_in_ascii_and_without_intervals() -> None:
    from dataclasses import replace

    passed = replace(LATENCY, interval=None, state="PASS", requests=7)
    failed = replace(LATENCY, state="FAIL", interval=None, observed=900.0, requests=7)
    nodata = replace(LATENCY, state="NO_DATA", interval=None, observed=None, requests=0)
    verdict = Verdict(table="t", thresholds=(passed, failed, nodata), tally=RequestTally(judged=14))
    # no confidence: no interval column, no "inconclusive" count; widths: state 9 ("- NO DATA"), requests 8
    assert format_summary(verdict, ascii_only=True).split("\n") == [
        "SLO thresholds:",
        "  " + " " * 9 + "  row  threshold   observed     limit  requests",
        "  + PASS     gen  p(95)<800  612.50 ms  < 800 ms         7",
        "  x FAIL     gen  p(95)<800  900.00 ms  < 800 ms         7",
        "  - NO DATA  gen  p(95)<800          -  < 800 ms         0",
        "SLO verdict: FAIL (1 passed, 1 failed, 1 no data; 14 requests judged)",
    ]
    assert format_summary(Verdict(table="t", thresholds=())).split("\n") == [
        "SLO thresholds:", "  (no thresholds)", "SLO verdict: PASS (0 passed, 0 failed, 0 no data; 0 requests judged)"]


def _scenario(*thresholds: ThresholdResult, reasons: tuple[str, ...] = (), code: int | None = None) -> Verdict:
    return Verdict(table="t", thresholds=thresholds, reasons=reasons, exit_code=code)


def _unsettled(seconds: float | None, bound: bool = False) -> ThresholdResult:
    return replace_result(RATE, seconds_needed=seconds, generator_bound=bound)


def replace_result(result: ThresholdResult, **changes: object) -> ThresholdResult:
    from dataclasses import replace

    return replace(result, **changes)


@pytest.mark.parametrize(("verdicts", "word", "detail"), [
    ({}, "NOT JUDGED", "no scenario ran"),
    ({"a": _scenario(replace_result(LATENCY, state="FAIL"), replace_result(LATENCY, state="FAIL"),
                     reasons=("x", "y"))}, "FAIL", "2 thresholds failed with confidence"),
    ({"a": _scenario(LATENCY), "b": _scenario(replace_result(LATENCY, state="FAIL"), reasons=("x",))},
     "FAIL", "1 threshold failed with confidence in b"),
    ({"a": _scenario(LATENCY, reasons=("lost worker w1",)), "b": _scenario(reasons=("aborted",))},
     "FAIL", "lost worker w1 in a"),
    ({"a": _scenario(LATENCY, reasons=("lost worker w1",))}, "FAIL", "lost worker w1"),
    ({"a": _scenario(LATENCY), "b": None}, "NOT JUDGED", "no SLO verdict in b"),
    ({"b": None}, "NOT JUDGED", "no SLO verdict"),
    ({"a": _scenario(LATENCY, code=0), "b": _scenario(code=None), "c": _scenario(code=2), "d": _scenario(code=3)},
     "ERROR", "exit code 2 in c"),
    ({"a": _scenario(LATENCY, code=1)}, "ERROR", "exit code 1"),
    ({"a": _scenario(LATENCY, code=0)}, "PASS", ""),
    ({"a": _scenario(_unsettled(300.0))}, "PASS", "by estimate; 1 threshold not yet settled: ~5 min more would "
     "settle it"),
    # per scenario the longest (a: 600 s, whichever comes first), the scenarios add up (+ 240 s): 840 s = 14 min
    ({"a": _scenario(_unsettled(300.0), _unsettled(600.0)), "b": _scenario(_unsettled(240.0))},
     "PASS", "by estimate; 3 thresholds not yet settled: ~14 min more would settle them"),
    ({"a": _scenario(_unsettled(600.0), _unsettled(300.0)), "b": _scenario(_unsettled(240.0))},
     "PASS", "by estimate; 3 thresholds not yet settled: ~14 min more would settle them"),
    ({"a": _scenario(replace_result(LATENCY, state="FAIL"), reasons=("x",)), "b": _scenario(LATENCY),
      "c": _scenario(replace_result(LATENCY, state="FAIL"), reasons=("x",))},
     "FAIL", "2 thresholds failed with confidence in a, c"),
    # 0.4 s + 0.4 s = 0.8 s, shown as at least 1 s
    ({"a": _scenario(_unsettled(0.4)), "b": _scenario(_unsettled(0.4))},
     "PASS", "by estimate; 2 thresholds not yet settled: ~1 s more would settle them"),
    ({"a": _scenario(_unsettled(300.0), _unsettled(None))}, "PASS", "by estimate; 2 thresholds not yet settled: "
     "~5 min more would settle them (some sit on their limit and would not settle)"),
    ({"a": _scenario(_unsettled(None))}, "PASS", "by estimate; 1 threshold not yet settled: they sit on their "
     "limit and would not settle"),
    ({"a": _scenario(_unsettled(None, bound=True), _unsettled(None, bound=True))}, "PASS",
     "by estimate; 2 thresholds generator-bound: the load generator's own delays could change the outcome"),
    ({"a": _scenario(_unsettled(None, bound=True), _unsettled(120.0))}, "PASS",
     "by estimate; 1 threshold generator-bound: the load generator's own delays could change the outcome; "
     "1 threshold not yet settled: ~2 min more would settle it"),
])
def test_the_run_headline(verdicts: dict, word: str, detail: str) -> None:
    from osiris_load.core.slo.formatting import Headline, run_headline

    headline = run_headline(verdicts)
    assert isinstance(headline, Headline)
    assert (headline.word, headline.detail) == (word, detail)
    assert headline == (f"{word} ({detail})" if detail else word)


def test_settle_lines_name_a_generator_bound_threshold_and_counts_keep_their_unit() -> None:
    from osiris_load.core.slo.formatting import format_value

    bound = replace_result(BOUND, interval=(850.0, 950.0))
    assert settle_lines(Verdict(table="t", thresholds=(bound,), confidence=0.95)) == [
        "gen: p(95)<800 not settled: generator-bound (the load generator's own delays could decide it)"]
    assert format_value("tokens", 12.0) == "12 tokens" and format_value("iterations", 3.0) == "3"
