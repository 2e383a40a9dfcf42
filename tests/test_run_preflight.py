"""``osiris-load run`` refuses bad input before it starts anything, and says it once.

Each case runs the real front door (``osiris_load.cli.main``, in this process: no interpreter start per
case) with one bad input, and checks that it exits 2 with exactly one line naming the problem and
``Overall: ERROR (exit code 2)``, that no process was started (every child of the job is a Python
process: the sidecar, which starts Redis, and each Locust run; a ``sitecustomize`` on their
``PYTHONPATH`` writes a line into a marker file the moment one starts), that nothing was waited for
(the ``--url`` target is a listening socket that would see a connection) and that no run folder was
made. One case runs the installed console script, where the marker also shows the job itself.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import psutil
import pytest

from osiris_load import cli
from osiris_load.adapter.scenario_options import loads_prompts
from osiris_load.core.openmodel.config import OPTION_ENV
from osiris_load.core.slo.gate_options import ENV_VAR
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH
from osiris_load.jobs.locust_config import CONFIG_FILES, locust_sources
from osiris_load.jobs.preflight import check_sidecar_settings, check_variable_names, locustfile_of
from osiris_load.jobs.run import closing_line, health_problem, wait_healthy
from osiris_load.testing.support import locust_env
from tests.conftest import ROOT, serving, wait_until
from tests.test_locustfiles import BAD_OSIRIS_URL, BAD_PROMPTS, BAD_STAGES

FRONT_DOOR = Path(sys.executable).parent / "osiris-load"
MARKER = ('import os, sys\nopen(os.environ["STARTED_LOG"], "a").write(" ".join(sys.orig_argv[1:]) + "\\n")\n')
"""Each Python process started: its command line without the interpreter (``-m locust ...``, ``-m sidecar ...``)."""
LOCUST_CHECK = "-m osiris_load.jobs.locust_config"
"""The one child a refusal may start: Locust's parser reading ``LOCUST_*``/``locust.conf`` (jobs.locust_config)."""


@dataclass
class Door:
    """The front door in this process, with a listening target and a marker for started processes."""

    tmp: Path
    target: socket.socket
    started_log: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.target.getsockname()[1]}"

    def refuses_saying(self, args: list[str], env: dict[str, str], fragments: list[str], command: str = "run") -> None:
        """With ``env`` set, ``osiris-load COMMAND ARGS`` is refused with a line that says each fragment."""
        for name, value in env.items():
            self.monkeypatch.setenv(name, value)
        line = self.refuses(*args, command=command)
        for fragment in fragments:
            assert fragment in line, line

    def refuses(self, *args: str, url: bool = True, command: str = "run", asks_locust: bool = False) -> str:
        """Run ``osiris-load COMMAND ARGS``; assert the refusal; return its one line. ``asks_locust``:
        Locust's parser was asked (its child is the one process started)."""
        out = self.tmp / "run"
        argv = [command, *(["--url", self.url] if url else ["--startup-timeout", "5"]), *args]
        if "--out" not in args:
            argv += ["--out", str(out)]
        before = {child.pid for child in psutil.Process().children()}
        code = cli.main(argv)
        captured = self.capsys.readouterr()
        assert code == 2, captured
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"osiris-load {command}: "), captured
        if command == "run":
            assert captured.out == closing_line(2) + "\n" == "Overall: ERROR (exit code 2)\n", captured
        else:
            assert captured.out == "", captured
        assert "FAIL" not in captured.out + captured.err
        if asks_locust:
            assert self.started_log.read_text().splitlines() == [LOCUST_CHECK]
            self.started_log.unlink()
        assert not self.started_log.exists(), self.started_log.read_text()  # no sidecar, Redis or Locust
        assert {child.pid for child in psutil.Process().children()} <= before
        self.target.settimeout(0)
        with pytest.raises(BlockingIOError):  # nobody connected to the target: nothing was waited for
            self.target.accept()
        assert not out.exists()
        return lines[0]


@pytest.fixture
def door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Door]:
    yield from open_door(tmp_path, monkeypatch, capsys)


