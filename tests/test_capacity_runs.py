"""``osiris-load capacity`` end to end: real Locust probes in open mode against a queueing target
whose capacity is known (tests/queueing_target.py), the documented exit codes, and a stop signal.

The search test runs with constant arrivals, where the queue's capacity is crisp (D/D/2: exactly
workers / service time = 40 iterations/s; no latency above it is bounded) and 8 s probes settle
within a minute and a half on a busy 2-core machine. Poisson arrivals (M/D/2, capacity 21.1/s for
the same table) need much longer probes to settle near the capacity: that run is recorded, with its
command, in docs/benchmarks.md.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import ROOT, wait_until
from tests.queueing_target import capacity_for, running_target

LOCUSTFILE = ROOT / "tests" / "locustfiles_for_tests" / "queue_work.py"
SLO_FILE = LOCUSTFILE.with_suffix(".toml")
WORKERS, SERVICE_MS, LIMIT_MS, Q = 2, 50.0, 100.0, 0.95  # queue_work.toml: p(95)<100


def capacity(url: str, out: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "suite", "capacity", "--scenario", str(LOCUSTFILE), "--url", url,
               "--slo-file", str(SLO_FILE), "--out", str(out), *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def read(out: Path) -> dict:
    return json.loads((out / "capacity.json").read_text())


def _search(folder: Path) -> subprocess.CompletedProcess[str]:
    with running_target(WORKERS, SERVICE_MS) as url:
        return capacity(url, folder, "--arrivals", "constant", "--min-rate", "9", "--max-rate", "96",
                        "--probe-duration", "8s", "--max-probe-duration", "16s", "--precision", "0.08",
                        "--slo-window", "1", "--budget", "120s")


def _table(folder: Path, limit_ms: int) -> str:
    path = folder / f"p95-{limit_ms}.toml"
    path.write_text(f'[[row]]\nname = "work"\nrequests = ["GET /work"]\nthresholds = ["p(95)<{limit_ms}"]\n')
    return str(path)


def _below(folder: Path) -> subprocess.CompletedProcess[str]:
    """p(95)<20: below the 50 ms service time, so it fails at the lowest rate."""
    with running_target(WORKERS, SERVICE_MS) as url:
        return capacity(url, folder / "below", "--slo-file", _table(folder, 20), "--min-rate", "16",
                        "--probe-duration", "3s", "--budget", "20s")


def _above(folder: Path) -> subprocess.CompletedProcess[str]:
    """p(95)<400: far above a busy machine's noise, so it passes at the highest rate."""
    with running_target(WORKERS, SERVICE_MS) as url:
        return capacity(url, folder / "above", "--slo-file", _table(folder, 400), "--arrivals", "constant",
                        "--min-rate", "16", "--max-rate", "24",
                        "--probe-duration", "8s", "--slo-window", "1", "--budget", "40s")


BAD_CONFIGURATIONS: list[tuple[list[str], str]] = [
    (["--slo-file", "/nonexistent.toml"], "nonexistent"),
    (["--max-rate", "0.5"], "--max-rate"),
    (["--budget", "2s"], "--budget"),
]


def _bad(extra: list[str]) -> Callable[[Path], subprocess.CompletedProcess[str]]:
    return lambda folder: capacity("http://127.0.0.1:9", folder, *extra, timeout=60)


