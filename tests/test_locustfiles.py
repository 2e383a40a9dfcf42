"""The locustfiles in real headless Locust runs: what they send, what their checks catch, how they fail.

Each run is a child ``python -m locust`` process (importing Locust here would gevent-patch the
pytest process) against a small stdlib HTTP server, itself a child process started from this
very file (``python tests/test_locustfiles.py serve MODE RECORD``) on 127.0.0.1:

* ``good`` answers every route with the sidecar's shapes, so every check must pass;
* ``bad`` and ``garbage`` answer with wrong shapes, so every check must fail with its message;
* every request the server receives is recorded, to assert exactly what the k6 scripts sent.

Runs are bounded twice: by their stages or ``-t``, and by a subprocess timeout.  A final test
runs the scenarios against the bundled sidecar (the ``sidecar`` fixture of ``conftest.py``).
"""

from __future__ import annotations

import csv
import json
import selectors
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from osiris_load.testing import support
from osiris_load.testing.support import LocustRun, locust_env

if TYPE_CHECKING:  # not imported at run time: this file is also the test server's script
    from tests.conftest import ScenarioRuns

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILES = ROOT / "locustfiles"
SHORT = "1s:2,2s:2"  # ~3 s: ramp to 2 users in 1 s, hold 2 s
RUN_TIMEOUT_S = 90

GENERATE = ("POST", "/generate")
HEALTH = ("GET", "/health")
METRICS = ("GET", "/metrics")
PROPOSE = ("POST", "/propose_trade_adjustments/")
EXPECTED_ROWS: dict[str, set[tuple[str, str]]] = {
    "sidecar_load": {GENERATE, METRICS},
    "read_heavy": {HEALTH, METRICS},
    "propose_trade": {PROPOSE},
    "mixed": {GENERATE, HEALTH, METRICS, PROPOSE},
}
BUNDLED_PROMPTS = json.loads((ROOT / "osiris_load" / "adapter" / "prompts.json").read_text(encoding="utf-8"))

# ---------------------------------------------------------------------------------------------
# The test server (runs in a child process; see __main__ at the bottom)
# ---------------------------------------------------------------------------------------------

VALID_PROPOSAL = {
    "ticker": "AAPL",
    "action": "adjust",
    "side": "LONG",
    "new_stop_pct": 2.5,
    "new_target_pct": None,
    "confidence": 0.7,
    "rationale": "momentum",
}
PROMETHEUS = "# HELP osiris_requests_total Requests.\n# TYPE osiris_requests_total counter\nosiris_requests_total 3.0\n"

# mode -> (method, path) -> (status, content type, body)
ANSWERS: dict[str, dict[tuple[str, str], tuple[int, str, str]]] = {
    "good": {
        ("GET", "/health"): (200, "application/json", json.dumps({"status": "ok", "models": {"phi3": True}})),
        ("GET", "/metrics"): (200, "text/plain; version=0.0.4", PROMETHEUS),
        ("POST", "/generate/"): (200, "application/json", json.dumps({"generated_text": "hi", "model_id": "phi3"})),
        ("POST", "/propose_trade_adjustments/"): (
            200,
            "application/json",
            json.dumps({"transaction_id": "t1", "phi3_proposal": VALID_PROPOSAL, "hermes_assessment": "fine"}),
        ),
    },
    "bad": {
        ("GET", "/health"): (503, "application/json", json.dumps({"status": "loading"})),
        ("GET", "/metrics"): (200, "text/plain", "hello"),
        ("POST", "/generate/"): (200, "application/json", json.dumps({"text": "hi"})),
        ("POST", "/propose_trade_adjustments/"): (
            200,
            "application/json",
            json.dumps({"phi3_proposal": {**VALID_PROPOSAL, "confidence": 1.5}, "hermes_assessment": "x"}),
        ),
    },
    "garbage": {
        ("GET", "/health"): (200, "application/json", "[1, 2]"),
        ("GET", "/metrics"): (500, "text/plain", "boom " * 100),
        ("POST", "/generate/"): (200, "text/html", "<html>oops</html>"),
        ("POST", "/propose_trade_adjustments/"): (
            200,
            "application/json",
            json.dumps({"phi3_proposal": VALID_PROPOSAL}),
        ),
    },
}
# what the checks must say about each mode's answers: (method, name) -> message fragment
FAILURES: dict[str, dict[tuple[str, str], str]] = {
    "bad": {
        HEALTH: 'status 503: {"status": "loading"}',
        METRICS: "not Prometheus text (no # HELP or # TYPE line)",
        GENERATE: "missing generated_text",
        PROPOSE: "proposal does not validate: $.confidence: 1.5 is greater than the maximum of 1",
    },
    "garbage": {
        HEALTH: "body is not a JSON object",
        METRICS: "status 500: " + ("boom " * 40).rstrip(),  # the first 200 characters of the body
        GENERATE: "body is not JSON",
        PROPOSE: "missing hermes_assessment",
    },
}


