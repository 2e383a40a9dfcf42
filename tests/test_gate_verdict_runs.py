"""The verdict in real Locust processes (issue 8): every request counted, exit codes never lowered.

No network: the locustfile ``events_only.py`` fires Locust's ``request`` event with response times the
test chooses, so each run is 1-4 users for a few seconds. Distributed cases run a real master and real
worker processes and compare the gate's judged count with Locust's own final count (``_stats.csv``,
rewritten at the very end): master SIGTERM, Ctrl+C, ``-t`` end, ``--stop-timeout`` with requests in
flight, worker SIGTERM, worker SIGKILL, a worker that never reports, a worker that comes back.
"""

from __future__ import annotations

import csv
import json
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from osiris_load.core.slo.verdict import Verdict, from_json
from osiris_load.testing import support
from osiris_load.testing.support import locust_command, locust_env, outcome, run_side_by_side
from tests.conftest import ROOT, wait_until

LOCUSTFILE = ROOT / "tests" / "locustfiles_for_tests" / "events_only.py"
TABLE = ('[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["rate>=0.9", "p(95)<800"]\n'
         '[[row]]\nname = "other"\nrequests = ["GET /other"]\nthresholds = ["p(95)<800"]\n')
FAST = {"loop": {"method": "GET", "name": "/health", "ms": 5.0, "every_s": 0.01, "max": 100_000}}


def _env(script: dict[str, Any]) -> dict[str, str]:
    """What the run sets on purpose (the support module's launchers add the scrubbed environment)."""
    return {"GATE_SCRIPT": json.dumps(script)}


@dataclass
class Finished:
    returncode: int
    output: str
    prefix: Path

    @property
    def verdict(self) -> Verdict:
        return from_json(Path(f"{self.prefix}_slo.json").read_text())

    @property
    def locust_count(self) -> int:
        with open(f"{self.prefix}_stats.csv", newline="") as handle:
            return next(int(r["Request Count"]) for r in csv.DictReader(handle) if r["Name"] == "Aggregated")


def locust_count_now(prefix: Path) -> int:
    """Locust's running count (its CSV is rewritten every second), 0 before the first write."""
    try:
        with open(f"{prefix}_stats.csv", newline="") as handle:
            return next((int(r["Request Count"]) for r in csv.DictReader(handle) if r["Name"] == "Aggregated"), 0)
    except (OSError, ValueError):
        return 0


def run_local(tmp: Path, script: dict[str, Any], *args: str, timeout: float = 60, rows: str = TABLE) -> Finished:
    table = tmp / "table.toml"
    table.write_text(rows)
    prefix = tmp / "local"
    done = support.run_locust(LOCUSTFILE, "--csv", str(prefix), "--slo-file", str(table), *args, env=_env(script),
                              timeout=timeout)
    return Finished(done.returncode, done.output, prefix)


def run_distributed(tmp: Path, script: dict[str, Any], *, workers: int = 1, users: int = 2, run_time: str = "60s",
                    extra: tuple[str, ...] = (), during: Callable[[subprocess.Popen, list[subprocess.Popen], Path],
                                                              None] | None = None,
                    worker_env: dict[int, dict[str, str]] | None = None) -> Finished:
    """A master and ``workers`` workers; ``during(master, workers, prefix)`` acts while it runs."""
    table = tmp / "table.toml"
    table.write_text(TABLE)
    prefix = tmp / "dist"
    act = None if during is None else (lambda master, procs: during(master, procs, prefix))
    done = support.run_distributed(LOCUSTFILE, "-u", str(users), "-r", str(users), "-t", run_time, "--csv",
                                   str(prefix), "--slo-file", str(table), *extra, workers=workers, env=_env(script),
                                   worker_env=worker_env, during=act, log=tmp / "master.log", timeout=120)
    return Finished(done.returncode, done.output, prefix)


def when_running(count: int) -> Callable[[Path], Callable[[], bool]]:
    return lambda prefix: lambda: locust_count_now(prefix) >= count


def signal_master(sig: int, after: int = 200) -> Callable[..., None]:
    def act(master: subprocess.Popen, workers: list[subprocess.Popen], prefix: Path) -> None:
        wait_until(when_running(after)(prefix), 60, f"{after} requests", interval_s=0.1)
        master.send_signal(sig)
    return act


def _judged_all(result: Finished) -> Verdict:
    verdict = result.verdict
    assert result.locust_count > 0
    assert verdict.tally.judged == verdict.tally.recorded == result.locust_count, (
        verdict.tally, result.locust_count, result.output[-3000:])
    return verdict


def _when_log(prefix: Path, *texts: str) -> Callable[[], bool]:
    """Once the master's log holds any of ``texts``."""
    return lambda: any(text in (prefix.parent / "master.log").read_text() for text in texts)


