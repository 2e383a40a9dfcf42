"""The recorder's percentiles are exact nearest-rank values to within 0.1 %, in one process and
after shipping encoded histograms from several workers to a master."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osiris_load.core.slo.evaluate import plan_for
from osiris_load.core.slo.expressions import Aggregation
from osiris_load.core.slo.recorder import HIGHEST_NS, EndpointStats, RecorderPlan, RequestRecorder, nearest_rank
from osiris_load.core.slo.table import parse_table

PERCENTILES = (0.001, 0.1, 1, 10, 25, 50, 75, 90, 94, 95, 99, 99.5, 99.9, 99.99, 99.999, 100)
TOLERANCE = 0.001  # 0.1 %


def exact_percentile(samples: list[float], p: float) -> float:
    """Nearest rank over raw samples: the ceil(p/100*n)-th smallest, computed independently of
    the code under test (exact rational arithmetic on the decimal text of p)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(Fraction(str(p)) * len(ordered) / 100))
    return ordered[rank - 1]


def assert_accurate(stats: EndpointStats, samples: list[float], label: str) -> None:
    for p in PERCENTILES:
        want = exact_percentile(samples, p)
        got = stats.percentile(p)
        assert abs(got - want) <= TOLERANCE * want, f"{label}: p({p}) = {got}, exact {want}"
    assert stats.percentile(100) == max(samples)
    assert stats.count == len(samples)
    assert stats.min_ms == min(samples)
    assert stats.max_ms == max(samples)
    assert stats.sum_ms == pytest.approx(math.fsum(samples), rel=1e-9)


def _clip(x: float) -> float:
    return min(60_000.0, max(0.05, x))


DISTRIBUTIONS: dict[str, Callable[[random.Random], float]] = {
    "uniform": lambda r: r.uniform(0.05, 60_000.0),
    "lognormal": lambda r: _clip(r.lognormvariate(4.0, 2.0)),
    "bimodal": lambda r: _clip(r.gauss(3.0, 0.5) if r.random() < 0.93 else r.gauss(4_000.0, 300.0)),
    "sub_ms": lambda r: r.uniform(0.05, 0.2),
    "pareto": lambda r: _clip(0.05 * r.paretovariate(0.7)),
    "ties": lambda r: float(r.choice((1, 2, 3, 5, 8, 800, 1200))),
    "log_uniform": lambda r: 0.05 * (1_200_000.0 ** r.random()),  # 0.05 ms .. 60 s evenly in log
}


@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 1_000, 20_000])
def test_percentiles_match_nearest_rank(dist: str, n: int) -> None:
    rng = random.Random(f"{dist}-{n}")
    samples = [DISTRIBUTIONS[dist](rng) for _ in range(n)]
    recorder = RequestRecorder()
    for x in samples:
        recorder.record("GET", "/x", x, False)
    stats = recorder.stats("GET", "/x")
    assert stats is not None
    assert_accurate(stats, samples, f"{dist} n={n}")


@pytest.mark.parametrize("dist", ["lognormal", "bimodal", "log_uniform"])
def test_percentiles_at_100k_samples(dist: str) -> None:
    rng = random.Random(dist)
    samples = [DISTRIBUTIONS[dist](rng) for _ in range(100_000)]
    recorder = RequestRecorder()
    for x in samples:
        recorder.record("POST", "/generate", x, False)
    stats = recorder.stats("POST", "/generate")
    assert stats is not None
    assert_accurate(stats, samples, f"{dist} n=100k")


def test_rank_is_ceil_not_rounded() -> None:
    # HdrHistogram's own get_value_at_percentile rounds the rank (p94 of 10 samples -> 9th);
    # nearest rank is ceil(9.4) = 10th. With a gap between the 9th and 10th sample the difference
    # is the difference between a pass and a fail.
    recorder = RequestRecorder()
    for x in (10, 10, 10, 10, 10, 10, 10, 10, 10, 5000):
        recorder.record("GET", "/x", float(x), False)
    stats = recorder.stats("GET", "/x")
    assert stats is not None
    assert stats.percentile(94) == 5000.0
    assert stats.percentile(90) == pytest.approx(10.0, rel=TOLERANCE)
    assert stats.histogram is not None
    assert stats.histogram.get_value_at_percentile(94) < 5_000_000_000  # what we avoid