def make_handler(mode: str, record: Path) -> type[BaseHTTPRequestHandler]:
    """A handler answering ``ANSWERS[mode]`` and appending every request to ``record`` as JSON lines."""
    answers = ANSWERS[mode]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the sidecar (uvicorn) does
        disable_nagle_algorithm = True  # else headers and body wait out a 40 ms delayed ACK

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            """Quiet: the record file is the log."""

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            entry = {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
            }
            with lock, record.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")
            status, content_type, text = answers.get((self.command, self.path), (404, "application/json", "{}"))
            payload = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _answer
        do_POST = _answer

    return Handler


def serve(mode: str, record: Path) -> None:
    """Serve on a free 127.0.0.1 port, print it, and stop when stdin closes (the test ended or died)."""

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the default backlog of 5 drops SYNs when 13 users connect at once

    server = Server(("127.0.0.1", 0), make_handler(mode, record))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # EOF when the parent closes the pipe or exits
    server.shutdown()


@dataclass(frozen=True)
class TestServer:
    """A running test server: its URL, and the requests it recorded since ``offset`` in its record."""

    url: str
    record: Path
    offset: int = 0

    __test__ = False  # not a pytest test class

    def fresh(self) -> TestServer:
        """The same server, counting only requests from now on (one server serves a whole module)."""
        size = self.record.stat().st_size if self.record.exists() else 0
        return TestServer(self.url, self.record, size)

    def requests(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        with self.record.open("rb") as handle:
            handle.seek(self.offset)
            lines = handle.read().decode("utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def start_server(mode: str, directory: Path) -> tuple[subprocess.Popen[str], TestServer]:
    """Start ``serve`` in a child; readiness is the port line it prints once it is listening."""
    record = directory / f"{mode}-requests.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "serve", mode, str(record)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=locust_env(),
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=30)
    line = process.stdout.readline().strip() if ready else ""
    if not line.isdigit():
        stop_server(process)
        raise AssertionError(f"test server ({mode}) did not start: {line!r}")
    return process, TestServer(url=f"http://127.0.0.1:{line}", record=record)


def stop_server(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestServer]]:
    """One server per mode for the whole module (starting them per test would double its run time)."""
    directory = tmp_path_factory.mktemp("servers")
    started: list[subprocess.Popen[str]] = []
    by_mode: dict[str, TestServer] = {}
    try:
        for mode in ANSWERS:
            process, server = start_server(mode, directory)
            started.append(process)
            by_mode[mode] = server
        yield by_mode
    finally:
        for process in started:
            stop_server(process)


@pytest.fixture
def servers(server_processes: dict[str, TestServer]) -> dict[str, TestServer]:
    """The module's servers, each recording only this test's requests."""
    return {mode: server.fresh() for mode, server in server_processes.items()}


# ---------------------------------------------------------------------------------------------
# Running Locust
# ---------------------------------------------------------------------------------------------


def run_locust(scenario: str, workdir: Path, *args: str, env: dict[str, str] | None = None,
               locustfile: str | None = None) -> LocustRun:
    """``locust -f locustfiles/<scenario>.py --headless ...`` in ``workdir`` (no stray locust.conf)."""
    return support.run_locust(locustfile or LOCUSTFILES / f"{scenario}.py", *args, cwd=workdir, env=env,
                              timeout=RUN_TIMEOUT_S)


def stats_rows(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    """``PREFIX_stats.csv`` keyed by (method, name), without the Aggregated row."""
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(handle) if row["Name"] != "Aggregated"}


