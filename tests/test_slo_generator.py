"""The generator's own delays (issue 17), pure: the stall log's per-request bound, the health summary,
the verdict rule (``attach_generator``) and its soundness by simulation: random stalls added to known
server times; a confident FAIL on what the server can be charged with is wrong at most 1 - C of the
time, and a PASS never turns into a FAIL."""

from __future__ import annotations

import bisect
import os
import random
import time

import pytest

from osiris_load.core.slo.evaluate import attach_generator, evaluate, plan_for
from osiris_load.core.slo.formatting import format_summary, run_headline
from osiris_load.core.slo.generator import (
    STALL_MIN_S,
    HealthMonitor,
    StallLog,
    cpu_seconds,
    health_from_data,
    percentile,
)
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table, parse_table
from osiris_load.core.slo.verdict import FAIL, INCONCLUSIVE, PASS, ProcessHealth, Verdict, from_json, to_csv, to_json

TABLE = parse_table('[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["rate>=0.99", "p(95)<100"]\n',
                    "issue17.toml")
BUSY = ProcessHealth(process="local", users=5, requests=500, requests_per_s=50.0, duration_s=10.0, cpu_p50=80.0,
                     cpu_p95=99.0, cpu_max=100.0, saturated_s=6.0, lag_p50_ms=0.2, lag_p99_ms=152.0, lag_max_ms=160.0,
                     stalls=60, stall_s=9.0, bounded_requests=400, timeline=((1.0, 99.0, 150.0), (2.0, 98.0, 151.0)))


# -- the stall log -------------------------------------------------------------------------------

def _loop(log: StallLog, *stretches: tuple[float, float]) -> None:
    """The loop's stretches of work: (poll returned, next poll)."""
    for begin, end in stretches:
        log.polled(begin)
        log.polling(end)


def test_short_stretches_bound_nothing() -> None:
    log = StallLog(now=0.0)
    _loop(log, *((t / 100, t / 100 + 0.0005) for t in range(100)))
    log.polled(1.0)
    assert log.bound_ms(0.5, 1.0001) == 0.0
    assert not log.stalls


def test_an_answer_read_after_a_stall_waited_at_most_that_stall_and_the_stretch_so_far() -> None:
    log = StallLog(now=0.0)
    _loop(log, (0.9, 0.9001), (1.0, 1.150))  # a 150 ms stretch: a user burned the CPU
    log.polled(1.1502)  # the poll returned at once: the answer was ready
    assert log.bound_ms(0.9, 1.1505) == pytest.approx(150.5)  # the loop has not caught up since 1.0
    assert log.bound_ms(1.1, 1.1505) == pytest.approx(50.5)  # never more than the request lasted


def test_a_stall_inside_a_request_does_not_count_but_one_at_its_start_does() -> None:
    log = StallLog(now=0.0)
    _loop(log, (1.0, 1.150), *((1.15 + t / 100, 1.15 + t / 100 + 0.0005) for t in range(15)))
    log.polled(1.31)  # the loop kept up since: the answer came later
    assert log.bound_ms(0.9, 1.3101) == 0.0  # it was waiting for the server anyway
    assert log.bound_ms(1.1, 1.3101) == pytest.approx(50.0 + 0.6)  # its send waited for the stall's end
    assert log.bound_ms(1.15, 1.3101) == 0.0


def test_a_loop_that_never_catches_up_bounds_the_whole_run_of_stalls() -> None:
    log = StallLog(now=0.0)
    _loop(log, *((1.0 + 0.0101 * i, 1.0 + 0.0101 * i + 0.01) for i in range(30)))  # 10 ms stretches, short polls
    log.polled(1.3031)
    assert log.bound_ms(0.9, 1.3035) == pytest.approx(303.5)  # all of it since the run began
    _loop(log, (1.3031, 1.3032))  # a short stretch: the loop caught up
    log.polled(1.3033)
    assert log.bound_ms(0.9, 1.3035) == 0.0


