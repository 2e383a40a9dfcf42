"""Shared fixtures: a real Redis and real sidecar processes on loopback, started as the launcher does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from osiris_load.jobs.supervisor import free_port
from osiris_load.testing.support import stop_process
from sidecar.infra.redis_server import RedisServer
from tests.reliability.reliability_support import API_KEY

ROOT = Path(__file__).resolve().parent.parent
MODEL_CACHE = ROOT / ".cache" / "models"
EXPORT_CACHE = ROOT / ".cache" / "onnx"  # where sidecars started with MODEL_CACHE keep their exported decode steps
LOCUSTFILES = ROOT / "locustfiles"

# The faults of the suite's one faulty sidecar (a sidecar start costs seconds of model loading, so every
# test that needs injected faults shares it): +900 ms on /generate (fails the default p(95)<800) and
# every /metrics answered 500 (a failing run fails whatever few requests it makes; a rate could let all pass).
FAULT_LATENCY_MS = {"/generate": 900.0}
FAULT_ERROR_RATE = {"/metrics": 1.0}


class QuietServer(ThreadingHTTPServer):
    """A known-answer HTTP server for a test, in a thread: quiet when a client drops its connection."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a run that stops mid-request closes its connection: nothing to report


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free loopback port, in a thread, while the block runs; yields its URL."""
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll a condition instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


class SidecarProcess:
    """``python -m sidecar`` in a child process, on a free loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {**os.environ, "OSIRIS_MODEL_CACHE_DIR": str(MODEL_CACHE), **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "sidecar", "--port", str(self.port)], cwd=ROOT,
                                     env=full_env, stdout=self._log, stderr=subprocess.STDOUT)

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sidecar exited with {self.proc.returncode}: {self.output()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def answering(self) -> bool:
        try:
            httpx.get(f"{self.url}/metrics", timeout=2)
            return True
        except httpx.HTTPError:
            if self.proc.poll() is not None:
                raise AssertionError(f"sidecar exited with {self.proc.returncode}: {self.output()}") from None
            return False

    def wait_ready(self, wait: str = "healthy", timeout_s: float = 300) -> None:
        check = self.healthy if wait == "healthy" else self.answering
        wait_until(check, timeout_s, f"sidecar on {self.url} ({wait})", interval_s=0.2)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        code = stop_process(self.proc)
        self._log.close()
        return code


def relaxed_default_table(directory: Path) -> Path:
    """The default SLO table with latency limits no real model misses (10 min); rows, requests and
    success rates unchanged. Tests about plumbing (checks, keys, rows, counts, reports) judge with it,
    so they never assert the real model's speed on a busy machine."""
    text = (ROOT / "osiris_load" / "core" / "slo" / "default.toml").read_text(encoding="utf-8")
    path = directory / "relaxed_default.toml"
    path.write_text(re.sub(r"(p\(\d+(?:\.\d+)?\)|med|avg)<\d+", r"\1<600000", text), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def relaxed_slo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return relaxed_default_table(tmp_path_factory.mktemp("slo"))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def start_sidecars(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., list[SidecarProcess]]]:
    """Factory: start sidecars, one per environment given, all at once (model loading takes seconds:
    they load side by side), then wait until each serves; stops all at the end."""
    started: list[SidecarProcess] = []

    def start(*envs: dict[str, str], wait: str | None = "healthy", timeout_s: float = 300) -> list[SidecarProcess]:
        processes = [SidecarProcess(env, tmp_path_factory.mktemp("sidecar") / "sidecar.log") for env in envs]
        started.extend(processes)
        for process in processes:
            if wait is not None:  # None: the caller waits (process.wait_ready) when it needs the sidecar
                process.wait_ready(wait, timeout_s)
        return processes

    yield start
    for process in started:  # all told at once: each takes a while to stop its batcher, Redis link and models
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass  # stop() kills it
        process.stop()


@pytest.fixture(scope="session")
def start_sidecar(start_sidecars: Callable[..., list[SidecarProcess]]) -> Callable[..., SidecarProcess]:
    """Factory: start a sidecar with extra environment; waits until it serves; stops all at the end."""
    def start(env: dict[str, str] | None = None, wait: str = "healthy", timeout_s: float = 300) -> SidecarProcess:
        return start_sidecars(env or {}, wait=wait, timeout_s=timeout_s)[0]
    return start


@pytest.fixture(scope="session")
def _sidecar_pair(start_sidecars: Callable[..., list[SidecarProcess]],
                  redis_server: RedisServer) -> tuple[SidecarProcess, SidecarProcess]:
    """The suite's two long-lived sidecars: the plain one, serving; then the faulty one, still loading.
    The plain one starts alone (on a fresh clone it builds the models and exports their decode steps into
    the caches); the faulty one loads from those caches in the background while tests run, since most
    sessions that need one need the other."""
    (plain,) = start_sidecars({"REDIS_URL": redis_server.url})
    (faulty,) = start_sidecars({"REDIS_URL": redis_server.url, "OSIRIS_FAULT_LATENCY_MS": json.dumps(FAULT_LATENCY_MS),
                                "OSIRIS_FAULT_ERROR_RATE": json.dumps(FAULT_ERROR_RATE)}, wait=None)
    return plain, faulty


@pytest.fixture(scope="session")
def sidecar(_sidecar_pair: tuple[SidecarProcess, SidecarProcess]) -> SidecarProcess:
    """The shared sidecar of the suite, on the shared Redis."""
    return _sidecar_pair[0]


@pytest.fixture(scope="session")
def faulty_sidecar(_sidecar_pair: tuple[SidecarProcess, SidecarProcess]) -> SidecarProcess:
    """The suite's sidecar with FAULT_LATENCY_MS and FAULT_ERROR_RATE injected, on the shared Redis."""
    faulty = _sidecar_pair[1]
    faulty.wait_ready()
    return faulty


# -- Sidecars with settings of their own ----------------------------------------------------------------------

# Each case that breaks, overloads or reconfigures a sidecar needs one of its own (a start costs seconds of
# model loading). The first test that needs one starts it; the others that the session's selected tests ask
# for then start one after another in the background, in the order the tests need them, each once the one
# before serves: each loads while the tests before its own run, and never several at once on a busy machine.
OVERLOAD_QUEUE = os.environ.get("OSIRIS_RELIABILITY_OVERLOAD_QUEUE", "16")
OVERLOAD_STREAM = f"reliability:overload:{os.getpid()}"
REDIS_LOSS_STREAM = f"reliability:redis-loss:{os.getpid()}"


@dataclass
class OwnRedis:
    """A sidecar's own ``redis-server`` (append-only file in ``data_dir``), which its test stops and restarts."""

    server: RedisServer
    data_dir: Path


OWN_SIDECARS = ("killable_sidecar", "overload_sidecar", "keyed_sidecar", "redis_loss_sidecar", "queue_of_one_sidecar",
                "own_redis_sidecar")
WITH_OWN_REDIS = ("redis_loss_sidecar", "own_redis_sidecar")


def _own_environments(redis_server: RedisServer, own: dict[str, OwnRedis]) -> dict[str, dict[str, str]]:
    """name -> the sidecar's extra environment. ``keyed_sidecar`` has no REDIS_URL: it starts as ``make sidecar``
    does, its launcher starting its own ``redis-server``."""
    envs = {
        "killable_sidecar": {"REDIS_URL": redis_server.url},
        "overload_sidecar": {"REDIS_URL": redis_server.url, "OSIRIS_MAX_QUEUE": OVERLOAD_QUEUE,
                             "OSIRIS_PROPOSAL_STREAM": OVERLOAD_STREAM},
        "keyed_sidecar": {"OSIRIS_API_KEY": API_KEY},
        "queue_of_one_sidecar": {"REDIS_URL": redis_server.url, "OSIRIS_MAX_QUEUE": "1", "OSIRIS_MAX_BATCH_SIZE": "1"},
    }
    if "redis_loss_sidecar" in own:
        envs["redis_loss_sidecar"] = {"REDIS_URL": own["redis_loss_sidecar"].server.url,
                                      "OSIRIS_PROPOSAL_STREAM": REDIS_LOSS_STREAM}
    if "own_redis_sidecar" in own:
        envs["own_redis_sidecar"] = {"REDIS_URL": own["own_redis_sidecar"].server.url}
    return envs


class OwnSidecars:
    """The sidecars of ``OWN_SIDECARS`` a session needs, started one after another in a background thread;
    or, with ``prestart=False`` (a pytest-xdist worker: it collects every test but runs only the files it is
    sent, so starting them all ahead would load every sidecar in every worker), each when a test first asks."""

    def __init__(self, envs: dict[str, dict[str, str]], logs: dict[str, Path], own_redis: dict[str, OwnRedis],
                 prestart: bool = True) -> None:
        self.own_redis = own_redis
        self.processes: dict[str, SidecarProcess] = {}
        self._envs, self._logs = envs, logs
        self._started = {name: threading.Event() for name in envs}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._start_all, args=(envs, logs), name="own-sidecars", daemon=True)
        if prestart:
            self._thread.start()

    def _start_all(self, envs: dict[str, dict[str, str]], logs: dict[str, Path]) -> None:
        for name, env in envs.items():
            if self._stopping.is_set():
                break
            process = self.processes[name] = SidecarProcess(env, logs[name])
            self._started[name].set()
            try:  # the next one starts once this one serves (or failed: its test reports why)
                wait_until(lambda p=process: self._stopping.is_set() or p.healthy(), 300, f"{name} to serve", 0.2)
            except AssertionError:
                continue

    def ready(self, name: str) -> SidecarProcess:
        if not self._thread.is_alive() and not self._started[name].is_set():  # on demand (no prestart)
            with self._lock:
                if name not in self.processes:
                    self.processes[name] = SidecarProcess(self._envs[name], self._logs[name])
                    self._started[name].set()
        if not self._started[name].wait(600):
            raise AssertionError(f"{name} was not started within 600 s")
        process = self.processes[name]
        process.wait_ready()
        return process

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(30)
        for process in self.processes.values():  # all told at once: each takes a while to stop
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.stop()


