"""The generator's own delays in real Locust runs (issue 17): known-answer cases side by side, each
against its own fixture server of known latency (``osiris_load/testing/open_model_target.py --delay-ms``).

* (a) one user burns the CPU without yielding (150 ms every 50 ms) while the others GET /health from a
  server that answers in exactly 50 ms, ``p(95)<100``: was FAIL (exit 99); now INCONCLUSIVE,
  generator-bound, naming the process (exit 0 under the default ``--slo-inconclusive estimate``);
* (a, distributed) the same on one worker: the master names the worker;
* (b) 300 users without think time in one process against a fast server, ``p(95)<20``: not a FAIL;
* (c) control: a server at 150 ms with mild stalls (20 ms every 300 ms, 20 users) still FAILs ``p(95)<100``;
* (d) control: a clean run against the 50 ms server PASSes ``p(95)<200`` with no generator note.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from osiris_load.core.capacity.answer import headline
from osiris_load.core.capacity.model import ProbeResult
from osiris_load.core.capacity.search import SearchConfig, report, search
from osiris_load.core.slo.verdict import FAIL, INCONCLUSIVE, PASS, Verdict, from_json
from osiris_load.jobs.capacity import exit_code
from osiris_load.jobs.capacity_probe import probe_result
from osiris_load.jobs.supervisor import free_port
from osiris_load.testing.open_model_runs import Target
from osiris_load.testing.support import outcome, run_side_by_side
from tests.conftest import ROOT

LOCUSTFILE = ROOT / "tests" / "locustfiles_for_tests" / "generator_hog.py"
TABLE = '[[row]]\nname = "health"\nrequests = ["GET /health"]\nthresholds = ["p(95)<{limit}"]\n'
RUN_S = 5


class Finished:
    def __init__(self, returncode: int, output: str, prefix: Path) -> None:
        self.returncode, self.output, self.prefix = returncode, output, prefix

    @property
    def verdict(self) -> Verdict:
        return from_json(Path(f"{self.prefix}_slo.json").read_text(encoding="utf-8"))


def _env(hog_ms: float, every_s: float = 0.05) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSIRIS_", "LOCUST_"))}
    env.update(HOG_MS=f"{hog_ms:g}", HOG_EVERY_S=f"{every_s:g}")
    return env


def _locust(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def _case(delay_ms: float, limit: int, users: int, hog_ms: float = 0.0, every_s: float = 0.05,
          workers: int = 0, extra: tuple[str, ...] = ()) -> Callable[[Path], Finished]:
    def run(folder: Path) -> Finished:
        table = folder / "table.toml"
        table.write_text(TABLE.format(limit=limit))
        prefix = folder / "run"
        target = Target(delay_ms=delay_ms, first=True)  # the server's own time must stay what the case says
        common = ("--headless", "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{RUN_S}s",
                  "--host", target.url, "--slo-file", str(table), "--csv", str(prefix), *extra)
        try:
            if not workers:
                proc = subprocess.run(_locust(*common), cwd=ROOT, env=_env(hog_ms, every_s), capture_output=True,
                                      text=True, timeout=RUN_S + 60)
                return Finished(proc.returncode, proc.stdout + proc.stderr, prefix)
            port = free_port()
            master = subprocess.Popen(_locust(*common, "--master", "--master-bind-host", "127.0.0.1",
                                              "--master-bind-port", str(port), "--expect-workers", str(workers)),
                                      cwd=ROOT, env=_env(hog_ms, every_s), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            procs = [subprocess.Popen(_locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
                                      cwd=ROOT, env=_env(hog_ms, every_s), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL) for _ in range(workers)]
            try:
                out, _ = master.communicate(timeout=RUN_S + 90)
            finally:
                for proc in (master, *procs):
                    if proc.poll() is None:
                        proc.kill()
                    proc.wait(timeout=10)
            return Finished(master.returncode, out, prefix)
        finally:
            target.stop()
    return run


RUNS = {
    "hog": _case(50, 100, users=5, hog_ms=150),
    "hog_worker": _case(50, 100, users=5, hog_ms=150, workers=1),
    "crowd": _case(0, 20, users=300),
    "slow_server": _case(150, 100, users=20, hog_ms=20, every_s=0.3),  # enough requests that a hiccup of
    # the shared machine (a few hundred ms: every request in flight then is bounded) is a small share
    # p(95)<200 and --slo-window 0: on the loaded 2-core machine a 50 ms server's p95 reaches 80 ms and the
    # time-window widening can leave a 5 s run unsettled (main too); this control is about the generator
    "clean": _case(50, 200, users=10, extra=("--slo-window", "0")),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return run_side_by_side(RUNS, tmp_path_factory, at_once=3)


def _latency(verdict: Verdict):
    return next(t for t in verdict.thresholds if t.kind == "p")


def test_a_cpu_hog_in_the_locustfile_is_not_blamed_on_the_server(runs: dict[str, object]) -> None:
    run = outcome(runs, "hog")
    verdict = run.verdict
    t = _latency(verdict)
    assert (t.state, t.generator_bound, verdict.state) == (INCONCLUSIVE, True, INCONCLUSIVE), run.output
    assert t.observed > 100 and t.chargeable_observed < 100  # measured fails; the server's share does not
    assert "generator-bound" in t.reason and "process local" in t.reason and "--processes N" in t.reason
    assert run.returncode == 0 and verdict.exit_code == 0  # the default policy: the point estimate is not the server's
    (health,) = verdict.generator
    assert health.process == "local" and health.lag_max_ms >= 100 and health.stalls > 0 and health.users == 5
    assert "generator: CPU" in run.output and "is generator-bound" in run.output


def test_the_master_names_the_worker_whose_loop_stalled(runs: dict[str, object]) -> None:
    run = outcome(runs, "hog_worker")
    verdict = run.verdict
    t = _latency(verdict)
    assert (t.state, t.generator_bound) == (INCONCLUSIVE, True), run.output
    (health,) = verdict.generator
    assert health.process != "local" and f"process {health.process}" in t.reason
    assert health.lag_max_ms >= 100 and health.requests > 0
    assert run.returncode == 0


def test_many_users_on_one_process_is_not_a_confident_fail(runs: dict[str, object]) -> None:
    run = outcome(runs, "crowd")
    verdict = run.verdict
    t = _latency(verdict)
    assert t.state != FAIL and run.returncode != 99, run.output
    assert verdict.generator[0].users == 300


def test_a_slow_server_still_fails_beside_mild_stalls(runs: dict[str, object]) -> None:
    run = outcome(runs, "slow_server")
    verdict = run.verdict
    t = _latency(verdict)
    assert (t.state, t.generator_bound) == (FAIL, False), run.output
    assert t.chargeable_observed is not None and t.chargeable_observed >= 100
    assert verdict.generator[0].stalls > 0 and run.returncode == 99


def test_a_clean_run_passes_with_no_generator_note(runs: dict[str, object]) -> None:
    run = outcome(runs, "clean")
    verdict = run.verdict
    assert verdict.state == PASS and run.returncode == 0, run.output
    assert not any(t.generator_bound for t in verdict.thresholds)
    assert not [n for n in verdict.notes if "generator" in n]
    assert verdict.generator[0].process == "local" and verdict.generator[0].requests > 0


def test_the_capacity_search_takes_a_generator_bound_run_as_no_evidence_and_a_server_failure_as_one(
        runs: dict[str, object]) -> None:
    """The real verdicts above, read as capacity probes (``osiris_load.jobs.capacity_probe.probe_result``; no run more):
    the hog's is generator-bound (no evidence either way: the search stops, a lower bound, the
    process named), the slow server's beside mild stalls is a failure of the server."""
    verdicts = {name: outcome(runs, name).verdict for name in ("clean", "hog", "slow_server")}

    def probe_of(high: str) -> Callable[[float, float, int], ProbeResult]:
        def probe(rate: float, duration: float, attempt: int) -> ProbeResult:
            verdict = verdicts["clean" if rate < 4 else high]
            return probe_result(verdict, rate=rate, duration_s=duration, elapsed_s=duration, attempt=attempt,
                                files=None, exit_code=verdict.exit_code)
        return probe

    config = SearchConfig(min_rate=1, max_rate=100, budget_s=1000, probe_duration_s=5)
    found = search(probe_of("hog"), config)
    assert (found.outcome, found.low, found.high, found.generator_rate) == ("generator_bound", 2, None, 4)
    bound = found.probes[-1]
    assert bound.counted_as == "generator" and bound.generator_bound == ("health p(95)<100",)
    assert bound.generator is not None and bound.generator.process == "local"
    result = report(found, config, scenario="hog")
    assert "process local" in headline(result) and exit_code(result) == 97
    failed = search(probe_of("slow_server"), config)
    assert (failed.outcome, failed.high, failed.generator_rate) == ("capacity_found", 4, None)
    assert failed.limiting is not None and failed.limiting.state == FAIL