@pytest.mark.parametrize("origin", [0.0, -1024.0, 4096.0])
def test_the_bound_reads_only_time_differences_whatever_the_clocks_origin(origin: float) -> None:
    """``time.perf_counter()``'s reference point is undefined (only differences are valid): the same
    loop at another origin, negative included, bounds the same requests by the same milliseconds."""
    log = StallLog(now=origin)
    _loop(log, *((origin + 1.0 + 0.0101 * i, origin + 1.0 + 0.0101 * i + 0.01) for i in range(30)))
    log.polled(origin + 1.3031)  # a run of 30 stalls of 10 ms since 1.0, the loop never caught up
    assert log.bound_ms(origin + 0.9, origin + 1.3035) == pytest.approx(303.5)  # 1.3035 - 1.0 s
    assert log.bound_ms(origin + 1.2, origin + 1.3035) == pytest.approx(103.5)  # at most what it lasted
    _loop(log, (origin + 1.3031, origin + 1.3032))  # a short stretch: caught up
    log.polled(origin + 1.3033)
    assert log.bound_ms(origin + 0.9, origin + 1.3035) == 0.0


def test_a_stall_in_progress_counts() -> None:
    log = StallLog(now=0.0)
    _loop(log, (0.99, 0.9901))
    log.polled(1.0)  # the stretch began at 1.0; at 1.2 it still runs (the event fires inside it)
    assert log.bound_ms(0.95, 1.2) == pytest.approx(200.1)
    assert log.bound_ms(1.1, 1.2) == pytest.approx(100.0)
    assert log.bound_ms(1.0, 1.001) == 0.0  # under the noise floor


# -- the health summary ---------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.now, self.cpu = 0.0, 0.0

    def __call__(self) -> float:
        return self.now


def test_health_counts_lag_cpu_stalls_and_requests() -> None:
    clock = FakeClock()
    monitor = HealthMonitor("w1", clock=clock, cpu=lambda: clock.cpu)
    for second in range(10):
        for _ in range(50):  # short stretches, polls in between
            monitor.log.polled(clock.now)
            clock.now += 0.0001
            monitor.polling(clock.now)
            clock.now += 0.0049
        monitor.log.polled(clock.now)  # one 45 ms stretch (2 % of them)
        clock.now += 0.045
        monitor.polling(clock.now)
        clock.now += 0.305  # 0.6 s a "second"
        clock.cpu += 0.57 if second < 5 else 0.12
        assert monitor.tick(users=3) is not None
    monitor.log.polled(clock.now)
    clock.now += 0.03  # an event fires 30 ms into a stretch
    # an LLM answer's measurements inside that request: the same bounds, no request counted
    assert monitor.share_ms(100.0) == pytest.approx(30.0 + 45.0)
    assert monitor.share_ms(20.0) == pytest.approx(20.0) and monitor.share_ms(0.5) == pytest.approx(0.5)
    assert monitor.share_ms(0.0) == 0.0 and monitor.share_ms(-1.0) == 0.0
    assert (monitor.requests, monitor.bounded) == (0, 0)
    assert monitor.bound_ms(100.0) == pytest.approx(30.0 + 45.0)  # and the stretch before (not twice)
    assert monitor.bound_ms(20.0) == pytest.approx(20.0) and monitor.bound_ms(None) == 0.0
    health = monitor.summary()
    assert (health.process, health.users, health.requests, health.bounded_requests) == ("w1", 3, 3, 2)
    assert health.stalls == 10 and health.stall_s == pytest.approx(0.45)
    assert health.lag_max_ms == pytest.approx(45.0)
    assert health.lag_p50_ms < 0.2 and health.lag_p99_ms == pytest.approx(45.0, rel=0.01)
    assert health.cpu_max == pytest.approx(95.0, rel=0.01) and health.saturated_s == 5.0
    assert len(health.timeline) == 10
    assert health_from_data(to_dict(health), "w9").process == "w9"
    with pytest.raises(ValueError, match="generator health"):
        health_from_data({"cpu": 1}, "w9")