def test_nearest_rank_uses_decimal_percentiles() -> None:
    assert nearest_rank(99.9, 1000) == 999  # float arithmetic would say 1000
    assert nearest_rank(95, 20) == 19
    assert nearest_rank(95, 21) == 20
    assert nearest_rank(0.001, 10) == 1
    assert nearest_rank(100, 7) == 7
    assert nearest_rank(50, 1) == 1


@pytest.mark.parametrize("workers", [2, 3, 5])
@pytest.mark.parametrize("dist", ["uniform", "bimodal", "lognormal", "sub_ms", "ties"])
def test_encode_merge_across_workers(workers: int, dist: str) -> None:
    rng = random.Random(f"{dist}-{workers}")
    master = RequestRecorder()
    everything: dict[tuple[str, str], list[float]] = {}
    failures: dict[tuple[str, str], int] = {}
    keys = [("POST", "/generate"), ("GET", "/health"), ("GET", "/metrics")]
    local = [RequestRecorder() for _ in range(workers)]
    for _cycle in range(3):  # several report cycles: workers encode and reset each time
        for _ in range(rng.randint(0, 4000)):
            key = rng.choice(keys)
            x = DISTRIBUTIONS[dist](rng)
            failed = rng.random() < 0.01
            rng.choice(local).record(key[0], key[1], x, failed)
            everything.setdefault(key, []).append(x)
            failures[key] = failures.get(key, 0) + failed
        for worker in local:
            data = worker.drain()
            assert worker.keys() == []
            master.merge_encoded(json.loads(json.dumps(data, allow_nan=False)))
    for key, samples in everything.items():
        stats = master.stats(*key)
        assert stats is not None
        assert_accurate(stats, samples, f"{dist} {key} merged from {workers}")
        assert stats.failures == failures[key]
    pooled = master.pooled(keys)
    assert_accurate(pooled, [x for s in everything.values() for x in s], "pooled")


def test_encoding_is_plain_data() -> None:
    recorder = RequestRecorder()
    recorder.record("GET", "/health", 3.25, False)
    recorder.record("GET", "/health", 4.5, True)
    recorder.record("POST", "/generate/", 812.0, False)
    data = recorder.encode()

    def check(value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                assert isinstance(k, str)
                check(v)
        elif isinstance(value, list):
            for v in value:
                check(v)
        else:
            assert value is None or type(value) in (str, int, float), value

    check(data)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    msgpack = pytest.importorskip("msgpack")
    assert msgpack.unpackb(msgpack.packb(data, use_bin_type=True), raw=False) == data
    entry = data["entries"][0]
    assert (entry["method"], entry["name"], entry["count"], entry["failures"]) == ("GET", "/health", 2, 1)
    assert sum(entry["counts"]) == 2 and len(entry["index"]) == 2  # sparse: only the occupied counters


def test_merge_of_empty_and_reset() -> None:
    master = RequestRecorder()
    master.merge_encoded(RequestRecorder().encode())
    assert master.keys() == []
    master.record("GET", "/x", 1.0, False)
    master.reset()
    assert master.keys() == [] and master.unrecorded == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(version=99), "unsupported recorder encoding"),
        (lambda d: d.update(unit="us"), "unsupported recorder encoding"),
        (lambda d: d["entries"][0].update(index="not a list"), "malformed recorder entry"),
        (lambda d: d["entries"][0].pop("count"), "malformed recorder entry"),
        (lambda d: d["entries"][0].update(timed=7), "counts do not add up"),
        (lambda d: d["entries"][0].update(index=[10**9, 1]), "counts do not add up"),
        (lambda d: d.update(limits=[800.0]), "recorded against limits"),
    ],
)
def test_merge_rejects_bad_data(mutate: Callable[[dict], object], message: str) -> None:
    worker = RequestRecorder()
    worker.record("GET", "/x", 1.0, False)
    worker.record("GET", "/y", 2.0, False)
    worker.record("GET", "/y", 3.0, False)
    data = worker.encode()
    data["entries"].reverse()  # /y (2 samples) first
    mutate(data)
    master = RequestRecorder()
    master.record("GET", "/y", 5.0, False)
    with pytest.raises(ValueError, match=message):
        master.merge_encoded(data)
    stats = master.stats("GET", "/y")
    assert stats is not None and stats.count == 1  # unchanged
    with pytest.raises(ValueError, match="must be a dict"):
        master.merge_encoded([])  # type: ignore[arg-type]


