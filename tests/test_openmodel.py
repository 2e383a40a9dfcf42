"""The open model's pure part: rate stages, plans, due-time schedules, splits and counts (no Locust)."""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import pytest

from osiris_load.core.openmodel import (
    ArrivalCounts,
    ArrivalSchedule,
    CountsByWorker,
    GoodputPlan,
    IssuedSpan,
    RatePlan,
    RateStage,
    RateStagesError,
    class_shares,
    default_max_vus,
    format_rate_stages,
    parse_arrival_rate,
    parse_rate_stages,
    worker_share,
)
from osiris_load.core.openmodel.config import (
    OPTION_ENV,
    OPTION_NAMES,
    OpenModelConfig,
    OpenModelError,
    check_stages,
    configure,
)
from osiris_load.core.slo.table import parse_table
from tests.conftest import ROOT


def all_due(schedule: ArrivalSchedule, limit: int = 100_000) -> list[float]:
    out = []
    for _ in range(limit):
        due = schedule.next_due()
        if due is None:
            return out
        out.append(due)
    raise AssertionError("the schedule did not end")


def due_until(schedule: ArrivalSchedule, end: float) -> list[float]:
    out = []
    while (due := schedule.next_due()) is not None and due <= end:
        out.append(due)
    return out


def test_rate_stages_parse_like_k6_and_name_the_bad_part() -> None:
    assert parse_rate_stages("10s:2,30s:5,5s:0") == [RateStage(10.0, 2.0), RateStage(30.0, 5.0), RateStage(5.0, 0.0)]
    assert parse_rate_stages(" 0s:0.5 , 1m30s:.5 ") == [RateStage(0.0, 0.5), RateStage(90.0, 0.5)]
    assert format_rate_stages(parse_rate_stages("10s:2,1m:0.5,500ms:0")) == "10s:2,1m:0.5,500ms:0"
    for bad, message in (("", "no rate stages"), ("10s:2,", "rate stage 2 is empty"),
                         ("10s", "rate stage 1 '10s': expected <duration>:<iterations per second>"),
                         ("10:2", "rate stage 1 '10:2': duration '10' has no unit"),
                         ("10s:-1", "target must be a number of iterations per second >= 0, got '-1'"),
                         ("10s:x", "got 'x'"), ("0s:5", "last 0s in total"), ("10s:0,5s:0", "never ask for a rate")):
        with pytest.raises(RateStagesError, match=message):
            parse_rate_stages(bad)
    assert parse_arrival_rate("20") == 20.0 and parse_arrival_rate(" 0.5 ") == 0.5
    for bad in ("0", "-1", "x", "inf", "nan"):
        with pytest.raises(RateStagesError, match="arrival rate must be"):
            parse_arrival_rate(bad)


def test_a_plan_integrates_its_ramps() -> None:
    plan = RatePlan.from_stages(parse_rate_stages("10s:2,30s:5,5s:0"))
    assert plan.duration_s == 45.0 and plan.peak_rate == 5.0
    assert plan.rate_at(5.0) == pytest.approx(1.0) and plan.rate_at(25.0) == pytest.approx(3.5)
    assert plan.rate_at(50.0) == 0.0
    # 0->2 over 10 s (10), 2->5 over 30 s (105), 5->0 over 5 s (12.5)
    assert plan.expected(10.0) == pytest.approx(10.0)
    assert plan.expected(40.0) == pytest.approx(115.0)
    assert plan.expected(1e9) == pytest.approx(127.5)
    assert plan.mean_rate(45.0) == pytest.approx(127.5 / 45)
    for x in (0.001, 1.0, 9.99, 10.0, 50.0, 115.0, 127.0):
        t = plan.time_of(x)
        assert t is not None and plan.expected(t) == pytest.approx(x, rel=1e-9, abs=1e-9)
    assert plan.time_of(128.0) is None
    constant = RatePlan.constant(20.0)
    assert constant.duration_s == math.inf and constant.expected(3.0) == 60.0 and constant.time_of(61.0) == 3.05
    jump = RatePlan.from_stages(parse_rate_stages("5s:0,0s:4,5s:4"))  # nothing for 5 s, then 4/s at once
    assert jump.time_of(1.0) == pytest.approx(5.25) and jump.expected(10.0) == pytest.approx(20.0)