def _worker_sigterm(master: subprocess.Popen, workers: list[subprocess.Popen], prefix: Path) -> None:
    wait_until(when_running(200)(prefix), 60, "200 requests", interval_s=0.1)
    workers[0].send_signal(signal.SIGTERM)
    workers[0].wait(30)
    count = locust_count_now(prefix)
    wait_until(lambda: locust_count_now(prefix) > count + 100, 60, "the other worker to go on", interval_s=0.1)
    master.send_signal(signal.SIGTERM)


def _worker_lost(how: str) -> Callable[..., None]:
    def act(master: subprocess.Popen, workers: list[subprocess.Popen], prefix: Path) -> None:
        if how == "SIGKILL":
            wait_until(when_running(200)(prefix), 60, "200 requests", interval_s=0.1)
            workers[0].send_signal(signal.SIGKILL)
        else:
            # on a busy machine the workers' spawn reports can come late: Locust then says "Spawning is
            # complete and report waittime is expired" instead (seen at load average 13-15)
            wait_until(_when_log(prefix, "All users spawned", "Spawning is complete"), 60, "the users to start",
                       interval_s=0.02)
            workers[0].send_signal(signal.SIGSTOP)  # before its first report with requests (every 3 s)
            wait_until(when_running(100)(prefix), 60, "100 requests", interval_s=0.1)
        wait_until(_when_log(prefix, "failed to send heartbeat"), 30, "the master to miss the worker", interval_s=0.1)
        master.send_signal(signal.SIGTERM)
    return act


def _worker_comes_back(master: subprocess.Popen, workers: list[subprocess.Popen], prefix: Path) -> None:
    wait_until(when_running(200)(prefix), 60, "200 requests", interval_s=0.1)
    workers[0].send_signal(signal.SIGSTOP)
    wait_until(_when_log(prefix, "failed to send heartbeat"), 30, "the master to miss the worker", interval_s=0.1)
    workers[0].send_signal(signal.SIGCONT)
    wait_until(_when_log(prefix, "self-healed"), 30, "the worker to come back", interval_s=0.1)
    count = locust_count_now(prefix)
    wait_until(lambda: locust_count_now(prefix) > count, 30, "a report after it came back", interval_s=0.1)
    master.send_signal(signal.SIGTERM)


def _json_run(tmp: Path) -> subprocess.CompletedProcess[str]:
    table = tmp / "table.toml"
    table.write_text(TABLE)
    command = locust_command(LOCUSTFILE, "--headless", "--json", "--skip-log", "-u", "1", "-r", "1", "-t", "2s",
                             "--slo-file", str(table))
    return subprocess.run(command, cwd=ROOT, env=locust_env(_env(FAST)), capture_output=True, text=True, timeout=60)