def test_values_for_every_aggregation() -> None:
    recorder = RequestRecorder()
    for i, x in enumerate((10.0, 20.0, 30.0, 40.0)):
        recorder.record("GET", "/x", x, failed=(i == 3))
    stats = recorder.stats("GET", "/x")
    assert stats is not None
    assert stats.value(Aggregation("avg")) == 25.0
    assert stats.avg_ms == 25.0
    assert stats.value(Aggregation("min")) == 10.0
    assert stats.value(Aggregation("max")) == 40.0
    assert stats.value(Aggregation("med")) == pytest.approx(20.0, rel=TOLERANCE)  # 2nd of 4
    assert stats.value(Aggregation("p", 75.0)) == pytest.approx(30.0, rel=TOLERANCE)
    assert stats.value(Aggregation("p", 100.0)) == 40.0
    assert stats.value(Aggregation("rate")) == 0.75
    assert stats.value(Aggregation("fail_rate")) == 0.25
    assert stats.value(Aggregation("count")) == 4.0


def test_no_samples_give_none() -> None:
    recorder = RequestRecorder()
    assert recorder.stats("GET", "/x") is None
    empty = recorder.pooled([("GET", "/x")])
    assert empty.count == 0 and empty.histogram is None
    for kind, arg in (("p", 95.0), ("avg", None), ("med", None), ("min", None), ("max", None),
                      ("rate", None), ("fail_rate", None)):
        assert empty.value(Aggregation(kind, arg)) is None
    assert empty.value(Aggregation("count")) == 0.0  # k6: an empty counter is 0
    assert empty.avg_ms is None
    with pytest.raises(ValueError, match="no samples"):
        empty.percentile(50)
    assert recorder.pooled([]).count == 0


def test_percentile_argument_is_checked() -> None:
    recorder = RequestRecorder()
    recorder.record("GET", "/x", 1.0, False)
    stats = recorder.stats("GET", "/x")
    assert stats is not None
    for bad in (-1, 100.5):
        with pytest.raises(ValueError, match="between 0 and 100"):
            stats.percentile(bad)
    assert stats.percentile(0) == 1.0


def test_pooled_merges_keys_and_ignores_duplicates() -> None:
    recorder = RequestRecorder()
    recorder.record("POST", "/generate", 100.0, False)
    recorder.record("POST", "/generate/", 300.0, True)
    pooled = recorder.pooled([("POST", "/generate"), ("POST", "/generate/"), ("POST", "/generate"),
                              ("GET", "/never")])
    assert (pooled.count, pooled.failures, pooled.min_ms, pooled.max_ms, pooled.sum_ms) == (2, 1, 100.0,
                                                                                            300.0, 400.0)
    assert pooled.histogram is not None and pooled.histogram.get_total_count() == 2


def test_stats_are_a_snapshot() -> None:
    recorder = RequestRecorder()
    recorder.record("GET", "/x", 5.0, False)
    stats = recorder.stats("GET", "/x")
    recorder.record("GET", "/x", 500.0, False)
    assert stats is not None
    assert stats.count == 1 and stats.percentile(99) == 5.0
    assert stats.histogram is not None and stats.histogram.get_total_count() == 1


def test_bad_times_are_never_bent_into_a_value() -> None:
    """Row 8: None counts as a request without latency (as Locust), NaN/negative are invalid, nothing is
    clamped: a 2 h response is a 2 h maximum."""
    recorder = RequestRecorder()
    for x in (None, -3.0, float("nan"), 0.0, 0.0004, 7_200_000.0):
        recorder.record("GET", "/x", x, False)
    stats = recorder.stats("GET", "/x")
    assert stats is not None
    assert (stats.count, stats.timed, stats.invalid, stats.beyond_range) == (6, 3, 2, 1)
    assert stats.min_ms == 0.0 and stats.max_ms == 7_200_000.0  # exact, not clamped
    assert stats.percentile(100) == 7_200_000.0
    assert stats.sum_ms == pytest.approx(7_200_000.0004)
    assert stats.value(Aggregation("max")) == 7_200_000.0
    assert stats.value(Aggregation("rate")) == 1.0  # every request counts for the success rate
    assert HIGHEST_NS == 3_600_000_000_000


def test_method_and_name_are_kept_as_given() -> None:
    recorder = RequestRecorder()
    recorder.record("GET", "/x", 1.0, False)
    recorder.record("get", "/x", 1.0, False)
    assert recorder.keys() == [("GET", "/x"), ("get", "/x")]


