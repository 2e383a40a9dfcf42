"""The ``osiris-load`` front door: version and help, run folders, progress lines, missing extras, stopping.

Real processes: the installed ``osiris-load`` script, real Locust children against the recording
test server of ``test_locustfiles`` (or the bundled sidecar with its Redis), real signals. Every
run is bounded by its stages and by timeouts; readiness is polled, never slept for.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

import psutil
import pytest
from packaging.requirements import Requirement

from osiris_load import cli
from osiris_load.testing.support import locust_env
from tests import test_locustfiles
from tests.conftest import MODEL_CACHE, ROOT, SidecarProcess, wait_until
from tests.test_locustfiles import LOCUSTFILES, TestServer

server_processes = test_locustfiles.server_processes  # the recording test servers (fixtures)
servers = test_locustfiles.servers
FRONT_DOOR = Path(sys.executable).parent / "osiris-load"
MODEL_STACK = {"torch", "transformers", "pandas"}

# Makes the model stack and pandas absent in a child process, as on a worker machine that installed
# only the load tester: importing any of them fails like a missing package does, and is recorded.
BLOCKER = """
import importlib.abc, os, sys
BLOCKED = {"torch", "transformers", "pandas"}
class _Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            with open(os.environ["BLOCKED_LOG"], "a") as log:
                log.write(name + "\\n")
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
import runpy
module, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def front_door(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FRONT_DOOR), *args], cwd=cwd, env=env or locust_env(), capture_output=True, text=True,
                          timeout=timeout)


