"""The measured crossing of ``osiris-load bench capacity_known_answer``: where a sweep's observed percentile
crosses its limit, read on the rates the runs achieved (pure: no process, no Locust)."""

from __future__ import annotations

import pytest

from osiris_load.bench.capacity_known_answer import error, sweep_crossing
from osiris_load.core.capacity.model import ProbeResult, ProbeThreshold


def point(rate: float, achieved: float | None, p95: float) -> ProbeResult:
    state = "PASS" if p95 < 100 else "FAIL"
    return ProbeResult(rate=rate, duration_s=150, elapsed_s=152, state=state, achieved_rate=achieved, thresholds=(
        ProbeThreshold(row="work", expression="p(95)<100", unit="ms", limit=100, state=state, observed=p95,
                       percentile=95, op="<"),))


def test_sweep_crossing_interpolates_between_the_straddling_points_on_achieved_rates() -> None:
    sweep = [point(17, 16.39, 91.85), point(19, 18.72, 93.55), point(21, 20.61, 101.68)]
    crossing = sweep_crossing(sweep)
    assert crossing is not None and crossing.within is not None and crossing.beyond is not None
    assert (crossing.within.rate, crossing.beyond.rate) == (18.72, 20.61)  # achieved, not nominal
    assert crossing.rate == pytest.approx(18.72 + (100 - 93.55) / (101.68 - 93.55) * (20.61 - 18.72))
    assert error(18.0, crossing.rate) == pytest.approx((18.0 - crossing.rate) / crossing.rate)


def test_sweep_crossing_without_a_straddle_or_an_achieved_rate() -> None:
    below = sweep_crossing([point(17, 16.4, 91.0), point(19, 18.7, 95.0)])
    assert below is not None and below.rate is None  # every point within: no crossing to read
    nominal = sweep_crossing([point(17, None, 91.0), point(21, None, 101.0)])
    assert nominal is not None and nominal.rate == pytest.approx(17 + 9 / 10 * 4)  # no open-model block: nominal
    assert sweep_crossing([]) is None
    assert error(None, 20.0) is None and error(18.0, None) is None
