"""The k6-style stages: parser (``osiris_load.core.openmodel.stages``), ramp arithmetic and the Locust shape's ticks
(``osiris_load.adapter.shape``).

The parser and arithmetic are tested in-process (neither module imports Locust).  The
shape class needs Locust, and importing Locust monkey-patches the whole process with gevent, so
its ticks are computed in a child process and compared here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from osiris_load.adapter.shape import plan_tick, steady_end_s, target_at
from osiris_load.core.openmodel.stages import (
    Stage,
    StagesError,
    format_stages,
    parse_duration,
    parse_stages,
    total_duration,
)
from osiris_load.testing.support import locust_env

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# parse_duration / parse_stages
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h2m3s", 3723.0),
        ("1m500ms", 60.5),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("0s", 0.0),
        ("0", 0.0),
        (" 10s ", 10.0),
    ],
)
def test_parse_duration_accepts_k6_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty duration"),
        ("10", "has no unit"),
        ("1.5", "has no unit"),
        ("10x", "bad duration '10x'"),
        ("s", "bad duration 's'"),
        ("-5s", "bad duration '-5s'"),
        ("10 s", "bad duration '10 s'"),
        ("1m30", "bad duration '1m30'"),
        ("ten s", "bad duration"),
    ],
)
def test_parse_duration_rejects_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(StagesError) as info:
        parse_duration(text)
    assert fragment in str(info.value)
    if text.strip():
        assert "500ms, 10s, 1m30s" in str(info.value)  # the hint on what is accepted


def test_parse_stages_the_three_k6_scripts() -> None:
    assert parse_stages("10s:5,30s:5,5s:0") == [Stage(10.0, 5), Stage(30.0, 5), Stage(5.0, 0)]
    assert parse_stages("5s:5,20s:5,5s:0") == [Stage(5.0, 5), Stage(20.0, 5), Stage(5.0, 0)]
    assert parse_stages("5s:3,20s:3,5s:0") == [Stage(5.0, 3), Stage(20.0, 3), Stage(5.0, 0)]


def test_parse_stages_accepts_spaces_mixed_units_and_zero_length_stages() -> None:
    assert parse_stages(" 500ms:1 , 1m30s:10,0s:3, 2m:0 ,1h:1") == [
        Stage(0.5, 1),
        Stage(90.0, 10),
        Stage(0.0, 3),
        Stage(120.0, 0),
        Stage(3600.0, 1),
    ]
    assert parse_stages("1s:0") == [Stage(1.0, 0)]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("", ["no stages given"]),
        ("   ", ["no stages given"]),
        ("10s", ["stage 1 '10s'", "expected <duration>:<target>"]),
        ("10s:5:1", ["stage 1 '10s:5:1'", "expected <duration>:<target>"]),
        ("10s:5,,5s:0", ["stage 2 is empty"]),
        ("10s:5,", ["stage 2 is empty"]),
        (",10s:5", ["stage 1 is empty"]),
        ("10s:5,3x:2", ["stage 2 '3x:2'", "bad duration '3x'"]),
        ("10:5", ["stage 1 '10:5'", "has no unit"]),
        (":5", ["stage 1 ':5'", "empty duration"]),
        ("10s:", ["stage 1 '10s:'", "target must be a whole number", "got ''"]),
        ("10s:-1", ["target must be a whole number of users >= 0", "got '-1'"]),
        ("10s:2.5", ["got '2.5'"]),
        ("10s:five", ["got 'five'"]),
        ("0s:5", ["last 0s in total"]),
        ("0s:5,0s:0", ["last 0s in total"]),
    ],
)
def test_parse_stages_errors_name_the_bad_part(text: str, fragments: list[str]) -> None:
    with pytest.raises(StagesError) as info:
        parse_stages(text)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_stages_error_is_a_value_error() -> None:
    assert issubclass(StagesError, ValueError)  # callers using argparse-style handling catch it


@pytest.mark.parametrize("text", ["10s:5,30s:5,5s:0", "500ms:1,1m30s:10,0s:3,1h2m3s:0", "1.5s:2"])
def test_format_stages_round_trips(text: str) -> None:
    stages = parse_stages(text)
    assert parse_stages(format_stages(stages)) == stages


def test_format_stages_is_compact() -> None:
    assert format_stages(parse_stages("10s:5,90s:5,5s:0")) == "10s:5,1m30s:5,5s:0"
    assert format_stages([Stage(0.5, 1), Stage(0.0, 2), Stage(3723.0, 0)]) == "500ms:1,0s:2,1h2m3s:0"


# ---------------------------------------------------------------------------------------------
# target_at / plan_tick: k6 ramping-VUs arithmetic
# ---------------------------------------------------------------------------------------------

SIDECAR = parse_stages("10s:5,30s:5,5s:0")


@pytest.mark.parametrize(
    ("elapsed", "users"),
    [
        (-1.0, 0),  # a clock read just before the start is the start
        (0.0, 0),  # ramps start from 0 users
        (1.9, 0),  # truncated toward the previous target, as k6 adds VU n at n/delta of the ramp
        (2.0, 1),
        (5.0, 2),
        (9.99, 4),
        (10.0, 5),  # the plateau
        (25.0, 5),
        (39.99, 5),
        (40.0, 5),  # ramp down starts at 5 ...
        (40.99, 5),
        (41.0, 4),  # ... and drops one user per second
        (43.5, 2),  # 5 - floor(5 * 3.5/5)
        (44.99, 1),
    ],
)
def test_target_at_interpolates_like_k6(elapsed: float, users: int) -> None:
    assert target_at(SIDECAR, elapsed) == users


def test_target_at_is_none_after_the_last_stage() -> None:
    assert total_duration(SIDECAR) == 45.0
    assert target_at(SIDECAR, 45.0) is None
    assert target_at(SIDECAR, 1000.0) is None


def test_target_at_exact_boundaries_are_not_lost_to_float_error() -> None:
    stages = parse_stages("1s:10")
    # 0.3 * 10 is 2.9999999999999996 in binary floating point
    assert target_at(stages, 0.3) == 3
    assert target_at(stages, 0.7) == 7


def test_target_at_zero_length_stage_jumps() -> None:
    stages = parse_stages("0s:8,2s:8,0s:2,2s:2")
    assert target_at(stages, 0.0) == 8
    assert target_at(stages, 1.99) == 8
    assert target_at(stages, 2.0) == 2
    assert target_at(stages, 3.5) == 2
    assert target_at(stages, 4.0) is None


def test_target_at_ramps_between_nonzero_targets_both_ways() -> None:
    stages = parse_stages("0s:10,10s:20,10s:4")
    assert target_at(stages, 0.0) == 10
    assert target_at(stages, 5.0) == 15
    assert target_at(stages, 9.95) == 19
    assert target_at(stages, 10.0) == 20
    assert target_at(stages, 12.5) == 16  # 20 - 16 * 0.25 = 16
    assert target_at(stages, 12.4) == 17  # truncated toward 20 (the previous target)


def test_plan_tick_spawn_rate_reaches_the_step_within_a_tick() -> None:
    stages = parse_stages("0s:30,10s:30,5s:0")
    first = plan_tick(stages, 0.0, None)
    assert first == (30, 30.0)  # a jump of 30 users: 30 users/s finishes within the second
    second = plan_tick(stages, 1.0, first)
    assert second is first  # unchanged target: same tuple, so Locust does not re-dispatch
    down = plan_tick(stages, 11.0, second)
    assert down == (24, 6.0)
    assert plan_tick(stages, 15.0, down) is None


def test_plan_tick_rate_is_at_least_one() -> None:
    stages = parse_stages("10s:5")
    assert plan_tick(stages, 0.0, None) == (0, 1.0)
    assert plan_tick(stages, 2.0, (0, 1.0)) == (1, 1.0)
    assert plan_tick(stages, 2.0, (0, 1.0)) == (1, 1.0)


def test_plan_tick_over_the_whole_sidecar_ramp() -> None:
    """Tick once a second as Locust does: the user counts follow the k6 ramp and the test ends."""
    ticks: list[int] = []
    previous = None
    for second in range(60):
        planned = plan_tick(SIDECAR, float(second), previous)
        if planned is None:
            break
        ticks.append(planned[0])
        previous = planned
    assert ticks[:11] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5]
    assert ticks[11:40] == [5] * 29
    assert ticks[40:] == [5, 4, 3, 2, 1]
    assert len(ticks) == 45


def test_stages_module_does_not_import_locust() -> None:
    """Tools that only validate --stages must not get the whole process gevent-patched."""
    code = "import sys, osiris_load.adapter.shape; print('locust' in sys.modules, 'gevent' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=locust_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------
# StagesShape (needs Locust: computed in a child process)
# ---------------------------------------------------------------------------------------------

_SHAPE_PROBE = textwrap.dedent(
    """
    import json, sys, time
    from types import SimpleNamespace

    from osiris_load.adapter.shape import StagesShape
    from locust import LoadTestShape
    from locust.util.load_locustfile import is_shape_class


    class Probe(StagesShape):
        default_stages = "10s:5,30s:5,5s:0"


    def at(shape, seconds):
        shape.start_time = time.perf_counter() - seconds  # a fake clock: pretend the run started earlier
        tick = shape.tick()
        return None if tick is None else list(tick)


    def runner_with(stages):
        return SimpleNamespace(environment=SimpleNamespace(parsed_options=SimpleNamespace(stages=stages)))


    out = {
        "base_is_shape": issubclass(StagesShape, LoadTestShape),
        "base_picked_by_locust": is_shape_class(StagesShape),
        "subclass_picked_by_locust": is_shape_class(Probe),
    }
    shape = Probe()  # no runner: the default stages apply
    out["default"] = [at(shape, t) for t in (0, 2.0, 5.0, 10.0, 20.0, 41.0, 44.5, 45.0, 100.0)]

    shape = Probe()
    shape.runner = runner_with("0s:7,2s:7")  # what --stages / OSIRIS_STAGES / the web UI set
    shape.reset_time()
    out["option"] = [at(shape, t) for t in (0, 1.0, 2.5)]

    shape = Probe()
    shape.runner = runner_with("")  # a blank web-UI field means the default
    shape.reset_time()
    out["blank"] = [at(shape, t) for t in (10.0, 46.0)]

    shape = Probe()
    shape.runner = runner_with("1s:9")
    shape.reset_time()
    first_run = at(shape, 0.5)
    shape.runner = runner_with("0s:4,1s:4")  # changed between runs in the web UI
    shape.reset_time()  # Locust calls this when a shape run starts
    out["rerun"] = [first_run, at(shape, 0.5)]

    shape = Probe()
    shape.runner = runner_with("10x:5")  # only the web UI can get here; the CLI is checked at init
    shape.reset_time()
    out["bad"] = at(shape, 1.0)
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def shape_probe() -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _SHAPE_PROBE], cwd=ROOT, env=locust_env(), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_shape_base_class_is_abstract_and_subclasses_are_found(shape_probe: dict[str, object]) -> None:
    assert shape_probe["base_is_shape"] is True
    assert shape_probe["base_picked_by_locust"] is False
    assert shape_probe["subclass_picked_by_locust"] is True