def without_model_stack(module: str, *args: str, log: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = locust_env({"BLOCKED_LOG": str(log)})
    return subprocess.run([sys.executable, "-c", BLOCKER, module, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_version_and_help_name_the_program(capsys: pytest.CaptureFixture[str]) -> None:
    version = front_door("--version")  # the installed console script itself
    assert version.returncode == 0 and version.stdout.startswith("osiris-load 0."), version
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    helped = capsys.readouterr().out
    assert helped.startswith("usage: osiris-load")
    for command in ("run", "sidecar", "report", "compare"):
        assert f"    {command}" in helped
    for command in ("run", "report", "compare", "sidecar"):  # the help of each, in-process: cheap
        try:
            code = cli.main([command, "--help"])
        except SystemExit as exc:
            code = exc.code
        assert code == 0 and capsys.readouterr().out.startswith(f"usage: osiris-load {command}"), command
    assert cli.main(["report", str(ROOT / "no-such-run")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("osiris-load: ") and "Traceback" not in error


def test_completion_script_is_bash() -> None:
    result = front_door("completion", "bash")
    assert result.returncode == 0 and "complete -F _osiris_load osiris-load" in result.stdout
    checked = subprocess.run(["bash", "-n"], input=result.stdout, text=True, capture_output=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_load_tester_dependencies_leave_out_the_model_stack_and_pandas() -> None:
    """The base install (a worker machine) resolves, transitively, to no torch, transformers or pandas."""
    seen: set[str] = set()
    todo = [Requirement(r).name for r in requires("osiris-load") or [] if "extra ==" not in r]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [Requirement(r).name for r in requires(name) or [] if "extra ==" not in r]
        except PackageNotFoundError:
            pass  # a marker-excluded dependency (another platform)
    assert "locust" in seen
    assert not seen & MODEL_STACK, seen & MODEL_STACK


def test_report_without_the_reports_extra_says_how_to_install_it(tmp_path: Path) -> None:
    log = tmp_path / "blocked.log"
    result = without_model_stack("osiris_load", "report", str(tmp_path), log=log, cwd=tmp_path)
    assert result.returncode == 2, result
    assert "needs the 'reports' extra (pandas not installed): pip install 'osiris-load[reports]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_locust_runs_a_scenario_without_the_model_stack(servers: dict[str, TestServer], tmp_path: Path) -> None:
    log = tmp_path / "blocked.log"
    result = without_model_stack("locust", "-f", str(LOCUSTFILES / "read_heavy.py"), "--headless", "--only-summary",
                                 "--host", servers["good"].url, "--stages", "0s:1,1s:1", log=log, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not log.exists(), log.read_text()  # nothing even tried to import them
    assert len(servers["good"].requests()) >= 2


def test_run_writes_its_folder_under_the_current_directory_and_shows_progress(
    servers: dict[str, TestServer], tmp_path: Path
) -> None:
    env = locust_env({"OSIRIS_SLO_EVAL_INTERVAL": "0.2"})
    result = front_door("run", "--url", servers["good"].url, "--scenarios", "read_heavy", "--stages", "0s:1,4s:1",
                        "--progress-every", "1", cwd=tmp_path, env=env, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = list((tmp_path / "osiris-runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "read_heavy_stats.csv").is_file() and (runs[0] / "summary.json").is_file()
    progress = [line for line in result.stdout.splitlines() if line.startswith("[progress] ")]
    assert progress, result.stdout
    assert any("/0:04 | 1 users | " in line and " req/s" in line for line in progress), progress
    assert any("SLO: " in line and "health p(95)<400 PASS" in line for line in progress), progress
    # the run's one headline (a 4 s run cannot settle the default table's rate>=0.999: PASS by estimate)
    assert re.search(r"^Overall: PASS( \(by estimate; [^\n]*\))? \(exit code 0\)$", result.stdout, re.M), result.stdout


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def interrupt_and_check(proc: subprocess.Popen[str], sig: signal.Signals, out_log: Path, *names: str) -> str:
    """Signal the main job once it shows progress; everything it started must be gone, the run said cut short."""
    wait_until(lambda: "[progress] " in out_log.read_text() or proc.poll() is not None, 300, "a progress line",
               interval_s=0.2)
    assert proc.poll() is None, out_log.read_text()
    children = descendants(proc.pid)
    found = " ".join(" ".join(c.cmdline()) for c in children)
    for name in names:
        assert name in found, found
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr)
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive
    assert "the run was interrupted" in stderr and "no verdict" in stderr, stderr
    return stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_locust_child_and_says_the_run_was_interrupted(
    servers: dict[str, TestServer], tmp_path: Path, sig: signal.Signals
) -> None:
    out_log = tmp_path / "stdout.log"
    with out_log.open("w") as stdout:
        proc = subprocess.Popen([str(FRONT_DOOR), "run", "--url", servers["good"].url, "--scenarios", "read_heavy",
                                 "--stages", "0s:1,120s:1", "--progress-every", "0.5", "--out", str(tmp_path / "run")],
                                cwd=tmp_path, env=locust_env(), stdout=stdout, stderr=subprocess.PIPE, text=True)
        try:
            interrupt_and_check(proc, sig, out_log, "locust")
        finally:
            if proc.poll() is None:
                proc.kill()
    output = out_log.read_text()
    assert "SLO gate: PASSED" not in output and "Overall:" not in output, output
    assert not (tmp_path / "run" / "summary.json").exists()


def test_sigterm_stops_the_sidecar_its_redis_and_locust(sidecar: SidecarProcess, tmp_path: Path) -> None:
    """What CI cancellation and ``timeout`` send: nothing the main job started survives it."""
    del sidecar  # only its models: built once into MODEL_CACHE for the sidecar the main job starts
    out_log = tmp_path / "stdout.log"
    env = {k: v for k, v in locust_env({"OSIRIS_MODEL_CACHE_DIR": str(MODEL_CACHE)}).items() if k != "REDIS_URL"}
    with out_log.open("w") as stdout:
        proc = subprocess.Popen([str(FRONT_DOOR), "run", "--scenarios", "read_heavy", "--stages", "0s:1,300s:1",
                                 "--progress-every", "0.5", "--out", str(tmp_path / "run")],
                                cwd=tmp_path, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
        try:
            interrupt_and_check(proc, signal.SIGTERM, out_log, "-m sidecar", "redis-server", "locust")
        finally:
            if proc.poll() is None:
                proc.kill()


def test_sidecar_refuses_a_busy_port_before_saying_it_listens(tmp_path: Path) -> None:
    """Bound first: a taken port is one clear line and exit 4, never a "listening on" line."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "OSIRIS_MODEL_CACHE_DIR": str(MODEL_CACHE)}
        env.pop("REDIS_URL", None)
        result = subprocess.run([sys.executable, "-m", "sidecar", "--port", str(port)], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 4, result
    assert f"sidecar: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "listening on" not in result.stdout and "redis-server" not in result.stdout
    assert "Traceback" not in result.stderr
