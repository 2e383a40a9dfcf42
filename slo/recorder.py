"""Exact per-request statistics for the SLO gate: one HdrHistogram per (method, name).

Why not Locust's own stats: Locust rounds response times into coarse buckets before counting
them (up to ~5 % error, p99 above max), which gives wrong verdicts near a threshold. Here every
response time goes into an HdrHistogram with 3 significant digits, and percentiles are read as
exact nearest-rank values to within 0.1 %, with min, max, sum and counts kept exactly.

Resolution. Response times are recorded as integer **nanoseconds** (``round(ms * 1e6)``), clamped
into [1 us, 1 h]. Integer microseconds would lose up to 0.5 us to rounding, which is 1 % of a
50 us response; nanoseconds keep the 0.1 % bound across the whole range. The histogram spans
1 ns .. 1 h (33 792 counters, 270 KiB per key).

Distributed runs. Each Locust worker records locally, ships :meth:`RequestRecorder.encode` with its
stats report and resets; the master folds reports in with :meth:`RequestRecorder.merge_encoded`.
Histograms merge losslessly, so the master's percentiles are as exact as a single process's.

Bounded memory. A run with unbounded request names (an id in the URL, no ``name=``) would
allocate one histogram per name. At most ``max_keys`` distinct keys are recorded; requests under
any further key are only counted in :attr:`RequestRecorder.overflow` (the first few such keys are
kept in :attr:`RequestRecorder.overflow_keys` for the message), and the verdict reports them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Any

from hdrh.histogram import HdrHistogram

from slo.expressions import Aggregation

__all__ = [
    "DEFAULT_MAX_KEYS",
    "ENCODING_VERSION",
    "EndpointStats",
    "HIGHEST_NS",
    "MAX_MS",
    "MIN_MS",
    "RequestRecorder",
    "SIGNIFICANT_FIGURES",
    "new_histogram",
    "nearest_rank",
]

NS_PER_MS = 1_000_000
MIN_MS = 0.001  # 1 us: the smallest response time recorded (0 and negatives are clamped up)
MAX_MS = 3_600_000.0  # 1 h: the largest response time recorded
HIGHEST_NS = 3_600_000_000_000
SIGNIFICANT_FIGURES = 3
DEFAULT_MAX_KEYS = 500
ENCODING_VERSION = 1
_OVERFLOW_KEYS_KEPT = 10


def new_histogram() -> HdrHistogram:
    """An empty histogram with the recorder's layout (1 ns .. 1 h, 3 significant digits)."""
    return HdrHistogram(1, HIGHEST_NS, SIGNIFICANT_FIGURES)


def nearest_rank(p: float, n: int) -> int:
    """The 1-based rank of the p-th percentile among ``n`` samples: ``ceil(p / 100 * n)``, at
    least 1.

    Computed in decimal on ``repr(p)`` so that p(99.9) of 1000 samples is rank 999, not 1000 as
    binary floating point (99.9 * 1000 / 100 = 999.0000000000001) would make it.
    """
    rank = math.ceil(Decimal(repr(float(p))) * n / 100)
    return min(max(rank, 1), n)


@dataclass
class EndpointStats:
    """Statistics over one key or a pool of keys. Times in milliseconds.

    ``histogram`` is a private copy (the recorder keeps recording into its own), or ``None`` when
    ``count`` is 0. Latency aggregations include failed requests, as Locust and k6 do.
    """

    count: int = 0
    failures: int = 0
    min_ms: float = 0.0
    max_ms: float = 0.0
    sum_ms: float = 0.0
    histogram: HdrHistogram | None = None
    # Cumulative counts over the histogram's occupied index range, built on the first percentile.
    _cumulative: list[int] | None = field(default=None, init=False, repr=False, compare=False)
    _first_index: int = field(default=0, init=False, repr=False, compare=False)

    @property
    def avg_ms(self) -> float | None:
        """Exact mean response time (sum / count), ``None`` without samples."""
        return self.sum_ms / self.count if self.count else None

    def _build_cumulative(self, hist: HdrHistogram) -> None:
        # Only the indices between the exact min and max can hold samples; slicing the ctypes
        # array there keeps a percentile query at C speed instead of a 33 792-step Python loop.
        lo = hist.get_counts_array_index(_to_ns(self.min_ms))
        hi = hist.get_counts_array_index(_to_ns(self.max_ms))
        cumulative = list(accumulate(hist.counts[lo:hi + 1]))
        if not cumulative or cumulative[-1] != self.count:
            lo = 0
            cumulative = list(accumulate(hist.counts[0:hist.counts_len]))
        self._cumulative, self._first_index = cumulative, lo

    def percentile(self, p: float) -> float:
        """The p-th percentile in ms: the nearest-rank sample (the ``ceil(p/100*n)``-th smallest),
        to within 0.1 %.

        The histogram finds the bucket that holds that sample; the bucket's midpoint is at most
        1/2048 of the value away from it (HdrHistogram's ``get_value_at_percentile`` would return
        the bucket's highest value and round the rank instead). The result is clamped into the
        exact [min, max], and the ranks of the smallest and largest samples give them exactly, so
        ``percentile(100) == max_ms``.
        """
        if not 0 <= p <= 100:
            raise ValueError(f"percentile must be between 0 and 100, got {p!r}")
        if self.count == 0:
            raise ValueError("no samples: a percentile of nothing is undefined")
        rank = nearest_rank(p, self.count) if p > 0 else 1
        if rank >= self.count:
            return self.max_ms
        if rank == 1:
            return self.min_ms
        hist = self.histogram
        if hist is None:
            raise ValueError("these statistics carry no histogram")
        if self._cumulative is None:
            self._build_cumulative(hist)
        assert self._cumulative is not None
        offset = bisect_left(self._cumulative, rank)
        if offset >= len(self._cumulative):  # a histogram with fewer samples than count says
            return self.max_ms
        low = hist.get_value_from_index(self._first_index + offset)
        high = hist.get_highest_equivalent_value(low)
        value_ms = (low + high) / 2 / NS_PER_MS
        return min(max(value_ms, self.min_ms), self.max_ms)

    def value(self, aggregation: Aggregation) -> float | None:
        """The aggregate a threshold compares (ms, ratio or count); ``None`` without samples."""
        if self.count == 0:
            return None
        kind = aggregation.kind
        if kind == "p":
            assert aggregation.arg is not None
            return self.percentile(aggregation.arg)
        if kind == "avg":
            return self.sum_ms / self.count
        if kind == "med":
            return self.percentile(50)
        if kind == "min":
            return self.min_ms
        if kind == "max":
            return self.max_ms
        if kind == "rate":
            return 1.0 - self.failures / self.count
        if kind == "fail_rate":
            return self.failures / self.count
        if kind == "count":
            return float(self.count)
        raise ValueError(f"unknown aggregation kind {kind!r}")


