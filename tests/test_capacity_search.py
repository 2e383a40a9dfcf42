"""The capacity search with plain functions as probes: milliseconds, no process, no Locust."""

from __future__ import annotations

import random

import pytest

from capacity.estimate import crossing_estimates
from capacity.model import CapacityReport, ProbeResult, ProbeThreshold
from capacity.plan import SampleNeed, plan_needs, planned_duration, samples_to_pass, scenario_rows
from capacity.search import Search, SearchConfig, SearchError, limiting_threshold, report, search
from slo.confidence import State, judge_percentile, judge_rate
from slo.table import DEFAULT_TABLE_PATH, load_table
from tests.conftest import ROOT

LOCUSTFILES = ROOT / "locustfiles"


def result(rate: float, duration: float, state: str, attempt: int = 1, observed: float = 100.0) -> ProbeResult:
    threshold = ProbeThreshold(row="echo", expression="p(95)<100", unit="ms", limit=100.0, state=state,
                               observed=observed, percentile=95.0)
    return ProbeResult(rate=rate, duration_s=duration, elapsed_s=duration, state=state, attempt=attempt,
                       thresholds=(threshold,))


def threshold_probe(capacity: float):
    """PASS strictly below ``capacity``, FAIL at or above it."""
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return result(rate, duration, "PASS" if rate < capacity else "FAIL", attempt, observed=rate / capacity * 100)
    return probe


@pytest.mark.parametrize("capacity", [1.5, 7.3, 42.0, 99.0])
def test_lands_within_the_precision_below_a_known_capacity(capacity: float) -> None:
    found = search(threshold_probe(capacity), SearchConfig(min_rate=1, max_rate=100, precision=0.05,
                                                          budget_s=10_000, probe_duration_s=1))
    assert found.outcome == "capacity_found" and found.stopped_because == "precision"
    assert found.low is not None and found.high is not None
    assert found.low < capacity <= found.high
    assert (found.high - found.low) / found.low <= 0.05
    assert capacity * 0.95 <= found.low


def test_grows_then_bisects_and_records_every_probe_in_order() -> None:
    found = search(threshold_probe(10), SearchConfig(min_rate=1, max_rate=100, growth=2, precision=0.1,
                                                     budget_s=1000, probe_duration_s=5))
    rates = [p.rate for p in found.probes]
    assert rates[:5] == [1, 2, 4, 8, 16]
    assert all(p.counted_as in ("pass", "fail") for p in found.probes)
    assert found.spent_s == 5 * len(found.probes)
    limiting = found.limiting
    assert limiting is not None and limiting.rate == found.high and limiting.row == "echo"
    assert limiting.expression == "p(95)<100" and limiting.state == "FAIL"


def test_fails_at_the_lowest_rate() -> None:
    found = search(threshold_probe(0.5), SearchConfig(min_rate=1, max_rate=100, budget_s=100, probe_duration_s=1))
    assert (found.outcome, found.stopped_because, found.low, found.high) == ("fails_at_min_rate", "min_rate", None, 1)
    assert len(found.probes) == 1 and found.limiting is not None


def test_passes_at_the_highest_rate() -> None:
    found = search(threshold_probe(1e9), SearchConfig(min_rate=1, max_rate=50, budget_s=100, probe_duration_s=1))
    assert (found.outcome, found.stopped_because, found.low, found.high) == ("passes_at_highest_rate", "max_rate",
                                                                              50, None)
    assert [p.rate for p in found.probes] == [1, 2, 4, 8, 16, 32, 50]


def test_budget_spent_while_bisecting_keeps_the_bracket() -> None:
    found = search(threshold_probe(10), SearchConfig(min_rate=1, max_rate=100, precision=0.001,
                                                     budget_s=35, probe_duration_s=5))
    assert found.stopped_because == "budget" and found.outcome == "capacity_found"
    assert len(found.probes) == 7 and found.spent_s == 35
    assert found.low is not None and found.high is not None and found.low < 10 <= found.high