def open_door(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Door]:
    """The ``door`` fixture's body (other modules' fixtures use it): no ``OSIRIS_*``/``LOCUST_*`` of the
    caller's, the marker on every child's path, a listening target, the current folder ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith(("OSIRIS_", "LOCUST_")):
            monkeypatch.delenv(name)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(MARKER, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path / 'site'}{os.pathsep}{ROOT}")
    monkeypatch.setenv("STARTED_LOG", str(tmp_path / "started.log"))
    monkeypatch.chdir(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as target:
        yield Door(tmp_path, target, tmp_path / "started.log", capsys, monkeypatch)


def typo_table(folder: Path) -> Path:
    """The user's default table with one character mistyped (the issue's ``p(95)<<400``)."""
    path = folder / "slo.toml"
    path.write_text(DEFAULT_TABLE_PATH.read_text(encoding="utf-8").replace("p(95)<400", "p(95)<<400", 1),
                    encoding="utf-8")
    return path


def test_a_typo_in_the_slo_file_without_url_starts_no_sidecar(door: Door) -> None:
    line = door.refuses("--slo-file", str(typo_table(door.tmp)), url=False)
    assert "slo.toml: row 2 'health': threshold 'p(95)<<400': unknown operator '<<'" in line


def test_a_typo_in_the_slo_file_is_said_before_any_wait_for_the_target(door: Door) -> None:
    assert "threshold 'p(95)<<400'" in door.refuses("--slo-file", str(typo_table(door.tmp)))


SHARED_BAD_INPUTS: list[tuple[list[str], dict[str, str], list[str]]] = [
    ([], {"OSIRIS_SLO_FILE": "missing.toml"}, ["missing.toml: SLO file not found (from OSIRIS_SLO_FILE)"]),
    ([], {"OSIRIS_SLO_ROWS": "helth"}, ["OSIRIS_SLO_ROWS='helth': ", "no row called 'helth' (did you mean 'health'?)"]),
    ([], {"OSIRIS_SLO_CONFIDENCE": "95"}, ["OSIRIS_SLO_CONFIDENCE '95'"]),
    ([], {"OSIRIS_SLO_WINDOW": "5s"}, ["OSIRIS_SLO_WINDOW '5s': not a number"]),
    ([], {"OSIRIS_SLO_UNTIL_SETTLED": "5 minutes"}, ["OSIRIS_SLO_UNTIL_SETTLED '5 minutes'"]),
    ([], {"OSIRIS_SLO_INCONCLUSIVE": "fial"}, ["OSIRIS_SLO_INCONCLUSIVE 'fial': must be one of estimate"]),
    ([], {"OSIRIS_SLO_STRICT": "ja"}, ["OSIRIS_SLO_STRICT 'ja'", "true, false"]),
    ([], {"OSIRIS_SHAPE": "of"}, ["OSIRIS_SHAPE must be 'on' or 'off', got 'of'"]),
    (["--startup-timeout", "0"], {}, ["--startup-timeout 0"]),
    # a name one typo away: every reader ignores it (OSIRIS_ULR started the bundled sidecar instead)
    ([], {"OSIRIS_ULR": "http://127.0.0.1:1"}, ["OSIRIS_ULR is set, but nothing reads", "did you mean OSIRIS_URL?"]),
    ([], {"OSIRIS_SLO_FLIE": "slo.toml"}, ["did you mean OSIRIS_SLO_FILE?"]),
    ([], {"OSIRIS_MAX_BATCH_SIZ": "4"}, ["did you mean OSIRIS_MAX_BATCH_SIZE?"]),
]
"""Refused alike by ``osiris-load run`` and ``osiris-load capacity`` (test_capacity_cli), in the same words."""


@pytest.mark.parametrize(("args", "env", "fragments"), [
    (["--stages", "10x:5"], {}, ["bad --stages value '10x:5': stage 1 '10x:5': bad duration '10x'"]),
    ([], {"OSIRIS_RATE_STAGES": "10s:x"}, ["bad --rate-stages value '10s:x'", "OSIRIS_RATE_STAGES='10s:x'"]),
    (["--stages", "5s:2"], {"OSIRIS_RATE_STAGES": "5s:2"}, ["--stages 5s:2 ramps users"]),
    ([], {"OSIRIS_RATE_STAGES": "5s:2", "OSIRIS_MAX_VUS": "0"}, ["--max-vus must be a whole number", "'0'"]),
    ([], {"OSIRIS_RATE_STAGES": "5s:2", "OSIRIS_ARRIVALS": "poison"}, ["--arrivals must be one of"]),
    # without a rate too: Locust's parser refuses a bad choice whatever else is set (it passed, then every
    # scenario failed after the target was reached)
    ([], {"OSIRIS_ARRIVALS": "poison"}, ["--arrivals must be one of poisson, constant, got 'poison'",
                                         "OSIRIS_ARRIVALS='poison'"]),
    ([], {"OSIRIS_RATE_STAGES": "5s:2", "OSIRIS_ARRIVAL_SEED": "x"}, ["--arrival-seed must be a whole number"]),
    ([], {"OSIRIS_RATE_STAGES": "5s:2", "OSIRIS_ARRIVAL_RATE": "2"}, ["--arrival-rate and --rate-stages both"]),
    ([], {"OSIRIS_ARRIVAL_RATE": "5"}, ["OSIRIS_ARRIVAL_RATE='5' runs until stopped", "OSIRIS_RATE_STAGES"]),
    ([], {"OSIRIS_SHAPE": "off"}, ["OSIRIS_SHAPE='off'", "would run until stopped"]),
    *SHARED_BAD_INPUTS,
    (["--progress-every", "-1"], {}, ["--progress-every -1"]),
])
def test_each_bad_input_is_one_line_and_exit_2_with_nothing_started(
    door: Door, args: list[str], env: dict[str, str], fragments: list[str]
) -> None:
    door.refuses_saying(args, env, fragments)


@pytest.mark.parametrize(("url", "fragment"), [
    ("localhost:8000", "OSIRIS_URL 'localhost:8000' must start with http:// or https://"),
    (BAD_OSIRIS_URL, f"OSIRIS_URL {BAD_OSIRIS_URL!r} must start with http:// or https://"),
    ("http://127.0.0.1:99999", "OSIRIS_URL 'http://127.0.0.1:99999' is not a URL (Port out of range"),
    ("http://:8000", "names no host"),
])
def test_a_bad_target_url_is_refused_before_waiting(door: Door, monkeypatch: pytest.MonkeyPatch, url: str,
                                                    fragment: str) -> None:
    monkeypatch.setenv("OSIRIS_URL", url)
    assert fragment in door.refuses(url=False)
    assert f"--url {url!r}" in door.refuses("--url", url, url=False)


def test_an_unusable_run_folder_is_refused(door: Door) -> None:
    a_file = door.tmp / "a-file"
    a_file.write_text("x", encoding="utf-8")
    assert f"--out {a_file}: is a file, not a folder" in door.refuses("--out", str(a_file))
    assert f"{a_file} is a file, not a folder" in door.refuses("--out", str(a_file / "run"))


LONG_NAME = "x" * 300
"""Longer than any Linux filesystem allows a name to be (255 bytes): refused whoever asks, root too."""


@pytest.mark.parametrize(("out", "fragment"), [
    (LONG_NAME, ": cannot make it: File name too long"),
    (f"made/by/the/job/{LONG_NAME}/run", f"/made/by/the/job/{LONG_NAME}: File name too long"),
    ("dangling", "dangling is a link to nowhere, which is not a folder"),
    ("loop/run", "loop is a link to loop, which is not a folder"),
])
def test_a_run_folder_that_cannot_be_made_is_refused_even_for_root_and_leaves_nothing(
    door: Door, out: str, fragment: str
) -> None:
    """Permission bits do not stop root (these tests run as root): only making the folder tells."""
    (door.tmp / "dangling").symlink_to("nowhere")
    (door.tmp / "loop").symlink_to("loop")
    before = sorted(door.tmp.iterdir())
    line = door.refuses("--out", out)
    assert line.startswith(f"osiris-load run: --out {door.tmp / out}: ") and fragment in line, line
    assert sorted(door.tmp.iterdir()) == before  # the folders it made on the way ("made/by/the/job") are gone


def test_a_run_folder_nobody_may_write_into_is_refused_even_for_root(door: Door) -> None:
    """An immutable folder (chattr +i): not even root may create a file in it."""
    locked = door.tmp / "locked"
    locked.mkdir()
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (no e2fsprogs, not ext2/3/4, or no CAP_LINUX_IMMUTABLE)")
    try:
        line = door.refuses("--out", str(locked))
        assert f"--out {locked}: cannot write into it: Operation not permitted" in line, line
        assert f"--out {locked / 'run'}: cannot make it: Operation not permitted" in \
            door.refuses("--out", str(locked / "run"))
        assert list(locked.iterdir()) == []
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


@pytest.mark.parametrize(("case", "reason"), list(enumerate(reason for _, reason in BAD_PROMPTS)))
def test_a_bad_prompts_file_is_refused_as_the_locustfiles_refuse_it(
    door: Door, monkeypatch: pytest.MonkeyPatch, case: int, reason: str
) -> None:
    content = BAD_PROMPTS[case][0]
    prompts = door.tmp / "my-prompts.json"
    if content is not None:
        prompts.write_text(content, encoding="utf-8")
    monkeypatch.setenv("OSIRIS_PROMPTS", str(prompts))
    line = door.refuses("--scenarios", "read_heavy", "propose_trade")
    assert f"prompts file {prompts}" in line and reason in line and "OSIRIS_PROMPTS" in line, line


@pytest.mark.parametrize(("case", "fragments"), list(enumerate(fragments for _, _, fragments in BAD_STAGES)))
def test_bad_stages_are_refused_as_the_locustfiles_refuse_them(
    door: Door, monkeypatch: pytest.MonkeyPatch, case: int, fragments: list[str]
) -> None:
    """The cases ``test_locustfiles`` gives plain ``locust``: the same words from the front door."""
    args, env, _ = BAD_STAGES[case]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    line = door.refuses(*args)
    for fragment in fragments:
        assert fragment in line, line


def test_prompts_are_checked_only_for_the_scenarios_that_load_them() -> None:
    assert {name: loads_prompts(locustfile_of(name)) for name in ("read_heavy", "sidecar_load", "propose_trade",
                                                                   "mixed")} == {
        "read_heavy": False, "sidecar_load": False, "propose_trade": True, "mixed": True}


def test_a_bad_scenario_name_is_argparse_s_one_error(door: Door) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--scenarios", "read_hevy", "--url", door.url])
    captured = door.capsys.readouterr()
    assert exited.value.code == 2
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "argument --scenarios: invalid choice: 'read_hevy'" in errors[0], captured.err
    assert not door.started_log.exists()


def test_the_console_script_refuses_the_issue_s_first_command_in_its_own_process(tmp_path: Path) -> None:
    """The installed ``osiris-load``: the marker sees the job itself start (so it works), and nothing else."""
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(MARKER, encoding="utf-8")
    started = tmp_path / "started.log"
    env = locust_env({"PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{ROOT}", "STARTED_LOG": str(started)})
    result = subprocess.run([str(FRONT_DOOR), "run", "--slo-file", str(typo_table(tmp_path))], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert len(result.stderr.splitlines()) == 1 and "threshold 'p(95)<<400'" in result.stderr, result
    assert result.stdout == "Overall: ERROR (exit code 2)\n", result
    assert started.read_text().splitlines() == [f"{FRONT_DOOR} run --slo-file {tmp_path / 'slo.toml'}"]
    assert not (tmp_path / "osiris-runs").exists()


# --------------------------------------------------------------------------------------------------
# Waiting for the target: what, why, and not where it cannot help
# --------------------------------------------------------------------------------------------------


class _Unavailable(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def unavailable_url() -> Iterator[str]:
    with serving(_Unavailable) as url:
        yield url


def test_waiting_says_what_it_waits_for_and_why(unavailable_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for url, why in ((refused, "connection refused"), (unavailable_url, "/health answered HTTP 503")):
        with pytest.raises(RuntimeError, match=f"was not healthy after 0s \\({why}"):
            wait_healthy(url, None, 0.3, "the target")
        said = capsys.readouterr().err.splitlines()
        assert said and said[0].startswith(f"osiris-load: waiting for the target at {url}/health: {why}"), said


def test_a_name_that_does_not_resolve_ends_the_wait_at_once_with_exit_3(tmp_path: Path) -> None:
    url = "http://no-such-host.invalid:8000"  # .invalid never resolves (RFC 6761)
    result = subprocess.run([str(FRONT_DOOR), "run", "--url", url, "--out", str(tmp_path / "run")], cwd=tmp_path,
                            env=locust_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result
    assert "the target is not usable: http://no-such-host.invalid:8000: the name 'no-such-host.invalid' does not " \
           "resolve" in result.stderr and "waiting cannot help" in result.stderr, result
    assert result.stdout.splitlines()[-1] == "Overall: ERROR (exit code 3)", result
    assert not (tmp_path / "run").exists()  # nothing was written: the run folder made for it is gone


def test_a_target_that_is_not_usable_leaves_no_run_folder_behind(door: Door) -> None:
    """The run folder is made once the inputs are checked, and removed again if the job ends before
    writing anything in it (here: waiting cannot help, as in the test above); a folder the user
    had is kept, whatever the job did."""
    url = "http://no-such-host.invalid:8000"
    mine = door.tmp / "mine"
    mine.mkdir()
    for out in ([], ["--out", "made/by/the/job/run"], ["--out", str(mine)]):
        code = cli.main(["run", "--url", url, *out])
        captured = door.capsys.readouterr()
        assert code == 3 and captured.out.splitlines()[-1] == "Overall: ERROR (exit code 3)", captured
        assert "does not resolve" in captured.err, captured
        assert not (door.tmp / "osiris-runs").exists() and not (door.tmp / "made").exists()
        assert mine.is_dir()
    assert not door.started_log.exists()


# --------------------------------------------------------------------------------------------------
# Locust's own inputs: LOCUST_* and its config files, judged by Locust's parser (osiris_load.jobs.locust_config)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "conf", "fragment"), [
    ({"LOCUST_USERS": "1O"}, None,
     "LOCUST_USERS='1O': Locust refuses it: argument -u/--users: invalid int value: '1O'"),
    ({}, "usres = 5\nstages = 5s:2\n",
     "locust.conf: Locust refuses it: unrecognized arguments: --usres=5 Did you mean '--users'?"),
])
def test_locust_s_own_inputs_are_refused_in_locust_s_words_naming_the_variable_or_file(
    door: Door, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], conf: str | None, fragment: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if conf is not None:
        (door.tmp / "locust.conf").write_text(conf, encoding="utf-8")
    line = door.refuses("--scenarios", "read_heavy", asks_locust=True)
    assert fragment in line, line
    if conf is not None:
        assert f"osiris-load run: {door.tmp / 'locust.conf'}: " in line


def test_locust_inputs_it_accepts_pass_the_check(door: Door, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our own options in a config file (``stages``: registered by the locustfile) and a variable
    the command line overrides (``--headless``) are what the runs accept: not refused."""
    (door.tmp / "pyproject.toml").write_text('[tool.locust]\nusers = 3\nstages = "5s:2"\n', encoding="utf-8")
    monkeypatch.setenv("LOCUST_HEADLESS", "maybe")
    code = cli.main(["run", "--scenarios", "read_heavy", "--url", "http://no-such-host.invalid:8000"])
    captured = door.capsys.readouterr()
    assert code == 3 and "does not resolve" in captured.err, captured  # past every check, to the target
    assert door.started_log.read_text().splitlines() == [LOCUST_CHECK]


