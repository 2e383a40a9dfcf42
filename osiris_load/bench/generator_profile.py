"""Where a request's generator CPU goes, by function: one client of ``osiris-load bench generator_cost``
(same nginx, same pinning, 32 users, no think time) run under cProfile, or sampled by py-spy.

    osiris-load bench generator_profile --client read-heavy-before --seconds 5
    osiris-load bench generator_profile --client read-heavy
    osiris-load bench generator_profile --client read-heavy --py-spy /tmp/osiris-bench-k6/bin/py-spy \
        --svg docs/img/generator_read_heavy.svg   # sampled (no tracing overhead), with a flame graph

py-spy (``pip install py-spy`` into any throwaway venv) samples the load window only and prints the
share of samples per function (own) and along the request path (inclusive).

Prints the functions by own time per request (µs; cProfile's
own overhead inflates small functions, so read the shares, not the absolute figures), and where
their time goes in groups (Locust's session and response, geventhttpclient, stats, events, gate,
checks, gevent's hub). Only the load is profiled (from Locust's ``test_start`` to ``test_stop``).
"""

from __future__ import annotations

import argparse
import csv
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

from osiris_load.bench.generator_cost import CLIENT_CPU, HELPERS, USERS, Nginx
from osiris_load.testing.support import ROOT

CLASSES = {"read-heavy": "ReadHeavyLean", "read-heavy-before": "ReadHeavyLocustHttp"}
GROUPS = (  # first match wins: (group, substrings of "file:function")
    ("SLO gate + recorder", ("osiris_load/adapter/gate/", "/core/slo/", "/core/openmodel/")),
    ("checks (osiris_load.adapter.users)", ("osiris_load/adapter/users.py",)),
    ("lean path (osiris_load.adapter.lean_http)", ("osiris_load/adapter/lean_http.py",)),
    ("Locust stats", ("locust/stats.py",)),
    ("Locust events", ("locust/event.py",)),
    ("Locust FastHttpSession/response", ("locust/contrib/fasthttp.py",)),
    ("Locust user/task loop", ("locust/user/",)),
    ("geventhttpclient UserAgent (+ URL parsing, cookie jar)", ("geventhttpclient/useragent.py", "urllib/parse.py",
                                                                "cookiejar.py")),
    ("geventhttpclient HTTPClient + pool", ("geventhttpclient/client.py", "geventhttpclient/connectionpool.py",
                                            "threading.py", "select.select", "gevent/lock", "gevent/queue",
                                            "gevent/thread.py")),
    ("geventhttpclient response/parser/headers", ("geventhttpclient/response.py", "geventhttpclient/header.py",
                                                  "geventhttpclient/url.py", "_parser")),
    ("gevent sockets + hub", ("gevent/", "method 'send", "method 'recv", "sock")),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--client", choices=sorted(CLASSES), default="read-heavy-before")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--py-spy", default="", help="py-spy binary: sample instead of cProfile")
    parser.add_argument("--svg", default="", help="with --py-spy: also write a flame graph here")
    parser.add_argument("--listeners", action="store_true",
                        help="only the per-request machinery above the socket, in CPU time per call (no network)")