def test_budget_spent_while_growing_says_so() -> None:
    found = search(threshold_probe(1e9), SearchConfig(min_rate=1, max_rate=1000, budget_s=3, probe_duration_s=1))
    assert (found.outcome, found.stopped_because, found.low, found.high) == ("passes_at_highest_rate", "budget", 4,
                                                                              None)


def test_inconclusive_reruns_longer_until_settled() -> None:
    calls: list[tuple[float, float, int]] = []

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        calls.append((rate, duration, attempt))
        if rate >= 8:
            return result(rate, duration, "FAIL", attempt)
        # near the limit the short runs cannot tell; a run of 4 s or more settles it as PASS
        return result(rate, duration, "PASS" if rate < 4 or duration >= 4 else "INCONCLUSIVE", attempt)

    found = search(probe, SearchConfig(min_rate=1, max_rate=100, precision=0.5, budget_s=100, probe_duration_s=1,
                                       max_probe_duration_s=8))
    assert calls[:5] == [(1, 1, 1), (2, 1, 1), (4, 1, 1), (4, 2, 2), (4, 4, 3)]
    assert [p.counted_as for p in found.probes[2:5]] == [None, None, "pass"]
    assert found.low is not None and found.low >= 4


def test_inconclusive_at_the_cap_counts_against_the_rate() -> None:
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return result(rate, duration, "PASS" if rate < 3 else "INCONCLUSIVE", attempt)

    found = search(probe, SearchConfig(min_rate=1, max_rate=100, precision=0.1, budget_s=1000, probe_duration_s=1,
                                       max_probe_duration_s=4))
    assert found.outcome == "capacity_found"
    assert found.low is not None and found.high is not None and found.low < 3 <= found.high
    at_high = [p for p in found.probes if p.rate == found.high]
    assert [p.duration_s for p in at_high] == [1, 2, 4] and at_high[-1].counted_as == "fail"
    assert found.limiting is not None and found.limiting.state == "INCONCLUSIVE"


def test_no_data_counts_against_the_rate_without_reruns() -> None:
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        return result(rate, duration, "NO_DATA", attempt)

    found = search(probe, SearchConfig(min_rate=1, max_rate=10, budget_s=100, probe_duration_s=1))
    assert found.outcome == "fails_at_min_rate" and len(found.probes) == 1


def test_noisy_probe_still_brackets_near_the_capacity() -> None:
    """A probe that is INCONCLUSIVE within 10 % of the capacity (at any duration) and settled
    elsewhere: the answer is below the capacity and within 10 % + the precision of it."""
    rng = random.Random(7)
    capacity = 23.0

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        if abs(rate - capacity) / capacity < 0.1 and rng.random() < 0.8:
            return result(rate, duration, "INCONCLUSIVE", attempt)
        return result(rate, duration, "PASS" if rate < capacity else "FAIL", attempt)

    found = search(probe, SearchConfig(min_rate=1, max_rate=200, precision=0.05, budget_s=10_000,
                                       probe_duration_s=1, max_probe_duration_s=4))
    assert found.low is not None and capacity * 0.85 <= found.low < capacity


@pytest.mark.parametrize(("config", "option"), [
    (SearchConfig(min_rate=0), "--min-rate"),
    (SearchConfig(min_rate=5, max_rate=2), "--max-rate"),
    (SearchConfig(growth=1), "--growth"),
    (SearchConfig(precision=0), "--precision"),
    (SearchConfig(probe_duration_s=10, budget_s=5), "--budget"),
    (SearchConfig(probe_duration_s=10, max_probe_duration_s=5), "--max-probe-duration"),
])
def test_bad_settings_name_the_option(config: SearchConfig, option: str) -> None:
    with pytest.raises(SearchError, match=option):
        search(threshold_probe(10), config)


def test_limiting_threshold_none_without_a_failing_probe() -> None:
    assert limiting_threshold([], 3.0) is None


# --- the probe duration planned from the SLO table (capacity.plan) ---------------------------------