@pytest.fixture(scope="session")
def _own_sidecars(request: pytest.FixtureRequest, redis_server: RedisServer,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnSidecars]:
    """The sidecars of ``OWN_SIDECARS`` that the selected tests ask for, in the order they ask."""
    wanted = sorted({name for item in request.session.items for name in getattr(item, "fixturenames", ())
                     if name in OWN_SIDECARS},
                    key=lambda name: next(i for i, item in enumerate(request.session.items)
                                          if name in getattr(item, "fixturenames", ())))
    own: dict[str, OwnRedis] = {}
    sidecars: OwnSidecars | None = None
    try:
        for name in WITH_OWN_REDIS:
            if name in wanted:
                data_dir = tmp_path_factory.mktemp("redis")
                own[name] = OwnRedis(RedisServer(data_dir=data_dir).start(), data_dir)
        envs = _own_environments(redis_server, own)
        logs = {name: tmp_path_factory.mktemp(name) / "sidecar.log" for name in wanted}  # mktemp: not thread-safe
        sidecars = OwnSidecars({name: envs[name] for name in wanted}, logs, own,
                               prestart="PYTEST_XDIST_WORKER" not in os.environ)
        yield sidecars
    finally:
        if sidecars is not None:
            sidecars.stop()
        for redis in own.values():
            redis.server.stop()