def failure_rows(prefix: Path) -> dict[tuple[str, str], list[str]]:
    """``PREFIX_failures.csv``: (method, name) -> the error texts Locust recorded."""
    rows: dict[tuple[str, str], list[str]] = {}
    with open(f"{prefix}_failures.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault((row["Method"], row["Name"]), []).append(row["Error"])
    return rows


def output(result: subprocess.CompletedProcess[str] | LocustRun) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def assert_sent_like_k6(requests: list[dict[str, Any]], scenario: str, api_key: str | None = None) -> None:
    """Every request is one the k6 script sends, byte for byte where it has a body."""
    assert requests, "the server received nothing"
    allowed = {
        "sidecar_load": {("POST", "/generate/"), ("GET", "/metrics")},
        "read_heavy": {("GET", "/health"), ("GET", "/metrics")},
        "propose_trade": {("POST", "/propose_trade_adjustments/")},
    }
    expected = set().union(*allowed.values()) if scenario == "mixed" else allowed[scenario]
    assert {(r["method"], r["path"]) for r in requests} == expected
    for request in requests:
        headers = request["headers"]
        if request["method"] == "GET":
            assert request["body"] == ""
            assert "x-api-key" not in headers
            continue
        assert headers["content-type"] == "application/json"
        assert headers.get("x-api-key") == api_key
        body = json.loads(request["body"])
        if request["path"] == "/generate/":
            assert body == {"prompt": "hello", "model_id": "phi3", "max_length": 16}
        else:
            assert set(body) == {"prompt", "max_length"}
            assert body["max_length"] == 64
            assert body["prompt"] in BUNDLED_PROMPTS


# ---------------------------------------------------------------------------------------------
# Tests: good, bad and garbage answers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedRun:
    """One headless run against test servers of its own: its result, CSV prefix and what each server received."""

    result: subprocess.CompletedProcess[str]
    prefix: Path
    received: dict[str, list[dict[str, Any]]]


# name -> (scenario, the modes of its own servers, (server URLs, CSV prefix) -> (Locust arguments, environment))
RunPlan = tuple[str, tuple[str, ...], Callable[[dict[str, str], Path], tuple[list[str], dict[str, str]]]]
WRONG = ("bad", "garbage")


def _served_run(plan: RunPlan, workdir: Path) -> ServedRun:
    """Start the run's own servers, run Locust against them, stop them: side by side, no run sees another's."""
    scenario, modes, arguments = plan
    started: dict[str, tuple[subprocess.Popen[str], TestServer]] = {}
    try:
        for mode in modes:
            started[mode] = start_server(mode, workdir)
        prefix = workdir / "run"
        args, env = arguments({mode: server.url for mode, (_, server) in started.items()}, prefix)
        result = run_locust(scenario, workdir, *args, env=env)
        return ServedRun(result, prefix, {mode: server.requests() for mode, (_, server) in started.items()})
    finally:
        for process, _ in started.values():
            stop_server(process)


def _good_scenario(scenario: str) -> RunPlan:
    stages = "1s:13,2s:13" if scenario == "mixed" else SHORT  # 13 users: 5 + 5 + 3 by weight
    return scenario, ("good",), lambda urls, prefix: (["--host", urls["good"], "--stages", stages, "--csv",
                                                       str(prefix)], {})


def _wrong_scenario(scenario: str, mode: str) -> RunPlan:
    stages = "0s:13,2s:13" if scenario == "mixed" else "0s:2,2s:2"
    return scenario, (mode,), lambda urls, prefix: (["--host", urls[mode], "--stages", stages, "--csv", str(prefix)],
                                                    {})


def _shape_off(how: str) -> RunPlan:
    def arguments(urls: dict[str, str], prefix: Path) -> tuple[list[str], dict[str, str]]:
        args = ["--host", urls["good"], "-u", "3", "-r", "3", "-t", "2s", "--csv", str(prefix)]
        return (["--no-shape", *args], {}) if how == "flag" else (args, {"OSIRIS_SHAPE": "off"})
    return "read_heavy", ("good",), arguments


def _config_file(urls: dict[str, str], prefix: Path) -> tuple[list[str], dict[str, str]]:
    config = prefix.parent / "run.conf"
    config.write_text("no-shape = true\nusers = 2\nspawn-rate = 2\nrun-time = 2s\n", encoding="utf-8")
    return ["--config", str(config), "--host", urls["good"]], {}


SERVED_RUNS: dict[str, RunPlan] = {
    **{f"good-{scenario}": _good_scenario(scenario) for scenario in sorted(EXPECTED_ROWS)},
    **{f"{mode}-{scenario}": _wrong_scenario(scenario, mode) for scenario in sorted(EXPECTED_ROWS) for mode in WRONG},
    "host-wins": ("read_heavy", ("good", "bad"), lambda urls, _: (
        ["--host", urls["good"] + "/", "--stages", "0s:1,1s:1"], {"OSIRIS_URL": urls["bad"]})),
    "osiris-url": ("sidecar_load", ("good",), lambda urls, _: (
        ["--stages", "0s:1,1s:1"], {"OSIRIS_URL": urls["good"]})),
    "api-key": ("mixed", ("good",), lambda urls, _: (["--host", urls["good"], "--stages", "0s:13,1s:13"],
                                                    {"OSIRIS_API_KEY": "s3cret"})),
    "shape-off-flag": _shape_off("flag"),
    "shape-off-env": _shape_off("env"),
    "config-file": ("read_heavy", ("good",), _config_file),
    "stages-env": ("propose_trade", ("good",), lambda urls, _: (
        ["--host", urls["good"]], {"OSIRIS_STAGES": "0s:3,1s:3"})),
    "explicit-stages": ("read_heavy", ("good",), lambda urls, _: (
        ["--host", urls["good"], "-u", "9", "--stages", "0s:1,1s:1"], {})),
}


@dataclass(frozen=True)
class ServedRuns:
    """Every run of the module against test servers of its own, and what the module's shared servers received
    meanwhile (nothing: each run talks only to the servers it was given)."""

    runs: dict[str, ServedRun]
    shared_received: dict[str, list[dict[str, Any]]]

    def run(self, name: str) -> ServedRun:
        return self.runs[name]


@pytest.fixture(scope="module")
def served_runs(server_processes: dict[str, TestServer], tmp_path_factory: pytest.TempPathFactory) -> ServedRuns:
    """The module's runs against test servers, four at a time: each mostly waits on its stages and think time,
    and each has its own servers, so what a server received is that run's alone."""
    shared = {mode: server.fresh() for mode, server in server_processes.items()}
    workdirs = {name: tmp_path_factory.mktemp(name) for name in SERVED_RUNS}  # mktemp: not thread-safe
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(SERVED_RUNS, pool.map(lambda name: _served_run(SERVED_RUNS[name], workdirs[name]),
                                              SERVED_RUNS), strict=True))
    return ServedRuns(runs, {mode: view.requests() for mode, view in shared.items()})


