"""A target with a known answer: a FIFO queue served by ``k`` workers with a known service time.

Requests to ``GET /work`` (and ``POST /generate``, so that the bundled ``sidecar_load`` scenario and
the default SLO table run against it; ``GET /metrics`` answers at once) wait in one FIFO queue; each
of ``k`` worker threads takes the next one and holds it for a service time (``deterministic``:
exactly ``service_ms``; ``exponential``: drawn with that mean from a seeded generator), then the
request is answered. Under Poisson arrivals at rate ``lambda`` this is the M/D/k (or M/M/k) queue,
under evenly spaced arrivals the D/D/k queue (capacity exactly ``k / service``);
:func:`simulate_quantile` computes either's latency percentiles by simulating the same queue (FIFO
over ``k`` servers) and :func:`capacity_for` finds the rate at a percentile limit by bisection: the
true capacity the search must find.

The real queue is slower than its nominal service time: a worker thread oversleeps and waits for
the interpreter lock, more so on a busy machine. So each worker measures what it actually spent per
request (from taking it off the queue to answering it), and ``GET /stats`` returns the sum and the
count: :func:`measured_capacity` is the D/D/k queue's true capacity from them (workers / mean
measured service time), the known answer of *this* run rather than of the ideal queue.

Run as a process (``python -m osiris_load.testing.queueing_target --workers 2 --service-ms 50``): it prints
``PORT <n>`` once listening on 127.0.0.1 and serves until SIGTERM. ``running_target`` starts and
stops it for a test.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import queue
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

QUEUE_WORK = Path(__file__).resolve().parent / "queue_work.py"
"""The scenario that runs against this target (one ``GET /work`` per iteration); its SLO table is
``QUEUE_WORK.with_suffix(".toml")``."""

GENERATED = b'{"generated_text":"ok"}'
METRICS = b"# HELP queue_target_up The queueing target is up.\n# TYPE queue_target_up gauge\nqueue_target_up 1\n"
"""``GET /metrics``: Prometheus text, answered at once (not through the queue)."""

__all__ = ["capacity_for", "measured_capacity", "running_target", "simulate_quantile", "stats"]


def simulate_quantile(rate: float, workers: int, service_s: float, q: float, *, exponential: bool = False,
                      constant: bool = False, n: int = 200_000, seed: int = 1) -> float:
    """The ``q`` quantile (0..1) of the time in system (wait + service) of ``n`` arrivals at ``rate``/s
    (Poisson, or evenly spaced with ``constant``) into a FIFO queue with ``workers`` servers."""
    rng = random.Random(seed)
    free = [0.0] * workers  # when each server is next free (a heap)
    now = 0.0
    times = []
    for _ in range(n):
        now += 1 / rate if constant else rng.expovariate(rate)
        start = max(now, heapq.heappop(free))
        service = rng.expovariate(1 / service_s) if exponential else service_s
        heapq.heappush(free, start + service)
        times.append(start + service - now)
    times.sort()
    return times[min(n - 1, int(q * n))]


def capacity_for(limit_s: float, q: float, workers: int, service_s: float, *, exponential: bool = False,
                 constant: bool = False, n: int = 200_000) -> float:
    """The arrival rate at which the ``q`` quantile of the time in system reaches ``limit_s`` (with
    ``constant`` arrivals and deterministic service: ``workers / service_s`` for any limit above the
    service time, the D/D/k queue never waits below it and grows without bound above it)."""
    low, high = 0.01, workers / service_s * 0.999
    for _ in range(30):
        mid = (low + high) / 2
        if simulate_quantile(mid, workers, service_s, q, exponential=exponential, constant=constant, n=n) < limit_s:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def stats(url: str) -> dict[str, float]:
    """``GET /stats``: ``workers``, ``requests`` served and ``busy_s``, the workers' time on them."""
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        return json.loads(response.read())


def measured_capacity(url: str) -> float:
    """The D/D/k capacity of the running target as it really served: workers / mean service time
    measured by its workers (constant arrivals: no wait below it, a growing queue above it)."""
    served = stats(url)
    return served["workers"] * served["requests"] / served["busy_s"]


def serve(workers: int, service_s: float, exponential: bool, seed: int = 1) -> ThreadingHTTPServer:
    jobs: queue.Queue[threading.Event] = queue.Queue()
    rng = random.Random(seed)
    lock = threading.Lock()
    served = {"workers": workers, "requests": 0, "busy_s": 0.0}

    def worker() -> None:
        while True:
            done = jobs.get()
            started = time.perf_counter()
            time.sleep(rng.expovariate(1 / service_s) if exponential else service_s)
            done.set()
            spent = time.perf_counter() - started
            with lock:
                served["requests"] += 1
                served["busy_s"] += spent

    for _ in range(workers):
        threading.Thread(target=worker, daemon=True).start()

    def queued() -> None:
        done = threading.Event()
        jobs.put(done)
        done.wait(60)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection per user, no reconnect per request

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = b"ok"
            if self.path == "/work":
                queued()
            elif self.path == "/stats":
                with lock:
                    body = json.dumps(served).encode()
            elif self.path == "/metrics":
                body = METRICS
            self.answer(body)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            """``POST /generate(/)``: the sidecar's answer, served by the queue (sidecar_load's first request)."""
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/generate":
                self.answer(b"not found", 404)
                return
            queued()
            self.answer(GENERATED)

        def answer(self, body: bytes, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # no line per request
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            """A client that hangs up (a probe stopping at its end) is normal here: no traceback."""
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    server.request_queue_size = 512
    return server


@contextlib.contextmanager
def running_target(workers: int = 2, service_ms: float = 50.0, exponential: bool = False) -> Iterator[str]:
    """The target in a child process; yields its URL and stops it (SIGTERM, then SIGKILL) after."""
    command = [sys.executable, str(Path(__file__)), "--workers", str(workers), "--service-ms", str(service_ms)]
    if exponential:
        command.append("--exponential")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "PORT n" once listening (the child exits on error: EOF)
        if not line.startswith("PORT "):
            raise RuntimeError(f"queueing target did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--service-ms", type=float, default=50.0)
    parser.add_argument("--exponential", action="store_true")
    args = parser.parse_args()
    server = serve(args.workers, args.service_ms / 1000, args.exponential)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()