@pytest.fixture(scope="session")
def killable_sidecar(_own_sidecars: OwnSidecars) -> SidecarProcess:
    """On the shared Redis; its test kills it."""
    return _own_sidecars.ready("killable_sidecar")


@pytest.fixture(scope="session")
def overload_sidecar(_own_sidecars: OwnSidecars) -> SidecarProcess:
    """On the shared Redis, with ``OSIRIS_MAX_QUEUE=OVERLOAD_QUEUE`` and a stream of its own."""
    return _own_sidecars.ready("overload_sidecar")


@pytest.fixture(scope="session")
def keyed_sidecar(_own_sidecars: OwnSidecars) -> SidecarProcess:
    """Started as ``make sidecar`` starts it (its own ``redis-server``), with ``OSIRIS_API_KEY=API_KEY``."""
    return _own_sidecars.ready("keyed_sidecar")


@pytest.fixture(scope="session")
def redis_loss_sidecar(_own_sidecars: OwnSidecars) -> tuple[SidecarProcess, OwnRedis]:
    """On a Redis of its own (which its test stops and restarts) and the stream ``REDIS_LOSS_STREAM``."""
    return _own_sidecars.ready("redis_loss_sidecar"), _own_sidecars.own_redis["redis_loss_sidecar"]


@pytest.fixture(scope="session")
def queue_of_one_sidecar(_own_sidecars: OwnSidecars) -> SidecarProcess:
    """On the shared Redis, with a queue and a batch of one."""
    return _own_sidecars.ready("queue_of_one_sidecar")