def to_dict(health: ProcessHealth) -> dict:
    import dataclasses
    return dataclasses.asdict(health)


def test_the_timeline_stays_bounded_and_keeps_the_worst() -> None:
    clock = FakeClock()
    monitor = HealthMonitor(clock=clock, cpu=lambda: clock.cpu)
    for second in range(2000):
        clock.now += 1.0
        clock.cpu += 1.0 if second == 1234 else 0.1
        monitor.tick()
    timeline = monitor.summary().timeline
    assert len(timeline) < 300 and max(p[1] for p in timeline) == pytest.approx(100.0)


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0


# -- the rule -------------------------------------------------------------------------------------

def _verdicts(measured: list[float], charged: list[float], failed: int = 0, excused: int = 0,
              table=TABLE, confidence: float = 0.95) -> tuple[Verdict, Verdict]:
    plan = plan_for(table)
    m, c = RequestRecorder(plan), RequestRecorder(plan)
    for i, (a, b) in enumerate(zip(measured, charged, strict=True)):
        m.record("GET", "/health", a, i < failed)
        c.record("GET", "/health", b, i < failed - excused)
    return (evaluate(table, m, confidence=confidence), evaluate(table, c, confidence=confidence))


def test_a_failure_only_the_generator_explains_is_inconclusive_generator_bound() -> None:
    measured, charged = _verdicts([200.0] * 400, [50.0] * 400)
    assert measured.state == FAIL and measured.reasons
    verdict = attach_generator(measured, charged, [BUSY])
    latency = verdict.thresholds[1]
    assert (latency.state, latency.estimate, latency.generator_bound) == (INCONCLUSIVE, PASS, True)
    assert latency.chargeable_observed == pytest.approx(50.0, rel=0.01)
    assert "generator-bound" in latency.reason and "process local" in latency.reason
    assert "loop lag p99 152 ms" in latency.reason and "--processes N" in latency.reason
    assert verdict.state == INCONCLUSIVE and verdict.passed and not verdict.reasons
    assert any(n.startswith("generator-bound") for n in verdict.notes)
    assert verdict.generator == (BUSY,)
    summary = format_summary(verdict)
    assert "generator local: CPU p50 80 % p95 99 %" in summary and "generator-bound" in summary


def test_the_run_headline_says_generator_bound_not_more_time() -> None:
    """Issue 18's one headline: a generator-bound threshold is not short of samples, so the headline
    names it as generator-bound, never as "more time would settle it"."""
    measured, charged = _verdicts([200.0] * 400, [50.0] * 400)
    verdict = attach_generator(measured, charged, [BUSY])
    assert run_headline({"read_heavy": verdict}) == (
        "PASS (by estimate; 1 threshold generator-bound: the load generator's own delays could change the outcome)")


def test_a_failure_that_remains_without_the_generator_stays_fail() -> None:
    measured, charged = _verdicts([200.0] * 400, [150.0] * 400)
    verdict = attach_generator(measured, charged, [BUSY])
    assert verdict.thresholds[1].state == FAIL and not verdict.thresholds[1].generator_bound
    assert verdict.state == FAIL and not verdict.passed


def test_a_pass_stays_pass_and_a_quiet_generator_adds_no_note() -> None:
    measured, charged = _verdicts([50.0] * 400, [50.0] * 400)
    quiet = ProcessHealth(process="local", cpu_p95=10.0)
    verdict = attach_generator(measured, charged, [quiet])
    assert verdict.state == PASS and not verdict.notes and not any(t.generator_bound for t in verdict.thresholds)


def test_a_saturated_generator_is_named_even_when_nothing_is_bound() -> None:
    measured, charged = _verdicts([50.0] * 400, [40.0] * 400)
    verdict = attach_generator(measured, charged, [BUSY])
    assert verdict.state == PASS and any(n.startswith("generator saturated") for n in verdict.notes)


