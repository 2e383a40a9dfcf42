"""``python -m suite``: the main job behind ``make run``.

Starts the bundled sidecar (with its own Redis) unless ``OSIRIS_URL`` names a running one, waits
until ``/health`` answers 200, runs each scenario headless with its k6 stages, lets the SLO gate
judge each run, writes the CSVs into a dated folder under ``reports/runs/``, stops the sidecar and
exits with the gate's verdict: 0 every scenario passed, 99 an SLO failed, anything else is the
first other failure (2 bad input, 3 the sidecar did not come up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import locustfiles

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("read_heavy", "sidecar_load", "propose_trade")
EXIT_SLO_FAILED = 99
EXIT_TARGET_DOWN = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m suite", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("OSIRIS_URL"),
                        help="a running sidecar (default: $OSIRIS_URL, else start the bundled one)")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS + ("mixed",), default=list(SCENARIOS))
    parser.add_argument("--out", type=Path, help="run folder (default: reports/runs/<UTC timestamp>)")
    parser.add_argument("--stages", help="k6-style stages for every scenario, e.g. 5s:2,10s:2,2s:0")
    parser.add_argument("--slo-file", help="SLO table (default: slo/default.toml)")
    parser.add_argument("--startup-timeout", type=float, default=600.0,
                        help="seconds to wait for the bundled sidecar's /health (first start builds models)")
    return parser.parse_args(argv)


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Poll /health until 200; fail fast if the sidecar process exits."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the sidecar exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"/health answered {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise RuntimeError(f"{url} was not healthy after {timeout_s:.0f}s ({last})")


def start_sidecar(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "sidecar", "--port", str(port)], cwd=ROOT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_scenario(name: str, url: str, out: Path, args: argparse.Namespace) -> int:
    locustfile = Path(locustfiles.__file__).parent / f"{name}.py"
    command = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", url,
               "--csv", str(out / name), "--csv-full-history", "--only-summary",
               "--html", str(out / f"{name}_locust.html")]
    if args.stages:
        command += ["--stages", args.stages]
    if args.slo_file:
        command += ["--slo-file", args.slo_file]
    print(f"\n=== {name}: {' '.join(command[2:])}", flush=True)
    env = {**os.environ, "OSIRIS_URL": url}
    return subprocess.call(command, cwd=ROOT, env=env)


def build_reports(out: Path) -> None:
    """report.html, junit.xml and summary.json beside the CSVs; a report problem never hides the verdict."""
    from reports import ReportError
    from reports.build import build_all

    try:
        for path in build_all(out):
            print(f"Wrote {path}")
    except ReportError as exc:
        print(f"osiris-load: no report: {exc}", file=sys.stderr)


def overall_code(codes: dict[str, int]) -> int:
    others = [c for c in codes.values() if c not in (0, EXIT_SLO_FAILED)]
    if others:
        return others[0]
    return EXIT_SLO_FAILED if EXIT_SLO_FAILED in codes.values() else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or ROOT / "reports" / "runs" / dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    out.mkdir(parents=True, exist_ok=True)
    sidecar = None
    url = (args.url or "").rstrip("/")
    try:
        if not url:
            from sidecar.redis_server import free_port

            port = free_port()
            url = f"http://127.0.0.1:{port}"
            print(f"Starting the bundled sidecar on {url} (first start builds the default models)...", flush=True)
            sidecar = start_sidecar(port)
        try:
            wait_healthy(url, sidecar, args.startup_timeout if sidecar else 30.0)
        except RuntimeError as exc:
            print(f"osiris-load: the target is not usable: {exc}", file=sys.stderr)
            return EXIT_TARGET_DOWN
        codes = {name: run_scenario(name, url, out, args) for name in args.scenarios}
    except KeyboardInterrupt:
        print("osiris-load: interrupted", file=sys.stderr)
        return 130
    finally:
        if sidecar is not None:
            stop(sidecar)
    code = overall_code(codes)
    build_reports(out)
    print("\n=== Verdicts")
    for name, rc in codes.items():
        word = {0: "PASS", EXIT_SLO_FAILED: "FAIL (SLO)"}.get(rc, f"ERROR (exit {rc})")
        print(f"  {name:<15} {word}")
    print(f"Reports: {out}\nOverall: {'PASS' if code == 0 else 'FAIL'} (exit code {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