def test_key_cap_pools_overflow_per_row_and_counts_the_rest() -> None:
    """Row 4: past the cap a request a row names is pooled for that row, never dropped; only requests
    no row names are left unrecorded (counted, a few keys kept)."""
    table = parse_table('[[row]]\nname = "items"\nrequests = ["GET /items/*"]\nthresholds = ["p(95)<100"]\n')
    recorder = RequestRecorder(plan_for(table), max_keys=2)
    recorder.record("GET", "/a", 1.0, False)
    recorder.record("GET", "/b", 1.0, False)
    for i in range(15):
        recorder.record("GET", f"/items/{i}", 3000.0, True)
        recorder.record("GET", f"/other/{i}", 1.0, False)
    recorder.record("GET", "/a", 2.0, False)  # known keys keep recording
    assert recorder.keys() == [("GET", "/a"), ("GET", "/b")]
    assert recorder.pool_rows() == [("items",)] and recorder.pool_count(("items",)) == 15
    pool = recorder.pooled([], row="items")
    assert (pool.count, pool.failures, pool.max_ms) == (15, 15, 3000.0)
    assert recorder.unrecorded == 15 and len(recorder.unrecorded_keys) == 10
    assert recorder.unrecorded_keys[0] == ("GET", "/other/0")
    assert recorder.total_requests == 3 + 15

    # The master applies its own cap: overflowing keys go to their row's pool there too.
    master = RequestRecorder(plan_for(table), max_keys=1)
    worker = RequestRecorder(plan_for(table))
    for i in range(5):
        worker.record("GET", f"/items/{i}", 50.0, False)
    master.merge_encoded(recorder.encode())
    master.merge_encoded(worker.encode())
    assert master.keys() == [("GET", "/a")]
    assert master.pool_count(("items",)) == 15 + 5
    assert master.unrecorded == 15 + 1  # the workers' 15 and the one /b request no row names
    master.reset()
    assert master.unrecorded == 0 and master.pool_rows() == [] and master.total_requests == 0
    with pytest.raises(ValueError):
        RequestRecorder(max_keys=0)


def test_exact_counts_at_each_limit_survive_merging() -> None:
    """Row 6: the samples below and at each limit are counted exactly, locally and merged."""
    plan = RecorderPlan(limits=(400.0, 800.0))
    local, w1, w2 = RequestRecorder(plan), RequestRecorder(plan), RequestRecorder(plan)
    samples = [399.999, 400.0, 400.001, 799.999, 800.0, 800.0, 800.001, 5.0]
    for i, x in enumerate(samples):
        local.record("GET", "/x", x, False)
        (w1 if i % 2 else w2).record("GET", "/x", x, False)
    master = RequestRecorder(plan)
    master.merge_encoded(json.loads(json.dumps(w1.drain())))
    master.merge_encoded(w2.drain())
    for recorder in (local, master):
        stats = recorder.stats("GET", "/x")
        assert stats is not None
        assert (stats.limit_counts(400.0).below, stats.limit_counts(400.0).at) == (2, 1)
        assert (stats.limit_counts(800.0).below, stats.limit_counts(800.0).at) == (5, 2)
        with pytest.raises(KeyError):
            stats.limit_counts(1200.0)


def test_value_at_rank_is_an_order_statistic() -> None:
    recorder = RequestRecorder()
    for x in (5.0, 1.0, 3.0, 2.0, 4.0):
        recorder.record("GET", "/x", x, False)
    stats = recorder.pooled([("GET", "/x")])
    assert [round(stats.value_at_rank(r), 2) for r in range(1, 6)] == [1.0, 2.0, 3.0, 4.0, 5.0]
    for bad in (0, 6):
        with pytest.raises(ValueError, match="rank"):
            stats.value_at_rank(bad)


def test_record_is_cheap() -> None:
    recorder = RequestRecorder()
    start = time.perf_counter()
    for i in range(50_000):
        recorder.record("GET", "/health", 1.0 + (i % 997), False)
    per_call = (time.perf_counter() - start) / 50_000
    assert per_call < 50e-6  # ~1-2 us on a laptop; generous for slow CI machines


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(min_value=0.05, max_value=60_000.0, allow_nan=False), min_size=1, max_size=300),
    st.floats(min_value=0.0, max_value=100.0, exclude_min=True),
    st.integers(min_value=1, max_value=4),
)
def test_property_percentile_within_tolerance(samples: list[float], p: float, workers: int) -> None:
    locals_ = [RequestRecorder() for _ in range(workers)]
    for i, x in enumerate(samples):
        locals_[i % workers].record("GET", "/x", x, False)
    master = RequestRecorder()
    for worker in locals_:
        master.merge_encoded(worker.encode())
    stats = master.stats("GET", "/x")
    assert stats is not None
    want = exact_percentile(samples, p)
    assert abs(stats.percentile(p) - want) <= TOLERANCE * want
    assert stats.min_ms <= stats.percentile(p) <= stats.max_ms


