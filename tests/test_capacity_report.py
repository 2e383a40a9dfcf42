"""capacity.json's schema round trip and capacity.html from a fabricated search (no process)."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from osiris_load.core.capacity.model import CapacityReport, Goodput, ProbeResult, ProbeThreshold
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