@pytest.mark.parametrize("scenario", sorted(EXPECTED_ROWS))
def test_scenario_sends_what_k6_sends_and_passes_its_checks(served_runs: ServedRuns, scenario: str) -> None:
    run = served_runs.run(f"good-{scenario}")
    result, prefix = run.result, run.prefix
    assert result.returncode == 0, output(result)
    assert "Traceback" not in result.stderr, output(result)

    rows = stats_rows(prefix)
    assert set(rows) == EXPECTED_ROWS[scenario]
    for key, row in rows.items():
        assert int(row["Request Count"]) > 0, key
        assert row["Failure Count"] == "0", key
    assert failure_rows(prefix) == {}
    assert_sent_like_k6(run.received["good"], scenario)
    if scenario == "mixed":
        assert '{"ProposeTradeUser": 3, "ReadHeavyUser": 5, "SidecarLoadUser": 5} (13 total users)' in result.stderr
    for other in ("bad", "garbage"):
        assert served_runs.shared_received[other] == []


@pytest.mark.parametrize("mode", WRONG)
@pytest.mark.parametrize("scenario", sorted(EXPECTED_ROWS))
def test_checks_catch_wrong_answers_with_their_message(served_runs: ServedRuns, scenario: str, mode: str) -> None:
    run = served_runs.run(f"{mode}-{scenario}")
    result, prefix, received = run.result, run.prefix, run.received[mode]
    # 1 is Locust's exit code for failed requests; the SLO gate may turn it into its own (99)
    assert result.returncode not in (0, 2), output(result)
    assert "Traceback" not in result.stderr, output(result)

    rows = stats_rows(prefix)
    assert set(rows) == EXPECTED_ROWS[scenario]
    for key, row in rows.items():
        assert int(row["Request Count"]) > 0, key
        assert row["Failure Count"] == row["Request Count"], key  # every answer is wrong
    failures = failure_rows(prefix)
    assert set(failures) == EXPECTED_ROWS[scenario]
    for key, errors in failures.items():
        assert len(errors) == 1, errors  # one stable message per endpoint, not one per body
        assert FAILURES[mode][key] in errors[0], (key, errors)
    assert_sent_like_k6(received, scenario)


# ---------------------------------------------------------------------------------------------
# Tests: host, API key, shape switches
# ---------------------------------------------------------------------------------------------


def test_host_wins_over_osiris_url(served_runs: ServedRuns) -> None:
    """As in Locust, the command line beats the environment: --host over OSIRIS_URL (the default k6 users
    expect); a trailing slash does not double the path's."""
    run = served_runs.run("host-wins")
    result = run.result
    assert result.returncode == 0, output(result)
    good = result.args[result.args.index("--host") + 1].rstrip("/")
    assert f"--host {good} overrides OSIRIS_URL" in result.stderr
    assert run.received["bad"] == []
    assert {r["path"] for r in run.received["good"]} == {"/health", "/metrics"}