def test_constant_arrivals_are_exact_and_never_drift() -> None:
    schedule = ArrivalSchedule(RatePlan.constant(20.0), "constant")
    dues = due_until(schedule, 60.0)
    assert len(dues) == 1200  # floor(20 * 60): the k-th at k/20 s
    assert dues[0] == pytest.approx(0.05) and dues[-1] == pytest.approx(60.0)
    assert max(abs(d - (i + 1) / 20) for i, d in enumerate(dues)) < 1e-9  # absolute times: no accumulated error
    ramp = ArrivalSchedule(RatePlan.from_stages(parse_rate_stages("10s:2,30s:5,5s:0")), "constant")
    assert len(all_due(ramp)) == 127  # floor(127.5)


def test_poisson_arrivals_have_the_plans_mean_and_follow_the_ramp() -> None:
    plan = RatePlan.from_stages(parse_rate_stages("100s:0,0s:50,100s:50"))
    dues = all_due(ArrivalSchedule(plan, "poisson", seed=7))
    assert all(100.0 <= d <= 200.0 for d in dues)
    assert abs(len(dues) - 5000) < 5 * math.sqrt(5000)  # Poisson(5000): 5 standard deviations
    gaps = [b - a for a, b in zip(dues, dues[1:], strict=False)]
    assert sum(gaps) / len(gaps) == pytest.approx(1 / 50, rel=0.05)
    assert sum(1 for g in gaps if g > 1 / 50) / len(gaps) == pytest.approx(math.exp(-1), abs=0.03)  # exponential
    assert dues == all_due(ArrivalSchedule(plan, "poisson", seed=7))  # a seed repeats the schedule
    assert dues != all_due(ArrivalSchedule(plan, "poisson", seed=8))


def test_workers_interleave_into_the_single_process_sequence() -> None:
    plan = RatePlan.constant(20.0)
    single = due_until(ArrivalSchedule(plan, "constant"), 10.0)
    ids = ["w-b", "w-a", "w-c"]
    merged = []
    for me in ids:
        share, phase = worker_share(ids, me)
        assert share == pytest.approx(1 / 3)
        merged += due_until(ArrivalSchedule(plan, "constant", share=share, phase=phase), 10.0)
    assert sorted(merged) == pytest.approx(single)
    assert worker_share(ids, "w-a") == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    assert worker_share(ids, "late-joiner") is None


def test_a_reshare_moves_the_pending_arrival_and_keeps_the_rate() -> None:
    plan = RatePlan.constant(10.0)
    schedule = ArrivalSchedule(plan, "constant", share=0.5, phase=1.0)  # 5/s: due at 0.2, 0.4, ...
    dues = [schedule.next_due() for _ in range(5)]
    assert dues == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    pending = schedule.next_due()
    assert pending == pytest.approx(1.2)
    moved = schedule.reshare(1.0, 1.1)  # alone from 1.1 s on: 10/s; half the gap was already covered
    assert moved == pytest.approx(1.15)
    after = due_until(schedule, 2.0)
    assert after == pytest.approx([1.25 + 0.1 * i for i in range(8)])


def test_class_shares_and_max_vus() -> None:
    assert class_shares({"A": 5, "B": 5, "C": 3}) == pytest.approx({"A": 5 / 13, "B": 5 / 13, "C": 3 / 13})
    assert class_shares({"A": 0, "B": 0}) == {"A": 0.5, "B": 0.5}
    assert class_shares({"A": 1, "B": 0}) == {"A": 1.0}
    assert default_max_vus(0.5) == 10 and default_max_vus(20) == 80 and default_max_vus(2.6) == 11


