"""Locust's habits kept: -u/-t win over the default stages, -f with a folder, --processes.

Real headless Locust runs against the recording test server of ``test_locustfiles`` (a child
process on 127.0.0.1); each run is bounded by its stages or -t and by a subprocess timeout.
(``--host`` over ``OSIRIS_URL`` is ``test_locustfiles.test_host_wins_over_osiris_url``.)
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from osiris_load.adapter.shape import common_options_given, common_options_stages, describe_plan
from osiris_load.core.openmodel.stages import Stage
from osiris_load.testing.support import locust_env
from tests import test_locustfiles
from tests.test_locustfiles import (
    EXPECTED_ROWS,
    LOCUSTFILES,
    RUN_TIMEOUT_S,
    TestServer,
    output,
    run_locust,
    stats_rows,
)

server_processes = test_locustfiles.server_processes  # the recording test servers (fixtures)
servers = test_locustfiles.servers


@pytest.mark.parametrize(("argv", "env", "given"), [
    (["-u", "50", "-t", "10m"], {}, True),
    (["--users=5"], {}, True),
    (["-u5"], {}, True),
    (["--run-time", "1m"], {}, True),
    (["-r", "5", "--stages", "1s:1"], {}, False),
    (["--host", "http://x", "-f", "read_heavy.py"], {}, False),
    ([], {"LOCUST_RUN_TIME": "1m"}, True),
])
def test_common_options_given(argv: list[str], env: dict[str, str], given: bool) -> None:
    assert common_options_given(argv, env) is given


def test_common_options_as_stages() -> None:
    default = [Stage(5, 5), Stage(20, 5), Stage(5, 0)]
    assert common_options_stages(50, 10, 600, default) == [Stage(5, 50), Stage(595, 50)]
    assert common_options_stages(None, None, 30, default) == [Stage(5, 5), Stage(25, 5)]  # the default peak
    open_ended = common_options_stages(2, 1, None, default)
    assert open_ended[0] == Stage(2, 2) and open_ended[1].duration_s == float("inf")
    line = describe_plan(50, None, 600, users=50)
    assert line.startswith("-u 50 -t 10m given: they replace the scenario's default stages")


def test_users_and_run_time_win_over_the_default_stages(servers: dict[str, TestServer], tmp_path: Path) -> None:
    """``locust -u 3 -r 3 -t 2s`` runs 3 users for 2 s (not the scenario's 5 users for 30 s), saying so once."""
    result = run_locust("read_heavy", tmp_path, "--host", servers["good"].url, "-u", "3", "-r", "3", "-t", "2s",
                        "--csv", str(tmp_path / "run"))
    assert result.returncode == 0, output(result)
    assert result.stderr.count("given: they replace the scenario's default stages") == 1, output(result)
    assert "will be ignored" not in result.stderr, output(result)
    assert "Shape test updating to 3 users" in result.stderr, output(result)
    assert "Run time limit set to 2 seconds" in result.stderr, output(result)
    assert set(stats_rows(tmp_path / "run")) == EXPECTED_ROWS["read_heavy"]


def test_a_folder_runs_all_scenarios_as_one_mixed_run(servers: dict[str, TestServer], tmp_path: Path) -> None:
    """``locust -f locustfiles/``: no argparse conflict, the mixed shape (not a random one), every scenario."""
    result = run_locust("mixed", tmp_path, "--host", servers["good"].url, "--stages", "0s:13,1s:13",
                        "--csv", str(tmp_path / "dir"), locustfile=str(LOCUSTFILES) + "/")
    assert result.returncode == 0, output(result)
    assert "conflicting option" not in result.stderr and "Traceback" not in result.stderr, output(result)
    assert "running all of them as one mixed run" in result.stderr, output(result)
    assert "MixedShape: stages 0s:13,1s:13" in result.stderr, output(result)
    assert set(stats_rows(tmp_path / "dir")) == EXPECTED_ROWS["mixed"]


def test_several_scenario_files_without_mixed_are_refused_clearly(tmp_path: Path) -> None:
    files = f"{LOCUSTFILES / 'read_heavy.py'},{LOCUSTFILES / 'sidecar_load.py'}"
    result = run_locust("read_heavy", tmp_path, "--host", "http://127.0.0.1:9", locustfile=files)
    assert result.returncode == 2, output(result)
    assert "names several scenarios with their own stages (ReadHeavyShape, SidecarLoadShape)" in result.stderr
    assert "Traceback" not in result.stderr


def test_processes_runs_worker_processes_and_the_gate_counts_them_all(
    servers: dict[str, TestServer], tmp_path: Path
) -> None:
    """``--processes 2``: forked workers run the users, the master's gate judges every request they made."""
    result = run_locust("read_heavy", tmp_path, "--host", servers["good"].url, "--processes", "2",
                        "--stages", "0s:2,2s:2", "--csv", str(tmp_path / "proc"))
    assert result.returncode == 0, output(result)
    assert "2 workers connected" in result.stderr, output(result)
    locust_counts = {key: int(row["Request Count"]) for key, row in stats_rows(tmp_path / "proc").items()}
    with open(tmp_path / "proc_slo_endpoints.csv", newline="", encoding="utf-8") as handle:
        gate_counts = {(row["method"], row["name"]): int(row["count"]) for row in csv.DictReader(handle)}
    assert set(locust_counts) == EXPECTED_ROWS["read_heavy"]
    assert gate_counts == locust_counts and all(locust_counts.values())


def test_locust_help_names_no_traceback_for_a_folder(tmp_path: Path) -> None:
    """``locust -f locustfiles/ --help`` parses (the options are registered once)."""
    result = subprocess.run([sys.executable, "-m", "locust", "-f", str(LOCUSTFILES) + "/", "--help"], cwd=tmp_path,
                            env=locust_env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, output(result)
    assert "Traceback" not in result.stderr
