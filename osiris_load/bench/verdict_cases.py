"""The cases of issue 8 ("the verdict is never wrong"), run as a user would, with figures to compare
two trees side by side (the code before the fix and after).

    osiris-load bench verdict_cases                 # this tree
    osiris-load bench verdict_cases --root OLD_TREE # another checkout (e.g. `git archive 257611b`)

Each case is a tiny Locust run (1-4 users, a few seconds, no network: the locustfile only fires
Locust's ``request`` event with chosen response times). It prints, per case: Locust's own final
request count, the count the gate judged, the exit code and the gate's verdict line. The old tree
has no ``tests/locustfiles_for_tests/events_only.py``: copy this tree's there first, importing
``slo.plugin`` instead of ``slo_locust``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from osiris_load.testing.support import ROOT

TABLE = ('[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["rate>=0.9", "p(95)<800"]\n')
FAST = {"loop": {"method": "GET", "name": "/health", "ms": 5.0, "every_s": 0.01, "max": 100_000}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Case:
    def __init__(self, root: Path, work: Path) -> None:
        self.root, self.work = root, work

    def env(self, script: dict[str, Any]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "OSIRIS_URL"}
        env["GATE_SCRIPT"] = json.dumps(script)
        env["PYTHONPATH"] = str(self.root)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(self.root / "tests/locustfiles_for_tests/events_only.py"),
                *args]

    def table(self, name: str, text: str) -> str:
        path = self.work / f"{name}.toml"
        path.write_text(text)
        return str(path)

    def local(self, name: str, script: dict[str, Any], *args: str, table: str = TABLE) -> dict[str, Any]:
        prefix = self.work / name
        proc = subprocess.run(self.command("--headless", "--only-summary", "--csv", str(prefix), "--slo-file",
                                           self.table(name, table), *args),
                              cwd=self.root, env=self.env(script), capture_output=True, text=True, timeout=120)
        return self.figures(prefix, proc.returncode, proc.stdout + proc.stderr)

    def distributed(self, name: str, script: dict[str, Any], act: Callable[..., None], *, workers: int = 1,
                    users: int = 2, run_time: str = "60s", extra: tuple[str, ...] = ()) -> dict[str, Any]:
        prefix, port = self.work / name, free_port()
        log_path = self.work / f"{name}.log"
        with log_path.open("w") as log:
            master = subprocess.Popen(
                self.command("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                             "--headless", "--only-summary", "--expect-workers", str(workers), "-u", str(users),
                             "-r", str(users), "-t", run_time, "--csv", str(prefix), "--slo-file",
                             self.table(name, TABLE), *extra),
                cwd=self.root, env=self.env(script), stdout=log, stderr=subprocess.STDOUT, text=True)
            procs = [subprocess.Popen(self.command("--worker", "--master-host", "127.0.0.1", "--master-port",
                                                   str(port)), cwd=self.root, env=self.env(script),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
            try:
                act(master, procs, prefix, log_path)
                code = master.wait(timeout=120)
            finally:
                for proc in [master, *procs]:
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGCONT)
                        proc.kill()
                        proc.wait()
        return self.figures(prefix, code, log_path.read_text())

    @staticmethod
    def figures(prefix: Path, code: int, output: str) -> dict[str, Any]:
        out: dict[str, Any] = {"exit": code}
        try:
            with open(f"{prefix}_stats.csv", newline="") as handle:
                out["locust"] = next(int(r["Request Count"]) for r in csv.DictReader(handle)
                                     if r["Name"] == "Aggregated")
        except (OSError, StopIteration):
            out["locust"] = None
        if Path(f"{prefix}_slo.json").is_file():
            doc = json.loads(Path(f"{prefix}_slo.json").read_text())
            out["gate"] = doc["tally"]["judged"]
            out["overall_samples"] = doc["tally"]["judged"]
        elif Path(f"{prefix}_slo_endpoints.csv").is_file():
            with open(f"{prefix}_slo_endpoints.csv", newline="") as handle:
                out["gate"] = sum(int(r["count"]) for r in csv.DictReader(handle))
            with open(f"{prefix}_slo.csv", newline="") as handle:
                rows = list(csv.DictReader(handle))
            out["overall_samples"] = int(rows[-1]["samples"] or 0)
        lines = output.splitlines()
        out["summary"] = [ln.strip() for ln in lines if ln.strip().startswith(("SLO verdict", "SLO gate: ", "reason:",
                                                                              "note:", "unjudged:", "not judged",
                                                                              "lost worker", "✓", "✗", "∅"))][-14:]
        return out


def wait_for(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.05)


def count_now(prefix: Path) -> int:
    try:
        with open(f"{prefix}_stats.csv", newline="") as handle:
            return next((int(r["Request Count"]) for r in csv.DictReader(handle) if r["Name"] == "Aggregated"), 0)
    except (OSError, ValueError):
        return 0


def cases(c: Case) -> dict[str, Callable[[], dict[str, Any]]]:
    def sigterm_master_after(seconds: float) -> Callable[..., None]:
        def act(master, workers, prefix, log) -> None:  # noqa: ANN001
            wait_for(lambda: "All users spawned" in log.read_text())
            time.sleep(seconds)  # a user's Ctrl+C after some seconds
            master.send_signal(signal.SIGTERM)
        return act

    def sigterm_a_worker(master, workers, prefix, log) -> None:  # noqa: ANN001
        wait_for(lambda: count_now(prefix) >= 300)
        workers[0].send_signal(signal.SIGTERM)
        time.sleep(3)
        master.send_signal(signal.SIGTERM)

    def stall_a_worker(master, workers, prefix, log) -> None:  # noqa: ANN001
        wait_for(lambda: count_now(prefix) >= 300)
        workers[0].send_signal(signal.SIGSTOP)
        wait_for(lambda: "failed to send heartbeat" in log.read_text())
        workers[0].send_signal(signal.SIGCONT)
        wait_for(lambda: "self-healed" in log.read_text())
        time.sleep(4)
        master.send_signal(signal.SIGTERM)

    items = [["GET", f"/items/{i}", 3000.0 if i >= 500 else 50.0, i >= 500] for i in range(2000)]
    typo_table = ('[[row]]\nname = "propose"\nrequests = ["POST /propose_trade_adjustment/"]\nthresholds = '
                  '["p(95)<1500"]\n[[row]]\nname = "generate"\nrequests = ["POST /generate"]\nthresholds = '
                  '["p(95)<800"]\n[[row]]\nname = "counted"\nrequests = ["GET /never"]\nthresholds = ["count>=30"]\n')
    typo = ([["POST", "/propose_trade_adjustments/", 9000.0, True]] * 100
            + [["POST", "/generate/", 9000.0, True]] * 100)
    limits_table = ('[[row]]\nname = "g"\nrequests = ["POST /generate"]\nthresholds = ["p(95)<800"]\n'
                    '[[row]]\nname = "h"\nrequests = ["GET /health"]\nthresholds = ["p(99)<1200"]\n')
    exact = ([["POST", "/generate", 100.0, False]] * 94 + [["POST", "/generate", 800.0, False]] * 5
             + [["POST", "/generate", 900.0, False]] + [["GET", "/health", 100.0, False]] * 94
             + [["GET", "/health", 1199.6, False]] * 5 + [["GET", "/health", 1300.0, False]])
    times_table = '[[row]]\nname = "x"\nrequests = ["GET /x"]\nthresholds = ["max<5000s"]\n'
    bad_times = [["GET", "/x", None, False], ["GET", "/x", 7_200_000.0, False]]  # NaN: see test_slo_verdict
    rounding_table = ('[[row]]\nname = "g"\nrequests = ["POST /generate"]\nthresholds = ["p(95)<800"]\n'
                      '[[row]]\nname = "h"\nrequests = ["GET /health"]\nthresholds = ["rate>=0.999"]\n')
    rounding = {"samples": [["POST", "/generate", 800.004, False]] * 100,
                "loop": {"method": "GET", "name": "/health", "ms": 5.0, "every_s": 0, "max": 100_000,
                         "fail_every": 990}}
    two_thresholds = [["GET", "/health", 5.0, False]] * 346
    propose = {"samples": [["POST", "/propose_trade_adjustments/", 900.0, False]] * 40, "slo_rows": ["propose"]}
    default = next(p for p in (c.root / "osiris_load" / "core" / "slo" / "default.toml",  # this layout
                               c.root / "slo" / "default.toml") if p.exists()).read_text()  # before issue 19
    return {
        "1 task raises (exit)": lambda: c.local("r1a", {**FAST, "raise": True}, "-u", "1", "-t", "2s"),
        "1 other plugin's quitting fails (exit)": lambda: c.local("r1b", {**FAST, "failing_quitting": True}, "-u",
                                                                  "1", "-t", "2s"),
        "2 master SIGTERM after 6 s": lambda: c.distributed("r2a", FAST, sigterm_master_after(6)),
        "2 -t 5s --stop-timeout 3, 3 s requests": lambda: c.distributed(
            "r2b", {"loop": {"method": "GET", "name": "/health", "ms": 3000.0, "every_s": 0, "max": 50,
                             "sleep_first": True}}, lambda *a: None, users=4, run_time="5s",
            extra=("--stop-timeout", "3")),
        "2 SIGTERM to one of two workers": lambda: c.distributed("r2c", FAST, sigterm_a_worker, workers=2),
        "3 --reset-stats": lambda: c.local("r3", FAST, "-u", "4", "-r", "1", "-t", "5s", "--reset-stats"),
        "4 GET /items/* over 2000 ids": lambda: c.local("r4", {"samples": items}, "-u", "1", "-t", "2s",
                                                        table='[[row]]\nname = "items"\nrequests = ["GET /items/*"]'
                                                              '\nthresholds = ["rate>=0.99", "p(95)<100"]\n'),
        "5 typos and count on no data": lambda: c.local("r5", {"samples": typo}, "-u", "1", "-t", "2s",
                                                        table=typo_table),
        "6 samples at 800.000 and 1199.6": lambda: c.local("r6", {"samples": exact}, "-u", "1", "-t", "2s",
                                                           table=limits_table),
        "7 worker stalled 3+ s, then back": lambda: c.distributed("r7", FAST, stall_a_worker, workers=2),
        "8 None and a 2 h response": lambda: c.local("r8", {"samples": bad_times}, "-u", "1", "-t", "2s",
                                                table=times_table),
        "9 800.004 ms and 99.89 % texts": lambda: c.local("r9", rounding, "-u", "1", "-t", "20s",
                                                          table=rounding_table),
        "11 OVERALL count, 346 requests": lambda: c.local("r11", {"samples": two_thresholds}, "-u", "1", "-t", "2s"),
        "12 propose-trade rows": lambda: c.local("r12", propose, "-u", "1", "-t", "2s", table=default),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to run (default: this one)")
    parser.add_argument("--only", default="", help="comma-separated case numbers, e.g. 2,6")


def main(args: argparse.Namespace) -> int:
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    with tempfile.TemporaryDirectory(prefix="verdict-cases-") as folder:
        case = Case(args.root.resolve(), Path(folder))
        for name, run in cases(case).items():
            if only and name.split()[0] not in only:
                continue
            result = run()
            print(f"== {name}: exit {result['exit']}, Locust {result.get('locust')}, gate {result.get('gate')}, "
                  f"overall count {result.get('overall_samples')}")
            for line in result["summary"]:
                print(f"   {line}")
            sys.stdout.flush()
    return 0