def test_failures_without_an_answer_during_stalls_are_the_generators_too() -> None:
    measured, charged = _verdicts([50.0] * 400, [50.0] * 400, failed=20, excused=18)
    verdict = attach_generator(measured, charged, [BUSY])
    rate = verdict.thresholds[0]
    assert (rate.state, rate.generator_bound) == (INCONCLUSIVE, True)
    assert "without an HTTP answer" in rate.reason
    measured, charged = _verdicts([50.0] * 400, [50.0] * 400, failed=20, excused=2)
    assert attach_generator(measured, charged, [BUSY]).thresholds[0].state == FAIL


def test_the_verdict_file_carries_the_generator_section() -> None:
    measured, charged = _verdicts([200.0] * 400, [50.0] * 400)
    verdict = attach_generator(measured, charged, [BUSY])
    assert from_json(to_json(verdict)) == verdict
    assert '"version": 4' in to_json(verdict)
    assert "chargeable_observed" in to_csv(verdict).splitlines()[0]


def test_the_default_table_is_judged_the_same_way() -> None:
    table = load_table(DEFAULT_TABLE_PATH)
    measured, charged = _verdicts([500.0] * 400, [60.0] * 400, table=table)
    verdict = attach_generator(measured, charged, [BUSY])
    health = next(t for t in verdict.thresholds if t.row == "health" and t.kind == "p")
    assert (health.state, health.generator_bound) == (INCONCLUSIVE, True) and verdict.passed


# -- soundness by simulation ----------------------------------------------------------------------

def _simulate(rng: random.Random, server_ms: list[float], span_s: float) -> tuple[list[float], list[float]]:
    """Requests at random start times, each answered after its server time. The generator's loop
    has random stalls (stretches of work of 10 ms .. 300 ms); between them it polls as soon as
    anything is ready and reads it at once (a short stretch). A request that starts during a stall
    is sent at its end; an answer that arrives during one is read in the short stretch after it.
    The stretches and the reads are replayed in time order: returns the measured and the
    chargeable times (the gate's bound, taken as each request's event fires)."""
    stalls, t = [], 0.0
    while t < span_s:
        t += rng.expovariate(1 / 0.3)
        length = rng.uniform(0.01, 0.3)
        stalls.append((t, t + length))
        t += length
    ends = [e for _, e in stalls]

    def free_at(at: float) -> float:
        i = bisect.bisect_right(ends, at)
        return stalls[i][1] if i < len(stalls) and stalls[i][0] <= at else at

    events = [(s, 0, "stall", e) for s, e in stalls]  # (time, order, kind, payload)
    measured = []
    for i, server in enumerate(server_ms):
        start = rng.uniform(0, span_s)
        end = free_at(free_at(start) + server / 1000)  # sent when the loop is free, read when it is again
        measured.append((end - start) * 1000)
        events.append((end, 1, "read", (i, start)))
    events.sort()
    log = StallLog(now=0.0)
    charged = [0.0] * len(server_ms)
    for when, _, kind, payload in events:
        if kind == "stall":
            log.polled(when)
            log.polling(payload)
        else:
            i, start = payload
            if log.polled_at < when:  # a poll found the answer: a new (short) stretch
                log.polling(min(log.polled_at + 1e-5, when))
                log.polled(when)
            charged[i] = max(0.0, measured[i] - log.bound_ms(start, when + 1e-5))
    return measured, charged


