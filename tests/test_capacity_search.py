"""The capacity search with plain functions as probes: milliseconds, no process, no Locust."""

from __future__ import annotations

import random

import pytest

from capacity.model import ProbeResult, ProbeThreshold
from capacity.search import SearchConfig, SearchError, limiting_threshold, search


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