def test_pooled_allocates_no_histogram_per_evaluation() -> None:
    """The live evaluation pools every few seconds: reusing histograms keeps the gate's memory flat."""
    recorder = RequestRecorder()
    recorder.record("GET", "/a", 5.0, False)
    recorder.record("GET", "/b", 7.0, False)
    both = [("GET", "/a"), ("GET", "/b")]
    first = recorder.pooled(both).histogram
    recorder.record("GET", "/b", 9.0, False)
    again = recorder.pooled(both)
    assert again.histogram is first and again.count == 3 and again.percentile(100) == 9.0
    assert recorder.pooled([("GET", "/a")]).histogram is recorder.pooled([("GET", "/a")]).histogram


def test_bulk_indices_match_hdrhistogram() -> None:
    """The vectorized bucket index is HdrHistogram's own, over the whole range (0 .. 1 h in ns)."""
    import numpy as np

    from osiris_load.core.slo.recorder import counts_indices, new_histogram

    rng = random.Random(13)
    values = [0, 1, 2, 2047, 2048, 2049, 4095, 4096, 10**6, 799_999_999, 800_000_000, 800_000_001, HIGHEST_NS]
    values += [int(10 ** rng.uniform(0, math.log10(HIGHEST_NS))) for _ in range(20_000)]
    hist = new_histogram()
    want = [hist.get_counts_array_index(v) for v in values]
    assert counts_indices(np.array(values, dtype=np.int64)).tolist() == want


def test_a_report_after_a_read_ships_everything_once() -> None:
    """Values already in a worker's histogram (a read flushed them) and values still pending ship together."""
    worker, master = RequestRecorder(), RequestRecorder()
    for x in (1.0, 2.0, 3.0):
        worker.record("GET", "/x", x, False)
    assert worker.pooled([("GET", "/x")]).timed == 3  # flushes into the histogram
    for x in (3.0, 4.0):
        worker.record("GET", "/x", x, False)
    master.merge_encoded(worker.drain())
    stats = master.stats("GET", "/x")
    assert stats is not None and stats.timed == 5 and stats.percentile(100) == 4.0
    assert [stats.value_at_rank(r) for r in range(1, 6)] == pytest.approx([1.0, 2.0, 3.0, 3.0, 4.0], rel=TOLERANCE)
    hist = worker._entries[("GET", "/x")].hist
    assert hist.get_total_count() == 0 and not any(hist.counts[0:hist.counts_len])  # cleared, kept
    worker.record("GET", "/x", 9.0, False)
    again = worker.drain()
    assert [e["counts"] for e in again["entries"]] == [[1]]  # the first report's values were cleared


def test_refusals_word_for_word() -> None:
    """Every refusal of the statistics and the recorder's constructor, exact (the mutation test counts on it)."""
    with pytest.raises(ValueError) as caught:
        RequestRecorder(max_keys=0)
    assert str(caught.value) == "max_keys must be at least 1"
    assert RequestRecorder(max_keys=1).max_keys == 1
    recorder = RequestRecorder(RecorderPlan(limits=(800.0,)))
    for x in (1.0, 2.0, 3.0):
        recorder.record("GET", "/x", x, False)
    stats = recorder.pooled([("GET", "/x")])
    with pytest.raises(KeyError) as missing:
        stats.limit_counts(400.0)
    assert missing.value.args == ("limit 400.0 ms is not in the recorder's plan",)
    for bad in (0, 4):
        with pytest.raises(ValueError) as caught:
            stats.bucket_at_rank(bad)
        assert str(caught.value) == f"rank must be between 1 and 3, got {bad}"
    for p in (-0.5, 100.5):
        with pytest.raises(ValueError) as caught:
            stats.percentile(p)
        assert str(caught.value) == f"percentile must be between 0 and 100, got {p}"
    with pytest.raises(ValueError) as caught:
        EndpointStats().percentile(50)
    assert str(caught.value) == "no samples: a percentile of nothing is undefined"
    bare = EndpointStats(count=3, timed=3, min_ms=1.0, max_ms=3.0)
    assert bare.bucket_at_rank(1) == (1.0, 1.0) and bare.bucket_at_rank(3) == (3.0, 3.0)  # exact without a histogram
    with pytest.raises(ValueError) as caught:
        bare.bucket_at_rank(2)
    assert str(caught.value) == "these statistics carry no histogram"