def test_simulation_a_confident_fail_is_wrong_at_most_1_minus_c() -> None:
    """The server meets p(95)<100 exactly at its edge (95 % of its answers in 60-99.9 ms): every
    FAIL is wrong. Stalls push measured times over the limit: the measured verdict FAILs nearly
    always; on what the server can be charged with, at most 1 - C (with slack for the trials)."""
    rng = random.Random(17)
    trials, wrong_measured, wrong_charged, chargeable_above_server = 150, 0, 0, 0
    for _ in range(trials):
        server = [rng.uniform(60, 99.9) if rng.random() < 0.95 else rng.uniform(100, 400) for _ in range(400)]
        measured, charged = _simulate(rng, server, span_s=20.0)
        floor = STALL_MIN_S * 1000  # delays under the noise floor are not counted
        chargeable_above_server += sum(c > s + floor for c, s in zip(charged, server, strict=True))
        m, c = _verdicts(measured, charged)
        verdict = attach_generator(m, c, [BUSY])
        wrong_measured += m.thresholds[1].state == FAIL
        wrong_charged += verdict.thresholds[1].state == FAIL
        assert not (m.thresholds[1].state == PASS and verdict.thresholds[1].state != PASS)
    assert chargeable_above_server == 0  # the bound never under-counts what a stall added (beyond the floor)
    assert wrong_measured > trials * 0.8  # the flaw is real in this simulation
    assert wrong_charged <= trials * 0.05 + 6  # 1 - C = 5 %, plus 3 sigma of 150 trials


def test_simulation_a_real_failure_stays_fail() -> None:
    """A server at 150 ms with the same random stalls still FAILs p(95)<100 every time."""
    rng = random.Random(150)
    for _ in range(20):
        measured, charged = _simulate(rng, [150.0] * 300, span_s=20.0)
        m, c = _verdicts(measured, charged)
        assert attach_generator(m, c, [BUSY]).thresholds[1].state == FAIL


# -- exact values of the stall log, the monitor and its summary (expected values worked by hand; times
#    are dyadic fractions so that every difference is exact in floating point) -----------------------

def test_a_fresh_log_bounds_from_its_creation() -> None:
    log = StallLog(now=1.0)  # nothing before: the current stretch began at creation
    assert log.bound_ms(0.0, 1.05) == pytest.approx(50.0)  # 50 ms of it so far, the request lasted 1050
    assert StallLog(stall_min_s=0.5, now=0.0).bound_ms(0.0, 0.5) == 500.0  # a stretch of exactly the minimum counts
    t0 = time.perf_counter()
    default = StallLog()
    assert t0 <= default.polled_at <= time.perf_counter()  # Locust's clock, when no time is given


def test_a_delayed_poll_moves_the_stretch_back_but_never_before_the_poll() -> None:
    log = StallLog(now=0.0)
    log.polled(1.0, run_delay_s=0.25)  # the process waited 250 ms for a CPU
    assert log.polling(1.0) == 0.25 and list(log.stalls) == [(0.75, 1.0)]
    log.polled(1.125, run_delay_s=0.5)  # "began" at 0.625, before the poll began at 1.0: from 1.0
    assert log.polled_at == 1.0


def test_only_the_last_stalls_are_kept() -> None:
    log = StallLog(now=0.0, keep=2)
    _loop(log, (1.0, 1.5), (2.0, 2.5), (3.0, 3.5))
    assert list(log.stalls) == [(2.0, 2.5), (3.0, 3.5)]


def test_a_stretch_of_exactly_the_minimum_is_a_stall_and_a_gap_of_it_ends_a_run() -> None:
    log = StallLog(stall_min_s=0.5, now=0.0)
    _loop(log, (1.0, 1.5), (2.0, 2.5))  # the gap between them (0.5 s) is a caught-up loop: a new run at 2.0
    assert len(log.stalls) == 2 and log.run_begin == 2.0
    log.polled(2.5)
    # read: the stretch so far (0.5) and the one before (0.5); the run began at 2.0, no longer ago than that
    assert log.bound_ms(0.0, 3.0) == 1000.0


def test_a_run_begins_at_a_stall_right_after_a_short_stretch() -> None:
    log = StallLog(now=0.0)
    _loop(log, (0.99, 0.9901), (0.9902, 1.0402), (1.0403, 1.0903))  # a short stretch, then two stalls back to back
    log.polled(1.0904)
    # the loop has not caught up since 0.9902: the answer may have waited since then (100.3 ms),
    # more than the previous stretch and this one (50.1 ms)
    assert log.bound_ms(0.9, 1.0905) == pytest.approx(100.3)


