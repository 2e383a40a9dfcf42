"""Exact per-request statistics for the SLO gate: one HdrHistogram per (method, name), plus the
exact counts that decide every latency limit.

Why not Locust's own stats: Locust rounds response times into coarse buckets before counting
them (up to ~5 % error), which gives wrong verdicts near a threshold. Here every response time
goes into an HdrHistogram (3 significant digits, integer nanoseconds) for the displayed
percentiles, and **decisions at a limit are made by counting**: the recorder knows the table's
latency limits (:class:`RecorderPlan`) and, per key, counts exactly how many samples fall below
and exactly at each limit, with one bisection per request. ``p(q) < L`` holds iff at least
``ceil(q * n)`` samples are below ``L``, so every percentile threshold is decided exactly, whatever
the histogram's bucket at the limit holds. Min, max, sum and counts are exact too.

What a request's response time can be (as Locust reports it):

* ``None``: the request has no latency (Locust leaves it out of response times). It counts as a
  request (success rate, ``count``) and not in any latency aggregation;
* NaN or negative: invalid, counted per key in ``invalid`` and named by the verdict; not in latency;
* anything else, 0 included, is recorded exactly (min, max, sum, limit counts). The histogram
  spans 1 ns .. 1 h; a larger value is shown at 1 h in the histogram's percentiles only (counted in
  ``beyond_range``), never in a decision.

Distributed runs. Each worker records locally and ships :meth:`RequestRecorder.drain` with every
stats report: only the keys that changed, each with its histogram as sparse (index, count) pairs,
so a report costs little even at the key cap; the master folds them in with
:meth:`RequestRecorder.merge_encoded`, losslessly.

Status and outcome. A table with k6 keys such as ``http_req_duration{expected_response:true}`` or
``{status:503}`` needs to tell a request's status and outcome apart: its plan says ``split``, and
each request is then recorded under ``(method, name, status, failed)`` instead of ``(method, name)``
(still one dict lookup per request). Rows pool the split keys they select; everything that lists
keys (:meth:`RequestRecorder.keys`, :meth:`RequestRecorder.stats`) folds them back per (method, name).

Bounded memory. At most ``max_keys`` distinct keys get their own histogram. A request under any
further key is never dropped when an SLO row names it: it goes into that row's overflow pool (one
per set of matching rows), so the row still judges it. Only requests that no row names are left
unrecorded (counted, and the first few keys kept for the message).

Iterations. :meth:`RequestRecorder.record_iteration` records one iteration's wall time (k6's
``iteration_duration``) under ``(ITERATION_METHOD, user class)``: it ships and merges like a
request's key, never takes the key cap's overflow path, and is left out of everything that lists or
counts *requests* (:meth:`RequestRecorder.key_counts`, :attr:`RequestRecorder.total_requests`,
:meth:`RequestRecorder.requests_in`); only ``iteration_duration`` rows select it. Tokens likewise.
The LLM measurements (method ``LLM``: TTFT, every inter-token gap, TPOT, E2EL, recorded by
:meth:`RequestRecorder.record_values`) are listed with the endpoints but counted as no requests.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from osiris_load.core.slo.expressions import Aggregation, exact_fraction
from osiris_load.core.slo.k6_metrics import ITERATION_METHOD, TOKENS_METHOD, is_request, is_reserved
from osiris_load.core.slo.table import request_matchers  # the table owns the "METHOD NAME" pattern rules

__all__ = [
    "DEFAULT_MAX_KEYS",
    "ENCODING_VERSION",
    "EndpointStats",
    "HIGHEST_NS",
    "LimitCounts",
    "RecorderPlan",
    "RequestRecorder",
    "SIGNIFICANT_FIGURES",
    "new_histogram",
    "nearest_rank",
]

NS_PER_MS = 1_000_000
HIGHEST_NS = 3_600_000_000_000  # 1 h: the histogram's range (display only; decisions are exact)
SIGNIFICANT_FIGURES = 3
DEFAULT_MAX_KEYS = 500
ENCODING_VERSION = 2
_UNRECORDED_KEYS_KEPT = 10
_PENDING_MAX = 4_096  # values buffered per key before they go into its histogram (bounds memory)

Key = tuple[str, str]
RawKey = tuple[Any, ...]  # (method, name) or, split, (method, name, status, failed)
Router = Callable[[str, str], tuple[str, ...]]


def new_histogram() -> HdrHistogram:
    """An empty histogram with the recorder's layout (1 ns .. 1 h, 3 significant digits)."""
    return HdrHistogram(1, HIGHEST_NS, SIGNIFICANT_FIGURES)


