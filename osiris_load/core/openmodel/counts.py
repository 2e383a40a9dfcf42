"""Accounting of the open model (pure): due, started, late and dropped iterations, and goodput.

Rules (documented for users in docs/open-model.md):

* an iteration is **due** when its dispatcher issued it: its schedule's due time passed and the
  dispatcher, awake, counted it (a dispatcher the host woke late issues the due times it missed at
  once, as it catches up; at the stop, the ones it had not reached are not due);
* the **window** is the span of the schedule that was issued (:class:`IssuedSpan`): from the
  schedule's origin to the stop or the planned end, but never past the first due time not yet
  issued. ``due`` and the window therefore cover the same span whatever the host's load: with
  constant arrivals ``due`` is ``rate x window`` within one iteration per schedule;
* it is **started** when a free user takes it; its **lateness** is start - due (>= 0), and every
  request it makes is recorded with ``measured latency + lateness`` (the wrk2/HdrHistogram
  correction for coordinated omission); it is **late** when the lateness exceeds
  :data:`LATE_TOLERANCE_S` (the correction applies to every lateness, late or not);
* it is **dropped** when it never starts: at its due time the backlog is full (every user busy and
  10 s worth of the rate already waiting, at least one per user: ``osiris_load.adapter.open_model.BACKLOG_S``),
  or the run ends while it waits;
* **goodput**: an iteration is good when it ran to its end and each of its requests succeeded
  and met every latency limit of the SLO rows that name it, on its corrected time; a dropped
  iteration is counted, as not good. ``share = good / iterations``.

Counts travel from workers to the master inside the gate's reports (:meth:`ArrivalCounts.to_data`,
:meth:`ArrivalCounts.add`) and are summed there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from osiris_load.core.slo.recorder import add_counters
from osiris_load.core.slo.table import SloTable, request_matchers

__all__ = ["ITERATION_KEY", "LATE_TOLERANCE_S", "ArrivalCounts", "CountsByWorker", "GoodputPlan", "Iteration",
           "IssuedSpan"]

LATE_TOLERANCE_S = 0.010
"""An iteration that starts more than 10 ms after it was due counts as ``late``: gevent's timers
and a busy 2-core host wake a dispatcher up to a few ms late without any backlog; the correction
still adds every lateness, however small."""

ITERATION_KEY = "osiris_iteration"
"""Key of the running :class:`Iteration` in a request event's ``context`` (the user's ``context()``)."""

_GOODPUT_KINDS = ("p", "med", "avg", "max")  # aggregations a single request's latency can be held to
_BOUNDS_CACHED = 2_000  # request names whose bounds are kept (the recorder keeps 500 keys); beyond, computed each time


class Iteration:
    """The iteration a user is running: its lateness (ms, added to each request's latency) and
    whether every request so far was good. One per user, reused (no allocation per iteration)."""

    __slots__ = ("lateness_ms", "good")

    def __init__(self) -> None:
        self.lateness_ms = 0.0
        self.good = True


_COUNTS = ("due", "started", "late", "dropped", "iterations", "good")
"""The counts of :class:`ArrivalCounts` (summed and drained); its other fields are the window's."""


@dataclass
class ArrivalCounts:
    """Counts of one process (or, on the master, of all: :class:`CountsByWorker`). ``window_s`` is
    the span of its schedules that its dispatchers issued (:class:`IssuedSpan`, each user class's
    weighted by its share of the process's rate); ``share_s`` its share of the plan (1/N of N
    workers) integrated over that span, so that the workers' ``share_s`` add up to the run's window
    even when workers came, went, started a moment apart or were stopped at different moments."""

    due: int = 0
    started: int = 0
    late: int = 0
    dropped: int = 0
    iterations: int = 0
    good: int = 0
    window_s: float = 0.0
    share_s: float = 0.0  # the process's share of the plan integrated over the window (= window_s alone)
    dispatch_late_max_s: float = 0.0
    """The dispatchers' own longest lateness: how long after a due time a dispatcher, asleep until
    then, was woken to issue it. The load generator's delay alone (its loop busy, the process
    descheduled or stopped), never a wait for a free user; a bound on how late a stall sent what
    fell due during it (``osiris_load.core.capacity.search.generator_disturbed``). Over workers, the
    largest; a report carries the largest since the previous one."""

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: Any) -> ArrivalCounts:
        """The inverse of :meth:`to_data`; ``ValueError`` on anything else."""
        try:
            ints = {f: int(data[f]) for f in _COUNTS}
            window = float(data["window_s"])
            share_s = float(data["share_s"])
            late_max = float(data.get("dispatch_late_max_s", 0.0))  # absent from a worker of an older version
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed open-model counts: {exc!r}") from None
        if min(ints.values()) < 0 or not all(math.isfinite(v) and v >= 0 for v in (window, share_s, late_max)):
            raise ValueError("malformed open-model counts: negative or infinite")
        return cls(**ints, window_s=window, share_s=share_s, dispatch_late_max_s=late_max)

    def add(self, other: ArrivalCounts) -> None:
        """Add another report's counts (not the window: see :class:`CountsByWorker`); the longest
        dispatch lateness is the larger of the two."""
        add_counters(self, other, _COUNTS)
        self.dispatch_late_max_s = max(self.dispatch_late_max_s, other.dispatch_late_max_s)

    def drain(self) -> ArrivalCounts:
        """A copy of the counts, which are then zeroed (a worker's report; the window is kept)."""
        copy = ArrivalCounts(**asdict(self))
        for name in _COUNTS:
            setattr(self, name, 0)
        self.dispatch_late_max_s = 0.0
        return copy