def _to_ns(ms: float) -> int:
    return int(ms * NS_PER_MS + 0.5)


class _Entry:
    """Live counters of one key; slots keep attribute access on the hot path cheap."""

    __slots__ = ("hist", "count", "failures", "min_ms", "max_ms", "sum_ms")

    def __init__(self) -> None:
        self.hist = new_histogram()
        self.count = 0
        self.failures = 0
        self.min_ms = math.inf
        self.max_ms = -math.inf
        self.sum_ms = 0.0


class RequestRecorder:
    """Per (method, name) key: an HdrHistogram of response times in nanoseconds (1 ns .. 1 h,
    3 significant digits; values clamped into [1 us, 1 h]), count, failures, exact min, max and
    sum (ms).

    Not thread-safe; Locust calls it from one gevent hub, where it needs no lock.
    """

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._scratch: dict[tuple[tuple[str, str], ...], HdrHistogram] = {}
        #: Requests not recorded because their key arrived after ``max_keys`` keys were in use.
        self.overflow = 0
        #: The first few keys that overflowed (for the message that explains the overflow).
        self.overflow_keys: list[tuple[str, str]] = []

    # -- hot path -----------------------------------------------------------------------------
    def record(self, method: str, name: str, response_time_ms: float, failed: bool) -> None:
        """Record one request. Called for every request: one dict lookup, one histogram
        increment, a few comparisons. NaN and values below 1 us count as 1 us, above 1 h as 1 h."""
        entry = self._entries.get((method, name))
        if entry is None:
            entry = self._new_entry(method, name, 1)
            if entry is None:
                return
        ms = response_time_ms
        if not ms >= MIN_MS:  # also true for NaN
            ms = MIN_MS
        elif ms > MAX_MS:
            ms = MAX_MS
        entry.hist.record_value(int(ms * NS_PER_MS + 0.5))
        entry.count += 1
        if failed:
            entry.failures += 1
        if ms < entry.min_ms:
            entry.min_ms = ms
        if ms > entry.max_ms:
            entry.max_ms = ms
        entry.sum_ms += ms

    def _new_entry(self, method: str, name: str, requests: int) -> _Entry | None:
        """A fresh entry, or ``None`` (and ``requests`` counted as overflow) past ``max_keys``."""
        if len(self._entries) >= self.max_keys:
            self.overflow += requests
            key = (method, name)
            if len(self.overflow_keys) < _OVERFLOW_KEYS_KEPT and key not in self.overflow_keys:
                self.overflow_keys.append(key)
            return None
        entry = self._entries[(method, name)] = _Entry()
        return entry

    # -- reading ------------------------------------------------------------------------------
    def keys(self) -> list[tuple[str, str]]:
        """The recorded (method, name) keys, in first-seen order."""
        return list(self._entries)

    def stats(self, method: str, name: str) -> EndpointStats | None:
        """A snapshot of one key (exact method and name), or ``None`` if it was never recorded."""
        entry = self._entries.get((method, name))
        if entry is None:
            return None
        stats = self.pooled([(method, name)])
        if stats.histogram is not None:  # a copy: later records must not change the snapshot
            copy = new_histogram()
            copy.add(stats.histogram)
            stats.histogram = copy
        return stats

    def pooled(self, keys: Iterable[tuple[str, str]]) -> EndpointStats:
        """One distribution over several keys (an SLO row); unknown keys are ignored and no keys at
        all give ``count`` 0.

        Called every few seconds by the live evaluation, so it allocates no histogram: a single key
        shares its own histogram, several keys are merged into a scratch histogram kept per key set
        (hdrh histograms hold reference cycles: fresh ones would pile up until a full GC). The
        result is therefore read-only and valid until the next ``pooled`` call for the same keys.
        """
        stats = EndpointStats()
        entries = []
        for key in dict.fromkeys(keys):  # a key listed twice must not count twice
            entry = self._entries.get(key)
            if entry is not None and entry.count:
                entries.append((key, entry))
        if not entries:
            return stats
        if len(entries) == 1:
            stats.histogram = entries[0][1].hist
        else:
            scratch_key = tuple(key for key, _ in entries)
            merged = self._scratch.get(scratch_key)
            if merged is None:
                merged = self._scratch[scratch_key] = new_histogram()
            else:
                merged.reset()
            for _, entry in entries:
                merged.add(entry.hist)
            stats.histogram = merged
        for _, entry in entries:
            stats.count += entry.count
            stats.failures += entry.failures
            stats.sum_ms += entry.sum_ms
        stats.min_ms = min(entry.min_ms for _, entry in entries)
        stats.max_ms = max(entry.max_ms for _, entry in entries)
        return stats

    # -- distribution ---------------------------------------------------------------------------
    def encode(self) -> dict[str, Any]:
        """Everything recorded, as plain data (str, int, float in dicts and lists) that survives
        JSON and msgpack: what a Locust worker adds to its report for the master.

        ``{"version": 1, "unit": "ns", "overflow": int, "overflow_keys": [[method, name], ...],
        "entries": [{"method", "name", "count", "failures", "min_ms", "max_ms", "sum_ms",
        "histogram": <HdrHistogram V2 base64 text>}, ...]}``
        """
        entries = []
        for (method, name), entry in self._entries.items():
            if entry.count == 0:
                continue
            entries.append({
                "method": method,
                "name": name,
                "count": entry.count,
                "failures": entry.failures,
                "min_ms": entry.min_ms,
                "max_ms": entry.max_ms,
                "sum_ms": entry.sum_ms,
                "histogram": entry.hist.encode().decode("ascii"),
            })
        return {
            "version": ENCODING_VERSION,
            "unit": "ns",
            "overflow": self.overflow,
            "overflow_keys": [[m, n] for m, n in self.overflow_keys],
            "entries": entries,
        }

    def drain(self) -> dict[str, Any]:
        """:meth:`encode` then :meth:`reset`: a worker's report, so that nothing is sent twice."""
        data = self.encode()
        self.reset()
        return data

    def merge_encoded(self, data: dict[str, Any]) -> None:
        """Add another recorder's :meth:`encode` output (master side). Raises ``ValueError`` on data
        that is not such output, leaving this recorder unchanged."""
        if not isinstance(data, dict):
            raise ValueError(f"encoded recorder data must be a dict, got {type(data).__name__}")
        if data.get("version") != ENCODING_VERSION or data.get("unit") != "ns":
            raise ValueError(f"unsupported recorder encoding (version {data.get('version')!r}, unit "
                             f"{data.get('unit')!r}); expected version {ENCODING_VERSION}, unit 'ns': "
                             "are master and workers running the same osiris-load?")
        decoded: list[tuple[tuple[str, str], dict[str, Any], HdrHistogram]] = []
        for item in data.get("entries", []):
            try:
                key = (str(item["method"]), str(item["name"]))
                hist = HdrHistogram.decode(item["histogram"])
                count = int(item["count"])
                int(item["failures"])
                float(item["min_ms"]), float(item["max_ms"]), float(item["sum_ms"])
            except Exception as exc:  # any malformed entry is one kind of error
                raise ValueError(f"malformed recorder entry: {exc!r}") from None
            if hist.get_total_count() != count:
                raise ValueError(f"malformed recorder entry {key}: histogram holds "
                                 f"{hist.get_total_count()} samples, count says {count}")
            decoded.append((key, item, hist))
        self.overflow += int(data.get("overflow", 0))
        for method, name in data.get("overflow_keys", []):
            key = (str(method), str(name))
            if len(self.overflow_keys) < _OVERFLOW_KEYS_KEPT and key not in self.overflow_keys:
                self.overflow_keys.append(key)
        for key, item, hist in decoded:
            count = int(item["count"])
            entry = self._entries.get(key)
            if entry is None:
                entry = self._new_entry(key[0], key[1], count)
                if entry is None:
                    continue
            entry.hist.add(hist)
            entry.count += count
            entry.failures += int(item["failures"])
            entry.min_ms = min(entry.min_ms, float(item["min_ms"]))
            entry.max_ms = max(entry.max_ms, float(item["max_ms"]))
            entry.sum_ms += float(item["sum_ms"])

    def reset(self) -> None:
        """Forget everything (a worker after each report; Locust's "reset stats")."""
        self._entries.clear()
        self.overflow = 0
        self.overflow_keys = []
