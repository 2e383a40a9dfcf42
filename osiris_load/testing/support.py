"""The one copy of the launchers and readers the test suite and the benchmarks share: Locust child
processes (one process, or a master and its workers), runs started side by side, and the nearest-rank
percentile computed on raw samples. Here, not in ``tests/``, so that a benchmark
(``osiris-load bench``) never imports a test module.

Nothing here imports Locust (that would gevent-patch the pytest process): Locust always runs as a
child ``python -m locust``, bounded by its own run time and by a hard timeout here, so a hang is a
test failure naming what the child printed, never a stuck suite.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris_load.jobs.supervisor import free_port

if TYPE_CHECKING:  # only the tests pass pytest's folder factory; a benchmark runs without pytest
    import pytest

__all__ = ["ROOT", "LocustRun", "ahead_for_the_cpu", "guarded", "locust_command", "locust_env", "nearest_rank",
           "outcome", "run_distributed", "run_locust", "run_side_by_side", "side_by_side_folders", "stop_process"]

ROOT = Path(__file__).resolve().parents[2]
"""The source checkout this package lies in (its ``locustfiles/``, ``tests/``, ``.cache/models``)."""
# Settings of the developer's shell that would change what a child run does (target, stages, SLO file...).
SCRUBBED_PREFIXES = ("OSIRIS_", "LOCUST_")


# -- Locust children --------------------------------------------------------------------------------

def locust_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``OSIRIS_``/``LOCUST_`` setting, the repository importable,
    output unbuffered, then ``extra`` (what the test sets on purpose)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def locust_command(locustfile: Path | str, *args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile), *args]


@dataclass(frozen=True)
class LocustRun:
    """A finished Locust child: exit status, what it printed, wall seconds, its command line (``args``, as
    ``subprocess.CompletedProcess`` has it)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    args: tuple[str, ...] = ()

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_locust(locustfile: Path | str, *args: str, cwd: Path = ROOT, env: Mapping[str, str] | None = None,
               timeout: float = 120) -> LocustRun:
    """``locust -f LOCUSTFILE --headless --only-summary ARGS`` in ``cwd``; a run past ``timeout`` is
    killed and fails the test with its output."""
    started = time.monotonic()
    command = locust_command(locustfile, "--headless", "--only-summary", *args)
    try:
        done = subprocess.run(command, cwd=cwd, env=locust_env(env), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        printed = _text(exc.stdout) + _text(exc.stderr)
        raise AssertionError(f"locust did not finish within {timeout}s (hang): {command}\n{printed[-4000:]}") from None
    return LocustRun(done.returncode, done.stdout, done.stderr, time.monotonic() - started, tuple(command))


def _text(value: str | bytes | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value or ""


def run_distributed(locustfile: Path | str, *master_args: str, workers: int, cwd: Path = ROOT,
                    env: Mapping[str, str] | None = None, worker_env: Mapping[int, Mapping[str, str]] | None = None,
                    during: Callable[[subprocess.Popen, list[subprocess.Popen]], None] | None = None,
                    log: Path | None = None, timeout: float = 150) -> LocustRun:
    """A headless master (``--expect-workers WORKERS``, on a free loopback port) and its workers, each
    ``python -m locust -f LOCUSTFILE``; ``during(master, workers)`` acts while it runs (stops a worker...).
    The master's output goes to ``log`` (a pipe could fill); every process is stopped on the way out,
    whatever happened (a worker left stopped by SIGSTOP is continued first, so that it can end)."""
    port = free_port()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as spare:
        log_path = log or Path(spare) / "master.log"
        with log_path.open("w") as handle:
            master = subprocess.Popen(
                locust_command(locustfile, "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port",
                               str(port), "--headless", "--only-summary", "--expect-workers", str(workers),
                               *master_args),
                cwd=cwd, env=locust_env(env), stdout=handle, stderr=subprocess.STDOUT, text=True)
            procs = [subprocess.Popen(locust_command(locustfile, "--worker", "--master-host", "127.0.0.1",
                                                     "--master-port", str(port)),
                                      cwd=cwd, env=locust_env({**(env or {}), **(worker_env or {}).get(i, {})}),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for i in range(workers)]
            try:
                if during is not None:
                    during(master, procs)
                try:
                    code = master.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    raise AssertionError(f"the master did not finish within {timeout}s (hang):\n"
                                         f"{log_path.read_text(errors='replace')[-4000:]}") from None
            finally:
                for proc in [master, *procs]:
                    stop_process(proc, 10)
        return LocustRun(code, log_path.read_text(errors="replace"), "", time.monotonic() - started)


def ahead_for_the_cpu() -> None:
    """A ``preexec_fn``: the child five nice steps ahead of its parent where that is allowed (root), so that
    on a shared machine a known-answer server's times, or a client's readings, stay what the test says;
    where it is not allowed the child runs as it is (the tests judge what the run recorded, not the speed)."""
    try:
        os.nice(-5)
    except OSError:
        pass


def stop_process(proc: subprocess.Popen, timeout_s: float = 30) -> int | None:
    """SIGCONT (it may have been stopped), SIGTERM, wait, then SIGKILL if it did not stop: a test (or a bench)
    never leaves a process behind. Its exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout_s)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


# -- Runs side by side --------------------------------------------------------------------------------
# Real-process runs of a test module started side by side (a few at a time) in one module fixture, and
# read back by the tests. Each run is a function of its own fresh folder. A run that raises is kept as
# its exception and raised again by the test that reads it (:func:`outcome`), so one broken run fails
# its own tests, not the whole module.

def side_by_side_folders(names: Sequence[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A fresh folder per run, made here before any thread starts: ``mktemp`` is not thread-safe."""
    return {name: tmp_path_factory.mktemp(name.replace("+", "")) for name in names}


def guarded(run: Callable[[Path], Any], folder: Path) -> Any:
    """What ``run(folder)`` returns, or the exception it raised (reported by the test that reads it)."""
    try:
        return run(folder)
    except Exception as exc:
        return exc


def run_side_by_side(runs: Mapping[str, Callable[[Path], Any]], tmp_path_factory: pytest.TempPathFactory,
                     at_once: int) -> dict[str, Any]:
    """Every run of ``runs``, ``at_once`` at a time, each in its own folder: name -> what it
    returned, or the exception it raised."""
    folders = side_by_side_folders(list(runs), tmp_path_factory)
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return dict(zip(runs, pool.map(lambda name: guarded(runs[name], folders[name]), runs), strict=True))


def outcome(runs: Mapping[str, Any], name: str) -> Any:
    """What run ``name`` returned; the exception it raised, raised again."""
    value = runs[name]
    if isinstance(value, Exception):
        raise value
    return value


# -- Percentiles of raw samples -------------------------------------------------------------------------

def nearest_rank(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``values``: the ceil(p/100 * n)-th smallest, with ``p`` read
    as the decimal it is written as (``Fraction(str(p))``): in floats 99.9 / 100 * 1000 is 999.0000000000001,
    whose ceiling is 1000, one rank too high."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(Fraction(str(p)) * len(ordered) / 100) - 1)]
