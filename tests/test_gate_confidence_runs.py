"""The confidence gate in real Locust processes (issue 9): the exit policies end to end, the
sequential rule holding the steady stage until settled, and distributed runs giving the same states
as one process on the same samples. No network (``events_only.py``), 2 users, a few seconds each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from osiris_load.core.slo.confidence import AlphaSpending
from osiris_load.core.slo.verdict import FAIL, INCONCLUSIVE, PASS, Verdict
from osiris_load.testing.support import outcome, run_side_by_side
from tests.conftest import ROOT
from tests.test_gate_verdict_runs import Finished, run_distributed, run_local

# Per user: 30 fast successes and 2 slow failures (64 samples with 2 users). health's p(95)<800 fails on
# its point estimate (4 beyond, at most 3 may be) and is INCONCLUSIVE; other's p(95)<800 is a
# confident PASS (200 samples, none beyond); rate>=0.9 (93.75 %) passes on its estimate, unsettled.
BORDERLINE = {"samples": [["GET", "/health", 5.0, False]] * 30 + [["GET", "/health", 900.0, True]] * 2
              + [["GET", "/other", 5.0, False]] * 100}
SLOW = {"samples": [["GET", "/health", 900.0, False]] * 40 + [["GET", "/other", 5.0, False]] * 100}


def _states(verdict: Verdict) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {(t.row, t.expression): (t.state, t.estimate) for t in verdict.thresholds}


def _local(tmp: Path, script: dict, *args: str) -> Finished:
    tmp.mkdir(parents=True, exist_ok=True)
    return run_local(tmp, script, "-u", "2", "-r", "2", "-t", "3s", *args)


@pytest.mark.parametrize("policy, code", [("estimate", 99), ("fail", 98), ("pass", 0)])
def test_exit_policies_of_an_inconclusive_run(runs: dict[str, Any], policy: str, code: int) -> None:
    result = finished(runs, f"inconclusive-{policy}")
    assert result.returncode == code, result.output[-3000:]
    verdict = result.verdict
    assert verdict.state == INCONCLUSIVE and verdict.exit_code == code and verdict.confidence == 0.95
    assert _states(verdict) == {("health", "rate>=0.9"): (INCONCLUSIVE, PASS),
                                ("health", "p(95)<800"): (INCONCLUSIVE, FAIL), ("other", "p(95)<800"): (PASS, PASS)}
    assert "run state INCONCLUSIVE" in result.output and "more requests" in result.output


def test_a_confident_fail_fails_under_every_policy_and_intervals_can_be_off(runs: dict[str, Any]) -> None:
    result = finished(runs, "slow-policy-pass")
    assert result.returncode == 99 and result.verdict.state == FAIL, result.output[-3000:]
    off = finished(runs, "intervals-off")
    assert off.returncode == 99 and off.verdict.confidence == 0
    assert all(t.interval is None and t.state == t.estimate for t in off.verdict.thresholds)
    assert "interval" not in off.output


@pytest.mark.parametrize("flag, value", [("--slo-confidence", "1.5"), ("--slo-until-settled", "soon"),
                                         ("--slo-window", "0.5")])
def test_bad_confidence_options_exit_2_with_a_message(tmp_path: Path, flag: str, value: str) -> None:
    result = run_local(tmp_path, BORDERLINE, "-u", "1", "-t", "1s", flag, value, timeout=30)
    assert result.returncode == 2 and f"SLO gate: {flag} " in result.output and value in result.output
    assert "Traceback" not in result.output


def test_distributed_states_equal_one_process_on_the_same_samples(runs: dict[str, Any]) -> None:
    local = finished(runs, "local").verdict
    dist = finished(runs, "distributed").verdict
    assert [t.n for t in dist.thresholds] == [t.n for t in local.thresholds] == [64, 64, 200]
    assert _states(dist) == _states(local)
    assert [(t.interval, t.requests_needed) for t in dist.thresholds] == [
        (t.interval, t.requests_needed) for t in local.thresholds]


STAGED = ROOT / "tests" / "locustfiles_for_tests" / "staged_events.py"
TABLE = '[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["p(95)<800"]\n'


def _staged(tmp: Path, script: dict, table: str, *args: str) -> Finished:
    import subprocess
    import sys

    from tests.test_gate_verdict_runs import _env

    (tmp / "table.toml").write_text(table)
    prefix = tmp / "staged"
    proc = subprocess.run([sys.executable, "-m", "locust", "-f", str(STAGED), "--headless", "--only-summary",
                           "--csv", str(prefix), "--slo-file", str(tmp / "table.toml"), "--slo-eval-interval", "0.3",
                           *args], cwd=ROOT, env={**_env(script), "GATE_STAGES": "1s:2,1s:0"},
                          capture_output=True, text=True, timeout=90)
    return Finished(proc.returncode, proc.stdout + proc.stderr, prefix)


LOOP = {"loop": {"method": "GET", "name": "/health", "ms": 5.0, "every_s": 0.05, "max": 10_000}}
NEVER_SETTLES = '[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["rate>=1"]\n'
ABORT_TABLE = ('[[row]]\nname = "health"\nrequests = ["GET /health"]\n'
               'thresholds = [{ threshold = "p(95)<800", abort_on_fail = true }]\n')
SLOW_LOOP = {"loop": {"method": "GET", "name": "/health", "ms": 900.0, "every_s": 0.02, "max": 10_000}}


def _abort_run(tmp: Path) -> Finished:
    (tmp / "abort.toml").write_text(ABORT_TABLE)
    return run_local(tmp, SLOW_LOOP, "-u", "2", "-r", "2", "-t", "60s", "--slo-eval-interval", "0.3",
                     "--slo-file", str(tmp / "abort.toml"), timeout=90)


SCENARIOS: dict[str, Callable[[Path], Finished]] = {
    **{f"inconclusive-{policy}": (lambda tmp, policy=policy: _local(tmp, BORDERLINE, "--slo-inconclusive", policy))
       for policy in ("estimate", "fail", "pass")},
    "slow-policy-pass": lambda tmp: _local(tmp, SLOW, "--slo-inconclusive", "pass"),
    "intervals-off": lambda tmp: _local(tmp, BORDERLINE, "--slo-confidence", "0"),
    "local": lambda tmp: _local(tmp, BORDERLINE),
    "distributed": lambda tmp: run_distributed(tmp, BORDERLINE, workers=2, users=2, run_time="3s"),
    "until-settled": lambda tmp: _staged(tmp, LOOP, TABLE, "--slo-until-settled", "60s"),
    "gives-up": lambda tmp: _staged(tmp, LOOP, NEVER_SETTLES, "--slo-until-settled", "2s", "--slo-inconclusive",
                                    "fail"),
    "abort": _abort_run,
    "until-settled-no-intervals": lambda tmp: _staged(tmp, LOOP, TABLE, "--slo-until-settled", "60s",
                                                      "--slo-confidence", "0"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every run of the module, five at a time (each is light: 1-2 users firing events, no network, and
    mostly waits on its -t or stages; three at a time left two cores half idle)."""
    return run_side_by_side(SCENARIOS, tmp_path_factory, at_once=5)