class IssuedSpan:
    """How far one dispatcher issued its schedule, and the process's share of the plan over it.

    The window of the open model is what the schedule covered, not the wall-clock time the process
    ran: the dispatcher notes its next due time not yet issued (``pending_s``, seconds from the
    schedule's origin) and each change of the process's share (1/N of N workers) at the point of
    the schedule where it applies. The span issued by ``now_s`` is ``min(now_s, pending_s,
    end_s)``: every due time before it was issued (counted ``due``), none after. A host too busy to
    wake the dispatcher before the stop shortens the span by the due times it did not issue, so
    ``due / window`` stays the schedule's rate and ``started / window`` measures what the users
    failed to start. Pure; one per dispatcher (user class) of a process."""

    __slots__ = ("weight", "pending_s", "_since", "_shares")

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight  # the class's share of the process's rate
        self.pending_s = math.inf  # the next due time not yet issued (inf: none, or no schedule yet)
        self._since = [0.0]
        self._shares = [0.0]  # the process's share from _since[i] on (0 until a share is known)

    def share_from(self, at_s: float, share: float) -> None:
        """The process runs at ``share`` of the plan from ``at_s`` (schedule seconds) on."""
        at_s = max(at_s, self._since[-1])
        if share == self._shares[-1]:
            return
        if at_s == self._since[-1]:
            self._shares[-1] = share
        else:
            self._since.append(at_s)
            self._shares.append(share)

    def covered(self, now_s: float, end_s: float | None = None) -> float:
        """The span issued by ``now_s`` (seconds from the origin), at most ``end_s`` (the planned end)."""
        span = min(now_s, self.pending_s)
        if end_s is not None:
            span = min(span, end_s)
        return max(span, 0.0)

    def share_s(self, covered: float) -> float:
        """The process's share of the plan integrated over ``[0, covered]``."""
        total = 0.0
        for i, (since, share) in enumerate(zip(self._since, self._shares, strict=True)):
            until = self._since[i + 1] if i + 1 < len(self._since) else math.inf
            if since >= covered:
                break
            total += share * (min(until, covered) - since)
        return total


class GoodputPlan:
    """Per request key, the latency bounds a single request must meet to be good: the smallest
    ``<`` limit and the smallest ``<=`` limit of the percentile, median, avg and max thresholds of
    every row that names it. Plain data (:meth:`to_data`) so the master hands it to its workers;
    the bounds of a key are computed on its first request and cached (one dict lookup after)."""

    def __init__(self, rows: Iterable[tuple[str, tuple[str, ...], float, float]] = ()) -> None:
        self.rows = tuple((str(n), tuple(p), float(lt), float(le)) for n, p, lt, le in rows)
        self._matchers = [(request_matchers(patterns), lt, le) for _, patterns, lt, le in self.rows]
        self._bounds: dict[tuple[str, str], tuple[float, float]] = {}

    @classmethod
    def from_table(cls, table: SloTable) -> GoodputPlan:
        rows = []
        for row in table.rows:
            if row.reserved_method is not None:  # iterations and tokens: not a request of one
                continue
            lt = le = math.inf
            for spec in row.thresholds:
                threshold = spec.threshold
                if threshold.aggregation.kind not in _GOODPUT_KINDS:
                    continue
                if threshold.op == "<":
                    lt = min(lt, threshold.value)
                elif threshold.op == "<=":
                    le = min(le, threshold.value)
            rows.append((row.name, tuple(row.requests), lt, le))
        return cls(rows)

    def to_data(self) -> list[list[Any]]:
        # JSON/msgpack have no infinity: an absent bound travels as null
        return [[n, list(p), lt if math.isfinite(lt) else None, le if math.isfinite(le) else None]
                for n, p, lt, le in self.rows]

    @classmethod
    def from_data(cls, data: Any) -> GoodputPlan:
        try:
            return cls((str(n), tuple(str(x) for x in p), math.inf if lt is None else float(lt),
                        math.inf if le is None else float(le)) for n, p, lt, le in data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"malformed goodput plan: {exc!r}") from None

    def bounds(self, method: str, name: str) -> tuple[float, float]:
        """``(lt, le)``: good iff ``latency < lt and latency <= le`` (``inf`` when no row limits it)."""
        key = (method, name)
        found = self._bounds.get(key)
        if found is None:
            lt = le = math.inf
            for matches, row_lt, row_le in self._matchers:
                if matches(method, name):
                    lt, le = min(lt, row_lt), min(le, row_le)
            found = (lt, le)
            if len(self._bounds) < _BOUNDS_CACHED:
                self._bounds[key] = found
        return found

    def meets(self, method: str, name: str, latency_ms: float) -> bool:
        """Whether one request's (corrected) latency meets every limit of its rows."""
        lt, le = self.bounds(method, name)
        return latency_ms < lt and latency_ms <= le


class CountsByWorker:
    """The master's sum of its workers' reports. Counts add up; the run's window is the sum of each
    worker's latest ``share_s`` (its share of the plan integrated over its time), so that
    ``started / window`` is the achieved rate even when workers came, went, or started dispatching a
    moment apart."""

    def __init__(self) -> None:
        self.counts = ArrivalCounts()
        self._share_s: dict[str, float] = {}

    def add(self, worker_id: str, report: ArrivalCounts) -> None:
        self.counts.add(report)
        self._share_s[worker_id] = report.share_s  # cumulative: the latest report has it all

    def total(self) -> ArrivalCounts:
        """The counts of all workers, with the run's window."""
        window = sum(self._share_s.values())
        return ArrivalCounts(**{**self.counts.to_data(), "window_s": window, "share_s": window})