@pytest.fixture(scope="session")
def own_redis_sidecar(_own_sidecars: OwnSidecars) -> tuple[SidecarProcess, OwnRedis]:
    """On a Redis of its own (which its test stops and restarts), the default stream."""
    return _own_sidecars.ready("own_redis_sidecar"), _own_sidecars.own_redis["own_redis_sidecar"]


# -- The scenario runs several modules read ----------------------------------------------------------

SCENARIO_STAGES = "1s:2,4s:2"  # ~5 s per run


@dataclass(frozen=True)
class ScenarioRun:
    """One finished headless Locust run of a bundled scenario: its CSV prefix, exit code and output."""

    prefix: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class ScenarioRuns:
    """Run folders: ``passing`` (sidecar_load and read_heavy against the sidecar, relaxed default table),
    ``failing`` (the same two against the faulty sidecar, the default table) and ``propose`` (propose_trade
    against the sidecar, relaxed table)."""

    dirs: dict[str, Path]
    runs: dict[tuple[str, str], ScenarioRun]

    def run(self, folder: str, scenario: str) -> ScenarioRun:
        return self.runs[(folder, scenario)]


def _scenario_run(scenario: str, url: str, folder: Path, *args: str) -> ScenarioRun:
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES / f"{scenario}.py"), "--headless",
               "--host", url, "--stages", SCENARIO_STAGES, "--csv", str(folder / scenario), "--csv-full-history",
               "--only-summary", *args]
    env = {k: v for k, v in os.environ.items() if k != "OSIRIS_URL"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    return ScenarioRun(folder / scenario, result.returncode, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def scenario_runs(sidecar: SidecarProcess, faulty_sidecar: SidecarProcess, relaxed_slo_file: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> ScenarioRuns:
    """Five short runs, all at once (each mostly waits on think time and answers), read by the gate
    tests and the report tests alike: one set of real runs instead of one per module."""
    root = tmp_path_factory.mktemp("runs")
    dirs = {name: root / name for name in ("passing", "failing", "propose")}
    for path in dirs.values():
        path.mkdir()
    relaxed = ("--slo-file", str(relaxed_slo_file))
    plan = {("passing", "sidecar_load"): (sidecar.url, relaxed), ("passing", "read_heavy"): (sidecar.url, relaxed),
            ("propose", "propose_trade"): (sidecar.url, relaxed),
            ("failing", "sidecar_load"): (faulty_sidecar.url, ()), ("failing", "read_heavy"): (faulty_sidecar.url, ())}
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        futures = {key: pool.submit(_scenario_run, key[1], url, dirs[key[0]], *args)
                   for key, (url, args) in plan.items()}
        return ScenarioRuns(dirs, {key: future.result() for key, future in futures.items()})
