"""Every benchmark command runs: each registered ``osiris-load bench NAME`` on a tiny input (its smoke case
below), through the front door (``python -m osiris_load bench``), side by side, against the suite's
sidecar where a bench needs one. A benchmark that breaks (an import that moved, an option renamed) fails
here instead of on the day someone records figures; a benchmark registered without a smoke case fails
too. What the benches print is not judged: their figures are the machine's (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from osiris_load.bench import BENCHES, command
from osiris_load.testing.support import outcome, run_side_by_side
from tests.conftest import MODEL_CACHE, ROOT, SidecarProcess

SMOKE_TIMEOUT_S = 240
CAPACITY_SLO = str(ROOT / "osiris_load" / "bench" / "helpers" / "capacity_slo.toml")
# case -> (bench, arguments, a line the bench prints when it worked). In the arguments ``{url}`` is the
# suite's running sidecar (benches that would start their own measure it instead), ``{out}`` a scratch
# folder and ``{models}`` the suite's model cache (its exported decode steps are beside it, so no bench
# builds or exports a model).
SMOKE: dict[str, tuple[str, list[str], str]] = {
    "batching": ("batching", ["--requests", "4", "--clients", "2", "--max-new-tokens", "2", "--batch-sizes", "1,2",
                              "--threads", "1", "--cache-dir", "{models}"], "batch"),
    "capacity_known_answer": ("capacity_known_answer", [
        "--search", "--min-rate 12 --max-rate 12 --growth 1.5 --probe-duration 2s --max-probe-duration 2s "
                    "--precision 0.5 --budget 20s",
        "--sweep-rates", "10", "--sweep-duration", "2s", "--out", "{out}/known-answer"], "sweep"),
    "capacity_sidecar": ("capacity_sidecar", [
        "--url", "{url}", "--scenarios", "read_heavy", "--out", "{out}/capacity-sidecar",
        "--search", f"--min-rate 1 --max-rate 2 --probe-duration 2s --budget 15s --slo-window 1 "
                    f"--slo-file {CAPACITY_SLO}"], "| read_heavy | running |"),
    "decode_cost": ("decode_cost", ["--models", "hermes", "--batches", "1", "--tokens", "2", "--rounds", "1",
                                    "--cache-dir", "{models}"], "hermes"),
    "gate_overhead": ("gate_overhead", ["--samples", "2000", "--rounds", "1", "--seconds", "1", "--users", "1",
                                        "--listener-calls", "1000", "--url", "{url}"], "the gate's listener alone"),
    "generator_cost": ("generator_cost", ["--smoke", "--clients", "raw,read-heavy"], "memory per user"),
    "generator_profile": ("generator_profile", ["--client", "read-heavy", "--seconds", "1", "--top", "3"],
                          "SLO gate + recorder"),
    "generator_cases": ("generator_cases", ["--only", "d", "--seconds", "1"], "| d: clean"),
    "generator_overhead": ("generator_overhead", ["--skip-runs", "--listener-calls", "2000"], "loop watchers"),
    "llm_answer_cost": ("llm_answer_cost", ["--tokens", "8", "--answers", "50", "--rounds", "1", "--open"],
                        "events / gate"),
    "open_model_rate": ("open_model_rate", ["--seconds", "2", "--rate", "5", "--workers", "1"], "achieved"),
    "open_model_rate --listener": ("open_model_rate", ["--listener", "--calls", "500", "--rounds", "1"],
                                   "gate listener:"),
    "record_split": ("record_split", ["--rounds", "1", "--calls", "1000"], "split"),
    "runner_loop": ("runner_loop", ["--seconds", "0.3", "--refusals", "20", "--cache-dir", "{models}"],
                    "refusal (queue full)"),
    "sidecar_stress": ("sidecar_stress", ["--url", "{url}", "--held", "4", "--requests", "4", "--seconds", "2",
                                          "--users", "4"], "overload: 4 users"),
    "slo_report_cost": ("slo_report_cost", ["--keys", "5", "--per-key", "5", "--rounds", "1"], "ms"),
    "soak": ("soak", ["--url", "{url}", "--seconds", "3", "--users", "1"], "soak: 3 s"),
    "verdict_cases": ("verdict_cases", ["--only", "1"], "1"),
    "verdict_coverage": ("verdict_coverage", ["--tests", "20", "--duration", "5", "--truth-draws", "20000"],
                         "independent"),
}


def smoke_command(case: str, url: str, out: Path) -> list[str]:
    bench, args, _ = SMOKE[case]
    return command(bench, [a.replace("{url}", url).replace("{out}", str(out)).replace("{models}", str(MODEL_CACHE))
                           for a in args])


@pytest.fixture(scope="module")
def smoke_runs(sidecar: SidecarProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    def run(case: str, folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(smoke_command(case, sidecar.url, folder), cwd=ROOT, capture_output=True, text=True,
                              timeout=SMOKE_TIMEOUT_S)

    return run_side_by_side({case: (lambda folder, case=case: run(case, folder)) for case in SMOKE},
                            tmp_path_factory, at_once=4)


def test_every_registered_benchmark_has_a_smoke_case() -> None:
    assert {bench for bench, _, _ in SMOKE.values()} == set(BENCHES)


def test_every_benchmark_module_is_registered() -> None:
    """A module of ``osiris_load/bench/`` is a benchmark (its helpers live in ``helpers/``)."""
    modules = {path.stem for path in (ROOT / "osiris_load" / "bench").glob("*.py")} - {"__init__"}
    assert modules == set(BENCHES)


def test_the_list_imports_no_benchmark() -> None:
    """``osiris-load bench --list`` names every benchmark from the registry: no benchmark module, nor what
    they need (torch, Locust, the jobs, the fixtures), is imported until one runs."""
    code = ("import sys, contextlib, io\nfrom osiris_load.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n    code = main(['bench', '--list'])\n"
            "print(code, len(out.getvalue().splitlines()))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'locust', 'gevent', 'pandas') "
            "or m.startswith(('osiris_load.bench.', 'osiris_load.jobs', 'osiris_load.testing'))))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"0 {len(BENCHES)}", "[]"]


def test_make_bench_runs_the_benchmarks_through_the_front_door() -> None:
    # --no-print-directory: under CI's own `make test` a nested make says "Leaving directory" last
    for target, args, expected in (
            ("bench", ["BENCH=soak,batching"], "bin/osiris-load bench --all --only soak,batching"),
            ("bench-generator", [], "bin/osiris-load bench --all --only generator_cost")):
        dry = subprocess.run(["make", "-n", "--no-print-directory", target, *args], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[-1].endswith(expected)


@pytest.mark.parametrize("case", sorted(SMOKE))
def test_the_benchmark_runs_on_a_tiny_input(smoke_runs: dict[str, Any], case: str) -> None:
    done = outcome(smoke_runs, case)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert SMOKE[case][2] in done.stdout, done.stdout[-3000:]