IN_FLIGHT = {"loop": {"method": "GET", "name": "/health", "ms": 1500.0, "every_s": 0.0, "max": 50, "sleep_first": True}}
SHORT = ("-u", "1", "-r", "1", "-t", "2s")
SCENARIOS: dict[str, Callable[[Path], Any]] = {
    # the longest waits first (lost and returning workers wait seconds on Locust's heartbeats), the
    # distributed runs (three processes each) interleaved with the one-process ones, so that the pool
    # fills the idle seconds instead of ending on a tail of runs that all start their processes at once
    "worker-comes-back": lambda tmp: run_distributed(tmp, FAST, workers=2, during=_worker_comes_back),
    "worker-never-reports": lambda tmp: run_distributed(tmp, FAST, workers=2, during=_worker_lost("never")),
    "worker-SIGKILL": lambda tmp: run_distributed(tmp, FAST, workers=2, during=_worker_lost("SIGKILL")),
    "slow-start": lambda tmp: run_local(tmp, {**FAST, "slow_start_s": 2.5}, *SHORT),
    "reset-stats": lambda tmp: run_local(tmp, FAST, "-u", "4", "-r", "1", "-t", "5s", "--reset-stats"),
    "worker-SIGTERM-stop-timeout": lambda tmp: run_distributed(
        tmp, {**FAST, "count_dir": str(tmp)}, workers=2, extra=("--stop-timeout", "2"), during=_worker_sigterm),
    "task-raises": lambda tmp: run_local(tmp, {**FAST, "raise": True}, *SHORT),
    "worker-SIGTERM": lambda tmp: run_distributed(tmp, FAST, workers=2, during=_worker_sigterm),
    "quitting-fails": lambda tmp: run_local(tmp, {**FAST, "failing_quitting": True}, *SHORT),
    "master-SIGTERM": lambda tmp: run_distributed(tmp, FAST, during=signal_master(signal.SIGTERM)),
    "failed-requests": lambda tmp: run_local(
        tmp, {"samples": [["GET", "/health", 5.0, i % 20 == 0] for i in range(100)]}, *SHORT),
    "Ctrl+C": lambda tmp: run_distributed(tmp, FAST, during=signal_master(signal.SIGINT)),
    "json": _json_run,
    "run-time-end": lambda tmp: run_distributed(tmp, FAST, workers=2, run_time="3s"),
    "declared-rows": lambda tmp: run_local(tmp, {**FAST, "slo_rows": ["health"]}, *SHORT),
    "in-flight": lambda tmp: run_distributed(tmp, IN_FLIGHT, users=2, run_time="3s", extra=("--stop-timeout", "3")),
    "slo-rows": lambda tmp: run_local(tmp, FAST, *SHORT, "--slo-rows", "other,health"),
    "unknown-row": lambda tmp: run_local(tmp, FAST, *SHORT, "--slo-rows", "helth"),
    "typo-behind-catch-all": lambda tmp: run_local(tmp, FAST, *SHORT, rows=TYPO_TABLE),
}
# issue 17's typo hole: /health is recorded and pooled by the catch-all row; the row naming /helth has no data
TYPO_TABLE = ('[[row]]\nname = "all"\nrequests = ["GET *"]\nthresholds = ["p(95)<800"]\n'
              '[[row]]\nname = "health"\nrequests = ["GET /helth"]\nthresholds = ["p(95)<800"]\n')


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every scenario, five at a time (each is light: 1-4 users firing events, no network, and most of its
    time waits on a -t end or a signal: five at a time keep two cores busy, three left them half idle)."""
    return run_side_by_side(SCENARIOS, tmp_path_factory, at_once=5)


result = outcome


@pytest.mark.parametrize("name", ["master-SIGTERM", "Ctrl+C"])
def test_master_stopped_by_a_signal_judges_every_request(runs: dict[str, Any], name: str) -> None:
    """Row 2: before, SIGTERM to the master after 6 s judged 346 of Locust's 716 and passed."""
    finished = result(runs, name)
    verdict = _judged_all(finished)
    assert verdict.passed and verdict.lost_workers == () and finished.returncode == 0, finished.output[-3000:]


def test_requests_in_flight_at_the_end_are_judged(runs: dict[str, Any]) -> None:
    """Row 2: ``-t 3s --stop-timeout 3`` with 1.5 s requests; before, exactly the in-flight ones were lost."""
    finished = result(runs, "in-flight")
    verdict = _judged_all(finished)
    assert verdict.tally.judged >= 4  # each user: one at 1.5 s, one at ~3 s in flight at the end (and more)
    assert not verdict.passed  # p(95)<800 fails on 1.5 s requests: judged, not lost
    assert finished.returncode == 99


def test_worker_stopped_by_sigterm_delivers_its_results(runs: dict[str, Any]) -> None:
    """Row 2: SIGTERM to one of two workers: its results arrive with its final report; it is not lost."""
    finished = result(runs, "worker-SIGTERM")
    verdict = _judged_all(finished)
    assert verdict.lost_workers == () and finished.returncode == 0, finished.output[-3000:]


def test_a_worker_stopped_by_sigterm_delivers_what_its_users_finish_while_they_stop(runs: dict[str, Any]) -> None:
    """With ``--stop-timeout 2`` a worker's users go on for up to 2 s after its SIGTERM. Its final report
    used to leave before they stopped: what they finished then reached the master only if Locust's
    periodic report came first ("Discarded report from unrecognized worker", merged all the same), and
    was lost otherwise (gate and Locust alike: 1457 judged of 1649 fired). Now every request fired is
    judged."""
    finished = result(runs, "worker-SIGTERM-stop-timeout")
    verdict = _judged_all(finished)
    fired = [int(p.read_text()) for p in finished.prefix.parent.glob("fired.*")]
    assert len(fired) == 3, fired  # the master (0) and both workers wrote theirs
    assert verdict.tally.judged == sum(fired), (verdict.tally, fired)
    assert verdict.lost_workers == () and finished.returncode == 0, finished.output[-3000:]


@pytest.mark.parametrize("name", ["worker-SIGKILL", "worker-never-reports"])
def test_a_lost_worker_is_named_with_an_estimate(runs: dict[str, Any], name: str) -> None:
    """Row 2: a worker killed, or one that never reports (stopped before its first report): lost, named,
    estimated; the judged count is still Locust's own."""
    finished = result(runs, name)
    verdict = _judged_all(finished)
    [lost] = verdict.lost_workers
    assert lost.reported == (name == "worker-SIGKILL")
    assert lost.missing_estimate is not None and lost.missing_estimate > 0
    assert not verdict.passed and finished.returncode == 99
    assert any(r.startswith(f"lost worker {lost.worker_id}") for r in verdict.reasons)