def test_samples_to_pass_are_the_gates_own_minimums() -> None:
    assert samples_to_pass("rate", ">=", 0.999, None, 0.95) == 2995
    assert samples_to_pass("rate", ">=", 0.995, None, 0.95) == 598
    assert samples_to_pass("p", "<", 800, 95, 0.95) == 59
    assert samples_to_pass("p", "<", 1200, 99, 0.95) == 299
    assert samples_to_pass("fail_rate", "<", 0.01, None, 0.95) == 299
    # the gate agrees: all-success 2995 requests PASS, 2994 do not; 59 samples below the limit PASS, 58 do not
    assert judge_rate("rate", ">=", 0.999, 2995, 0).state == State.PASS
    assert judge_rate("rate", ">=", 0.999, 2994, 0).state == State.INCONCLUSIVE
    assert judge_percentile(95, "<", 800, 59, at_or_above=0).state == State.PASS
    assert judge_percentile(95, "<", 800, 58, at_or_above=0).state == State.INCONCLUSIVE
    # no interval, or no best case that passes: nothing to plan
    assert samples_to_pass("avg", "<", 100, None, 0.95) is None
    assert samples_to_pass("p", "==", 100, 99, 0.95) is None
    assert samples_to_pass("rate", ">=", 0.999, None, 0) is None


def test_scenario_rows_come_from_slo_rows_split_by_weight(tmp_path) -> None:
    assert scenario_rows(LOCUSTFILES / "sidecar_load.py") == {"generate": 1.0, "metrics": 1.0}
    assert scenario_rows(LOCUSTFILES / "propose_trade.py") == {"propose": 1.0}
    mixed = scenario_rows(LOCUSTFILES / "mixed.py")  # weights 5 (sidecar) : 5 (read heavy) : 3 (propose)
    assert mixed == pytest.approx({"generate": 5 / 13, "metrics": 10 / 13, "health": 5 / 13, "propose": 3 / 13})
    plain = tmp_path / "plain.py"
    plain.write_text("class U:\n    weight = 2\n")
    assert scenario_rows(plain) is None and scenario_rows(tmp_path / "missing.py") is None


def test_the_default_table_plans_sidecar_load_by_its_strictest_threshold() -> None:
    needs = plan_needs(load_table(DEFAULT_TABLE_PATH), scenario_rows(LOCUSTFILES / "sidecar_load.py"), 0.95)
    assert [(n.row, n.expression, n.samples) for n in needs] == [
        ("generate", "rate>=0.999", 2995), ("generate", "p(95)<800", 59), ("generate", "p(99)<1200", 299),
        ("metrics", "rate>=0.999", 2995), ("metrics", "p(95)<400", 59)]
    assert planned_duration(needs, 10) == pytest.approx(299.5)
    every_row = plan_needs(load_table(DEFAULT_TABLE_PATH), None, 0.95)  # rows unknown: all, 1 per iteration
    assert {n.row for n in every_row} == {"generate", "health", "metrics", "propose"}


def recording_probe(capacity: float, durations: list[float]):
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        durations.append(duration)
        return result(rate, duration, "PASS" if rate < capacity else "FAIL", attempt)
    return probe


def test_each_probe_lasts_what_the_table_needs_at_its_rate() -> None:
    needs = (SampleNeed("echo", "rate>=0.999", 2995, 1.0), SampleNeed("echo", "p(95)<100", 59, 1.0))
    durations: list[float] = []
    config = SearchConfig(min_rate=10, max_rate=100, budget_s=10_000, probe_duration_s=20,
                          max_probe_duration_s=400, needs=needs)
    found = search(recording_probe(1e9, durations), config)
    assert [p.rate for p in found.probes] == [10, 20, 40, 80, 100]
    assert durations == pytest.approx([299.5, 149.75, 74.875, 37.4375, 29.95])
    assert [p.planned_duration_s for p in found.probes] == pytest.approx(durations)
    assert found.notes == []
    assert report(found, config, scenario="echo").notes == ()


