"""``python -m suite``: the main job behind ``make run``.

Starts the bundled sidecar (with its own Redis) unless ``OSIRIS_URL`` names a running one, waits
until ``/health`` answers 200, runs each scenario headless with its k6 stages, lets the SLO gate
judge each run, writes the CSVs into a dated folder under ``reports/runs/``, stops the sidecar and
exits with the gate's verdict: 0 every scenario passed, 99 an SLO failed, 98 one was INCONCLUSIVE
under ``OSIRIS_SLO_INCONCLUSIVE=fail``, anything else is the first other failure (2 bad input, 3 the
sidecar did not come up). The closing lines say, per threshold, whether its interval settled it
and, if not, how many more requests (and how much time at the run's rate) would. The gate's
options travel as environment variables (``OSIRIS_SLO_CONFIDENCE``, ``OSIRIS_SLO_UNTIL_SETTLED``...).
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
from slo.verdict import EXIT_INCONCLUSIVE, EXIT_SLO_FAILED

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("read_heavy", "sidecar_load", "propose_trade")
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


def settle_report(out: Path, names: Sequence[str]) -> list[str]:
    """The closing lines: per scenario, its run state and each threshold's interval, settled or
    what would settle it (from the verdict object each run wrote; nothing judged again)."""
    from slo.formatting import settle_lines
    from slo.verdict import VerdictFormatError, from_json

    lines = []
    for name in names:
        path = out / f"{name}_slo.json"
        try:
            verdict = from_json(path.read_text(encoding="utf-8"), str(path))
        except (OSError, VerdictFormatError):
            continue
        if not verdict.confidence:
            continue
        level = f"{verdict.confidence * 100:g}%" + (f", look {verdict.looks}" if verdict.looks else "")
        lines.append(f"  {name}: {verdict.state} ({level} intervals)")
        lines.extend(f"    {line}" for line in settle_lines(verdict))
    return lines


def overall_code(codes: dict[str, int]) -> int:
    others = [c for c in codes.values() if c not in (0, EXIT_SLO_FAILED, EXIT_INCONCLUSIVE)]
    if others:
        return others[0]
    for code in (EXIT_SLO_FAILED, EXIT_INCONCLUSIVE):
        if code in codes.values():
            return code
    return 0


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
        words = {0: "PASS", EXIT_SLO_FAILED: "FAIL (SLO)", EXIT_INCONCLUSIVE: "INCONCLUSIVE (--slo-inconclusive fail)"}
        word = words.get(rc, f"ERROR (exit {rc})")
        print(f"  {name:<15} {word}")
    closing = settle_report(out, list(codes))
    if closing:
        print("\n=== How sure (each threshold: settled, or what would settle it)")
        print("\n".join(closing))
    print(f"Reports: {out}\nOverall: {'PASS' if code == 0 else 'FAIL'} (exit code {code})")
    return code


if __name__ == "__main__":
    sys.exit(main())