def test_osiris_url_is_used_without_host(served_runs: ServedRuns) -> None:
    run = served_runs.run("osiris-url")
    assert run.result.returncode == 0, output(run.result)
    assert_sent_like_k6(run.received["good"], "sidecar_load")


def test_api_key_goes_on_posts_only(served_runs: ServedRuns) -> None:
    run = served_runs.run("api-key")
    assert run.result.returncode == 0, output(run.result)
    assert_sent_like_k6(run.received["good"], "mixed", api_key="s3cret")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_shape_off_gives_users_and_run_time_back(served_runs: ServedRuns, how: str) -> None:
    run = served_runs.run(f"shape-off-{how}")
    result = run.result
    assert result.returncode == 0, output(result)
    assert "Shape test" not in result.stderr, output(result)
    assert "Ramping to 3 users" in result.stderr, output(result)
    assert "Run time limit set to 2 seconds" in result.stderr, output(result)
    assert set(stats_rows(run.prefix)) == EXPECTED_ROWS["read_heavy"]


def test_no_shape_from_a_config_file_still_turns_the_shape_off(served_runs: ServedRuns) -> None:
    """Import-time detection cannot see a config file; the init listener drops the shape instead."""
    result = served_runs.run("config-file").result
    assert result.returncode == 0, output(result)
    assert "-u/-r/-t apply after all" in result.stderr, output(result)
    assert "Ramping to 2 users" in result.stderr, output(result)
    assert "Shape test" not in result.stderr, output(result)


def test_stages_from_the_environment(served_runs: ServedRuns) -> None:
    result = served_runs.run("stages-env").result
    assert result.returncode == 0, output(result)
    assert "ProposeTradeShape: stages 0s:3,1s:3" in result.stderr, output(result)
    assert "Shape test updating to 3 users" in result.stderr, output(result)


def test_explicit_stages_win_over_users(served_runs: ServedRuns) -> None:
    result = served_runs.run("explicit-stages").result
    assert result.returncode == 0, output(result)
    assert "--stages 0s:1,1s:1 wins over -u/-r" in result.stderr, output(result)
    assert "Shape test updating to 1 users" in result.stderr and "to 9 users" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Tests: startup errors exit 2 with one clear line, before any load
# ---------------------------------------------------------------------------------------------


def assert_clean_exit_2(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, output(result)
    assert "Traceback" not in result.stdout + result.stderr, output(result)
    lines = [line for line in result.stderr.splitlines() if line.startswith("osiris-load: ")]
    assert len(lines) == 1, output(result)
    for fragment in fragments:
        assert fragment in lines[0], output(result)


BAD_PROMPTS = [
    (None, "file not found"),
    ('["a", ', "is not valid JSON"),
    ("[]", "is an empty array"),
    ('{"prompts": ["a"]}', "must be a JSON array of strings"),
    ('["a", 1]', "entry 1 is a JSON number"),
]
BAD_STAGES = [
    (["--stages", "10s:5,3x:2"], {}, ["bad --stages value '10s:5,3x:2'", "stage 2 '3x:2'", "bad duration '3x'"]),
    (["--stages=10s:-1"], {}, ["bad --stages value", "target must be a whole number"]),
    ([], {"OSIRIS_STAGES": "10s:5,"}, ["bad OSIRIS_STAGES value", "stage 2 is empty"]),
    ([], {"OSIRIS_SHAPE": "maybe"}, ["OSIRIS_SHAPE must be 'on' or 'off'"]),
]


BAD_OSIRIS_URL = "127.0.0.1:8000"  # no scheme: every request would fail; refused at init instead


@dataclass(frozen=True)
class StartupRefusals:
    """Every bad-startup run of the module (each exits before any load, so they run side by side) and the
    requests the good server received while they ran (none may reach it)."""

    results: dict[tuple[str, int], tuple[subprocess.CompletedProcess[str], Path | None]]
    received: list[dict[str, Any]]


@pytest.fixture(scope="module")
def startup_refusals(server_processes: dict[str, TestServer],
                     tmp_path_factory: pytest.TempPathFactory) -> StartupRefusals:
    good = server_processes["good"].fresh()
    jobs: dict[tuple[str, int], tuple[str, Path, list[str], dict[str, str], Path | None]] = {}
    for scenario in ("propose_trade", "mixed"):
        for i, (content, _) in enumerate(BAD_PROMPTS):
            workdir = tmp_path_factory.mktemp(f"prompts-{scenario}-{i}")
            prompts = workdir / "my-prompts.json"
            if content is not None:
                prompts.write_text(content, encoding="utf-8")
            jobs[(f"prompts-{scenario}", i)] = (scenario, workdir, ["--host", good.url, "--stages", "0s:1,1s:1"],
                                                {"OSIRIS_PROMPTS": str(prompts)}, prompts)
    for scenario in ("sidecar_load", "mixed"):
        for i, (args, env, _) in enumerate(BAD_STAGES):
            workdir = tmp_path_factory.mktemp(f"stages-{scenario}-{i}")
            jobs[(f"stages-{scenario}", i)] = (scenario, workdir, ["--host", good.url, *args], env, None)

    def one(key: tuple[str, int]) -> tuple[subprocess.CompletedProcess[str], Path | None]:
        scenario, workdir, args, env, prompts = jobs[key]
        return run_locust(scenario, workdir, *args, env=env), prompts

    workdir = tmp_path_factory.mktemp("osiris-url")  # no --host: OSIRIS_URL names the target, and is checked
    jobs[("osiris-url", 0)] = ("read_heavy", workdir, ["--stages", "0s:1,1s:1"], {"OSIRIS_URL": BAD_OSIRIS_URL}, None)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(jobs, pool.map(one, jobs), strict=True))
    return StartupRefusals(results, good.requests())


