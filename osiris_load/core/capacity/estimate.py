"""Where each judged percentile crosses its limit, estimated from the probes: *not* a confident
answer, a reading of the chart.

``max_rate`` is the highest rate *shown* to meet the SLO; between it and the lowest failing rate the
search knows nothing more. The probes' observed percentiles do say more, loosely: for each
percentile threshold, the observed value at the highest rate still within its limit and at the
lowest rate beyond it (above that one), joined by a straight line, cross the limit at one rate. That
rate is an estimate (no interval, and the curve is not straight: a queue's percentiles bend up
sharply near its capacity), shown beside ``max_rate`` and never instead of it. Pure: reads the
probes' results, judges nothing again.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

from osiris_load.core.capacity.model import CrossingEstimate, ProbeResult, RatePoint

__all__ = ["crossing_estimates"]

_WITHIN: dict[str, Callable[[float, float], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                       ">=": operator.ge}


def crossing_estimates(probes: Sequence[ProbeResult]) -> tuple[CrossingEstimate, ...]:
    """One estimate per percentile threshold (``p(q)``/``med`` with an ordering limit), in the order
    first seen, from the probes that decided their rate (``counted_as`` pass or fail: a generator-bound
    probe's measured times include the client's own delay)."""
    decided = sorted((p for p in probes if p.counted_as in ("pass", "fail")), key=lambda p: p.rate)
    keys: list[tuple[str, str]] = []
    for probe in decided:
        keys += [(t.row, t.expression) for t in probe.thresholds
                 if t.percentile is not None and t.op in _WITHIN and (t.row, t.expression) not in keys]
    estimates = []
    for row, expression in keys:
        points = [(p.rate, t) for p in decided for t in p.thresholds
                  if (t.row, t.expression) == (row, expression) and t.observed is not None]
        if not points:
            continue  # no value observed at any rate (NO_DATA): nothing to read
        first = points[0][1]
        within = _WITHIN[first.op or ""]
        beyond = next(((rate, t.observed) for rate, t in points if not within(t.observed, t.limit)), None)
        below = None
        for rate, t in points:
            if (beyond is None or rate < beyond[0]) and within(t.observed, t.limit):
                below = (rate, t.observed)
        rate_estimate = None
        if below is not None and beyond is not None and beyond[1] != below[1]:
            (a, obs_a), (b, obs_b) = below, beyond
            rate_estimate = a + (first.limit - obs_a) * (b - a) / (obs_b - obs_a)
        estimates.append(CrossingEstimate(
            row=row, expression=expression, unit=first.unit, limit=first.limit, rate=rate_estimate,
            within=None if below is None else RatePoint(rate=below[0], observed=below[1]),
            beyond=None if beyond is None else RatePoint(rate=beyond[0], observed=beyond[1])))
    return tuple(estimates)
