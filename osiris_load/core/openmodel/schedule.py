"""Rate plans and due-time schedules of the open model (pure: no Locust, no gevent).

A **rate plan** is the arrival rate over time, in scenario iterations per second: constant
(``--arrival-rate R``) or k6 ramping-arrival-rate stages (``--rate-stages 10s:2,30s:5,5s:0``: each
stage ramps linearly from the previous target, starting at 0). Its expected count of arrivals
``Λ(t)`` (the integral of the rate) is what schedules are drawn in:

* **constant** arrivals: the k-th iteration is due when ``Λ(t)`` reaches ``k`` (at rate R: at
  ``1/R, 2/R, ...``), so the count due by ``t`` is exactly ``floor(Λ(t))``;
* **poisson** arrivals: the gaps in ``Λ`` are independent exponentials of mean 1 (a Poisson process,
  non-homogeneous under a ramp), so the count due by ``t`` is Poisson with mean ``Λ(t)``.

Due times are absolute offsets from the schedule's start, never intervals slept one after the
other, so a dispatcher that wakes late catches up instead of drifting.

**Splitting** among processes: each process draws its own schedule at ``share`` of the plan
(``worker_share``: 1/N for N workers), and a constant schedule starts at its ``phase``, so N
workers interleave exactly into the single-process sequence (worker i at ``Λ = i+1, N+i+1, ...``).
Within a process, the rate is split among the user classes by their Locust weights
(``class_shares``). A share can change while a schedule runs (``ArrivalSchedule.reshare``: the
master re-split the rate when the workers changed).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from osiris_load.core.openmodel.stages import StagesError, format_duration, split_stages  # the one k6 stages notation

__all__ = [
    "ARRIVALS",
    "ArrivalSchedule",
    "RatePlan",
    "RateStage",
    "RateStagesError",
    "class_shares",
    "default_max_vus",
    "format_rate_stages",
    "parse_arrival_rate",
    "parse_rate_stages",
    "worker_share",
]

ARRIVALS = ("poisson", "constant")
"""``--arrivals`` choices; the first is the default."""

MAX_VUS_PER_RATE = 4.0
"""``--max-vus`` default: 4 users per iteration/s of the plan's peak (Little's law: iterations may
take 4 s on average before users run out), at least :data:`MIN_MAX_VUS`."""
MIN_MAX_VUS = 10

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


class RateStagesError(StagesError):
    """A ``--rate-stages`` or ``--arrival-rate`` value that cannot be understood; names the part."""


@dataclass(frozen=True, slots=True)
class RateStage:
    """One k6 ramping-arrival-rate stage: ramp linearly from the previous target to ``target``
    iterations/s over ``duration_s`` (a 0 s stage jumps)."""

    duration_s: float
    target: float


def parse_arrival_rate(value: object) -> float:
    """``--arrival-rate``: iterations per second, a finite number > 0."""
    try:
        rate = float(str(value).strip())
    except ValueError:
        raise RateStagesError(f"arrival rate must be a number of iterations per second, got {value!r}") from None
    if not math.isfinite(rate) or rate <= 0:
        raise RateStagesError(f"arrival rate must be > 0 iterations per second, got {value!r}")
    return rate


def parse_rate_stages(text: str) -> list[RateStage]:
    """Parse ``"10s:2,30s:5,5s:0"`` into ``[RateStage(10.0, 2.0), RateStage(30.0, 5.0), RateStage(5.0, 0.0)]``.

    Each comma-separated part is ``<duration>:<target iterations/s>`` (durations as ``--stages``:
    ``500ms``, ``10s``, ``1m30s``; targets decimal numbers >= 0). :class:`RateStagesError` names the
    offending part; the stages must last more than 0 s and ask for some rate.
    """
    stages: list[RateStage] = []
    for where, duration_s, target_text in split_stages(text, noun="rate stage", shape="<iterations per second>",
                                                       example="10s:2,30s:5,5s:0", error=RateStagesError):
        if not _NUMBER.fullmatch(target_text):
            raise RateStagesError(f"{where}: target must be a number of iterations per second >= 0, "
                                  f"got {target_text!r}")
        stages.append(RateStage(duration_s=duration_s, target=float(target_text)))
    if sum(s.duration_s for s in stages) <= 0:
        raise RateStagesError(f"rate stages {text!r} last 0s in total; at least one stage needs a duration")
    if not any(s.target > 0 for s in stages):
        raise RateStagesError(f"rate stages {text!r} never ask for a rate above 0")
    return stages


def format_rate_stages(stages: Sequence[RateStage]) -> str:
    """The inverse of :func:`parse_rate_stages`, for log lines."""
    return ",".join(f"{format_duration(s.duration_s)}:{s.target:g}" for s in stages)


def default_max_vus(peak_rate: float) -> int:
    """``--max-vus`` when not given: ``max(10, ceil(4 * peak rate))`` (see :data:`MAX_VUS_PER_RATE`)."""
    return max(MIN_MAX_VUS, math.ceil(MAX_VUS_PER_RATE * peak_rate - 1e-9))


@dataclass(frozen=True)
class _Segment:
    start: float
    end: float
    r0: float
    r1: float
    before: float  # Λ at start

    @property
    def mass(self) -> float:
        return (self.r0 + self.r1) / 2 * (self.end - self.start) if math.isfinite(self.end) else math.inf

    def cumulative(self, t: float) -> float:
        dt = t - self.start
        if not math.isfinite(self.end):
            return self.before + self.r0 * dt
        slope = (self.r1 - self.r0) / (self.end - self.start)
        return self.before + self.r0 * dt + 0.5 * slope * dt * dt

    def time_of(self, x: float) -> float:
        """The time in this segment at which Λ reaches ``x`` (0 < x - before <= mass)."""
        d = x - self.before
        if not math.isfinite(self.end) or self.r1 == self.r0:
            return self.start + d / self.r0
        slope = (self.r1 - self.r0) / (self.end - self.start)
        # 0.5*slope*dt^2 + r0*dt = d, in the form that stays exact as slope -> 0
        dt = 2 * d / (self.r0 + math.sqrt(max(self.r0 * self.r0 + 2 * slope * d, 0.0)))
        return min(self.start + dt, self.end)


class RatePlan:
    """The arrival rate over time (iterations/s): constant forever, or k6-style rate stages."""

    def __init__(self, segments: Sequence[tuple[float, float, float, float]], text: str) -> None:
        built, before = [], 0.0
        for start, end, r0, r1 in segments:
            segment = _Segment(start, end, r0, r1, before)
            built.append(segment)
            before += segment.mass
        self._segments = tuple(built)
        self.text = text

    @classmethod
    def constant(cls, rate: float) -> RatePlan:
        """``--arrival-rate R``: R iterations/s until the run ends (``-t``, or stopped)."""
        rate = parse_arrival_rate(rate)
        return cls([(0.0, math.inf, rate, rate)], f"{rate:g}/s")

    @classmethod
    def from_stages(cls, stages: Sequence[RateStage]) -> RatePlan:
        """``--rate-stages``: linear ramps from 0, one stage after another; no arrivals after the last."""
        segments, t, previous = [], 0.0, 0.0
        for stage in stages:
            segments.append((t, t + stage.duration_s, previous, stage.target))
            t += stage.duration_s
            previous = stage.target
        return cls(segments, format_rate_stages(stages))

    @property
    def duration_s(self) -> float:
        """When the plan ends (``inf`` for a constant rate)."""
        return self._segments[-1].end

    @property
    def peak_rate(self) -> float:
        return max(max(s.r0, s.r1) for s in self._segments)

    def rate_at(self, t: float) -> float:
        """The rate at ``t`` seconds (0 outside the plan)."""
        for s in self._segments:
            if s.start <= t < s.end:
                if not math.isfinite(s.end):
                    return s.r0
                return s.r0 + (s.r1 - s.r0) * (t - s.start) / (s.end - s.start)
        return 0.0

    def expected(self, t: float) -> float:
        """``Λ(t)``: the iterations the plan expects from 0 to ``t`` seconds."""
        if t <= 0:
            return 0.0
        total = 0.0
        for s in self._segments:
            if t < s.end:
                return s.cumulative(t)
            total = s.before + s.mass
        return total

    def mean_rate(self, window_s: float) -> float:
        """The plan's mean rate over its first ``window_s`` seconds (the verdict's ``target_rate``)."""
        return self.expected(window_s) / window_s if window_s > 0 else self.rate_at(0.0)

    def time_of(self, x: float) -> float | None:
        """The earliest time at which ``Λ`` reaches ``x`` (> 0); ``None`` if the plan never does."""
        for s in self._segments:
            if s.mass > 0 and x <= s.before + s.mass:
                return s.time_of(x)
        return None


class ArrivalSchedule:
    """Due times (seconds from the schedule's start) of one process's, or one user class's, share
    of a plan; see the module docstring. Not thread-safe (one dispatcher owns it)."""

    def __init__(self, plan: RatePlan, arrivals: str = "poisson", *, share: float = 1.0, phase: float = 1.0,
                 seed: int | None = None) -> None:
        if arrivals not in ARRIVALS:
            raise ValueError(f"arrivals must be one of {', '.join(ARRIVALS)}, got {arrivals!r}")
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        if not 0 < phase <= 1:
            raise ValueError(f"phase must be in (0, 1], got {phase!r}")
        self.plan = plan
        self.arrivals = arrivals
        self._poisson = arrivals == "poisson"
        self._rng = random.Random(seed)
        self._share = share
        self._phase = phase
        self._base_x = 0.0  # plan Λ where the current share began
        self._base_u = 0.0  # own units at that point
        self._u = 0.0  # own units of the last arrival handed out
        self._first = True

    @property
    def share(self) -> float:
        return self._share

    def _increment(self) -> float:
        if self._poisson:
            return self._rng.expovariate(1.0)
        if self._first:
            return self._phase
        return 1.0

    def _time_of_u(self, u: float) -> float | None:
        return self.plan.time_of(self._base_x + (u - self._base_u) / self._share)

    def next_due(self) -> float | None:
        """The next iteration's due time, or ``None`` when the plan is over."""
        self._u += self._increment()
        self._first = False
        return self._time_of_u(self._u)

    def reshare(self, share: float, now_s: float) -> float | None:
        """Run at ``share`` of the plan from ``now_s`` on; returns the recomputed due time of the
        arrival last handed out (when it is still ahead of ``now_s``, it moves)."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], got {share!r}")
        now_x = self.plan.expected(now_s)
        now_u = self._base_u + (now_x - self._base_x) * self._share
        self._base_x, self._base_u, self._share = now_x, min(now_u, self._u), share
        if self._first:
            return None
        return self._time_of_u(self._u)


def worker_share(worker_ids: Sequence[str], me: str) -> tuple[float, float] | None:
    """``(share, phase)`` of worker ``me`` among ``worker_ids`` (the master's split): 1/N each,
    phases ``1/N, 2/N, ...`` in sorted id order, so constant schedules interleave; ``None`` when
    ``me`` is not among them (it gets no share until the master re-splits)."""
    ids = sorted(set(worker_ids))
    if me not in ids:
        return None
    n = len(ids)
    return 1.0 / n, (ids.index(me) + 1) / n


def class_shares(weights: Mapping[str, float]) -> dict[str, float]:
    """Each user class's share of a process's rate: its Locust weight over the sum (equal shares
    when no weight is positive), as Locust splits the users themselves."""
    positive = {name: max(float(w), 0.0) for name, w in weights.items()}
    total = sum(positive.values())
    if total <= 0:
        return {name: 1.0 / len(positive) for name in positive} if positive else {}
    return {name: w / total for name, w in positive.items() if w > 0}