def test_buckets_at_ranks_by_hand() -> None:
    """HdrHistogram at 3 significant figures counts 2 ms (2,000,000 ns, between 2**20 and 2**21 ns) in buckets
    of 2**(21 - 11) = 1024 ns: 1953 * 1024 = 1,999,872 .. 1,999,872 + 1023 = 2,000,895 ns."""
    recorder = RequestRecorder(RecorderPlan(limits=(2.0,)))
    for x in (3.0, 2.0, 1.0, 2.0):
        recorder.record("GET", "/x", x, False)
    stats = recorder.pooled([("GET", "/x")])
    assert stats.bucket_at_rank(1) == (1.0, 1.0) and stats.bucket_at_rank(4) == (3.0, 3.0)
    assert stats.bucket_at_rank(2) == stats.bucket_at_rank(3) == (1.999872, 2.000895)
    assert stats.value_at_rank(2) == (1.999872 + 2.000895) / 2
    assert stats.percentile(0) == 1.0 and stats.percentile(100) == 3.0
    assert stats.percentile(50) == stats.value_at_rank(2)
    assert (stats.limit_counts(2.0).below, stats.limit_counts(2.0).at, stats.limit_counts(2.0).at_or_below) == (1, 2, 3)
    # a bucket wider than the samples' range is clamped into [min, max]
    narrow = RequestRecorder()
    for x in (2.0003, 2.0001, 2.0002):
        narrow.record("GET", "/x", x, False)
    assert narrow.pooled([("GET", "/x")]).bucket_at_rank(2) == (2.0001, 2.0003)


def test_one_hour_is_in_range_and_merged_unrecorded_keys_stay_ten_distinct() -> None:
    recorder = RequestRecorder()
    recorder.record("GET", "/x", 3_600_000.0, False)  # exactly HIGHEST_NS: in range
    recorder.record("GET", "/x", 3_600_000.000001, False)  # 1 ns beyond
    recorder.record("GET", "/x", 7_200_000.0, False)  # 2 h: beyond too, kept exactly as the max
    stats = recorder.pooled([("GET", "/x")])
    assert (stats.timed, stats.beyond_range, stats.max_ms) == (3, 2, 7_200_000.0)
    worker = RequestRecorder(max_keys=1)
    worker.record("GET", "/a", 1.0, False)
    for name in ["/u11", *(f"/u{i}" for i in range(10))]:
        worker.record("GET", name, 1.0, False)
    assert worker.unrecorded == 11
    assert worker.unrecorded_keys == [("GET", "/u11"), *(("GET", f"/u{i}") for i in range(9))]
    master = RequestRecorder(max_keys=1)
    for name in ("/m", "/u10", "/u11"):
        master.record("GET", name, 1.0, False)
    master.merge_encoded(worker.encode())
    assert master.unrecorded == 2 + 11 + 1  # its own two, the worker's 11, and the worker's /a: no room, no row
    assert master.unrecorded_keys == [("GET", "/u10"), ("GET", "/u11"), *(("GET", f"/u{i}") for i in range(8))]


def test_iterations_and_tokens_are_recorded_apart_from_requests() -> None:
    from osiris_load.core.slo.k6_metrics import ITERATION_METHOD, TOKENS_METHOD

    recorder = RequestRecorder()
    recorder.record("GET", "/x", 5.0, True)
    recorder.record_iteration("Caller", 40.0)
    recorder.record_tokens("output /a", 12)
    recorder.record_tokens("output /a", 30)
    iterations = recorder.pooled([(ITERATION_METHOD, "Caller")])
    assert (iterations.count, iterations.failures, iterations.timed, iterations.sum_ms) == (1, 0, 1, 40.0)
    tokens = recorder.pooled([(TOKENS_METHOD, "output /a")])
    assert (tokens.count, tokens.failures, tokens.timed, tokens.sum_ms, tokens.max_ms) == (2, 0, 2, 42.0, 30.0)
    assert recorder.key_counts() == {("GET", "/x"): 1} and recorder.total_requests == 1
    assert RequestRecorder.requests_in(recorder.encode()) == 1


