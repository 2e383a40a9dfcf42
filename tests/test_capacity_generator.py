"""A capacity probe whose load generator was the bottleneck does not count against the rate (issue 17).

Plain functions as probes (milliseconds, no process): the search never reports a generator-bound
rate as failing, stops climbing there, answers with the highest rate shown to pass below it as a
lower bound, and capacity.json, capacity.html and the console say so and what to add.
"""

from __future__ import annotations

from osiris_load.core.capacity.answer import headline
from osiris_load.core.capacity.model import CapacityReport, GeneratorProcess, ProbeResult, ProbeThreshold
from osiris_load.core.capacity.plan import SampleNeed
from osiris_load.core.capacity.search import SearchConfig, report, search
from osiris_load.core.slo.verdict import ProcessHealth, ThresholdResult, Verdict
from osiris_load.jobs.capacity import describe, exit_code
from osiris_load.jobs.capacity_probe import probe_result
from osiris_load.reports.capacity_html import render_capacity_html

SATURATED = GeneratorProcess(process="worker-2", cpu_p95=99.0, cpu_max=100.0, saturated_s=12.0, lag_p99_ms=45.0,
                             lag_max_ms=160.0, users=300)


def threshold(state: str, expression: str = "p(95)<100", observed: float = 90.0) -> ProbeThreshold:
    return ProbeThreshold(row="echo", expression=expression, unit="ms", limit=100.0, state=state, observed=observed,
                          percentile=95.0)


def generator_probe(generator_at: float, capacity: float = 1e9, calls: list[float] | None = None):
    """PASS below ``generator_at``; from there to ``capacity`` the generator is the bottleneck (the
    gate's generator-bound INCONCLUSIVE, measured 180 ms); FAIL on the server's account at or
    above ``capacity``."""
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        if calls is not None:
            calls.append(rate)
        if rate >= capacity:
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="FAIL", attempt=attempt,
                               thresholds=(threshold("FAIL", observed=150.0),), generator=SATURATED)
        if rate >= generator_at:
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="INCONCLUSIVE",
                               attempt=attempt, thresholds=(threshold("INCONCLUSIVE", observed=180.0),),
                               generator_bound=("echo p(95)<100",), generator=SATURATED)
        return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="PASS", attempt=attempt,
                           thresholds=(threshold("PASS"),))
    return probe


CONFIG = SearchConfig(min_rate=1, max_rate=100, precision=0.05, budget_s=10_000, probe_duration_s=1)


def test_a_generator_bound_rate_never_fails_stops_the_climb_and_answers_a_lower_bound() -> None:
    calls: list[float] = []
    found = search(generator_probe(20.0, calls=calls), CONFIG)
    assert found.outcome == "generator_bound" and found.stopped_because == "generator"
    assert found.low == 16 and found.high is None and found.generator_rate == 32  # 1, 2, 4, 8, 16 pass; 32 bound
    assert calls == [1, 2, 4, 8, 16, 32]  # not rerun at 32 (longer does not remove the client's delay), no climb
    assert [p.counted_as for p in found.probes] == ["pass"] * 5 + ["generator"]
    assert found.limiting is None and found.confirmed is True
    result = report(found, CONFIG, scenario="echo")
    assert result.max_rate == 16 and result.bracket == (16, None) and result.generator_bound_rate == 32
    assert CapacityReport.from_json(result.to_json()) == result
    assert result.estimates == () or all(e.beyond is None for e in result.estimates)  # 180 ms is the client's
    line = headline(result)
    assert "16 iterations/s" in line and "LOWER BOUND limited by the load generator" in line
    assert "at 32/s the load generator was the bottleneck (process worker-2: CPU p95 99 %" in line
    assert "loop lag p99 45 ms" in line and "--workers N" in line and "more worker machines" in line
    assert "fewer users per process" in line and "lighter checks" in line and "stopped because: generator" in line
    assert exit_code(result) == 97
    html = render_capacity_html(result)
    assert 'data-outcome="generator_bound"' in html and "Limited by the load generator: a lower bound" in html
    assert "at least 16" in html and "generator-bound at 32/s" in html and "--workers N" in html


def test_bisection_keeps_the_servers_failure_as_the_upper_end_and_never_lowers_it_on_the_generator() -> None:
    found = search(generator_probe(10.0, capacity=16.0), CONFIG)
    # 1..8 pass, 16 FAILs on the server's account, the midpoint 11.3 is generator-bound: stop there
    assert found.outcome == "generator_bound" and found.stopped_because == "generator"
    assert found.low == 8 and found.high == 16 and found.generator_rate is not None
    assert 8 < found.generator_rate < 16
    assert all(p.counted_as != "fail" for p in found.probes if p.rate != 16)
    result = report(found, CONFIG, scenario="echo")
    assert result.limiting_threshold is not None and result.limiting_threshold.rate == 16
    assert "A LOWER BOUND (fails at 16/s) limited by the load generator" in headline(result) and exit_code(result) == 97


def test_generator_bound_at_the_lowest_rate_is_no_answer_not_a_failure() -> None:
    found = search(generator_probe(0.5), CONFIG)
    assert found.outcome == "generator_bound" and found.low is None and found.high is None
    assert [p.counted_as for p in found.probes] == ["generator"]
    result = report(found, CONFIG, scenario="echo")
    assert result.max_rate is None and exit_code(result) == 98  # not 96: the server was not shown to fail
    assert headline(result).startswith("none known: at 1/s the load generator was the bottleneck")
    assert "Limited by the load generator" in render_capacity_html(result)


