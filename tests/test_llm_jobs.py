"""The LLM scenario through the front door, against the known-answer streaming server
(``osiris_load/testing/llm_stream_target.py``), two short jobs side by side:

- ``osiris-load run --scenarios openai_chat --url URL`` with the user's defaults (no --slo-file: the
  scenario's own ``llm.toml``): the ``llm_*`` rows in every surface (console, verdict JSON, the SLO
  CSV, report.html's TTFT/ITL charts and chunks-per-second chart, JUnit, summary.json, progress
  lines), every gap its own sample (9 tokens: 8 ``llm_itl`` samples an answer), the tokens from
  ``usage``;
- ``osiris-load capacity --scenario openai_chat`` over a table of ``llm_ttft`` and ``llm_itl`` against
  the server with one slot (one stream at a time, 60 ms each: at most ~16 answers/s): at 4/s TTFT
  holds, at 32/s the queue grows without bound, so the answer is 4/s, limited by ``llm_ttft``.

No timing of the machine is asserted beyond what the server's schedule makes certain.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from osiris_load.testing.llm_stream_target import Running
from osiris_load.testing.support import outcome, run_side_by_side
from tests.conftest import ROOT

PATH = "/v1/chat/completions"
USER = "OpenAIChatUser"
LLM_ROWS = ("llm_answers", "llm_ttft", "llm_itl", "llm_tpot", "llm_e2el", "llm_output_tokens")
CAPACITY_TABLE = """
[thresholds]
"llm_ttft" = ["p(95)<300"]
"llm_itl{name:/v1/chat/completions}" = ["p(99)<500"]
"""


def front_door(target_args: list[str], *args: str) -> dict[str, Any]:
    target = Running(*target_args)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSIRIS_", "LOCUST_", "OPENAI_"))}
    try:
        done = subprocess.run([sys.executable, "-m", "osiris_load", *args, "--url", target.url],
                              cwd=ROOT, capture_output=True, text=True, timeout=150, env=env)
    finally:
        target.stop()
    return {"rc": done.returncode, "output": done.stdout + done.stderr}


def run_job(folder: Path) -> dict[str, Any]:
    out = folder / "run"
    result = front_door(["--ttft-ms", "50", "--gaps-ms", "10,10,10,40", "--tokens", "9"],
                        "run", "--scenarios", "openai_chat", "--stages", "1s:2,3s:2", "--progress-every", "1",
                        "--out", str(out))
    result["out"] = out
    return result


def capacity_job(folder: Path) -> dict[str, Any]:
    table = folder / "capacity.toml"
    table.write_text(CAPACITY_TABLE, encoding="utf-8")
    out = folder / "capacity"
    result = front_door(["--ttft-ms", "20", "--gaps-ms", "10", "--tokens", "5", "--slots", "1"],
                        "capacity", "--scenario", "openai_chat", "--slo-file", str(table), "--min-rate", "4",
                        "--max-rate", "32", "--growth", "8", "--precision", "7", "--probe-duration", "2s",
                        "--budget", "60s", "--slo-confidence", "0", "--max-vus", "80", "--out", str(out))
    result["out"] = out
    return result


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_side_by_side({"run": run_job, "capacity": capacity_job}, tmp_path_factory, at_once=2)


def test_run_judges_the_llm_keys_by_default_in_every_surface(jobs: dict[str, Any]) -> None:
    run = outcome(jobs, "run")
    out: Path = run["out"]
    assert run["rc"] in (0, 99), run["output"][-4000:]  # the estimate may fail on a starved machine: no timing here
    assert "--slo-file" in run["output"] and "llm.toml" in run["output"]  # the scenario's own table, said
    verdict = json.loads((out / "openai_chat_slo.json").read_text())
    by_row = {t["row"]: t for t in verdict["thresholds"]}
    assert set(LLM_ROWS) <= set(by_row)
    answers = by_row["llm_ttft"]["n"]
    assert answers >= 2 and by_row["llm_itl"]["n"] == 8 * answers  # every gap its own sample
    assert by_row["llm_e2el"]["n"] == by_row["llm_tpot"]["n"] == answers
    tokens = by_row["llm_output_tokens"]
    assert (tokens["unit"], tokens["n"]) == ("tokens/s", answers) and tokens["observed"] > 0
    with open(out / "openai_chat_slo.csv", newline="", encoding="utf-8") as f:
        csv_rows = {r["row"] for r in csv.DictReader(f)}
    assert set(LLM_ROWS) <= csv_rows
    for row in LLM_ROWS:  # the console's table
        assert f"  {row} " in run["output"]
    assert "tokens/s" in run["output"]
    html = (out / "report.html").read_text(encoding="utf-8")
    for entry in ("TTFT", "ITL"):  # TTFT and ITL over time (the gate's llm_history.csv): their latency charts
        assert f'data-chart="latency" data-scenario="openai_chat" data-endpoint="LLM {entry} {PATH} @{USER}"' in html
    assert 'data-chart="llm-chunks"' in html and "output tokens/s" in html
    assert (out / "openai_chat_llm_history.csv").is_file()
    stats = {(r["Type"], r["Name"]): r for r in csv.DictReader((out / "openai_chat_stats.csv").open())}
    assert int(stats[("POST", PATH)]["Request Count"]) >= answers  # Locust: one request per answer
    assert not [key for key in stats if key[0] == "LLM"]
    requests_fact = re.search(r"requests: <b>([\d,]+)</b>", html)
    assert requests_fact is not None  # report.html's request count is Locust's: the answers, not their gaps
    assert int(requests_fact.group(1).replace(",", "")) == int(stats[("", "Aggregated")]["Request Count"])
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    for row in LLM_ROWS:
        assert f'classname="openai_chat.{row}"' in junit
    summary = json.loads((out / "summary.json").read_text())
    assert set(LLM_ROWS) <= {t["row"] for t in summary["scenarios"]["openai_chat"]["thresholds"]}
    progress = [line for line in run["output"].splitlines() if line.startswith("[progress]")]
    assert any("LLM: " in line and "chunks/s" in line and "llm_ttft p(95)<500" in line for line in progress), progress


def test_capacity_over_llm_keys_finds_the_rate_where_ttft_holds(jobs: dict[str, Any]) -> None:
    run = outcome(jobs, "capacity")
    assert run["rc"] == 0, run["output"][-4000:]
    report = json.loads((run["out"] / "capacity.json").read_text())
    assert (report["outcome"], report["max_rate"]) == ("capacity_found", 4), report
    assert "limiting: llm_ttft p(95)<300" in run["output"] and "at 32/s" in run["output"]
    assert "llm_itl{name:/v1/chat/completions} p(99)<500" in run["output"]