def main(args: argparse.Namespace) -> int:
    if args.listeners:
        return listeners()
    if args.py_spy:
        return sampled(args.py_spy, CLASSES[args.client], args.seconds, args.svg, args.top)
    with tempfile.TemporaryDirectory(prefix="osiris-generator-profile-") as name:
        tmp = Path(name)
        target = Nginx(tmp)
        try:
            prof, prefix = tmp / "run.prof", tmp / "run"
            command = ["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "locust", "-f",
                       str(HELPERS / "generator_cost_users.py"), CLASSES[args.client], "--headless",
                       "-u", str(USERS), "-r", str(USERS), "-t", f"{args.seconds}s", "--host", target.url,
                       "--only-summary", "--csv", str(prefix), "--loglevel", "WARNING"]
            subprocess.run(command, cwd=ROOT, env={**os.environ, "OSIRIS_SHAPE": "off", "BENCH_PROFILE": str(prof)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                           timeout=args.seconds + 120)
        finally:
            target.stop()
        with open(f"{prefix}_stats.csv", newline="") as handle:
            requests = int(next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")["Request Count"])
        stats = pstats.Stats(str(prof))
        rows = []
        for (file, line, function), (_cc, calls, own, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if True:
                where = f"{file.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}:{line}:{function}"
                rows.append((own / requests * 1e6, calls / requests, where))
        rows.sort(reverse=True)
        total = sum(r[0] for r in rows)
        print(f"{args.client}: {requests} requests under cProfile; per-request functions total {total:.1f} us "
              "(profiled) per request")
        print("\n| own time per request (us, profiled) | share | calls per request | function |")
        print("|---:|---:|---:|---|")
        for own, calls, where in rows[:args.top]:
            print(f"| {own:.2f} | {own / total * 100:.1f} % | {calls:.2f} | `{where}` |")
        groups: dict[str, float] = {}
        for own, _calls, where in rows:
            group = next((g for g, keys in GROUPS if any(k in where for k in keys)), "other")
            groups[group] = groups.get(group, 0.0) + own
        print("\n| group | own time per request (us, profiled) | share |")
        print("|---|---:|---:|")
        for group, own in sorted(groups.items(), key=lambda item: -item[1]):
            print(f"| {group} | {own:.1f} | {own / total * 100:.1f} % |")
    return 0


def listeners(calls: int = 200_000) -> int:
    """CPU time per call of what the lean path does per request besides the network: the event
    with Locust's stats listener, with the SLO gate's too (the default table), Locust's
    ``log_request`` alone, the health check, the response object and the failure exception."""
    import time
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from locust.env import Environment
        from locust.exception import CatchResponseError

        from osiris_load.adapter.gate import Gate
        from osiris_load.adapter.lean_http import LeanResponse
        from osiris_load.adapter.users import health_problem
        from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, load_table

    env = Environment()
    env.create_local_runner()
    response = LeanResponse(200, b'{"status":"ok","model_loaded":true}', None, None, "http://127.0.0.1/health")

    def event(i: int) -> None:
        env.events.request.fire(request_type="GET", name="/health", response_time=1.5 + (i & 7), response_length=35,
                                exception=None, context={}, response=response, start_time=0.0, url=response.url)

    def cost(function: object) -> float:
        started = time.process_time()
        for i in range(calls):
            function(i)  # type: ignore[operator]
        return (time.process_time() - started) / calls * 1e6

    rows = [("request event, Locust's stats listener only", cost(event)),
            ("RequestStats.log_request alone (named entry + total)", cost(
                lambda i: env.stats.log_request("GET", "/health", 1.5 + (i & 7), 35))),
            ("health check (health_problem: status, json.loads of 35 bytes)", cost(lambda i: health_problem(response))),
            ("LeanResponse(...)", cost(lambda i: LeanResponse(200, b"", None, None, "u"))),
            ("CatchResponseError(why) (failures only)", cost(lambda i: CatchResponseError("why")))]
    gate = Gate(env, load_table(DEFAULT_TABLE_PATH))
    env.events.request.add_listener(gate.recording.on_request)
    rows.insert(1, ("request event, Locust's stats + the SLO gate (default table)", cost(event)))
    print("| per request, besides the network | CPU µs per call |\n|---|---:|")
    for label, micros in rows:
        print(f"| {label} | {micros:.2f} |")
    return 0


INCLUSIVE = ("OsirisUser._request", "LeanSession.checked", "LeanSession._exchange", "FastHttpSession.request",
             "UserAgent.urlopen", "HTTPClient.request", "_make_request", "ResponseContextManager.__exit__",
             "EventHook.fire", "RequestStats.log_request", "Recording.on_request", "_problem", "Hub.run",
             "TaskSet.wait", "_osiris_iteration_end")


def sampled(py_spy: str, user_class: str, seconds: int, svg: str, top: int) -> int:
    """py-spy over the load window of one run: own and inclusive shares of samples by function."""
    import collections
    import re
    import time

    from osiris_load.jobs.supervisor import reap, send_stop, start_child

    with tempfile.TemporaryDirectory(prefix="osiris-generator-profile-") as name:
        tmp = Path(name)
        target = Nginx(tmp)
        proc = start_child(["taskset", "-c", CLIENT_CPU, sys.executable, "-m", "locust", "-f",
                            str(HELPERS / "generator_cost_users.py"), user_class, "--headless", "-u", str(USERS),
                            "-r", str(USERS), "-t", f"{seconds + 60}s", "--host", target.url, "--only-summary",
                            "--loglevel", "WARNING"], cwd=ROOT, env={**os.environ, "OSIRIS_SHAPE": "off"},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first, deadline = target.requests(), time.monotonic() + 60
            while target.requests() < first + 1000 and time.monotonic() < deadline:
                time.sleep(0.05)
            raw = tmp / "raw.txt"
            def record(duration: int, *output: str) -> None:
                subprocess.run([py_spy, "record", "--gil", "-r", "500", "-d", str(duration), "--pid", str(proc.pid),
                                *output], check=True, capture_output=True)

            record(seconds, "--format", "raw", "-o", str(raw))
            if svg:
                record(3, "-o", svg)
        finally:
            send_stop(proc)
            reap(proc, time.monotonic() + 20)
            target.stop()
        own: collections.Counter[str] = collections.Counter()
        inclusive: collections.Counter[str] = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = [re.sub(r" \((?:.*site-packages/|.*/)?([^/]*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
            n = int(count)
            total += n
            own[frames[-1]] += n
            for key in {next((k for k in INCLUSIVE if k in f), None) for f in frames} - {None}:
                inclusive[key] += n  # type: ignore[index]
    print(f"{user_class}: {total} samples over {seconds} s of load (py-spy --gil, 500 Hz: samples holding the GIL)")
    print("\n| function (own time) | share of samples |\n|---|---:|")
    for frame, n in own.most_common(top):
        print(f"| `{frame}` | {n / total * 100:.1f} % |")
    print("\n| on the request path (inclusive) | share of samples |\n|---|---:|")
    for key in INCLUSIVE:
        if inclusive[key]:
            print(f"| `{key}` | {inclusive[key] / total * 100:.1f} % |")
    return 0
