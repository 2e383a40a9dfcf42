"""Every benchmark command runs: each of ``bench/run_all.py``'s list on its tiny input (``--smoke``), side by
side, against the suite's sidecar where a bench needs one. A benchmark that breaks (an import that moved,
an option renamed) fails here instead of on the day someone records figures. What the benches print is
not judged: their figures are the machine's (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.run_all import BENCHES, NOT_COMMANDS, SCRIPTS, command
from tests.conftest import ROOT, SidecarProcess
from tests.support import outcome, run_side_by_side

SMOKE_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def smoke_runs(sidecar: SidecarProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    def run(name: str, folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command(name, smoke=True, url=sidecar.url, out=str(folder)), cwd=ROOT,
                              capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S)

    return run_side_by_side({name: (lambda folder, name=name: run(name, folder)) for name in BENCHES},
                            tmp_path_factory, at_once=4)


def test_every_benchmark_script_is_in_the_list() -> None:
    scripts = {path.stem for path in (ROOT / "bench").glob("*.py")} - NOT_COMMANDS
    assert scripts == {SCRIPTS.get(name, name) for name in BENCHES}


def test_make_bench_runs_the_list() -> None:
    # --no-print-directory: under CI's own `make test` a nested make says "Leaving directory" last
    dry = subprocess.run(["make", "-n", "--no-print-directory", "bench", "BENCH=soak,batching"], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[-1].endswith("bin/python bench/run_all.py --only soak,batching")


@pytest.mark.parametrize("name", sorted(BENCHES))
def test_the_benchmark_runs_on_a_tiny_input(smoke_runs: dict[str, Any], name: str) -> None:
    done = outcome(smoke_runs, name)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert BENCHES[name][2] in done.stdout, done.stdout[-3000:]