def test_a_server_failure_beside_a_generator_bound_threshold_still_fails_the_rate() -> None:
    """The gate's FAIL on what the server can be charged with is the server's, whatever else the
    generator did: the search agrees with the verdict."""
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        if rate < 8:
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="PASS",
                               thresholds=(threshold("PASS"),))
        return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="FAIL",
                           thresholds=(threshold("INCONCLUSIVE"), threshold("FAIL", "p(99)<100", 300.0)),
                           generator_bound=("echo p(95)<100",), generator=SATURATED)
    found = search(probe, CONFIG)
    assert found.outcome == "capacity_found" and found.generator_rate is None and found.high == 8


def test_a_generator_bound_confirmation_is_no_evidence_and_the_next_lower_rate_is_confirmed() -> None:
    needs = (SampleNeed("echo", "rate>=0.999", 2995, 1.0),)
    config = SearchConfig(min_rate=10, max_rate=40, budget_s=10_000, probe_duration_s=20, needs=needs)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        rate_threshold = ProbeThreshold(row="echo", expression="rate>=0.999", unit="ratio", limit=0.999,
                                        state="INCONCLUSIVE", observed=1.0)
        if duration > 20 and rate >= 40:  # the long confirmation probe at 40/s saturates the generator
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="INCONCLUSIVE",
                               thresholds=(rate_threshold, threshold("INCONCLUSIVE", observed=180.0)),
                               generator_bound=("echo p(95)<100",), generator=SATURATED)
        if duration > 20:
            settled = rate_threshold.model_copy(update={"state": "PASS"})
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="PASS",
                               thresholds=(settled, threshold("PASS")))
        return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="INCONCLUSIVE",
                           thresholds=(rate_threshold, threshold("PASS")))
    found = search(probe, config)
    assert [(p.rate, p.role, p.counted_as) for p in found.probes] == [
        (10, "bracket", "pass"), (20, "bracket", "pass"), (40, "bracket", "pass"), (40, "confirm", "generator"),
        (20, "confirm", "pass")]
    assert (found.outcome, found.stopped_because, found.low, found.high) == ("generator_bound", "generator", 20, None)
    assert found.confirmed is True and found.generator_rate == 40
    result = report(found, config, scenario="echo")
    line = headline(result)
    assert line.startswith("20 iterations/s: every threshold PASSED with confidence at it, A LOWER BOUND limited")
    assert "at 40/s the load generator was the bottleneck" in line and exit_code(result) == 97


def test_confirmations_that_fail_below_the_generator_bound_rate_fail_at_the_lowest_rate() -> None:
    """The generator stopping the climb does not excuse a real failure below it: every candidate's
    confirmation FAILs, so the SLO fails even at --min-rate (96); the generator-bound rate is still named."""
    needs = (SampleNeed("echo", "rate>=0.999", 2995, 1.0),)
    config = SearchConfig(min_rate=1, max_rate=40, budget_s=100_000, probe_duration_s=20, needs=needs)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        settled = duration > 20
        rate_threshold = ProbeThreshold(row="echo", expression="rate>=0.999", unit="ratio", limit=0.999,
                                        state="FAIL" if settled else "INCONCLUSIVE", observed=0.99)
        if rate >= 4:
            return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state="INCONCLUSIVE",
                               thresholds=(rate_threshold, threshold("INCONCLUSIVE", observed=180.0)),
                               generator_bound=("echo p(95)<100",), generator=SATURATED)
        return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration,
                           state="FAIL" if settled else "INCONCLUSIVE", thresholds=(rate_threshold, threshold("PASS")))
    found = search(probe, config)
    assert [(p.rate, p.role, p.counted_as) for p in found.probes] == [
        (1, "bracket", "pass"), (2, "bracket", "pass"), (4, "bracket", "generator"), (2, "confirm", "fail"),
        (2 / 1.1, "confirm", "fail"), (2 / 1.1 ** 2, "confirm", "fail"), (1, "confirm", "fail")]  # two steps first
    assert found.outcome == "fails_at_min_rate" and found.low is None and found.high == 1
    result = report(found, config, scenario="echo")
    assert result.generator_bound_rate == 4 and exit_code(result) == 96
    assert "load generator" not in headline(result)


def test_the_probe_carries_the_verdicts_generator_bound_thresholds_and_worst_process() -> None:
    base = dict(row="echo", patterns=("GET /echo",), kind="p", arg=95.0, op="<", limit=100.0, unit="ms",
                requests=100, n=100)
    verdict = Verdict(table="t", thresholds=(
        ThresholdResult(**base, expression="p(95)<100", state="INCONCLUSIVE", observed=180.0, generator_bound=True),
        ThresholdResult(**base, expression="p(50)<100", state="PASS", observed=20.0)),
        generator=(ProcessHealth(process="worker-1", cpu_p95=30.0, lag_p99_ms=1.0),
                   ProcessHealth(process="worker-2", users=300, cpu_p95=99.0, cpu_max=100.0, saturated_s=12.0,
                                 lag_p99_ms=45.0, lag_max_ms=160.0, stall_s=9.0)))
    result = probe_result(verdict, rate=32.0, duration_s=20.0, elapsed_s=22.0, attempt=1, files=None, exit_code=0)
    assert result.generator_bound == ("echo p(95)<100",) and result.generator == SATURATED
    assert "GENERATOR-BOUND: worker-2 CPU p95 99 %, loop lag p99 45 ms" in describe(6, result)
    assert "echo p(95)<100 180.00 ms INCONCLUSIVE generator-bound; echo p(50)<100 20.00 ms PASS]" in describe(6, result)
    plain = probe_result(Verdict(table="t", thresholds=()), rate=1.0, duration_s=1.0, elapsed_s=1.0, attempt=1,
                         files=None, exit_code=0)
    assert plain.generator is None and plain.generator_bound == ()