@pytest.mark.parametrize(("case", "reason"), list(enumerate(reason for _, reason in BAD_PROMPTS)))
@pytest.mark.parametrize("scenario", ["propose_trade", "mixed"])
def test_bad_prompts_file_exits_2_before_any_load(
    startup_refusals: StartupRefusals, scenario: str, case: int, reason: str
) -> None:
    result, prompts = startup_refusals.results[(f"prompts-{scenario}", case)]
    assert_clean_exit_2(result, f"prompts file {prompts}", reason, "OSIRIS_PROMPTS")
    assert startup_refusals.received == []


@pytest.mark.parametrize(("case", "fragments"), list(enumerate(fragments for _, _, fragments in BAD_STAGES)))
@pytest.mark.parametrize("scenario", ["sidecar_load", "mixed"])
def test_bad_stages_exit_2_before_any_load(
    startup_refusals: StartupRefusals, scenario: str, case: int, fragments: list[str]
) -> None:
    result, _ = startup_refusals.results[(f"stages-{scenario}", case)]
    assert_clean_exit_2(result, *fragments)
    assert startup_refusals.received == []


def test_an_osiris_url_without_scheme_exits_2_before_any_load(startup_refusals: StartupRefusals) -> None:
    result, _ = startup_refusals.results[("osiris-url", 0)]
    assert_clean_exit_2(result, f"OSIRIS_URL {BAD_OSIRIS_URL!r} must start with http:// or https://")


# ---------------------------------------------------------------------------------------------
# Tests: the classes Locust sees, and the check functions one case at a time
# ---------------------------------------------------------------------------------------------


def python_json(code: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run ``code`` in a child Python (Locust imported there, not here) and decode its last line."""
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=locust_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, output(result)
    return json.loads(result.stdout.strip().splitlines()[-1])


# Loads a locustfile the way Locust does and reports what Locust would run (argv[1]: the file;
# the rest of argv is what the locustfile's import-time --no-shape detection sees).
CLASSES_PROBE = """
import json, sys
from locust.util.load_locustfile import load_locustfile
users, shapes = load_locustfile(sys.argv[1])
from osiris_load.adapter.users import OsirisUser
print(json.dumps({
    "users": {name: {"host": cls.host, "weight": cls.weight, "wait": cls.wait_time(None)}
              for name, cls in sorted(users.items())},
    "shapes": {type(s).__name__: s.default_stages for s in shapes},
    "base_abstract": OsirisUser.abstract,
}))
"""


SHAPES = [
    ("sidecar_load", ["SidecarLoadUser"], "SidecarLoadShape", "10s:5,30s:5,5s:0"),
    ("read_heavy", ["ReadHeavyUser"], "ReadHeavyShape", "5s:5,20s:5,5s:0"),
    ("propose_trade", ["ProposeTradeUser"], "ProposeTradeShape", "5s:3,20s:3,5s:0"),
    ("mixed", ["ProposeTradeUser", "ReadHeavyUser", "SidecarLoadUser"], "MixedShape", "10s:13,30s:13,5s:0"),
]
MIXED = str(LOCUSTFILES / "mixed.py")
# name -> (the probe's arguments, its environment): what Locust sees in each locustfile, and under each switch
PROBES: dict[str, tuple[tuple[str, ...], dict[str, str] | None]] = {
    **{scenario: ((str(LOCUSTFILES / f"{scenario}.py"),), None) for scenario, *_ in SHAPES},
    "mixed-shape-off": ((MIXED,), {"OSIRIS_SHAPE": "off"}),
    "mixed-shape-ON": ((MIXED,), {"OSIRIS_SHAPE": "ON"}),
    "mixed-no-shape": ((MIXED, "--no-shape"), None),
    "osiris-url": ((str(LOCUSTFILES / "read_heavy.py"),), {"OSIRIS_URL": "http://osiris.example:9000/"}),
}


@pytest.fixture(scope="module")
def probed() -> dict[str, Any]:
    """Every probe of ``PROBES`` at once (each is a child Python importing Locust: CPU, no waiting)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(PROBES, pool.map(lambda name: python_json(CLASSES_PROBE, *PROBES[name][0], env=PROBES[name][1]),
                                         PROBES), strict=True))