def test_several_values_of_one_key_are_samples_none_failed() -> None:
    from osiris_load.core.slo.k6_metrics import LLM_METHOD

    recorder = RequestRecorder()
    recorder.record_values(LLM_METHOD, "ITL /v1/chat", [10.0, 30.0, 20.0])  # an answer's inter-token gaps
    recorder.record_values(LLM_METHOD, "ITL /v1/chat", [])
    gaps = recorder.pooled([(LLM_METHOD, "ITL /v1/chat")])
    assert (gaps.count, gaps.failures, gaps.timed, gaps.sum_ms, gaps.min_ms, gaps.max_ms) == (3, 0, 3, 60.0, 10.0, 30.0)
    assert recorder.raw_key_counts() == {(LLM_METHOD, "ITL /v1/chat"): 3}


def test_merging_reports_edge_by_edge() -> None:
    """Untimed keys before timed ones, a 0 ms sample (histogram index 0), the same overflow pool twice, and a
    report without the optional fields: each merges into the exact counts."""
    worker = RequestRecorder(RecorderPlan(limits=(1.0,)))
    worker.record("GET", "/untimed", None, False)  # an entry with no histogram values, before a timed one
    worker.record("GET", "/zero", 0.0, False)  # index 0 of the histogram
    worker.record("GET", "/zero", 2.0, True)
    master = RequestRecorder(RecorderPlan(limits=(1.0,)))
    master.merge_encoded(worker.encode())
    zero = master.pooled([("GET", "/zero")])
    assert (zero.count, zero.failures, zero.timed, zero.min_ms, zero.max_ms, zero.bins) == (2, 1, 2, 0.0, 2.0, (1, 1))
    assert master.pooled([("GET", "/untimed")]).count == 1

    table = parse_table('[[row]]\nname = "items"\nrequests = ["GET /items/*"]\nthresholds = ["p(95)<100"]\n')
    capped = RequestRecorder(plan_for(table), max_keys=1)
    capped.record("GET", "/a", 1.0, False)
    for i in range(3):
        capped.record("GET", f"/items/{i}", 50.0, False)
    report = capped.encode()
    pools = RequestRecorder(plan_for(table), max_keys=1)
    pools.merge_encoded(report)
    pools.merge_encoded(report)  # the same pool twice adds up
    assert pools.pool_count(("items",)) == 6 and pools.pooled([], row="items").sum_ms == 300.0

    bare = RequestRecorder()
    bare.merge_encoded({"version": 2, "unit": "ns", "entries": []})  # no limits, unrecorded, keys
    assert (bare.unrecorded, bare.unrecorded_keys, bare.total_requests) == (0, [], 0)
    assert RequestRecorder.requests_in({"entries": [{"method": "GET"}], "unrecorded": 2}) == 2  # no count: 0
    assert RecorderPlan.from_data({"limits": [2, 1], "rows": []}) == RecorderPlan(limits=(1.0, 2.0))  # split: False


def test_a_report_with_no_pending_value_still_ships_every_count() -> None:
    worker = RequestRecorder()
    worker.record("GET", "/untimed", None, True)  # nothing pending in any histogram
    data = worker.encode()
    assert [(e["name"], e["count"], e["failures"], e["timed"], e["index"], e["counts"]) for e in data["entries"]] == [
        ("/untimed", 1, 1, 0, [], [])]
    worker.record("GET", "/timed", 3.0, False)
    worker.pooled([("GET", "/timed")])  # a read flushes the pending value into the histogram
    master = RequestRecorder()
    master.merge_encoded(worker.drain())
    timed = master.pooled([("GET", "/timed")])
    assert (timed.count, timed.timed, timed.min_ms, timed.max_ms, timed.percentile(50)) == (1, 1, 3.0, 3.0, 3.0)
    assert master.pooled([("GET", "/untimed")]).failures == 1 and worker.total_requests == 0


def test_a_snapshot_keeps_its_histogram_after_later_records_are_flushed() -> None:
    recorder = RequestRecorder()
    for x in (1.0, 2.0, 3.0):
        recorder.record("GET", "/x", x, False)
    snapshot = recorder.stats("GET", "/x")
    assert snapshot is not None
    for _ in range(3):
        recorder.record("GET", "/x", 500.0, False)
    assert recorder.pooled([("GET", "/x")]).histogram.get_total_count() == 6  # the read flushed the new values
    assert snapshot.histogram is not None and snapshot.histogram.get_total_count() == 3
    assert snapshot.value_at_rank(2) == pytest.approx(2.0, rel=TOLERANCE)