def test_no_locust_input_no_question(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The usual run (no LOCUST_*, no config file, a pyproject.toml without [tool.locust]) starts no
    child for this; the config files looked for are Locust's own list."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert locust_sources({"OSIRIS_URL": "http://x", "PATH": "/bin"}) == []
    (tmp_path / ".locust.conf").write_text("users = 1\n", encoding="utf-8")
    (tmp_path / "locust.conf").write_text("users = 1\n", encoding="utf-8")
    assert locust_sources({"LOCUST_USERS": "1"}) == ["LOCUST_USERS", "~/.locust.conf", "locust.conf"]
    done = subprocess.run([sys.executable, "-c", "from locust.argument_parser import DEFAULT_CONFIG_FILES as F; "
                           "print(list(F))"], capture_output=True, text=True, timeout=60, env=locust_env())
    assert done.stdout.strip() == str(list(CONFIG_FILES)), done


def test_ctrl_c_while_waiting_for_the_target_leaves_no_run_folder_behind(door: Door) -> None:
    """The folder exists while the job waits (made once the inputs were checked); Ctrl+C there ends
    the job with 130 and takes the empty folder away again."""
    out = door.tmp / "made" / "run"
    seen: list[bool] = []

    def interrupt_once_waiting() -> None:
        deadline = time.monotonic() + 30
        while not out.is_dir() and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(out.is_dir())
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_waiting)
    interrupter.start()
    code = cli.main(["run", "--url", door.url, "--out", str(out)])  # the target accepts, never answers
    interrupter.join()
    captured = door.capsys.readouterr()
    assert seen == [True] and code == 130, captured
    assert "the run was interrupted (SIGINT)" in captured.err and "Nothing was written." in captured.err, captured
    assert not (door.tmp / "made").exists()