@pytest.mark.parametrize(("scenario", "users", "shape", "stages"), SHAPES)
def test_locust_finds_the_users_and_the_shape(probed: dict[str, Any], scenario: str, users: list[str], shape: str,
                                              stages: str) -> None:
    found = probed[scenario]
    assert sorted(found["users"]) == users  # the abstract base is not offered as a user
    assert found["base_abstract"] is True
    for info in found["users"].values():
        assert info["host"] == "http://localhost:8000"  # the k6 scripts' default
        assert info["wait"] == 1  # k6's sleep(1)
    assert found["shapes"] == {shape: stages}
    if scenario == "mixed":
        weights = {name: info["weight"] for name, info in found["users"].items()}
        assert weights == {"SidecarLoadUser": 5, "ReadHeavyUser": 5, "ProposeTradeUser": 3}


def test_no_shape_means_no_shape_class(probed: dict[str, Any]) -> None:
    assert probed["mixed"]["shapes"] == {"MixedShape": "10s:13,30s:13,5s:0"}
    assert probed["mixed-shape-off"]["shapes"] == {}
    assert probed["mixed-shape-ON"]["shapes"] != {}
    assert probed["mixed-no-shape"]["shapes"] == {}


def test_osiris_url_sets_the_class_host(probed: dict[str, Any]) -> None:
    assert probed["osiris-url"]["users"]["ReadHeavyUser"]["host"] == "http://osiris.example:9000"


# (check, status, body) -> the failure message fragment, or None when the check must pass
CHECK_CASES: list[tuple[str, int, str, str | None]] = [
    ("check_generate", 200, '{"generated_text": "x", "usage": {}}', None),
    ("check_generate", 200, '{"generated_text": ""}', None),
    ("check_generate", 200, '{"generated_text": 3}', "generated_text is not a string"),
    ("check_generate", 200, '{"text": "x"}', "missing generated_text"),
    ("check_generate", 200, '["generated_text"]', "body is not a JSON object"),
    ("check_generate", 200, "", "body is not JSON"),
    ("check_generate", 200, "\xff not utf-8", "body is not JSON"),
    ("check_generate", 422, '{"detail": [{"loc": ["body", "prompt"]}]}', 'status 422: {"detail": [{"loc"'),
    ("check_generate", 503, "", "status 503"),
    ("check_generate", 500, "e" * 500, "status 500: " + "e" * 200),
    ("check_metrics", 200, PROMETHEUS, None),
    ("check_metrics", 200, "# TYPE x gauge\nx 1\n", None),
    ("check_metrics", 200, "x 1\n", "not Prometheus text"),
    ("check_metrics", 404, "nope", "status 404: nope"),
    ("check_health", 200, '{"status": "ok"}', None),
    ("check_health", 200, "ok", "body is not JSON"),
    ("check_health", 200, "null", "body is not a JSON object"),
    ("check_health", 503, '{"status": "degraded"}', 'status 503: {"status": "degraded"}'),
    ("check_proposal", 200, json.dumps({"phi3_proposal": VALID_PROPOSAL, "hermes_assessment": "ok"}), None),
    (
        "check_proposal",
        200,
        json.dumps(
            {
                "phi3_proposal": {"ticker": "T", "action": "abort", "confidence": 0, "rationale": ""},
                "hermes_assessment": "",
            }
        ),
        None,
    ),
    ("check_proposal", 200, '{"hermes_assessment": "ok"}', "missing phi3_proposal"),
    ("check_proposal", 200, json.dumps({"phi3_proposal": VALID_PROPOSAL}), "missing hermes_assessment"),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": VALID_PROPOSAL, "hermes_assessment": 1}),
        "hermes_assessment is not a string",
    ),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": {**VALID_PROPOSAL, "extra": 1}, "hermes_assessment": "x"}),
        "proposal does not validate: $: Additional properties are not allowed ('extra' was unexpected)",
    ),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": {**VALID_PROPOSAL, "action": "buy"}, "hermes_assessment": "x"}),
        "proposal does not validate: $.action: 'buy' is not one of ['adjust', 'pass', 'abort']",
    ),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": {**VALID_PROPOSAL, "side": "long"}, "hermes_assessment": "x"}),
        "proposal does not validate: $.side:",
    ),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": {**VALID_PROPOSAL, "new_stop_pct": "2"}, "hermes_assessment": "x"}),
        "proposal does not validate: $.new_stop_pct: '2' is not of type 'number', 'null'",
    ),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": {**VALID_PROPOSAL, "confidence": -0.1}, "hermes_assessment": "x"}),
        "proposal does not validate: $.confidence: -0.1 is less than the minimum of 0",
    ),
    (
        "check_proposal",
        200,
        json.dumps({"phi3_proposal": {"ticker": "T", "action": "pass", "rationale": "r"}, "hermes_assessment": "x"}),
        "proposal does not validate: $: 'confidence' is a required property",
    ),
    ("check_proposal", 200, json.dumps({"phi3_proposal": "{}", "hermes_assessment": "x"}), "is not of type 'object'"),
    ("check_proposal", 0, "", "no response: ConnectionRefusedError"),
]

