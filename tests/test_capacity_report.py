"""capacity.json's schema round trip and capacity.html from a fabricated search (no process)."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from osiris_load.core.capacity.answer import generator_note, headline, settlement_lines
from osiris_load.core.capacity.model import (
    CapacityReport,
    GeneratorProcess,
    Goodput,
    LimitingThreshold,
    ProbeResult,
    ProbeThreshold,
    Settlement,
)
from osiris_load.core.capacity.search import Search, SearchConfig, report, search
from osiris_load.reports.capacity_html import render_capacity_html


def fabricated_probe(rate: float, duration: float, attempt: int) -> ProbeResult:
    """Two latency thresholds and a rate one, growing with the rate; INCONCLUSIVE once near 20/s."""
    p95 = 40 + rate * 4
    state = "PASS" if p95 < 120 else "FAIL"
    if 115 < p95 < 125 and attempt == 1:
        state = "INCONCLUSIVE"
    thresholds = (
        ProbeThreshold(row="echo", expression="p(95)<120", unit="ms", limit=120, state=state, observed=p95,
                       interval=(p95 * 0.9, p95 * 1.1), uncorrected_observed=p95 * 0.8, percentile=95, op="<"),
        ProbeThreshold(row="echo", expression="p(99)<400", unit="ms", limit=400, state="PASS", observed=p95 * 1.5,
                       interval=(p95 * 1.3, p95 * 1.8), uncorrected_observed=p95 * 1.1, percentile=99, op="<"),
        ProbeThreshold(row="echo", expression="rate>=0.99", unit="ratio", limit=0.99, state="PASS", observed=1.0,
                       interval=(0.995, 1.0)),
    )
    iterations = int(rate * duration)
    return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration + 1, state=state, attempt=attempt,
                       thresholds=thresholds, achieved_rate=rate * 0.99, late=int(rate), dropped=0,
                       goodput=Goodput(iterations=iterations, good=iterations - 1, share=(iterations - 1) / iterations),
                       exit_code=0 if state == "PASS" else 99, files=f"probe-{rate:g}")


@pytest.fixture
def capacity_report() -> CapacityReport:
    config = SearchConfig(min_rate=2, max_rate=100, precision=0.1, budget_s=1000, probe_duration_s=5)
    return report(search(fabricated_probe, config), config, scenario="echo", url="http://127.0.0.1:1",
                  confidence=0.95, arrivals="poisson")


def test_json_round_trip_and_documented_top_level(capacity_report: CapacityReport) -> None:
    text = capacity_report.to_json()
    doc = json.loads(text)
    assert doc["schema"] == "osiris-load/capacity" and doc["version"] == 1
    for key in ("max_rate", "bracket", "limiting_threshold", "stopped_because", "precision", "budget_s", "probes"):
        assert key in doc
    assert doc["limiting_threshold"]["expression"] == "p(95)<120"
    probe = doc["probes"][0]
    for key in ("rate", "duration_s", "state", "thresholds", "late", "dropped", "goodput"):
        assert key in probe
    assert set(probe["thresholds"][0]) >= {"state", "observed", "interval", "uncorrected_observed"}
    assert CapacityReport.from_json(text) == capacity_report
    # one field a line (a diff of two searches reads line by line), schema and version first
    assert text.startswith('{\n "schema": "osiris-load/capacity",\n "version": 1,\n "scenario": "echo",\n')
    assert text.endswith('\n}\n')


def test_reading_rejects_another_schema(capacity_report: CapacityReport) -> None:
    doc = json.loads(capacity_report.to_json())
    doc["version"] = 7
    with pytest.raises(ValidationError):
        CapacityReport.from_json(json.dumps(doc))


def test_html_marks_the_answer_and_draws_every_latency_threshold(capacity_report: CapacityReport) -> None:
    page = render_capacity_html(capacity_report)
    assert capacity_report.outcome == "capacity_found" and capacity_report.max_rate is not None
    assert f'data-max-rate="{capacity_report.max_rate}"' in page
    series = set(re.findall(r'data-series="([^"]+)"', page))
    assert series == {"echo p(95)&lt;120", "echo p(95)&lt;120 uncorrected", "echo p(99)&lt;400",
                      "echo p(99)&lt;400 uncorrected"}
    assert sorted(set(re.findall(r'class="limit" data-limit="([^"]+)"', page))) == ["120", "400"]
    assert f'class="marker" data-rate="{capacity_report.max_rate:g}"' in page
    rows = re.findall(r'<tr class="[^"]*" data-rate="([^"]+)" data-state="([^"]+)"', page)
    assert len(rows) == len(capacity_report.probes)
    assert ("INCONCLUSIVE" in {state for _, state in rows}) and "rerun longer" in page
    assert "goodput" in page and "uncorrected" in page and "<script" not in page


def test_html_for_a_target_that_fails_at_the_lowest_rate() -> None:
    config = SearchConfig(min_rate=50, max_rate=100, budget_s=100, probe_duration_s=5)
    page = render_capacity_html(report(search(fabricated_probe, config), config, scenario="echo"))
    assert 'data-outcome="fails_at_min_rate"' in page and "Fails even at the lowest rate" in page


def test_html_for_an_interrupted_search_says_so_and_keeps_the_bracket() -> None:
    config = SearchConfig(min_rate=2, max_rate=100, budget_s=1000, probe_duration_s=5)
    state = Search(config)
    state.run(fabricated_probe)
    interrupted = report(state.interrupted(), config, scenario="echo", interrupted_by="SIGINT")
    page = render_capacity_html(interrupted)
    assert 'data-outcome="interrupted"' in page and "Interrupted: no answer" in page
    assert "interrupted by SIGINT: no answer" in page  # the console's words (osiris_load.core.capacity.answer.headline)
    assert 'data-max-rate=""' in page and f"passes at {interrupted.bracket[0]:.4g}/s so far" in page


def test_json_and_html_state_each_percentiles_estimated_crossing_beside_the_answer(
        capacity_report: CapacityReport) -> None:
    """p(95) = 40 + 4 x rate crosses 120 ms at exactly 20/s: the straight line between the probes
    that straddle it finds it; p(99)<400 is never reached (no crossing); the rate threshold has none."""
    doc = CapacityReport.from_json(capacity_report.to_json())
    p95, p99 = doc.estimates
    assert (p95.row, p95.expression, p95.unit, p95.limit) == ("echo", "p(95)<120", "ms", 120)
    assert p95.within is not None and p95.beyond is not None and p95.within.rate < 20 < p95.beyond.rate
    assert p95.rate == pytest.approx(20)
    assert (p99.expression, p99.rate, p99.beyond) == ("p(99)<400", None, None) and p99.within is not None
    page = render_capacity_html(doc)
    assert re.findall(r'class="estimate" data-row="echo" data-expression="p\(95\)&lt;120" data-rate="([^"]+)"',
                      page) == [str(p95.rate)]
    assert "not confident" in page and page.count('class="estimate"') == 1
    # the chart's small labelled diamond at the estimate, on the limit line, never a full-height marker
    assert re.findall(r'class="estimate-marker" data-rate="([^"]+)"', page) == [f"{p95.rate:g}"]
    assert f"estimate ~{p95.rate:.3g}/s (not confident)" in page


# The console's and capacity.html's words for each outcome (osiris_load.core.capacity.answer), on reports built
# by hand: every expected line is written out in full, so that a changed word, number format or branch shows.
ADVICE = ("to measure it, give the load generator room: --workers N (Locust processes per probe), more worker "
          "machines, fewer users per process (--max-vus), or lighter checks in the locustfile")
BUSY = GeneratorProcess(process="worker-2", cpu_p95=98.6, cpu_max=100.0, saturated_s=12.4, lag_p99_ms=45.2,
                        lag_max_ms=160.7, users=300)


def _probe(rate: float, counted_as: str | None, **extra: object) -> ProbeResult:
    return ProbeResult(rate=rate, duration_s=5, elapsed_s=6, state="PASS", counted_as=counted_as, **extra)


def _answer(outcome: str, max_rate: float | None, bracket: tuple[float | None, float | None], stopped: str,
            **extra: object) -> CapacityReport:
    return CapacityReport(scenario="echo", outcome=outcome, max_rate=max_rate, bracket=bracket, stopped_because=stopped,
                          precision=0.1, budget_s=600, spent_s=500, min_rate=1.5, max_rate_allowed=100,
                          probe_duration_s=5, max_probe_duration_s=20, **extra)


def _settled(expression: str, probe: int | None, role: str | None = None, needed: int | None = None,
             state: str = "PASS") -> Settlement:
    return Settlement(row="echo", expression=expression, state=state, rate=10.123456, probe=probe, role=role,
                      requests_needed=needed)


_BOUND_AT_1 = dict(generator_bound_rate=1.23456, probes=(
    _probe(1.23456, None, generator_bound=("echo p(95)<100",)),  # superseded rerun: not the one described
    _probe(1.23456, "generator", generator_bound=("echo p(95)<100",), generator=BUSY)))
_BUSY_NOTE = ("at 1.235/s the load generator was the bottleneck (process worker-2: CPU p95 99 %, 12 s saturated, "
              "loop lag p99 45 ms, max 161 ms): that rate says nothing about the server, for or against; "
              f"generator-bound: echo p(95)<100; {ADVICE}")
_LIMITING = dict(row="echo", expression="p(95)<100", observed=130.0, unit="ms", limit=100.0, rate=1.5)
_UNSETTLED_ONE = (_settled("p(95)<100", 3, "confirm"), _settled("rate>=0.999", None, state="INCONCLUSIVE"))
_UNSETTLED_TWO = (_settled("p(99)<1200", None, state="INCONCLUSIVE"), _settled("rate>=0.999", None,
                                                                                state="INCONCLUSIVE"))


@pytest.mark.parametrize(("answer", "expected"), [
    (_answer("interrupted", None, (None, None), "interrupted", interrupted_by="SIGINT"),
     "interrupted by SIGINT: no answer; 0 rate(s) probed to a verdict, bracket [-, -]/s"),
    (_answer("interrupted", None, (12.34567, 24.69134), "interrupted", interrupted_by="SIGTERM",
             probes=(_probe(12.34567, "pass"), _probe(24.69134, None), _probe(24.69134, "fail"))),
     "interrupted by SIGTERM: no answer; 2 rate(s) probed to a verdict, bracket [12.35, 24.69]/s "
     "(passes at 12.35/s so far)"),
    (_answer("interrupted", None, (None, 3.0), "interrupted", interrupted_by="SIGHUP", probes=(_probe(3, "fail"),)),
     "interrupted by SIGHUP: no answer; 1 rate(s) probed to a verdict, bracket [-, 3]/s"),
    (_answer("generator_bound", None, (None, None), "generator", **_BOUND_AT_1),
     f"none known: {_BUSY_NOTE} (stopped because: generator)"),
    (_answer("fails_at_min_rate", None, (None, 1.5), "min_rate",
             limiting_threshold=LimitingThreshold(**_LIMITING, state="INCONCLUSIVE")),
     "none: the SLO is not shown to be met even at --min-rate 1.5/s (INCONCLUSIVE up to --max-probe-duration: "
     "more samples settle it, e.g. a higher --min-rate or longer probes)"),
    (_answer("fails_at_min_rate", None, (None, 1.5), "min_rate",
             limiting_threshold=LimitingThreshold(**_LIMITING, state="FAIL")),
     "none: the SLO is not met even at --min-rate 1.5/s"),
    (_answer("fails_at_min_rate", None, (None, 1.5), "min_rate"), "none: the SLO is not met even at --min-rate 1.5/s"),
    (_answer("capacity_found", 12.34567, (12.34567, 13.5), "precision", confirmed=True),
     "12.35 iterations/s: every threshold PASSED with confidence at it, not at 13.5/s (stopped because: precision)"),
    (_answer("passes_at_highest_rate", 50, (50, None), "max_rate", confirmed=True),
     "50 iterations/s: every threshold PASSED with confidence at it, the capacity is above it: every rate probed "
     "passed (stopped because: max_rate)"),
    (_answer("generator_bound", 16, (16, 40), "generator", confirmed=True, generator_bound_rate=32,
             probes=(_probe(16, "pass"), _probe(32, "generator", generator_bound=("echo p(95)<100",)))),
     f"16 iterations/s: every threshold PASSED with confidence at it, A LOWER BOUND (fails at 40/s) limited by the "
     f"load generator: at 32/s the load generator was the bottleneck: that rate says nothing about the server, for "
     f"or against; generator-bound: echo p(95)<100; {ADVICE} (stopped because: generator)"),
    (_answer("generator_bound", 16, (16, None), "generator", confirmed=True, generator_bound_rate=32,
             probes=(_probe(16, "pass"),)),
     f"16 iterations/s: every threshold PASSED with confidence at it, A LOWER BOUND limited by the load generator: "
     f"at 32/s the load generator was the bottleneck: that rate says nothing about the server, for or against; "
     f"{ADVICE} (stopped because: generator)"),
    (_answer("capacity_found", 10, (10, 20), "budget", confirmed=False, settlement=_UNSETTLED_ONE, to_settle_s=100.2),
     "10 iterations/s by the thresholds a probe could settle, not at 20/s; NOT CONFIRMED: 1 threshold not settled "
     "(echo rate>=0.999): ~101 s more budget would settle it (--budget 12 min) (stopped because: budget)"),
    (_answer("capacity_found", 10, (10, 20), "budget", confirmed=False, settlement=_UNSETTLED_TWO, to_settle_s=150.5),
     "10 iterations/s by the thresholds a probe could settle, not at 20/s; NOT CONFIRMED: 2 thresholds not settled "
     "(echo p(99)<1200, echo rate>=0.999): ~3 min more budget would settle them (--budget 13 min) "
     "(stopped because: budget)"),
    (_answer("passes_at_highest_rate", 50, (50, None), "budget", confirmed=False, settlement=_UNSETTLED_ONE),
     "50 iterations/s by the thresholds a probe could settle, the capacity is above it: every rate probed passed; "
     "NOT CONFIRMED: 1 threshold not settled (echo rate>=0.999) (stopped because: budget)"),
])
def test_the_headline_says_the_answer_and_what_it_rests_on_for_each_outcome(answer: CapacityReport,
                                                                             expected: str) -> None:
    assert headline(answer) == expected


@pytest.mark.parametrize(("answer", "expected"), [
    (_answer("generator_bound", None, (None, None), "generator", **_BOUND_AT_1), _BUSY_NOTE),
    (_answer("capacity_found", 10, (10, 20), "precision", confirmed=True, **_BOUND_AT_1), ""),  # not what stopped it
    (_answer("generator_bound", 10, (10, None), "generator", confirmed=True), ""),  # no generator-bound rate known
    (_answer("generator_bound", 10, (10, None), "generator", confirmed=True, generator_bound_rate=20, probes=(
        _probe(20, "generator", generator_bound=("echo p(95)<100", "echo p(99)<200")),)),
     f"at 20/s the load generator was the bottleneck: that rate says nothing about the server, for or against; "
     f"generator-bound: echo p(95)<100, echo p(99)<200; {ADVICE}"),
])
def test_the_generator_note_names_the_bound_rate_its_process_and_what_to_add(answer: CapacityReport,
                                                                              expected: str) -> None:
    assert generator_note(answer) == expected


def test_each_threshold_at_the_answer_says_which_probe_settled_it_or_that_none_did() -> None:
    answer = _answer("capacity_found", 10.123456, (10.123456, 20), "budget", confirmed=False, settlement=(
        _settled("rate>=0.999", None, needed=2995, state="INCONCLUSIVE"), _settled("p(95)<100", 3, "confirm"),
        _settled("p(99)<1200", 1, "bracket", needed=299), _settled("max<5000", None, state="INCONCLUSIVE"),
        _settled("med<50", 2, "bracket", state="FAIL")))
    assert settlement_lines(answer) == [
        "echo rate>=0.999: not settled at 10.12/s (INCONCLUSIVE, needs 2995 requests)",
        "echo p(95)<100: PASS at 10.12/s in probe 3 (confirmation)",
        "echo p(99)<1200: PASS at 10.12/s in probe 1 (bracketing, needs 299 requests)",
        "echo max<5000: not settled at 10.12/s (INCONCLUSIVE)",
        "echo med<50: FAIL at 10.12/s in probe 2 (bracketing)",
    ]
