"""The console summary's and settle lines' exact texts with intervals, looks, a design effect and an
open model (osiris_load/core/slo/formatting.py), pure; every expected line is written out by hand (column widths
counted: the widest state word is "? INCONCLUSIVE", 14 characters; the widest interval cell
"500.00 .. 700.00 ms (D 1.50)", 28)."""

from __future__ import annotations

import pytest

from osiris_load.core.slo.formatting import format_duration, format_summary, settle_lines
from osiris_load.core.slo.verdict import Goodput, OpenModelSummary, RequestTally, ThresholdResult, Verdict

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
