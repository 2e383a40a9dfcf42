"""Shared fixtures: a real Redis and real sidecar processes on loopback, started as the launcher does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sidecar.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
MODEL_CACHE = ROOT / ".cache" / "models"
EXPORT_CACHE = ROOT / ".cache" / "onnx"  # where sidecars started with MODEL_CACHE keep their exported decode steps


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll a condition instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


def stop_process(proc: subprocess.Popen, timeout_s: float = 30) -> int:
    """SIGTERM, wait, then SIGKILL if it did not stop: a test never leaves a process behind."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


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
    text = (ROOT / "slo" / "default.toml").read_text(encoding="utf-8")
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
def start_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SidecarProcess]]:
    """Factory: start a sidecar with extra environment; waits until it serves; stops all at the end."""
    started: list[SidecarProcess] = []

    def start(env: dict[str, str] | None = None, wait: str = "healthy", timeout_s: float = 300) -> SidecarProcess:
        log = tmp_path_factory.mktemp("sidecar") / "sidecar.log"
        process = SidecarProcess(env or {}, log)
        started.append(process)
        check = process.healthy if wait == "healthy" else process.answering
        wait_until(check, timeout_s, f"sidecar on {process.url} ({wait})", interval_s=0.2)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def sidecar(start_sidecar: Callable[..., SidecarProcess], redis_server: RedisServer) -> SidecarProcess:
    """The shared sidecar of the suite, on the shared Redis."""
    return start_sidecar({"REDIS_URL": redis_server.url})