def test_a_poll_exactly_the_minimum_after_a_run_caught_up() -> None:
    log = StallLog(stall_min_s=0.5, now=0.0)
    _loop(log, (1.0, 1.5), (1.5, 2.0))  # one run since 1.0
    log.polled(2.5)  # the poll took 0.5 s: it found nothing ready, the loop caught up
    assert log.bound_ms(0.0, 2.5) == 500.0  # the previous stretch only, not the run since 1.0


def test_the_send_delay_counts_a_stall_that_began_at_the_start_but_not_the_previous_stretch() -> None:
    log = StallLog(now=0.0)
    _loop(log, (1.0, 1.5), (1.5, 1.5001))  # a stall from 1.0, then a short stretch
    log.polled(1.625)
    # read: 1.75 - 1.625 + 0.0001; send: the stall from 1.0 (the request's start) to 1.5
    assert log.bound_ms(1.0, 1.75) == pytest.approx(125.1 + 500.0)
    log = StallLog(now=0.0)
    _loop(log, (1.0, 1.0078125))  # a 7.8 ms stall is the previous stretch; the poll after it idled 34 ms
    log.polled(1.0421875)
    # a request that started in the previous stretch: read is that stretch and the current one,
    # its send delay is not added again
    assert log.bound_ms(1.0, 1.046875) == pytest.approx(7.8125 + 4.6875)
    assert log.bound_ms(1.00390625, 1.046875) == pytest.approx(7.8125 + 4.6875)


def test_nearest_rank_percentile_by_hand() -> None:
    assert percentile([2.0, 1.0], 50) == 1.0  # rank ceil(0.5 * 2) = 1
    assert percentile([5.0], 50) == 5.0
    assert percentile([float(i) for i in range(1, 203)], 50) == 101.0  # rank ceil(0.5 * 202) = 101


def test_cpu_seconds_is_user_plus_system_time() -> None:
    before = os.times()
    used = cpu_seconds()
    after = os.times()
    assert before.user + before.system <= used <= after.user + after.system


def test_a_fresh_monitor_summarises_to_nothing() -> None:
    clock = FakeClock()
    clock.now = 5.0
    monitor = HealthMonitor(clock=clock, cpu=lambda: clock.cpu)
    assert monitor.summary() == ProcessHealth(process="local")  # no lag, no CPU sample, no request, 0 s


def test_the_summary_of_a_known_run() -> None:
    """Two stalls (250 and 500 ms), twenty 1 s ticks at 3.125 % .. 62.5 % of a core, two requests over
    20 s; every field worked by hand (nearest-rank percentiles of 20 samples: p50 the 10th, p95 the 19th)."""
    clock = FakeClock()
    clock.now = 10.0
    monitor = HealthMonitor(clock=clock, cpu=lambda: clock.cpu)
    monitor.log.polled(10.0)
    monitor.polling(10.25)
    monitor.log.polled(10.25)
    monitor.polling(10.75)
    for i in range(1, 21):
        clock.now = 10.0 + i
        clock.cpu += i / 32
        assert monitor.tick(users=3 if i == 5 else 0) == (3.125 * i, 500.0 if i == 1 else 0.0)
    monitor.bound_ms(None)
    monitor.bound_ms(0.0)
    assert monitor.summary() == ProcessHealth(
        process="local", users=3, requests=2, requests_per_s=0.1, duration_s=20.0, cpu_p50=31.25, cpu_p95=59.375,
        cpu_max=62.5, saturated_s=0.0, lag_p50_ms=250.0, lag_p99_ms=500.0, lag_max_ms=500.0, stalls=2, stall_s=0.75,
        bounded_requests=0, timeline=((1.0, 3.125, 500.0), *((float(i), 3.125 * i, 0.0) for i in range(2, 21))))