def test_counts_travel_and_add_up_with_share_weighted_windows() -> None:
    counts = ArrivalCounts(due=10, started=9, late=2, dropped=1, iterations=8, good=7, window_s=5.0, share_s=2.5)
    assert ArrivalCounts.from_data(counts.to_data()) == counts
    drained = counts.drain()
    assert drained.due == 10 and counts.due == 0 and counts.window_s == 5.0 and counts.share_s == 2.5
    for bad in ({}, {"due": -1}, {**drained.to_data(), "due": -1}, {**drained.to_data(), "window_s": "inf"},
                {**drained.to_data(), "share_s": -2}, None):
        with pytest.raises(ValueError, match="malformed open-model counts"):
            ArrivalCounts.from_data(bad)
    master = CountsByWorker()
    master.add("a", drained)
    # a later report of worker a: its share-seconds grew (cumulative), its counts are the new ones
    master.add("a", ArrivalCounts(due=2, started=2, window_s=6.0, share_s=3.0))
    # worker b ran at 1/2 for 4 s, then alone (a left) at 1 for 5 s
    master.add("b", ArrivalCounts(due=11, started=11, window_s=9.0, share_s=0.5 * 4 + 1.0 * 5))
    total = master.total()
    assert (total.due, total.started, total.dropped) == (23, 22, 1)
    assert total.window_s == pytest.approx(3.0 + 7.0)


def issue(schedule: ArrivalSchedule, span: IssuedSpan, awake_until: float) -> int:
    """A dispatcher that the host let run until ``awake_until`` s: the due times it issued."""
    issued = 0
    span.pending_s = schedule.next_due()
    while span.pending_s is not None and span.pending_s <= awake_until:
        issued += 1
        span.pending_s = schedule.next_due()
    return issued


@pytest.mark.parametrize("lag_s", [0.0, 0.04, 0.33, 2.0])
def test_the_window_is_the_span_issued_whatever_the_dispatcher_lag(lag_s: float) -> None:
    """The stop comes at 14.65 s; a busy host woke the dispatcher last ``lag_s`` earlier: the
    window ends where the issued due times end, so due = rate x window within one iteration."""
    for share, phase in ((1.0, 1.0), (0.5, 0.5), (0.5, 1.0)):
        schedule = ArrivalSchedule(RatePlan.constant(20.0), "constant", share=share, phase=phase)
        span = IssuedSpan()
        span.share_from(0.0, share)
        due = issue(schedule, span, 14.65 - lag_s)
        window = span.covered(14.65, end_s=15.0)
        assert window <= 14.65 and window >= 14.65 - lag_s
        assert abs(due - 20.0 * span.share_s(window)) <= 1, (share, phase, due, window)
    span = IssuedSpan()
    span.share_from(0.0, 1.0)
    span.pending_s = 15.05  # past the planned end: the planned end bounds the window
    assert span.covered(20.0, end_s=15.0) == 15.0 and span.covered(20.0) == 15.05
    assert span.covered(3.0, end_s=15.0) == 3.0  # mid-run: now


def test_a_span_integrates_the_share_from_where_it_changed() -> None:
    span = IssuedSpan(weight=5 / 13)
    assert span.share_s(4.0) == 0.0  # no share yet
    span.share_from(0.0, 0.5)
    span.share_from(4.0, 1.0)  # the other worker left at 4 s
    span.share_from(2.0, 1.0)  # never before the last change; the same share again changes nothing
    span.share_from(7.0, 0.0)  # left out of a re-split
    span.share_from(8.0, 0.5)
    assert span.share_s(3.0) == pytest.approx(1.5)
    assert span.share_s(10.0) == pytest.approx(0.5 * 4 + 1.0 * 3 + 0.0 + 0.5 * 2)
    span.share_from(8.0, 0.25)  # a change at the same point replaces it
    assert span.share_s(10.0) == pytest.approx(0.5 * 4 + 1.0 * 3 + 0.25 * 2)


