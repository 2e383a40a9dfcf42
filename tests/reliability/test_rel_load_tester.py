"""Cases 5 and 6, the load tester under faults: the target down at start, the target killed mid-run,
a Locust worker killed mid-run. Every run must end by itself (bounded by a hard timeout here) with
a clear message and the right verdict, never a traceback or a hang.
"""

from __future__ import annotations

import csv
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from osiris_load.core.exit_codes import EXIT_SLO_FAILED
from osiris_load.jobs.supervisor import free_port
from osiris_load.testing.reliability import RELIABILITY_LOCUSTFILE, LocustProcess, read_records
from osiris_load.testing.support import ROOT, locust_command, locust_env, outcome, run_locust, run_side_by_side
from tests.conftest import SidecarProcess, wait_until
from tests.reliability.reliability_support import LOCUSTFILES, record, requests_served
from tests.verdict_files import read_verdict_rows


def slo_rows(prefix: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return read_verdict_rows(prefix)


def overall(prefix: Path) -> dict[str, str]:
    return next(row for (name, _), row in slo_rows(prefix).items() if name == "OVERALL")


def locust_stats(prefix: Path) -> dict[str, tuple[int, int]]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return {f"{row['Type']} {row['Name']}": (int(row["Request Count"]), int(row["Failure Count"]))
                for row in csv.DictReader(handle)}


def failure_messages(prefix: Path) -> set[str]:
    with open(f"{prefix}_failures.csv", newline="") as handle:
        return {row["Error"] for row in csv.DictReader(handle)}


# --------------------------------------------------------------------------------------------------
# Case 5: the target is down at start, or dies mid-run
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def suite_against_closed_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, int]]:
    """``python -m osiris_load --url <closed port>`` waits up to 30 s for /health: started once, in the background,
    so that its wait overlaps the other runs of this module; the last test of case 5 collects it."""
    port = free_port()
    out = tmp_path_factory.mktemp("suite")
    proc = subprocess.Popen([sys.executable, "-m", "osiris_load", "--url", f"http://127.0.0.1:{port}",
                             "--out", str(out)],
                            cwd=ROOT, env=locust_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_target_down_at_start_fails_the_run_with_a_clear_message(suite_against_closed_port,
                                                                  tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    prefix = tmp_path / "down"
    finished = run_locust(LOCUSTFILES / "read_heavy.py", "--host", url, "--stages", "1s:2,3s:2", "--csv", str(prefix),
                          timeout=60)
    stats = locust_stats(prefix)
    record("target_down_at_start", exit=finished.returncode, seconds=round(finished.seconds, 1), stats=stats,
           failures=sorted(failure_messages(prefix)))
    assert finished.returncode == EXIT_SLO_FAILED, finished.output[-4000:]
    assert "Traceback" not in finished.output, finished.output[-4000:]
    assert "SLO gate: FAILED" in finished.output
    messages = failure_messages(prefix)
    assert messages and all("no response: ConnectionRefusedError" in m for m in messages), messages
    rows = slo_rows(prefix)
    for name in ("health", "metrics"):
        row = rows[(name, "rate>=0.999")]
        assert row["verdict"] == "fail" and int(row["samples"]) > 0, row
    assert overall(prefix)["verdict"] == "fail"
    assert finished.seconds < 30


def test_target_killed_mid_run_fails_the_run_and_ends_by_itself(killable_sidecar: SidecarProcess,
                                                                tmp_path: Path) -> None:
    sidecar = killable_sidecar
    prefix = tmp_path / "killed"
    locust = LocustProcess(locust_command(LOCUSTFILES / "read_heavy.py", "--headless", "--host", sidecar.url,
                                          "--only-summary", "--stages", "1s:3,9s:3", "--csv", str(prefix)),
                           tmp_path / "locust.log")
    try:
        baseline = requests_served(sidecar.url)
        wait_until(lambda: requests_served(sidecar.url) >= baseline + 6, 30, "the load to reach the sidecar",
                   interval_s=0.2)
        sidecar.proc.send_signal(signal.SIGKILL)
        sidecar.proc.wait(10)
        finished = locust.wait(60)
    finally:
        locust.kill()
        sidecar.stop()
    stats = locust_stats(prefix)
    record("target_killed_mid_run", exit=finished.returncode, seconds=round(finished.seconds, 1), stats=stats,
           failures=sorted(failure_messages(prefix)))
    assert finished.returncode == EXIT_SLO_FAILED, finished.output[-4000:]
    assert "Traceback" not in finished.output, finished.output[-4000:]
    assert "SLO gate: FAILED" in finished.output
    requests, failures = stats["GET /health"]
    assert 0 < failures < requests, stats  # served before the kill, failed after
    assert any("no response: " in m for m in failure_messages(prefix)), failure_messages(prefix)
    assert slo_rows(prefix)[("health", "rate>=0.999")]["verdict"] == "fail"
    assert overall(prefix)["verdict"] == "fail"
    assert finished.seconds < 40


def test_suite_against_a_closed_port_exits_3_with_a_clear_message(suite_against_closed_port) -> None:
    proc, port = suite_against_closed_port
    stdout, stderr = proc.communicate(timeout=90)
    record("suite_closed_port", exit=proc.returncode, stderr=stderr.strip())
    assert proc.returncode == 3, stdout + stderr
    assert "osiris-load: the target is not usable" in stderr and str(port) in stderr, stderr
    assert "Traceback" not in stdout + stderr


# --------------------------------------------------------------------------------------------------
# Case 6: distributed, one worker killed mid-run
# --------------------------------------------------------------------------------------------------

RUN_S = 12
LOST_WORKER_CASES = {"after-a-report": False, "before-its-first-report": True}  # killed -> --slo-allow-lost-workers


@dataclass
class LostWorkerRun:
    finished: Any
    victim_id: str
    survivor_exit: int
    survivor_records: Any
    prefix: Path


def run_with_a_lost_worker(sidecar: Any, tmp_path: Path, killed: str, allow_lost: bool,
                           slo_file: Path) -> LostWorkerRun:
    """A master and two workers against the sidecar; worker 0 is killed after its first report with requests
    (workers report every 3 s), or while its users run but before it ever reported. ``slo_file``: the default
    rows with latency limits no model misses, so the verdict is about the lost worker alone."""
    port = free_port()
    out = tmp_path / "records"
    out.mkdir()
    prefix = tmp_path / "dist"
    env = {"REL_OUT_DIR": str(out)}
    master_args = ["ReaderUser", "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                   "--headless", "--expect-workers", "2", "-u", "4", "-r", "4", "-t", f"{RUN_S}s",
                   "--host", sidecar.url, "--csv", str(prefix), "--only-summary",
                   "--slo-file", str(slo_file)]  # about lost workers, not the model's latency on a busy machine
    if allow_lost:
        master_args.append("--slo-allow-lost-workers")
    master = LocustProcess(locust_command(RELIABILITY_LOCUSTFILE, *master_args), tmp_path / "master.log", env)
    # The victim (worker 0) of the second case reports every 60 s instead of 3 s, so it is sure to die unreported.
    late = {"REL_WORKER_REPORT_INTERVAL": "60"} if killed == "before-its-first-report" else {}
    workers = [LocustProcess(locust_command(RELIABILITY_LOCUSTFILE, "--worker", "--master-host", "127.0.0.1",
                                            "--master-port", str(port)), tmp_path / f"worker{i}.log",
                             {**env, **(late if i == 0 else {})})
               for i in range(2)]
    try:
        victim = workers[0]
        id_file, reports_file = out / f"worker-{victim.pid}.id", out / f"worker-{victim.pid}.reports"
        wait_until(id_file.exists, 60, "the worker to start")
        # the victim's own answers (the other case's run may hit the same sidecar at the same time)
        wait_until((out / f"worker-{victim.pid}.sent").exists, 30, "the victim's load to start", interval_s=0.1)
        if killed == "after-a-report":
            wait_until(reports_file.exists, 30, "the worker's first report with requests", interval_s=0.1)
        else:
            assert not reports_file.exists(), "the worker reported before it could be killed"
        victim_id = id_file.read_text().strip()
        victim.proc.send_signal(signal.SIGKILL)
        finished = master.wait(RUN_S + 60)
        survivor = workers[1].wait(30)
    finally:
        for process in [master, *workers]:
            process.kill()
    return LostWorkerRun(finished, victim_id, survivor.returncode, read_records(out), prefix)


@pytest.fixture(scope="module")
def lost_worker_runs(sidecar: Any, relaxed_slo_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both cases at once: each run mostly waits out its -t, so side by side they take the time of one."""
    runs = {killed: (lambda folder, killed=killed: run_with_a_lost_worker(sidecar, folder, killed,
                                                                         LOST_WORKER_CASES[killed], relaxed_slo_file))
            for killed in LOST_WORKER_CASES}
    return run_side_by_side(runs, tmp_path_factory, at_once=len(runs))


@pytest.mark.parametrize(("killed", "allow_lost"), list(LOST_WORKER_CASES.items()))
def test_lost_worker_is_named_and_judged(lost_worker_runs: dict[str, Any], killed: str, allow_lost: bool) -> None:
    """Without --slo-allow-lost-workers a lost worker fails the run (99); with it, the gate judges on what it
    received (0 when the SLOs hold)."""
    run = outcome(lost_worker_runs, killed)
    finished, victim_id, survivor_records = run.finished, run.victim_id, run.survivor_records
    output = finished.output
    lost_lines = [line for line in output.splitlines() if "lost worker" in line]
    row = overall(run.prefix)
    record("lost_worker", killed=killed, allow_lost=allow_lost, exit=finished.returncode,
           seconds=round(finished.seconds, 1), gate_lines=lost_lines, overall_samples=row["samples"],
           overall_expression=row["expression"], survivor_requests=survivor_records.sent,
           survivor_exit=run.survivor_exit)

    assert "Traceback" not in output, output[-4000:]
    assert re.search(rf"Worker {re.escape(victim_id)} failed to send heartbeat", output), output[-4000:]
    assert any(victim_id in line for line in lost_lines), (victim_id, lost_lines)
    assert "may be missing" in output, output[-4000:]
    assert f"lost worker {victim_id}" in row["expression"], row
    assert int(row["samples"]) > 0, row  # judged on what it received
    assert finished.returncode == (0 if allow_lost else EXIT_SLO_FAILED), output[-4000:]
    assert row["verdict"] == ("pass" if allow_lost else "fail"), row
    assert finished.seconds < RUN_S + 40
    assert survivor_records.sent > 0 and set(survivor_records.by_status()) == {200}, survivor_records.statuses
    # The worker ran users until it was killed: whatever it did not report is missing, and the gate must not
    # claim that nothing is.
    estimate = re.search(r"about (\d+) more may be missing", row["expression"])
    assert estimate and int(estimate.group(1)) > 0, row["expression"]