def test_ticks_lags_and_stalls_at_their_edges() -> None:
    clock = FakeClock()
    monitor = HealthMonitor(stall_min_s=0.5, clock=clock, cpu=lambda: clock.cpu)
    clock.now = 0.25
    assert monitor.tick() is None  # under half a second
    monitor.log.polled(0.25)
    monitor.polling(0.25)  # an empty stretch still counts 1 ns
    clock.now = 0.5
    assert monitor.tick() == (0.0, 1e-6)  # exactly half a second: a CPU share of 0
    monitor.log.polled(0.5)
    monitor.polling(1.0)  # exactly the monitor's minimum: a stall
    monitor.log.polled(1.0)
    monitor.polling(3.0)  # 2 s: 2000 ms exactly
    clock.now = 3.0
    assert monitor.tick() == (0.0, 2000.0)
    clock.now = 4.0
    clock.cpu = 0.9
    assert monitor.tick() == (90.0, 0.0)  # a new second starts with no lag; 90 % is saturated
    health = monitor.summary()
    assert (health.stalls, health.stall_s, health.lag_max_ms, health.users) == (2, 2.5, 2000.0, 0)
    assert health.saturated_s == 1.0
    monitor.log.polled(4.0)
    monitor.polling(4.25)  # 250 ms: under this monitor's 500 ms minimum, no bound
    monitor.log.polled(4.25)
    clock.now = 4.375
    assert monitor.bound_ms(300.0) == 0.0


def test_the_bound_of_a_monitor_follows_its_clock_and_short_requests() -> None:
    clock = FakeClock()
    monitor = HealthMonitor(clock=clock, cpu=lambda: clock.cpu)
    clock.now = 0.05
    assert monitor.bound_ms(100.0) == pytest.approx(50.0)  # the stretch since the monitor began
    assert monitor.bound_ms(0.5) == pytest.approx(0.5)  # never more than the request lasted
    assert (monitor.requests, monitor.bounded) == (2, 2)
    summary = monitor.summary()
    assert (summary.duration_s, summary.requests_per_s) == (0.05, pytest.approx(40.0))


def test_lag_percentiles_of_a_hundred_stretches() -> None:
    clock = FakeClock()
    monitor = HealthMonitor(clock=clock, cpu=lambda: clock.cpu)
    for k in range(1, 101):  # stretches of k / 128 s = 7.8125 k ms
        monitor.log.polled(float(k))
        monitor.polling(k + k / 128)
    health = monitor.summary()
    assert health.lag_p50_ms == pytest.approx(50 * 7.8125, rel=1e-3)  # the 50th smallest (HDR: 0.1 %)
    assert health.lag_p99_ms == pytest.approx(99 * 7.8125, rel=1e-3)
    assert health.lag_max_ms == 781.25


def test_the_timeline_halves_at_300_points_and_then_merges_within_half_a_step() -> None:
    clock = FakeClock()
    monitor = HealthMonitor(clock=clock, cpu=lambda: clock.cpu)

    def second(at: float, cpu: float, lag_s: float = 0.0) -> None:
        if lag_s:
            monitor.log.polled(at - 1.0)
            monitor.polling(at - 1.0 + lag_s)
        clock.now, clock.cpu = at, clock.cpu + cpu
        monitor.tick()

    for i in range(1, 300):  # odd seconds: 75 % CPU, a 0.98 ms lag; even ones: 25 %, 93.75 ms
        second(float(i), 0.75 if i % 2 else 0.25, 1 / 1024 if i % 2 else 3 / 32)
    assert len(monitor.timeline) == 299
    assert monitor.summary().timeline[-1] == (299.0, 75.0, 0.977)  # rounded to 3 decimals
    second(300.0, 0.25, 3 / 32)
    # 300 points: pairs merge (the later time, the worst of each), and a point now spans 2 s
    assert monitor.timeline == [(2.0 * k, 75.0, 93.75) for k in range(1, 151)] and monitor.step == 2
    second(301.0, 0.25)  # 1 s after the last point: not within half a step (1 s), a new point
    assert len(monitor.timeline) == 151 and monitor.timeline[-1] == (301.0, 25.0, 0.0)
    second(301.5, 0.25)  # 0.5 s later: merged into it (the later time, the worst values)
    assert len(monitor.timeline) == 151 and monitor.timeline[-1] == (301.5, 50.0, 0.0)
    for i in range(149):
        second(302.5 + i, 0.25)
    assert len(monitor.timeline) == 150 and monitor.step == 4
    second(451.5, 0.25)  # 1 s after the last point, within half of a 4 s step: merged
    assert len(monitor.timeline) == 150 and monitor.timeline[-1] == (451.5, 25.0, 0.0)