def test_ctrl_c_while_the_inputs_are_checked_is_no_traceback(door: Door) -> None:
    """Locust's own inputs are judged in a child (1-3 s on a busy machine): a user who sees their typo and
    presses Ctrl+C then got a KeyboardInterrupt traceback. Now: one line, exit 130, nothing made.
    The front door runs as its own process (a fresh interpreter: no signal handler or child left by
    another test of the suite), and the checker child is held by a ``sitecustomize`` that waits in it
    alone, so the SIGINT lands while the inputs are checked whatever the machine's speed.

    Its SIGINT starts at the default action, as a terminal's foreground job's does: a suite started in
    the background of a non-interactive shell (``make test > log &``, a CI step) runs with SIGINT
    ignored (POSIX: such a shell's asynchronous commands inherit SIG_IGN for SIGINT and SIGQUIT), every
    child inherits that, and Python then installs no KeyboardInterrupt handler: the Ctrl+C was lost and
    the job went on to wait for the target (the failures of the full fresh-clone runs). The job's own
    handlers (``MainJob.run``) replace an inherited ignore, so the other signal tests never saw it."""
    site = door.tmp / "slow-check"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys, time\nif 'osiris_load.jobs.locust_config' in sys.orig_argv:\n    time.sleep(60)\n",
        encoding="utf-8")
    env = locust_env({"LOCUST_USERS": "5", "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})  # the checker starts
    out = door.tmp / "run"
    job = subprocess.Popen([sys.executable, "-m", "osiris_load", "run", "--url", door.url, "--out", str(out)],
                           cwd=door.tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not an inherited SIG_IGN

    def checking() -> bool:
        try:
            children = psutil.Process(job.pid).children(recursive=True)
        except psutil.Error:
            return False
        for child in children:
            try:
                if "osiris_load.jobs.locust_config" in " ".join(child.cmdline()):
                    return True
            except psutil.Error:  # gone or a zombie
                continue
        return False

    try:
        # the job's start on a starved machine (seen: over 60 s at load average 20): its imports, then the child's
        wait_until(lambda: checking() or job.poll() is not None, 200, "the Locust inputs' check to start")
        assert job.poll() is None, job.communicate()
        job.send_signal(signal.SIGINT)
        stdout, stderr = job.communicate(timeout=20)
    finally:
        job.kill()
        job.wait(timeout=30)
    assert job.returncode == 130, (stdout, stderr)
    assert stderr.strip() == ("osiris-load run: interrupted (SIGINT) before the job started; nothing was "
                              "started or written"), (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert not out.exists()


@pytest.mark.parametrize(("env", "fragment"), [
    ({"OSIRIS_MAX_BATCH_SIZE": "1O"}, "OSIRIS_MAX_BATCH_SIZE: Input should be a valid integer"),
    ({"OSIRIS_FAULT_ERROR_RATE": '{"/generat": 0.5}'}, "OSIRIS_FAULT_ERROR_RATE: Value error, unknown route"),
    ({"OSIRIS_PHI3_MODEL_DIR": "/no/such/dir"}, "model directory for 'phi3' (/no/such/dir) does not exist"),
])
def test_a_typo_in_the_bundled_sidecars_settings_starts_nothing(door: Door, env: dict[str, str], fragment: str) -> None:
    """Before: the job started the sidecar, which refused its settings (exit 2), and the job ended 'the
    target is not usable', exit 3. Now the sidecar's own check (sidecar.infra.settings.load_checked) runs first."""
    door.monkeypatch.setenv(*next(iter(env.items())))
    line = door.refuses(url=False)
    assert line.startswith("osiris-load run: the bundled sidecar would refuse its ") and fragment in line, line


def test_the_sidecars_settings_are_not_checked_for_a_target_of_ones_own(door: Door) -> None:
    """With --url the bundled sidecar never starts: its variables are none of the job's business (they may
    be the remote sidecar's own, set in this shell), and valid ones pass."""
    door.monkeypatch.setenv("OSIRIS_MAX_BATCH_SIZE", "1O")
    assert "--stages" in door.refuses("--stages", "10x:5")  # the first problem said is the job's own
    door.monkeypatch.setenv("OSIRIS_MAX_BATCH_SIZE", "8")
    check_sidecar_settings()


class _BasicAuthHealth(BaseHTTPRequestHandler):
    """/health behind Basic auth (user ``osiris``, password ``p@ss``)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        expected = "Basic " + base64.b64encode(b"osiris:p@ss").decode()
        ok = self.path == "/health" and self.headers.get("Authorization") == expected
        self.send_response(200 if ok else 401)
        self.end_headers()


def test_a_target_with_credentials_in_its_url_is_reached_as_locust_reaches_it() -> None:
    """Before: urllib took ``osiris:p%40ss@127.0.0.1`` for a host name: "does not resolve; waiting cannot
    help", exit 3, for a target Locust's client reaches (it sends the URL's credentials as Basic auth)."""
    with serving(_BasicAuthHealth) as url:
        with_credentials = url.replace("http://", "http://osiris:p%40ss@")
        assert health_problem(with_credentials) == (None, False)
        assert health_problem(url.replace("http://", "http://osiris:wrong@")) == ("/health answered HTTP 401 "
                                                                                  "Unauthorized", False)


def test_variables_that_are_read_or_far_from_any_pass() -> None:
    """No false refusal: every name the job, the gate, the open model and the sidecar read, the test and
    bench knobs of this repository, and the usual environment."""
    names = {*ENV_VAR.values(), *OPTION_ENV.values(), "OSIRIS_STAGES", "OSIRIS_URL", "OSIRIS_SHAPE",
             "OSIRIS_PROMPTS", "OSIRIS_API_KEY", "OSIRIS_MAX_BATCH_SIZE", "OSIRIS_REDIS_URL", "REDIS_URL",
             "OSIRIS_PORT", "OSIRIS_HOST", "OSIRIS_SOAK_S", "OSIRIS_BIND", "OSIRIS_UID", "OSIRIS_CHROMIUM"}
    check_variable_names({**os.environ, **dict.fromkeys(names, "1")})