def test_a_reset_clears_the_counters_at_both_ends_of_a_bucket() -> None:
    """A reset zeroes the histogram window from the exact min's to the exact max's bucket. 1.999872 ms and
    2.000895 ms are the lowest and highest values of one bucket (1024 ns wide there): a window rounded 1 ns too
    low or too high would leave that bucket's counter behind, and the next samples' ranks would count it."""
    recorder = RequestRecorder()
    recorder.record("GET", "/low", 1.999872, False)
    recorder.record("GET", "/high", 2.000895, False)
    for key in (("GET", "/low"), ("GET", "/high")):
        assert recorder.pooled([key]).histogram.get_total_count() == 1  # flushed into the histogram
    recorder.reset()
    for name in ("/low", "/high"):
        for x in (1.0, 1.5, 2.5, 3.0):
            recorder.record("GET", name, x, False)
        stats = recorder.pooled([("GET", name)])
        assert stats.histogram.get_total_count() == 4
        assert stats.value_at_rank(3) == pytest.approx(2.5, rel=TOLERANCE)  # not the old sample's ~2.0


def test_pools_of_nothing_and_two_pools_read_side_by_side() -> None:
    from osiris_load.core.slo.recorder import LimitCounts

    recorder = RequestRecorder(RecorderPlan(limits=(1.0, 2.0)))
    nothing = recorder.pooled([("GET", "/none")])
    assert (nothing.bins, nothing.equal, nothing.limit_counts(2.0)) == ((0, 0, 0), (0, 0), LimitCounts(0, 0))
    for name, values in (("/a", (1.0,)), ("/b", (3.0,)), ("/c", (5.0, 6.0)), ("/d", (7.0, 8.0))):
        for x in values:
            recorder.record("GET", name, x, False)
    first = recorder.pooled([("GET", "/a"), ("GET", "/b")])
    second = recorder.pooled([("GET", "/c"), ("GET", "/d")])  # another set: its own scratch histogram
    assert first.histogram is not second.histogram
    assert (first.histogram.get_total_count(), second.histogram.get_total_count()) == (2, 4)
    assert second.value_at_rank(2) == pytest.approx(6.0, rel=TOLERANCE) and first.bins == (1, 0, 1)


def test_an_overflow_pool_of_two_rows_is_keyed_by_both_names() -> None:
    """The wire format of a pool (module docstring): method "" and the row names joined by NUL."""
    table = parse_table('[[row]]\nname = "a"\nrequests = ["GET /p*"]\nthresholds = ["p(95)<100"]\n'
                        '[[row]]\nname = "b"\nrequests = ["GET /p/*"]\nthresholds = ["p(99)<100"]\n')
    recorder = RequestRecorder(plan_for(table), max_keys=1)
    recorder.record("GET", "/first", 1.0, False)
    recorder.record("GET", "/p/1", 2.0, True)
    [pool] = [e for e in recorder.encode()["entries"] if e["rows"] is not None]
    assert (pool["method"], pool["name"], pool["rows"]) == ("", "a\x00b", ["a", "b"])
    assert (pool["count"], pool["failures"]) == (1, 1)


def test_a_zero_counter_in_a_report_is_harmless_and_a_negative_one_is_refused() -> None:
    """The merge refuses counts out of range (negative), not an explicit zero: a sparse pair (index, 0) adds
    nothing, so the merged numbers are those of the report without it."""
    worker = RequestRecorder()
    for x in (1.0, 2.0):
        worker.record("GET", "/x", x, False)
    data = worker.encode()
    padded = json.loads(json.dumps(data))
    padded["entries"][0]["index"].append(5)
    padded["entries"][0]["counts"].append(0)
    plain, with_zero = RequestRecorder(), RequestRecorder()
    plain.merge_encoded(data)
    with_zero.merge_encoded(padded)
    a, b = plain.pooled([("GET", "/x")]), with_zero.pooled([("GET", "/x")])
    assert (b.count, b.timed, b.min_ms, b.max_ms) == (a.count, a.timed, a.min_ms, a.max_ms) == (2, 2, 1.0, 2.0)
    assert b.value_at_rank(1) == 1.0 and b.histogram.get_total_count() == 2
    padded["entries"][0]["counts"][-1] = -1
    padded["entries"][0]["counts"][0] += 1  # still adds up to timed, but one count is negative
    with pytest.raises(ValueError) as caught:
        RequestRecorder().merge_encoded(padded)
    assert str(caught.value) == "malformed recorder entry: counts do not add up (index or count out of range)"