def test_goodput_bounds_come_from_every_row_naming_a_request() -> None:
    table = parse_table('[[row]]\nname = "a"\nrequests = ["GET /x", "GET /y*"]\n'
                        'thresholds = ["p(95)<400", "p(99)<=1500", "avg<300", "rate>=0.99", "min>1"]\n'
                        '[[row]]\nname = "b"\nrequests = ["GET /x"]\nthresholds = ["med<200"]\n')
    plan = GoodputPlan.from_data(GoodputPlan.from_table(table).to_data())  # as the workers receive it
    assert plan.bounds("GET", "/x") == (200.0, 1500.0)
    assert plan.bounds("GET", "/y2") == (300.0, 1500.0)
    assert plan.bounds("GET", "/z") == (math.inf, math.inf)
    assert plan.meets("GET", "/x", 199.9) and not plan.meets("GET", "/x", 200.0)
    assert plan.meets("GET", "/y2", 299.0) and not plan.meets("GET", "/y2", 300.0)
    assert plan.meets("GET", "/z", 1e9)
    with pytest.raises(ValueError, match="malformed goodput plan"):
        GoodputPlan.from_data([["a", ["GET /x"], "x", None]])


def test_the_pure_part_imports_no_locust_or_gevent() -> None:
    """Nor the Locust-side ``locustfiles`` package: the stages notation is ``osiris_load.core.openmodel.stages``."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('locust', 'gevent', 'locustfiles'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import osiris_load.core.openmodel.schedule, osiris_load.core.openmodel.counts\n"
            "import osiris_load.core.openmodel.stages\n"
            "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# --- which open-model run the options ask for (config.py) ------------------------------------------------------


def options(**given: object) -> SimpleNamespace:
    """Parsed options holding only what is ``given``: an option Locust never parsed is not even an attribute."""
    return SimpleNamespace(**given)


def test_the_options_and_their_environment_variables() -> None:
    assert OPTION_NAMES == ("arrival_rate", "rate_stages", "arrivals", "max_vus", "arrival_seed")
    assert OPTION_ENV == {"arrival_rate": "OSIRIS_ARRIVAL_RATE", "rate_stages": "OSIRIS_RATE_STAGES",
                          "arrivals": "OSIRIS_ARRIVALS", "max_vus": "OSIRIS_MAX_VUS",
                          "arrival_seed": "OSIRIS_ARRIVAL_SEED"}
    assert issubclass(OpenModelError, ValueError)
    bare = OpenModelConfig(plan=RatePlan.constant(1.0), arrivals="poisson", max_vus=10, duration_s=None)
    assert bare.seed is None and bare.rate_stages is False


def test_no_rate_is_the_closed_model() -> None:
    for closed in (options(), options(arrival_rate=None, rate_stages=None, run_time=30),
                   options(arrival_rate="  ", rate_stages="", max_vus="x", arrival_seed="x")):
        assert configure(closed) is None


def test_a_constant_rate_with_every_default() -> None:
    config = configure(options(arrival_rate=" 2.5 "))
    assert config is not None
    assert (config.arrivals, config.max_vus, config.duration_s, config.seed, config.rate_stages) == (
        "poisson", 10, None, None, False)
    assert config.plan.text == "2.5/s" and config.plan.peak_rate == 2.5 and config.plan.duration_s == math.inf
    # the defaults of a parser that knows the options: None and empty strings
    config = configure(options(arrival_rate="20", rate_stages=None, arrivals=None, max_vus="", arrival_seed="",
                               run_time=None))
    assert config is not None
    assert (config.arrivals, config.max_vus, config.duration_s, config.seed) == ("poisson", 80, None, None)
    config = configure(options(arrival_rate="20", max_vus=None, arrival_seed=None, run_time=0))
    assert config is not None and config.max_vus == 80 and config.duration_s is None and config.seed is None


def test_a_constant_rate_with_every_option_given() -> None:
    config = configure(options(arrival_rate=20, arrivals="constant", max_vus="3", arrival_seed="7", run_time=90))
    assert config is not None
    assert (config.arrivals, config.max_vus, config.duration_s, config.seed, config.rate_stages) == (
        "constant", 3, 90.0, 7, False)
    assert config.plan.text == "20/s"
    config = configure(options(arrival_rate="1", max_vus=1, arrival_seed=0, run_time="12.5"))
    assert config is not None and (config.max_vus, config.seed, config.duration_s) == (1, 0, 12.5)


def test_rate_stages_set_the_duration() -> None:
    config = configure(options(rate_stages=" 10s:2,30s:5,5s:0 ", arrivals="constant"))
    assert config is not None
    assert (config.duration_s, config.rate_stages, config.max_vus, config.arrivals) == (45.0, True, 20, "constant")
    assert config.plan.text == "10s:2,30s:5,5s:0" and config.plan.peak_rate == 5.0
    for same in (45, "45", 45.0000001):  # -t saying the same duration is accepted
        config = configure(options(rate_stages="10s:2,30s:5,5s:0", run_time=same))
        assert config is not None and config.duration_s == 45.0
    assert configure(options(rate_stages="10s:2", run_time=0)) is not None  # -t 0: no -t


@pytest.mark.parametrize(("given", "message"), [
    ({"arrivals": "burst"}, "--arrivals must be one of poisson, constant, got 'burst'"),
    ({"arrival_rate": "5", "arrivals": "Poisson"}, "--arrivals must be one of poisson, constant, got 'Poisson'"),
    ({"arrival_rate": "5", "rate_stages": "10s:2"},
     r"^--arrival-rate and --rate-stages both given: use one \(a constant rate, or its ramps\)$"),
    ({"rate_stages": "10s:2,30s:5,5s:0", "run_time": 46},
     r"^--rate-stages 10s:2,30s:5,5s:0 last 45 s and -t says 46 s: the rate stages set the duration; drop -t$"),
    ({"rate_stages": "1500ms:2", "run_time": "2"}, "last 1.5 s and -t says 2 s"),
    ({"rate_stages": "10s:2", "run_time": 9.5}, "last 10 s and -t says 9.5 s"),
    ({"rate_stages": "10s:x"}, r"^bad --rate-stages value '10s:x': rate stage 1 '10s:x': target must be"),
    ({"arrival_rate": "0"}, r"^bad --arrival-rate value '0': arrival rate must be > 0 iterations per second"),
    ({"arrival_rate": " fast "}, r"^bad --arrival-rate value 'fast': arrival rate must be a number"),
    ({"arrival_rate": "5", "max_vus": "0"}, r"^--max-vus must be a whole number of users >= 1, got '0'$"),
    ({"arrival_rate": "5", "max_vus": -2}, r"^--max-vus must be a whole number of users >= 1, got -2$"),
    ({"arrival_rate": "5", "max_vus": "many"}, r"^--max-vus must be a whole number of users >= 1, got 'many'$"),
    ({"arrival_rate": "5", "max_vus": [3]}, r"^--max-vus must be a whole number of users >= 1, got \[3\]$"),
    ({"arrival_rate": "5", "arrival_seed": "x7"}, r"^--arrival-seed must be a whole number, got 'x7'$"),
    ({"arrival_rate": "5", "arrival_seed": [7]}, r"^--arrival-seed must be a whole number, got \[7\]$"),
])
def test_conflicting_or_bad_options_say_which(given: dict[str, object], message: str) -> None:
    with pytest.raises(OpenModelError, match=message):
        configure(options(**given))


def test_stages_of_users_are_refused_beside_an_open_model_plan() -> None:
    config = configure(options(arrival_rate="5"))
    check_stages(None, "10s:5", None)  # the closed model: --stages is its own
    check_stages(config, "", None)
    check_stages(config, None, "1m:10")
    check_stages(config, "1m:10", "1m:10")  # the scenario's own default, as the web UI's form shows it
    for given, default in (("10s:5", None), ("10s:5", "1m:10")):
        with pytest.raises(OpenModelError, match=r"^--stages 10s:5 ramps users \(the closed model\); with "
                           r"--arrival-rate or --rate-stages the users are --max-vus: ramp the rate with "
                           r"--rate-stages instead$"):
            check_stages(config, given, default)