def test_the_cap_and_the_budget_shorten_a_plan_and_a_note_says_so_up_front() -> None:
    needs = (SampleNeed("generate", "rate>=0.999", 2995, 1.0),)
    durations: list[float] = []
    config = SearchConfig(min_rate=1, max_rate=100, budget_s=100, probe_duration_s=20, max_probe_duration_s=80,
                          needs=needs)
    notes = config.notes()
    assert len(notes) == 1
    assert notes[0].startswith("generate rate>=0.999 needs 2995 requests to PASS with confidence: 50 min at 1/s")
    assert "cannot PASS below 37.4/s" in notes[0]
    found = search(recording_probe(1e9, durations), config)
    assert durations == [80, 20]  # 2995 s capped at 80 s; then the 20 s left of the budget
    assert found.probes[0].planned_duration_s == 2995 and found.probes[1].planned_duration_s == 1497.5
    doc = CapacityReport.from_json(report(found, config, scenario="sidecar_load").to_json())
    assert doc.notes == tuple(notes) and doc.probes[0].planned_duration_s == 2995


def test_without_needs_nothing_is_planned() -> None:
    durations: list[float] = []
    found = search(recording_probe(1e9, durations), SearchConfig(min_rate=1, max_rate=4, budget_s=100,
                                                                probe_duration_s=5))
    assert durations == [5, 5, 5] and all(p.planned_duration_s is None for p in found.probes)


def test_an_interrupted_search_keeps_the_probes_that_ended_and_their_bracket() -> None:
    """A stop signal raised inside the third probe (the probe is where the search waits): the two
    that ended and the bracket they made are kept; the cut-short one is not among them."""
    inner = threshold_probe(3)

    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        if rate == 4:
            raise KeyboardInterrupt  # what a signal handler raises, mid-probe
        return inner(rate, duration, attempt)

    config = SearchConfig(min_rate=1, max_rate=100, budget_s=100, probe_duration_s=5)
    state = Search(config)
    with pytest.raises(KeyboardInterrupt):
        state.run(probe)
    found = state.interrupted()
    assert (found.outcome, found.stopped_because, found.low, found.high) == ("interrupted", "interrupted", 2, None)
    assert [p.rate for p in found.probes] == [1, 2] and found.spent_s == 10
    doc = CapacityReport.from_json(report(found, config, scenario="echo", interrupted_by="SIGTERM").to_json())
    assert (doc.outcome, doc.max_rate, doc.bracket, doc.interrupted_by) == ("interrupted", None, (2, None), "SIGTERM")


def test_a_search_interrupted_before_any_verdict_has_no_bracket() -> None:
    def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
        raise KeyboardInterrupt

    state = Search(SearchConfig(min_rate=1, max_rate=100, budget_s=100, probe_duration_s=5))
    with pytest.raises(KeyboardInterrupt):
        state.run(probe)
    found = state.interrupted()
    assert (found.low, found.high, found.probes, found.outcome) == (None, None, [], "interrupted")


def test_crossing_estimate_joins_the_highest_rate_within_and_the_lowest_beyond() -> None:
    def probe(rate: float, observed: float | None, counted: str | None = "pass") -> ProbeResult:
        t = ProbeThreshold(row="echo", expression="p(95)<100", unit="ms", limit=100.0, op="<", percentile=95.0,
                           state="PASS" if observed is not None and observed < 100 else "FAIL", observed=observed)
        return ProbeResult(rate=rate, duration_s=1, elapsed_s=1, state=t.state, counted_as=counted, thresholds=(t,))

    # in run order; 30/s is within again (noise), 35/s a superseded attempt (not counted)
    probes = [probe(10, 50), probe(40, 150, "fail"), probe(20, 90), probe(35, 300, None), probe(30, 80)]
    (estimate,) = crossing_estimates(probes)
    assert (estimate.within.rate, estimate.beyond.rate) == (30, 40)  # type: ignore[union-attr]
    assert estimate.rate == pytest.approx(30 + (100 - 80) / (150 - 80) * 10)
    assert crossing_estimates([probe(10, None, "fail")]) == ()  # nothing observed: nothing to read
    (never,) = crossing_estimates([probe(10, 50), probe(20, 60)])
    assert never.rate is None and never.beyond is None