def finished(runs: dict[str, Any], name: str) -> Finished:
    return outcome(runs, name)


def test_until_settled_holds_the_steady_stage_until_every_threshold_settles(runs: dict[str, Any]) -> None:
    """~40 requests/s: p(95)<800 settles at a look after ~128 requests (3-4 s), past the 1 s stage."""
    result = finished(runs, "until-settled")
    assert result.returncode == 0, result.output[-3000:]
    assert "holding the steady stage" in result.output and "settled at look" in result.output
    verdict = result.verdict
    assert verdict.state == PASS and verdict.looks >= 2
    assert verdict.confidence == pytest.approx(AlphaSpending(0.95).confidence_at(verdict.looks))
    assert verdict.thresholds[0].n >= 100


def test_until_settled_gives_up_after_its_duration(runs: dict[str, Any]) -> None:
    """rate>=1 without a failure never settles (the interval always reaches below 100 %)."""
    result = finished(runs, "gives-up")
    assert result.returncode == 98, result.output[-3000:]
    assert "not settled after 2 s more" in result.output
    assert result.verdict.state == INCONCLUSIVE and result.verdict.thresholds[0].requests_needed is None


def test_abort_on_fail_fires_at_a_look_on_a_confident_fail(runs: dict[str, Any]) -> None:
    """Every request at 900 ms against an abort-on-fail p(95)<800: a confident FAIL at an early look."""
    result = finished(runs, "abort")
    verdict = result.verdict
    assert result.returncode == 99 and verdict.aborted_by == ("health: p(95)<800",), result.output[-3000:]
    assert verdict.looks >= 2 and verdict.thresholds[0].state == FAIL
    assert "aborting the test" in result.output


def test_until_settled_without_intervals_holds_nothing(runs: dict[str, Any]) -> None:
    result = finished(runs, "until-settled-no-intervals")
    assert result.returncode == 0 and "holding the steady stage" not in result.output, result.output[-3000:]
    assert result.verdict.looks == 0 and result.verdict.confidence == 0