RUNS: dict[str, Callable[[Path], subprocess.CompletedProcess[str]]] = {
    "search": _search,
    "below": _below,
    "above": _above,
    **{f"bad-{i}": _bad(extra) for i, (extra, _) in enumerate(BAD_CONFIGURATIONS)},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """The search and the exit-code runs side by side, each against its own target (its own process
    and port) in its own folder: the search (~70-90 s) hides the others. The search's bound rests on
    its third probe (9, 18, then 36/s: within 10 % of 40/s only if it passes, at 90 % of the queue's
    capacity), so that probe runs beside nothing but the option checks (each exits before any load);
    the exit-code runs start once its verdict is written. Its later probes sit above 36/s: load
    beside them can only make them fail, which leaves the bracket's low end where it was."""
    folders = {name: tmp_path_factory.mktemp(name) for name in RUNS}  # here: mktemp is not thread-safe

    def one(name: str) -> Any:
        try:
            return RUNS[name](folders[name])
        except Exception as exc:  # reported by the test that reads it
            return exc

    with ThreadPoolExecutor(max_workers=3) as pool:
        search = pool.submit(one, "search")
        futures = {name: pool.submit(one, name) for name in RUNS if name.startswith("bad-")}
        wait_until(lambda: search.done() or any(folders["search"].glob("probe-03-*_slo.json")), 300,
                   "the search's third probe")  # bounded by the search's own timeout (240 s)
        futures |= {name: pool.submit(one, name) for name in ("below", "above")}
        futures["search"] = search
        return {name: (folders[name], futures[name].result()) for name in RUNS}


def finished(runs: dict[str, tuple[Path, Any]], name: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder, value = runs[name]
    if isinstance(value, Exception):
        raise value
    return folder, value


def test_the_search_lands_within_10_percent_of_the_true_capacity(runs: dict[str, tuple[Path, Any]]) -> None:
    true = capacity_for(LIMIT_MS / 1000, Q, WORKERS, SERVICE_MS / 1000, constant=True, n=20_000)
    assert abs(true - WORKERS / (SERVICE_MS / 1000)) < 0.5  # D/D/k: k / service time
    folder, done = finished(runs, "search")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = read(folder)
    assert doc["outcome"] == "capacity_found"
    assert doc["stopped_because"] in ("precision", "budget")
    low, high = doc["bracket"]
    assert doc["max_rate"] == low and low < high
    assert abs(low - true) / true <= 0.10, (low, high, true, done.stdout)
    assert doc["limiting_threshold"]["row"] == "work" and doc["limiting_threshold"]["expression"] == "p(95)<100"
    assert doc["notes"] == []  # p(95)<100 needs 59 requests: 6.6 s at 9/s, within the 16 s cap
    for probe in doc["probes"]:
        assert probe["planned_duration_s"] == pytest.approx(59 / probe["rate"])  # queue_work: 1 request/iteration
        assert (folder / f"{probe['files']}_slo.json").is_file()
        assert probe["goodput"] is not None and probe["late"] is not None and probe["dropped"] is not None
        assert [t["row"] for t in probe["thresholds"]] == ["work"]
    assert 'data-chart="capacity"' in (folder / "capacity.html").read_text()


def test_exit_codes_below_the_lowest_and_above_the_highest_rate(runs: dict[str, tuple[Path, Any]]) -> None:
    folder, below = finished(runs, "below")
    assert below.returncode == 96, below.stdout + below.stderr
    assert read(folder / "below")["outcome"] == "fails_at_min_rate"
    folder, above = finished(runs, "above")
    assert above.returncode == 97, above.stdout + above.stderr
    doc = read(folder / "above")
    assert (doc["outcome"], doc["stopped_because"], doc["max_rate"]) == ("passes_at_highest_rate", "max_rate", 24)


@pytest.mark.parametrize(("index", "message"), [(i, message) for i, (_, message) in enumerate(BAD_CONFIGURATIONS)],
                         ids=[" ".join(extra) for extra, _ in BAD_CONFIGURATIONS])
def test_bad_configuration_exits_2_before_any_load(runs: dict[str, tuple[Path, Any]], index: int,
                                                   message: str) -> None:
    folder, done = finished(runs, f"bad-{index}")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not list(folder.glob("probe-*"))


def test_a_stop_signal_stops_every_probe_and_exits_130(tmp_path: Path) -> None:
    with running_target(WORKERS, SERVICE_MS) as url:
        proc = subprocess.Popen([sys.executable, "-m", "suite", "capacity", "--scenario", str(LOCUSTFILE), "--url", url,
                                 "--slo-file", str(SLO_FILE), "--out", str(tmp_path), "--min-rate", "2",
                                 "--probe-duration", "30s", "--budget", "60s"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: any(tmp_path.glob("probe-*.log"))
                       and any("locust" in " ".join(c.cmdline()) for c in psutil.Process(proc.pid).children()),
                       60, "the first probe's Locust run")
            children = psutil.Process(proc.pid).children(recursive=True)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