def test_health_from_data_reads_what_a_worker_shipped() -> None:
    assert health_from_data({"users": 2, "timeline": [[1, 2, 3]]}, "w2") == ProcessHealth(
        process="w2", users=2, timeline=((1.0, 2.0, 3.0),))
    assert health_from_data({"stalls": 1}, "w3") == ProcessHealth(process="w3", stalls=1)  # no timeline: none
    with pytest.raises(ValueError) as caught:
        health_from_data([1], "w4")
    assert str(caught.value) == "generator health is not an object"


# -- the rule's edges (attach_generator) -----------------------------------------------------------

def test_the_rule_refuses_a_chargeable_verdict_of_another_table() -> None:
    measured, _ = _verdicts([50.0] * 10, [50.0] * 10)
    other = evaluate(load_table(DEFAULT_TABLE_PATH), RequestRecorder(plan_for(load_table(DEFAULT_TABLE_PATH))))
    with pytest.raises(ValueError) as caught:
        attach_generator(measured, other, [BUSY])
    assert str(caught.value) == "the chargeable verdict judged another table"


def test_a_confident_fail_that_becomes_unsure_keeps_its_failing_estimate() -> None:
    # charged: 23 of 400 at 150 ms, so p(95) (the 380th smallest, 377 below 100 ms) fails by estimate,
    # but 23 of 400 (5.75 %) is within the interval of a 5 % share: INCONCLUSIVE
    measured, charged = _verdicts([200.0] * 400, [50.0] * 377 + [150.0] * 23)
    m, c = measured.thresholds[1], charged.thresholds[1]
    assert (m.state, c.state, c.estimate) == (FAIL, INCONCLUSIVE, FAIL)
    latency = attach_generator(measured, charged, [BUSY]).thresholds[1]
    assert (latency.state, latency.estimate, latency.generator_bound) == (INCONCLUSIVE, FAIL, True)


def test_the_note_names_every_bound_threshold_and_a_rate_has_no_chargeable_value() -> None:
    measured, charged = _verdicts([200.0] * 400, [50.0] * 400, failed=20, excused=18)
    verdict = attach_generator(measured, charged, [BUSY])
    assert [t.generator_bound for t in verdict.thresholds] == [True, True]
    assert verdict.thresholds[0].chargeable_observed is None  # a rate: no chargeable time
    note = next(n for n in verdict.notes if n.startswith("generator-bound"))
    assert note.startswith("generator-bound: the load generator's own delays could change the outcome of "
                           "health: rate>=0.99, health: p(95)<100; worst process local: CPU p50 80 %")


@pytest.mark.parametrize(("cpu_p95", "noted"), [(90.0, True), (89.9, False)])
def test_a_generator_at_90_percent_is_saturated(cpu_p95: float, noted: bool) -> None:
    measured, charged = _verdicts([50.0] * 400, [50.0] * 400)
    health = ProcessHealth(process="w1", cpu_p95=cpu_p95)
    notes = attach_generator(measured, charged, [health]).notes
    expected = (f"generator saturated: w1: CPU p50 0 % p95 {cpu_p95:.0f} % max 0 % (0 s saturated), loop lag p50 "
                "0.0 ms p99 0.0 ms max 0.0 ms, 0 stalls (0.0 s), 0 users, 0.0 requests/s: latencies include the "
                "client's own delay (the verdict charges the server only with what remains without it)")
    assert notes == ((expected,) if noted else ())
