"""The reliability suite's Locust children, slow clients, per-request records and RSS sampling, shared
with the benchmarks of the sidecar under stress (``osiris-load bench soak``, ``sidecar_stress``).

Nothing here imports Locust (that would gevent-patch the pytest process): Locust always runs as a
child ``python -m locust`` process (:data:`RELIABILITY_LOCUSTFILE`), bounded by its own run time and
by a hard timeout here, so a hang is a failure, never a stuck suite or bench.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from osiris_load.testing.support import ROOT, locust_env

RELIABILITY_LOCUSTFILE = Path(__file__).resolve().parent / "locustfile_reliability.py"
# Slow and partial clients: what each held connection sends before it stops (the slow-clients case and its bench).
PARTIAL_REQUESTS = (
    b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Ty",  # headers cut short
    b"POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"  # half a body
    b"Content-Length: 200\r\n\r\n{\"prompt\": \"hel",
    b"GET /health HTTP/1.1\r\n",  # request line only
)


@dataclass
class Finished:
    returncode: int
    output: str
    seconds: float


class LocustProcess:
    """A ``python -m locust`` child with stdout+stderr captured to a file (no pipe to fill up)."""

    def __init__(self, command: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, cwd=ROOT, env=locust_env(env), stdout=self._handle,
                                     stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        if not self._handle.closed:
            self._handle.flush()
        return self.log.read_text(errors="replace")

    def wait(self, timeout_s: float) -> Finished:
        """Wait for the process to end by itself; a hang is killed and reported as a failure."""
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"locust did not finish within {timeout_s}s (hang):\n{self.output()[-4000:]}") \
                from None
        finally:
            self._handle.close()
        return Finished(self.proc.returncode, self.output(), time.monotonic() - self.started)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if not self._handle.closed:
            self._handle.close()


# --------------------------------------------------------------------------------------------------
# Slow and partial clients
# --------------------------------------------------------------------------------------------------


@contextmanager
def partial_clients(url: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections to ``url``, each having sent part of a request (``PARTIAL_REQUESTS`` in turn)
    and held open; closed on the way out."""
    host, port = url.removeprefix("http://").split(":")
    held: list[socket.socket] = []
    try:
        for i in range(count):
            sock = socket.create_connection((host, int(port)), timeout=10)
            sock.sendall(PARTIAL_REQUESTS[i % len(PARTIAL_REQUESTS)])
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def normal_requests(client: httpx.Client, url: str, count: int) -> Iterator[tuple[float, httpx.Response]]:
    """``count`` normal requests one after another, /generate (4 tokens) and /health in turn: (seconds, answer)."""
    for i in range(count):
        started = time.perf_counter()
        if i % 2:
            response = client.get(f"{url}/health")
        else:
            response = client.post(f"{url}/generate", json={"prompt": f"hi {i}", "max_length": 4})
        yield time.perf_counter() - started, response


# --------------------------------------------------------------------------------------------------
# What the reliability locustfile recorded (one JSON file per Locust process)
# --------------------------------------------------------------------------------------------------


@dataclass
class Records:
    statuses: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    no_retry_after: int = 0
    ok_ms: dict[str, list[float]] = field(default_factory=dict)
    proposal_ids: list[str] = field(default_factory=list)
    connection_errors: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    def count(self, status: int | Callable[[int], bool], name: str | None = None) -> int:
        match = status if callable(status) else (lambda s: s == status)
        return sum(n for (_, req, s), n in self.statuses.items() if match(s) and (name is None or req == name))

    def by_status(self) -> dict[int, int]:
        out: Counter[int] = Counter()
        for (_, _, status), n in self.statuses.items():
            out[status] += n
        return dict(sorted(out.items()))


def read_records(directory: Path) -> Records:
    records = Records()
    for path in sorted(directory.glob("records-*.json")):
        data = json.loads(path.read_text())
        for key, n in data["statuses"].items():
            method, name, status = key.split(" ", 2)
            records.statuses[(method, name, int(status))] += n
        records.no_retry_after += data["no_retry_after"]
        for name, values in data["ok_ms"].items():
            records.ok_ms.setdefault(name, []).extend(values)
        records.proposal_ids.extend(data["proposal_ids"])
        records.connection_errors.update(data["connection_errors"])
    return records


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


class RssSampler:
    """Samples a process's RSS (MiB) every ``interval_s`` in a thread until stopped (or the process ends)."""

    def __init__(self, pid: int, interval_s: float = 1.0) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic() - self._t0, rss_mb(self.pid)))
            except psutil.Error:
                return
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def values(self) -> list[float]:
        return [mb for _, mb in self.samples]
