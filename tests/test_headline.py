"""One headline per run: the console's last line, report.html's banner, summary.json, JUnit and the
GitHub step summary print the same string (``osiris_load.core.slo.formatting.run_headline``), for a PASS, a FAIL and
an INCONCLUSIVE run that exits 0 (PASS by estimate).

The run folders are made by the real gate (``osiris_load.core.slo.evaluate`` on a real recorder) and the real
report builder, called through the main job's own ending (``osiris_load.jobs.run.finish``); the step
summary is the workflow's own script, run as CI runs it. No Locust run: milliseconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest
import yaml

from osiris_load.core.slo.evaluate import evaluate, plan_for
from osiris_load.core.slo.formatting import run_headline
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import parse_table
from osiris_load.core.slo.verdict import Verdict, to_json
from osiris_load.jobs.run import finish
from tests.conftest import ROOT

TABLE = parse_table('[[row]]\nname = "health"\nrequests = ["GET /health"]\n'
                    'thresholds = ["rate>=0.999", "p(95)<400"]\n')
STATS_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
                "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
                "99.99%,100%")


def judged(requests: int, latency_ms: float, code: int) -> Verdict:
    """The gate's verdict on ``requests`` answers of ``latency_ms`` each, at 95 % confidence, over 40 s."""
    recorder = RequestRecorder(plan_for(TABLE))
    for _ in range(requests):
        recorder.record("GET", "/health", latency_ms, False)
    return evaluate(TABLE, recorder, confidence=0.95, elapsed_s=40.0).with_exit_code(code)


CASES = {
    # 4000 fast successes: both thresholds settle (rate>=0.999 needs 2995)
    "pass": (lambda: judged(4000, 12.5, 0), 0, "PASS"),
    # 400 slow answers: p(95)<400 FAILs with confidence
    "fail": (lambda: judged(400, 500.0, 99), 99, "FAIL (1 threshold failed with confidence)"),
    # 400 fast successes: p(95) settles, rate>=0.999 cannot yet (the gate's estimate policy: exit 0)
    "inconclusive": (lambda: judged(400, 12.5, 0), 0,
                     "PASS (by estimate; 1 threshold not yet settled: ~4 min more would settle it)"),
}


def write_run(folder: Path, verdict: Verdict, requests: int, latency_ms: float) -> None:
    """A run folder as Locust and the gate leave it: the stats CSV and the verdict object."""
    folder.mkdir()
    cells = f"{requests},0,{latency_ms},{latency_ms},{latency_ms},{latency_ms},2,{requests / 40}," + \
            ",".join([f"{latency_ms}"] * 12)
    (folder / "health_stats.csv").write_text(f"{STATS_HEADER}\nGET,/health,{cells}\n,Aggregated,{cells}\n",
                                             encoding="utf-8")
    (folder / "health_slo.json").write_text(to_json(verdict), encoding="utf-8")


def step_summary(run_dir: Path, tmp_path: Path) -> str:
    """The workflow's "Verdict table in the job summary" step, run as CI runs it."""
    steps = yaml.safe_load((ROOT / ".github" / "workflows" / "load-test.yml").read_text())["jobs"]
    script = next(s for job in steps.values() for s in job["steps"] if s.get("name", "").startswith("Verdict table"))
    summary = tmp_path / "step-summary.md"
    env = {**os.environ, "RUN_DIR": str(run_dir), "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-eo", "pipefail", "-c", script["run"]], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return summary.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", list(CASES))
def test_every_surface_shows_the_same_headline(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, code, expected = CASES[case]
    verdict = make()
    requests = verdict.thresholds[0].requests
    run_dir = tmp_path / "run"
    write_run(run_dir, verdict, requests, 12.5 if case != "fail" else 500.0)
    assert run_headline({"health": verdict}) == expected  # the one function

    assert finish(run_dir, {"health": code}) == code  # the exit-code policy is unchanged
    console = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    assert console == f"Overall: {expected} (exit code {code})"

    page = (run_dir / "report.html").read_text(encoding="utf-8")
    banner = re.search(r'<div class="verdict[^>]*data-headline="([^"]*)"><p class="headline">(.*?)</p>', page)
    assert banner is not None
    assert unescape(banner.group(1)) == expected
    assert unescape(re.sub(r"<[^>]+>", "", banner.group(2))) == expected  # what the reader sees, tags stripped

    assert json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))["headline"] == expected

    junit = ET.parse(run_dir / "junit.xml").getroot()
    (suite,) = junit.findall("testsuite")
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["headline"] == expected

    assert f"**{expected}**" in step_summary(run_dir, tmp_path).splitlines()


def test_headline_with_several_scenarios_and_a_missing_verdict() -> None:
    passing, failing = judged(4000, 12.5, 0), judged(400, 500.0, 99)
    assert run_headline({"a": passing, "b": failing}) == "FAIL (1 threshold failed with confidence in b)"
    assert run_headline({"a": passing, "b": None}) == "NOT JUDGED (no SLO verdict in b)"
    assert run_headline({"a": passing, "b": passing.with_exit_code(1)}) == "ERROR (exit code 1 in b)"
    assert run_headline({}) == "NOT JUDGED (no scenario ran)"
    slow = judged(400, 12.5, 0)  # ~4 min each; the scenarios run one after the other: ~9 min
    assert run_headline({"a": slow, "b": slow}) == (
        "PASS (by estimate; 2 thresholds not yet settled: ~9 min more would settle them)")