def test_shape_ticks_follow_the_default_stages(shape_probe: dict[str, object]) -> None:
    assert shape_probe["default"] == [
        [0, 1.0],
        [1, 1.0],
        [2, 1.0],
        [5, 3.0],  # jumped from 2 to 5 between these two probes: rate 3 users/s
        [5, 3.0],  # unchanged users: the very same tick
        [4, 1.0],
        [1, 3.0],
        None,  # after the last stage: the test ends
        None,
    ]


def test_shape_reads_the_stages_option_at_run_time(shape_probe: dict[str, object]) -> None:
    assert shape_probe["option"] == [[7, 7.0], [7, 7.0], None]
    assert shape_probe["blank"] == [[5, 5.0], None]
    assert shape_probe["rerun"] == [[4, 4.0], [4, 4.0]]


def test_shape_stops_on_bad_stages_instead_of_crashing(shape_probe: dict[str, object]) -> None:
    assert shape_probe["bad"] is None


@pytest.mark.parametrize("text, end", [("10s:5,30s:5,5s:0", 40.0), ("5s:3,20s:3,5s:0", 25.0), ("10s:2", 10.0),
                                       ("5s:0,10s:4,0s:0", 15.0), ("5s:0", 0.0)])
def test_steady_end_is_where_the_last_non_zero_stage_ends(text: str, end: float) -> None:
    """Where ``--slo-until-settled`` holds the run: the end of the last stage with users."""
    assert steady_end_s(parse_stages(text)) == end
