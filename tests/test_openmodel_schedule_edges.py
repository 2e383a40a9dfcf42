"""The open model's rate plans and arrival schedules at their edges (osiris_load/core/openmodel/schedule.py), pure:
plan boundaries (a stage's end belongs to the next), Λ at 0, mean rates of short windows, the
exact refusals, and a re-share twice in a row. Expected values worked out by hand: a ramp from 0
to 10/s over 10 s has rate t and Λ(t) = t^2 / 2."""

from __future__ import annotations

import pytest

from osiris_load.core.openmodel.schedule import ArrivalSchedule, RatePlan, RateStage, RateStagesError, parse_rate_stages


def _stages(text: str) -> RatePlan:
    return RatePlan.from_stages(parse_rate_stages(text))


@pytest.mark.parametrize(("text", "message"), [
    ("", "no rate stages given (expected e.g. 10s:2,30s:5,5s:0)"),
    ("10s", "rate stage 1 '10s': expected <duration>:<iterations per second>, e.g. 10s:2"),
    ("0s:2", "rate stages '0s:2' last 0s in total; at least one stage needs a duration"),
])
def test_rate_stage_refusals(text: str, message: str) -> None:
    with pytest.raises(RateStagesError) as caught:
        parse_rate_stages(text)
    assert str(caught.value) == message


def test_half_a_second_of_stages_is_enough() -> None:
    assert parse_rate_stages("500ms:2") == [RateStage(duration_s=0.5, target=2.0)]


def test_plans_keep_their_text() -> None:
    assert RatePlan.constant(2.5).text == "2.5/s"
    assert _stages("10s:2,30s:5,5s:0").text == "10s:2,30s:5,5s:0"


def test_a_stage_starts_at_its_start_and_ends_before_its_end() -> None:
    assert RatePlan.constant(3).rate_at(0.0) == 3.0
    ramp = _stages("10s:4")
    assert ramp.rate_at(10.0) == 0.0
    assert ramp.rate_at(5.0) == 2.0


def test_expected_and_mean_rates_of_a_ramp() -> None:
    ramp = _stages("10s:10")
    assert ramp.expected(0.0) == 0.0
    assert ramp.expected(-1.0) == 0.0
    assert ramp.expected(4.0) == 8.0
    assert ramp.mean_rate(0.5) == 0.25  # Λ(0.5) = 0.125 over 0.5 s
    assert ramp.mean_rate(0.0) == 0.0  # the rate at 0
    assert RatePlan.constant(3).mean_rate(0.0) == 3.0


def test_time_of_a_small_stage_reaches_its_end() -> None:
    # Λ of a ramp 0 -> 1/s over 1 s is t^2 / 2: its whole mass, 0.5, is reached at 1 s
    assert _stages("1s:1").time_of(0.5) == 1.0
    assert _stages("1s:1").time_of(0.6) is None


def test_schedule_defaults_and_refusals() -> None:
    plan = RatePlan.constant(10)
    assert ArrivalSchedule(plan).arrivals == "poisson"
    cases = [({"arrivals": "x"}, "arrivals must be one of poisson, constant, got 'x'"),
             ({"share": 0}, "share must be in (0, 1], got 0"), ({"share": 1.5}, "share must be in (0, 1], got 1.5"),
             ({"phase": 0}, "phase must be in (0, 1], got 0"), ({"phase": 1.5}, "phase must be in (0, 1], got 1.5")]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as caught:
            ArrivalSchedule(plan, **kwargs)  # type: ignore[arg-type]
        assert str(caught.value) == message
    schedule = ArrivalSchedule(plan, "constant")
    for share in (0, 1.5):
        with pytest.raises(ValueError) as caught:
            schedule.reshare(share, 1.0)
        assert str(caught.value) == f"share must be in (0, 1], got {share}"


def test_two_reshares_in_a_row_move_the_arrival_handed_out() -> None:
    schedule = ArrivalSchedule(RatePlan.constant(10), "constant")
    dues = [schedule.next_due() for _ in range(5)]
    assert dues == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    # at 0.1 s (Λ = 1, own units 1) the share halves: the 5th arrival (4 units on) needs 8 plan units: Λ = 9
    assert schedule.reshare(0.5, 0.1) == pytest.approx(0.9)
    # at 0.3 s (Λ = 3, own units 1 + 2 * 0.5 = 2) the whole plan again: 3 units on, Λ = 6
    assert schedule.reshare(1.0, 0.3) == pytest.approx(0.6)