CHECKS_PROBE = """
import json, sys
from osiris_load.adapter import users as common

class Fake:
    def __init__(self, status, body):
        self.status_code = status
        self.content = None if status == 0 else body.encode("latin-1")  # bytes as on the wire
        self.error = ConnectionRefusedError(111, "Connection refused") if status == 0 else None
        self.outcome = "unset"
    def success(self):
        self.outcome = None
    def failure(self, why):
        self.outcome = why

out = []
for check, status, body in json.loads(sys.stdin.read()):
    fake = Fake(status, body)
    getattr(common, check)(fake)
    out.append(fake.outcome)
print(json.dumps(out))
"""


def test_check_functions_case_by_case() -> None:
    payload = json.dumps([(check, status, body) for check, status, body, _ in CHECK_CASES])
    result = subprocess.run(
        [sys.executable, "-c", CHECKS_PROBE],
        input=payload,
        cwd=ROOT,
        env=locust_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, output(result)
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    for (check, status, body, expected), outcome in zip(CHECK_CASES, outcomes, strict=True):
        case = f"{check}({status}, {body[:60]!r})"
        if expected is None:
            assert outcome is None, f"{case} should pass, failed with {outcome!r}"
        else:
            assert isinstance(outcome, str) and expected in outcome, f"{case}: {outcome!r} lacks {expected!r}"
            assert len(outcome) <= 220, case  # bounded: Locust groups failures by message


# ---------------------------------------------------------------------------------------------
# Against the bundled sidecar
# ---------------------------------------------------------------------------------------------


SHARED_RUN_FOLDERS = {"sidecar_load": "passing", "read_heavy": "passing", "propose_trade": "propose"}


@pytest.mark.parametrize("scenario", sorted(EXPECTED_ROWS))
def test_scenario_passes_its_checks_against_the_bundled_sidecar(sidecar: Any, relaxed_slo_file: Path, tmp_path: Path,
                                                                scenario_runs: ScenarioRuns, scenario: str) -> None:
    """The three k6 scenarios: the suite's shared runs against the sidecar (conftest); mixed: a run of its own."""
    if scenario in SHARED_RUN_FOLDERS:
        shared = scenario_runs.run(SHARED_RUN_FOLDERS[scenario], scenario)
        prefix = shared.prefix
        result = subprocess.CompletedProcess([], shared.returncode, shared.stdout, shared.stderr)
    else:
        prefix = tmp_path / scenario
        result = run_locust(scenario, tmp_path, "--host", sidecar.url, "--stages", "1s:4,3s:4", "--csv", str(prefix),
                            "--slo-file", str(relaxed_slo_file))
    failures = failure_rows(prefix) if Path(f"{prefix}_failures.csv").exists() else {}
    assert failures == {}, output(result)
    assert result.returncode == 0, output(result)
    rows = stats_rows(prefix)
    assert set(rows) <= EXPECTED_ROWS[scenario]
    assert rows, output(result)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], Path(sys.argv[3]))
    else:
        sys.exit(f"usage: {sys.argv[0]} serve good|bad|garbage RECORD_FILE")