def test_a_worker_that_comes_back_is_not_lost(runs: dict[str, Any]) -> None:
    """Row 7: a worker marked missing (here: stopped ~4 s, as CPU starvation can do) that reports again."""
    finished = result(runs, "worker-comes-back")
    verdict = _judged_all(finished)
    assert verdict.lost_workers == () and verdict.passed and finished.returncode == 0, finished.output[-3000:]


def test_run_time_end_with_two_workers_judges_everything(runs: dict[str, Any]) -> None:
    finished = result(runs, "run-time-end")
    assert _judged_all(finished).passed and finished.returncode == 0


def test_run_time_counts_from_the_start_of_the_run_not_from_the_imports(runs: dict[str, Any]) -> None:
    """``-t 2s`` after 2.5 s of startup that never ran gevent's loop: before, the timer counted from the loop's
    stale clock and the run ended before its first request (exit 99, no data); now it runs its 2 s."""
    finished = result(runs, "slow-start")
    stamps = {m.group(2): datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f") for m in re.finditer(
        r"^\[([^\]]+)\] \S+/INFO/locust\.main: (Run time limit set|--run-time limit reached)", finished.output, re.M)}
    assert len(stamps) == 2, finished.output[-3000:]
    # a gevent timer may fire late on a busy machine, never early
    assert (stamps["--run-time limit reached"] - stamps["Run time limit set"]).total_seconds() >= 1.99, stamps
    assert _judged_all(finished).passed and finished.returncode == 0, finished.output[-3000:]


def test_reset_stats_resets_the_gate_too(runs: dict[str, Any]) -> None:
    """Row 3: with --reset-stats Locust drops the ramp-up without firing reset_stats; so does the gate."""
    _judged_all(result(runs, "reset-stats"))


def test_a_locustfile_bug_keeps_its_exit_code(runs: dict[str, Any]) -> None:
    """Row 1: a task that raises exits 1 (Locust's code), not 0, when the SLOs pass; the summary says so."""
    finished = result(runs, "task-raises")
    verdict = finished.verdict
    assert verdict.passed and verdict.exceptions.count >= 1, finished.output[-3000:]
    first = verdict.exceptions.first
    assert first.startswith("a bug in the locustfile (File") and "events_only.py" in first
    assert "ZeroDivisionError" in first
    assert finished.returncode == 1 and verdict.exit_code == 1
    assert "unhandled exceptions in user code (first: a bug in the locustfile" in finished.output


def test_another_plugins_failure_keeps_its_exit_code(runs: dict[str, Any]) -> None:
    """Row 1: a failing ``quitting`` listener of another plugin exits 2, with or without the gate."""
    finished = result(runs, "quitting-fails")
    assert finished.returncode == 2 and finished.verdict.passed and finished.verdict.exit_code == 2, \
        finished.output[-3000:]


def test_failed_requests_are_judged_by_the_table_alone(runs: dict[str, Any]) -> None:
    """Row 1: 5 % failed requests within ``rate>=0.9`` pass (0), though Locust alone would exit 1."""
    finished = result(runs, "failed-requests")
    assert finished.returncode == 0 and finished.verdict.passed, finished.output[-3000:]


def test_json_output_stays_valid_json(runs: dict[str, Any]) -> None:
    """With --json, Locust's stdout is one JSON document: the gate speaks on stderr."""
    proc = result(runs, "json")
    stats = json.loads(proc.stdout)
    assert any(entry["name"] == "/health" for entry in stats)
    assert "SLO gate: PASSED" in proc.stderr and proc.returncode == 0


def test_rows_a_locustfile_declares_and_slo_rows(runs: dict[str, Any]) -> None:
    """Row 12: the user declares its rows; --slo-rows overrides; an unknown row is refused with exit 2."""
    declared = result(runs, "declared-rows")
    assert {t.row for t in declared.verdict.thresholds} == {"health"} and declared.verdict.rows_left_out == ("other",)
    assert "not judged (rows this run does not exercise): other" in declared.output
    assert declared.returncode == 0
    chosen = result(runs, "slo-rows")
    assert {t.row for t in chosen.verdict.thresholds} == {"health", "other"}
    unknown = result(runs, "unknown-row")
    assert unknown.returncode == 2 and "no row called 'helth' (did you mean 'health'?)" in unknown.output


def test_a_typo_row_fails_even_when_a_catch_all_row_judged_the_request(runs: dict[str, Any]) -> None:
    """Issue 17: ``GET /helth`` has no data while ``GET /health`` ran under the catch-all row: exit 99 with
    "did you mean" (it passed with exit 0 before)."""
    finished = result(runs, "typo-behind-catch-all")
    assert finished.returncode == 99, finished.output[-3000:]
    assert ("health: no data: none of GET /helth ran; did you mean 'GET /health'? (it was requested, judged by row "
            "'all')") in finished.verdict.reasons