def _counts_view(hist: HdrHistogram) -> np.ndarray:
    """The histogram's counters as a numpy view (no copy): bulk reads, resets and sparse adds at C speed."""
    return np.frombuffer(hist.counts, dtype=np.int64, count=hist.counts_len)


def _clear(hist: HdrHistogram, view: np.ndarray) -> None:
    view[:] = 0  # a view of (part of) the counters: callers pass the window that can be occupied
    hist.total_count = 0  # the only hdrh field read here (min/max are kept exactly beside it)


_LAYOUT = new_histogram()
_INDEX_BITS = 16  # counts_len (33 792) < 2**16: (entry, index) pairs pack into one int64
assert _LAYOUT.counts_len < 2**_INDEX_BITS


def counts_indices(values: np.ndarray) -> np.ndarray:
    """HdrHistogram's ``get_counts_array_index`` for many values (int64 ns, 0 .. HIGHEST_NS) at once:
    the same integer arithmetic, vectorized (``frexp`` gives the bit length exactly below 2**53)."""
    h = _LAYOUT
    pow2ceiling = np.frexp((values | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
    bucket = pow2ceiling - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + h.unit_magnitude)
    return ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub_bucket - h.sub_bucket_half_count


def nearest_rank(p: float, n: int) -> int:
    """The 1-based rank of the p-th percentile among ``n`` samples: ``ceil(p / 100 * n)``, at
    least 1 and at most ``n``.

    Computed exactly on the decimal ``p`` was written as (``exact_fraction``), so that p(99.9) of
    1000 samples is rank 999, not 1000 as binary floating point (99.9 * 1000 / 100 =
    999.0000000000001) would make it.
    """
    rank = math.ceil(exact_fraction(p) * n / 100)
    return min(max(rank, 1), n)


@dataclass(frozen=True)
class RecorderPlan:
    """What a recorder must know of the SLO table: the distinct latency limits (ms) it counts
    exactly, and the rows' request patterns (name, requests) to pool overflowing keys per row.

    Plain data (:meth:`to_data`), so a master can hand it to its workers."""

    limits: tuple[float, ...] = ()
    rows: tuple[tuple[str, tuple[str, ...]], ...] = ()
    split: bool = False  # record per (method, name, status, failed): rows filter by status or outcome

    def to_data(self) -> dict[str, Any]:
        return {"limits": list(self.limits), "rows": [[name, list(reqs)] for name, reqs in self.rows],
                "split": self.split}

    @classmethod
    def from_data(cls, data: Any) -> RecorderPlan:
        """The inverse of :meth:`to_data`; ``ValueError`` on anything else."""
        try:
            limits = tuple(sorted({float(v) for v in data["limits"]}))
            rows = tuple((str(name), tuple(str(r) for r in reqs)) for name, reqs in data["rows"])
            split = bool(data.get("split", False))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed recorder plan: {exc!r}") from None
        return cls(limits=limits, rows=rows, split=split)


@dataclass(frozen=True)
class LimitCounts:
    """Exact counts of timed samples at one limit: ``below`` (< limit) and ``at`` (== limit)."""

    below: int
    at: int

    @property
    def at_or_below(self) -> int:
        return self.below + self.at


@dataclass
class EndpointStats:
    """Statistics over one key or a pool of keys. Times in milliseconds.

    ``count`` is every request, ``timed`` those with a valid response time (the latency
    aggregations' population), ``invalid`` those with NaN or negative times. ``histogram`` holds
    the ``timed`` samples (read-only, see :meth:`RequestRecorder.pooled`), ``None`` without any.
    Latency aggregations include failed requests, as Locust and k6 do.
    """

    count: int = 0
    failures: int = 0
    timed: int = 0
    invalid: int = 0
    beyond_range: int = 0
    min_ms: float = 0.0
    max_ms: float = 0.0
    sum_ms: float = 0.0
    histogram: HdrHistogram | None = None
    limits: tuple[float, ...] = ()
    bins: tuple[int, ...] = ()
    equal: tuple[int, ...] = ()
    _cumulative: list[int] | None = field(default=None, init=False, repr=False, compare=False)
    _first_index: int = field(default=0, init=False, repr=False, compare=False)

    @property
    def avg_ms(self) -> float | None:
        """Exact mean response time (sum / timed), ``None`` without timed samples."""
        return self.sum_ms / self.timed if self.timed else None

    def limit_counts(self, limit: float) -> LimitCounts:
        """Exact counts of timed samples below and at ``limit``; ``KeyError`` if the plan did not
        include that limit (then no exact decision can be made)."""
        try:
            k = self.limits.index(limit)
        except ValueError:
            raise KeyError(f"limit {limit!r} ms is not in the recorder's plan") from None
        at_or_below = sum(self.bins[:k + 1])
        return LimitCounts(below=at_or_below - self.equal[k], at=self.equal[k])

    def _build_cumulative(self, hist: HdrHistogram) -> None:
        # Only the indices between the exact min and max can hold samples; slicing there keeps a
        # query at C speed instead of a 33 792-step Python loop.
        lo = hist.get_counts_array_index(_to_ns(self.min_ms))
        hi = hist.get_counts_array_index(_to_ns(self.max_ms))
        cumulative = list(accumulate(hist.counts[lo:hi + 1]))
        if not cumulative or cumulative[-1] != self.timed:
            lo = 0
            cumulative = list(accumulate(hist.counts[0:hist.counts_len]))
        self._cumulative, self._first_index = cumulative, lo

    def bucket_at_rank(self, rank: int) -> tuple[float, float]:
        """The range (ms) that holds the ``rank``-th smallest timed sample: its histogram bucket,
        clamped into [min, max]; a single point at ranks 1 and ``timed`` (exact)."""
        low, high = self._raw_bucket(rank)
        return min(max(low, self.min_ms), self.max_ms), min(max(high, self.min_ms), self.max_ms)

    def _raw_bucket(self, rank: int) -> tuple[float, float]:
        if not 1 <= rank <= self.timed:
            raise ValueError(f"rank must be between 1 and {self.timed}, got {rank!r}")
        if rank == self.timed:
            return self.max_ms, self.max_ms
        if rank == 1:
            return self.min_ms, self.min_ms
        hist = self.histogram
        if hist is None:
            raise ValueError("these statistics carry no histogram")
        if self._cumulative is None:
            self._build_cumulative(hist)
        assert self._cumulative is not None
        offset = bisect_left(self._cumulative, rank)
        if offset >= len(self._cumulative):  # a histogram with fewer samples than timed says
            return self.max_ms, self.max_ms
        low = hist.get_value_from_index(self._first_index + offset)
        high = hist.get_highest_equivalent_value(low)
        return low / NS_PER_MS, high / NS_PER_MS

    def value_at_rank(self, rank: int) -> float:
        """The ``rank``-th smallest timed sample (1-based) in ms: exact at ranks 1 and ``timed``,
        else the middle of its histogram bucket (within 1/2048 of the value), clamped into
        [min, max]. An order statistic, so intervals of percentiles can be shown from ranks."""
        low, high = self._raw_bucket(rank)
        return min(max((low + high) / 2, self.min_ms), self.max_ms)

    def percentile(self, p: float) -> float:
        """The p-th percentile in ms: the nearest-rank sample (the ``ceil(p/100*n)``-th smallest),
        to within 0.1 % (see :meth:`value_at_rank`); ``percentile(100) == max_ms``."""
        if not 0 <= p <= 100:
            raise ValueError(f"percentile must be between 0 and 100, got {p!r}")
        if self.timed == 0:
            raise ValueError("no samples: a percentile of nothing is undefined")
        rank = nearest_rank(p, self.timed) if p > 0 else 1
        return self.value_at_rank(rank)

    def value(self, aggregation: Aggregation) -> float | None:
        """The aggregate a threshold compares (ms, ratio or count); ``None`` without the samples
        it needs (``count`` of nothing is 0, as in k6)."""
        kind = aggregation.kind
        if kind == "count":
            return float(self.count)
        if kind in ("rate", "fail_rate"):
            if self.count == 0:
                return None
            return 1.0 - self.failures / self.count if kind == "rate" else self.failures / self.count
        if self.timed == 0:
            return None
        if kind == "p":
            assert aggregation.arg is not None
            return self.percentile(aggregation.arg)
        if kind == "med":
            return self.percentile(50)
        if kind == "avg":
            return self.sum_ms / self.timed
        if kind == "min":
            return self.min_ms
        if kind == "max":
            return self.max_ms
        raise ValueError(f"unknown aggregation kind {kind!r}")


def _to_ns(ms: float) -> int:
    return min(int(ms * NS_PER_MS + 0.5), HIGHEST_NS)


COUNTERS = ("count", "failures", "timed", "invalid", "beyond_range")
"""The whole-number counters of a key (``_Entry``, :class:`EndpointStats`, an encoded entry): summed
field by field when keys are pooled or a worker's report is merged."""


def add_counters(into: Any, values: Any, names: Sequence[str]) -> None:
    """Add ``values``' counters ``names`` (a mapping, or an object's attributes) to ``into``'s
    attributes: the one field-by-field sum of the recorder's keys and the open model's counts."""
    read = values.__getitem__ if isinstance(values, dict) else values.__getattribute__
    for name in names:
        setattr(into, name, getattr(into, name) + read(name))


class _Entry:
    """Live counters of one key (or one row set's overflow pool); slots keep the hot path cheap."""

    __slots__ = ("hist", "view", "pending", "count", "failures", "timed", "invalid", "beyond_range", "min_ms",
                 "max_ms", "sum_ms", "bins", "equal")

    def __init__(self, nlimits: int) -> None:
        self.hist = new_histogram()
        self.view = _counts_view(self.hist)
        self.pending: list[int] = []  # ns values not yet in the histogram (added in bulk: cheap per request)
        self.bins = [0] * (nlimits + 1)
        self.equal = [0] * nlimits
        self.clear()

    def flush(self) -> None:
        """Add the pending values to the histogram, in bulk."""
        if self.pending:
            index, counts = np.unique(counts_indices(np.array(self.pending, dtype=np.int64)), return_counts=True)
            self.view[index] += counts
            self.hist.total_count += len(self.pending)
            self.pending.clear()

    def clear(self) -> None:
        self.pending.clear()
        if self.hist.total_count:  # only the occupied window: a report at the key cap stays cheap
            lo = self.hist.get_counts_array_index(_to_ns(self.min_ms))
            hi = self.hist.get_counts_array_index(_to_ns(self.max_ms))
            _clear(self.hist, self.view[lo:hi + 1])
        self.count = self.failures = self.timed = self.invalid = self.beyond_range = 0
        self.min_ms = math.inf
        self.max_ms = -math.inf
        self.sum_ms = 0.0
        self.bins[:] = [0] * len(self.bins)
        self.equal[:] = [0] * len(self.equal)


_OVERFLOW_METHOD = ""  # overflow pools are keyed ("", "row1\x00row2"): no real request has an empty method


class RequestRecorder:
    """Per (method, name) key: an HdrHistogram of response times in nanoseconds, the counts at
    each limit of the plan, count, failures, timed, invalid, exact min, max and sum (ms).

    Not thread-safe; Locust calls it from one gevent hub, where it needs no lock.
    """

    def __init__(self, plan: RecorderPlan | None = None, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self.plan = plan or RecorderPlan()
        self.limits: tuple[float, ...] = tuple(sorted(set(self.plan.limits)))
        self._route = _router(self.plan.rows)
        #: Whether requests are recorded per status and outcome (the caller passes ``status``).
        self.split = self.plan.split
        self._entries: dict[RawKey, _Entry] = {}
        self._pools: dict[tuple[str, ...], _Entry] = {}
        self._scratch: dict[tuple[int, ...], tuple[HdrHistogram, np.ndarray]] = {}
        #: Requests left unrecorded: past ``max_keys`` keys and named by no row (so judged by none).
        self.unrecorded = 0
        #: The first few such keys, for the message.
        self.unrecorded_keys: list[Key] = []

    # -- hot path -----------------------------------------------------------------------------
    def record(self, method: str, name: str, response_time_ms: float | None, failed: bool,
               status: int | None = None) -> None:
        """Record one request: a dict lookup, a histogram increment, one bisection, a few
        comparisons. ``None`` counts the request without a latency; NaN and negatives are counted
        as invalid. ``status`` (the response code, 0 for none) is given exactly when :attr:`split`."""
        key = (method, name) if status is None else (method, name, status, failed)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entry_for(key, 1)
            if entry is None:
                return
        entry.count += 1
        if failed:
            entry.failures += 1
        ms = response_time_ms
        if ms is None:
            return
        if not ms >= 0.0:  # NaN too
            entry.invalid += 1
            return
        ns = int(ms * NS_PER_MS + 0.5)
        if ns > HIGHEST_NS:
            entry.beyond_range += 1
            ns = HIGHEST_NS
        pending = entry.pending
        pending.append(ns)
        if len(pending) >= _PENDING_MAX:
            entry.flush()
        limits = self.limits
        b = bisect_left(limits, ms)
        entry.bins[b] += 1
        if b < len(limits) and limits[b] == ms:
            entry.equal[b] += 1
        entry.timed += 1
        if ms < entry.min_ms:
            entry.min_ms = ms
        if ms > entry.max_ms:
            entry.max_ms = ms
        entry.sum_ms += ms

    def _entry_for(self, raw_key: RawKey, requests: int) -> _Entry | None:
        """A new key's entry; past ``max_keys``, the overflow pool of the rows that name it, or
        ``None`` (and ``requests`` counted as unrecorded) when no row does. (An overflow pool
        does not split by status or outcome: rows that filter by them do not see it.)"""
        if len(self._entries) < self.max_keys or not is_request(raw_key[0]):  # per user class (and LLM path)
            entry = self._entries[raw_key] = _Entry(len(self.limits))
            return entry
        method, name = raw_key[0], raw_key[1]
        rows = self._route(method, name)
        if rows:
            pool = self._pools.get(rows)
            if pool is None:
                pool = self._pools[rows] = _Entry(len(self.limits))
            return pool
        self.unrecorded += requests
        key = (method, name)
        if len(self.unrecorded_keys) < _UNRECORDED_KEYS_KEPT and key not in self.unrecorded_keys:
            self.unrecorded_keys.append(key)
        return None

    def record_values(self, method: str, name: str, values: Iterable[float]) -> None:
        """Record several samples of one key (an answer's inter-token gaps), none failed."""
        record = self.record
        for value in values:
            record(method, name, value, False)

    def record_iteration(self, scenario: str, duration_ms: float) -> None:
        """Record one iteration's wall time (ms) of the user class ``scenario``: never a request."""
        self.record(ITERATION_METHOD, scenario, duration_ms, False)

    def record_tokens(self, name: str, tokens: int) -> None:
        """Record one whole answer's tokens under ``(TOKENS_METHOD, name)`` (``"output <path>"``):
        its value is the token count, so the key's ``sum_ms`` is the tokens' sum and ``count`` the
        answers (``llm_output_tokens``, ``llm_input_tokens``). Never a request."""
        self.record(TOKENS_METHOD, name, float(tokens), False)

    # -- reading ------------------------------------------------------------------------------
    def keys(self) -> list[Key]:
        """The recorded (method, name) keys, in first-seen order (overflow pools not included)."""
        return list(self.key_counts())

    def key_counts(self) -> dict[Key, int]:
        """Samples per recorded (method, name) key (split keys folded together; no iterations or tokens;
        the LLM measurements are listed, with the endpoints, though they are no requests)."""
        counts: dict[Key, int] = {}
        for key, entry in self._entries.items():
            if entry.count and not is_reserved(key[0]):
                base = (key[0], key[1])
                counts[base] = counts.get(base, 0) + entry.count
        return counts

    def raw_key_counts(self) -> dict[RawKey, int]:
        """Requests per recorded key as recorded: ``(method, name)`` or, split, ``(method, name,
        status, failed)``; what rows select from (``SloRow.matches_key``). Iteration keys included:
        callers that count requests must leave the keys that are none (``is_request``: iterations,
        tokens, LLM measurements) out."""
        return {key: entry.count for key, entry in self._entries.items() if entry.count}

    def pool_rows(self) -> list[tuple[str, ...]]:
        """The row sets that have an overflow pool."""
        return [rows for rows, entry in self._pools.items() if entry.count]

    def pool_count(self, rows: tuple[str, ...]) -> int:
        pool = self._pools.get(rows)
        return pool.count if pool is not None else 0

    @property
    def total_requests(self) -> int:
        """Every request recorded (keys and overflow pools; not the unrecorded ones, nor iterations)."""
        return (sum(e.count for k, e in self._entries.items() if is_request(k[0]))
                + sum(e.count for e in self._pools.values()))

    def stats(self, method: str, name: str) -> EndpointStats | None:
        """A snapshot of one key (exact method and name), or ``None`` if it was never recorded."""
        keys = [k for k, e in self._entries.items() if k[0] == method and k[1] == name and e.count]
        if not keys:
            return None
        stats = self.pooled(keys)
        if stats.histogram is not None:  # a copy: later records must not change the snapshot
            copy = new_histogram()
            copy.add(stats.histogram)
            stats.histogram = copy
        return stats

    def pooled(self, keys: Iterable[RawKey], row: str | None = None) -> EndpointStats:
        """One distribution over several keys and, with ``row``, the overflow pools of that row.
        Unknown keys are ignored; a key listed twice counts once.

        Called every few seconds by the live evaluation, so it allocates no histogram: a single
        entry shares its own histogram, several are summed into a scratch histogram kept per set
        (cleared before each use). The result is therefore read-only and valid until the next
        ``pooled`` call for the same set.
        """
        entries = [e for k in dict.fromkeys(keys) if (e := self._entries.get(k)) is not None and e.count]
        if row is not None:
            entries += [e for rows, e in self._pools.items() if row in rows and e.count]
        for e in entries:
            e.flush()
        stats = EndpointStats(limits=self.limits)
        if not entries:
            stats.bins = tuple([0] * (len(self.limits) + 1))
            stats.equal = tuple([0] * len(self.limits))
            return stats
        timed = [e for e in entries if e.timed]
        if len(timed) == 1:
            stats.histogram = timed[0].hist
        elif timed:
            scratch_key = tuple(id(e) for e in timed)
            scratch = self._scratch.get(scratch_key)
            if scratch is None:
                hist = new_histogram()
                scratch = self._scratch[scratch_key] = (hist, _counts_view(hist))
            merged, view = scratch
            _clear(merged, view)
            for e in timed:
                view += e.view
            merged.total_count = sum(e.hist.total_count for e in timed)
            stats.histogram = merged
        for e in entries:
            add_counters(stats, e, COUNTERS)
            stats.sum_ms += e.sum_ms
        if timed:
            stats.min_ms = min(e.min_ms for e in timed)
            stats.max_ms = max(e.max_ms for e in timed)
        stats.bins = tuple(sum(col) for col in zip(*(e.bins for e in entries), strict=True))
        stats.equal = tuple(sum(col) for col in zip(*(e.equal for e in entries), strict=True))
        return stats

    # -- distribution ---------------------------------------------------------------------------
    def encode(self) -> dict[str, Any]:
        """What changed since the last :meth:`reset`, as plain data (str, int, float in dicts and
        lists) that survives JSON and msgpack: what a Locust worker adds to its report.

        ``{"version": 2, "unit": "ns", "limits": [ms, ...], "unrecorded": int,
        "unrecorded_keys": [[method, name], ...], "entries": [{"method", "name", "status",
        "split_failed", "rows", "count",
        "failures", "timed", "invalid", "beyond_range", "min_ms", "max_ms", "sum_ms", "bins",
        "equal", "index": [...], "counts": [...]}, ...]}``: ``rows`` is null for a key and the row
        names for an overflow pool; ``status`` and ``split_failed`` are null unless split;
        ``index``/``counts`` are the histogram's non-zero counters.
        """
        items = [(k, None, e) for k, e in self._entries.items() if e.count]
        items += [((_OVERFLOW_METHOD, "\x00".join(rows)), list(rows), e) for rows, e in self._pools.items() if e.count]
        sparse = _sparse_counts([e for _, _, e in items])
        entries = []
        for (key, rows, e), (index, counts) in zip(items, sparse, strict=True):
            timed = e.timed > 0
            status, failed = (key[2], key[3]) if len(key) == 4 else (None, None)
            entries.append({"method": key[0], "name": key[1], "status": status, "split_failed": failed,
                            "rows": rows, "count": e.count, "failures": e.failures,
                            "timed": e.timed, "invalid": e.invalid, "beyond_range": e.beyond_range,
                            "min_ms": e.min_ms if timed else 0.0, "max_ms": e.max_ms if timed else 0.0,
                            "sum_ms": e.sum_ms, "bins": list(e.bins), "equal": list(e.equal), "index": index,
                            "counts": counts})
        return {"version": ENCODING_VERSION, "unit": "ns", "limits": list(self.limits),
                "unrecorded": self.unrecorded, "unrecorded_keys": [[m, n] for m, n in self.unrecorded_keys],
                "entries": entries}

    def drain(self) -> dict[str, Any]:
        """:meth:`encode` then :meth:`reset`: a worker's report, so that nothing is sent twice."""
        data = self.encode()
        self.reset()
        return data

    @staticmethod
    def requests_in(data: dict[str, Any]) -> int:
        """How many requests an encoded report carries (recorded and unrecorded; not iterations)."""
        return (sum(int(e.get("count", 0)) for e in data.get("entries", ())
                    if e.get("rows") is not None or is_request(str(e.get("method"))))
                + int(data.get("unrecorded", 0)))

    def merge_encoded(self, data: dict[str, Any]) -> None:
        """Add another recorder's :meth:`encode` output (master side). Raises ``ValueError`` on data
        that is not such output or was recorded against other limits, leaving this recorder
        unchanged."""
        if not isinstance(data, dict):
            raise ValueError(f"encoded recorder data must be a dict, got {type(data).__name__}")
        if data.get("version") != ENCODING_VERSION or data.get("unit") != "ns":
            raise ValueError(f"unsupported recorder encoding (version {data.get('version')!r}, unit "
                             f"{data.get('unit')!r}); expected version {ENCODING_VERSION}, unit 'ns': "
                             "are master and workers running the same osiris-load?")
        try:
            limits = tuple(float(v) for v in data.get("limits", ()))
        except (TypeError, ValueError):
            raise ValueError("malformed recorder limits") from None
        if limits != self.limits and (data.get("entries") or data.get("unrecorded")):
            raise ValueError(f"recorded against limits {list(limits)} ms, the table's are {list(self.limits)} ms")
        items = data.get("entries", [])
        if not isinstance(items, list):
            raise ValueError("malformed recorder entries: not a list")
        decoded = []
        try:
            index_all = np.fromiter(chain.from_iterable(item["index"] for item in items), dtype=np.int64)
            counts_all = np.fromiter(chain.from_iterable(item["counts"] for item in items), dtype=np.int64)
            lengths = [len(item["index"]) for item in items]
            for item in items:
                key: RawKey = (str(item["method"]), str(item["name"]))
                if item.get("status") is not None:
                    key = (*key, int(item["status"]), bool(item["split_failed"]))
                rows = None if item.get("rows") is None else tuple(str(r) for r in item["rows"])
                ints = {f: int(item[f]) for f in COUNTERS}
                floats = {f: float(item[f]) for f in ("min_ms", "max_ms", "sum_ms")}
                bins, equal = [int(v) for v in item["bins"]], [int(v) for v in item["equal"]]
                if len(item["counts"]) != len(item["index"]):
                    raise ValueError("index and counts differ in length")
                decoded.append((key, rows, ints, floats, bins, equal))
        except Exception as exc:  # any malformed entry is one kind of error
            raise ValueError(f"malformed recorder entry: {exc!r}") from None
        starts = np.cumsum([0, *lengths])
        # per-entry sums in one pass; the appended 0 lets empty entries at the end start past the data
        sums = np.where(np.diff(starts) > 0, np.add.reduceat(np.append(counts_all, 0), starts[:-1]), 0)
        if index_all.size and (index_all.min() < 0 or index_all.max() >= _LAYOUT.counts_len or counts_all.min() < 0):
            raise ValueError("malformed recorder entry: counts do not add up (index or count out of range)")
        for (key, _, ints, _, bins, equal), total in zip(decoded, sums.tolist(), strict=True):
            if (len(bins) != len(limits) + 1 or len(equal) != len(limits) or total != ints["timed"]
                    or sum(bins) != ints["timed"] or ints["timed"] + ints["invalid"] > ints["count"]):
                raise ValueError(f"malformed recorder entry {key}: counts do not add up")
        self.unrecorded += int(data.get("unrecorded", 0))
        for method, name in data.get("unrecorded_keys", []):
            key = (str(method), str(name))
            if len(self.unrecorded_keys) < _UNRECORDED_KEYS_KEPT and key not in self.unrecorded_keys:
                self.unrecorded_keys.append(key)
        for i, (key, rows, ints, floats, bins, equal) in enumerate(decoded):
            index, counts = index_all[starts[i]:starts[i + 1]], counts_all[starts[i]:starts[i + 1]]
            if rows is not None:
                entry = self._pools.get(rows)
                if entry is None:
                    entry = self._pools[rows] = _Entry(len(self.limits))
            else:
                entry = self._entries.get(key) or self._entry_for(key, ints["count"])
                if entry is None:
                    continue
            entry.view[index] += counts
            entry.hist.total_count += ints["timed"]
            add_counters(entry, ints, COUNTERS)
            if ints["timed"]:
                entry.min_ms = min(entry.min_ms, floats["min_ms"])
                entry.max_ms = max(entry.max_ms, floats["max_ms"])
            entry.sum_ms += floats["sum_ms"]
            entry.bins[:] = map(operator.add, entry.bins, bins)
            entry.equal[:] = map(operator.add, entry.equal, equal)

    def reset(self) -> None:
        """Forget everything (a worker after each report; Locust's stats reset). Entries are
        cleared and kept (no histogram is allocated again)."""
        for entry in self._entries.values():
            entry.clear()
        for entry in self._pools.values():
            entry.clear()
        self.unrecorded = 0
        self.unrecorded_keys = []


def _sparse_counts(entries: list[_Entry]) -> list[tuple[list[int], list[int]]]:
    """Each entry's histogram content as sparse (indices, counts): pending values of all entries in one
    vectorized pass, plus what an entry's histogram already holds (rare on a worker)."""
    out: list[tuple[list[int], list[int]]] = []
    lengths = [len(e.pending) for e in entries]
    total = sum(lengths)
    if total:
        values = np.fromiter(chain.from_iterable(e.pending for e in entries), dtype=np.int64, count=total)
        owner = np.repeat(np.arange(len(entries), dtype=np.int64), lengths)
        keys, counts = np.unique((owner << _INDEX_BITS) | counts_indices(values), return_counts=True)
        bounds = np.searchsorted(keys >> _INDEX_BITS, np.arange(len(entries) + 1)).tolist()
        index_all = (keys & ((1 << _INDEX_BITS) - 1)).tolist()
        counts_all = counts.tolist()
    for i, e in enumerate(entries):
        if total:
            index, counts_list = index_all[bounds[i]:bounds[i + 1]], counts_all[bounds[i]:bounds[i + 1]]
        else:
            index, counts_list = [], []
        if e.hist.total_count:  # already flushed into the histogram: add its occupied window
            lo = e.hist.get_counts_array_index(_to_ns(e.min_ms))
            hi = e.hist.get_counts_array_index(_to_ns(e.max_ms))
            window = e.view[lo:hi + 1].copy()
            window[np.asarray(index, dtype=np.int64) - lo] += np.asarray(counts_list, dtype=np.int64)
            nonzero = np.flatnonzero(window)
            index, counts_list = (nonzero + lo).tolist(), window[nonzero].tolist()
        out.append((index, counts_list))
    return out


def _router(rows: Sequence[tuple[str, tuple[str, ...]]]) -> Router:
    """``(method, name) -> names of the rows that name it``, with the table's own matching rules."""
    compiled = [(row, request_matchers(requests)) for row, requests in rows]

    def route(method: str, name: str) -> tuple[str, ...]:
        return tuple(row for row, matches in compiled if matches(method, name))

    return route
