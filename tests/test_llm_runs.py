"""The LLM scenario (``locustfiles/openai_chat.py``) in real Locust runs against the known-answer
streaming server (``osiris_load/testing/llm_stream_target.py``), two runs side by side, a few seconds each:

- known answer: TTFT 50 ms, then gaps of 10, 10, 10, 40 ms in turn (9 tokens, so 8 gaps an answer:
  three quarters 10 ms, one quarter 40 ms). The gate's exact percentiles must land within a few ms of
  those (p40/p60 at 10 ms, p85/p95 at 40 ms, away from the 75 % boundary where one late chunk would
  move a rank), every gap must be its own sample (8 per answer: none merged, none split), TPOT must be
  (3 x 10 + 40) x 2 / 8 = 17.5 ms, and tokens come from ``usage``;
- failures, on a master and one worker: the server cycles through a whole answer and its five broken
  streams; each is a failed request with its own reason, and nothing hangs (the stall ends at
  ``--stream-timeout``); Locust counts one request per answer, the gate every gap.

In every run Locust's statistics hold one request per streamed answer (and the ``GET /v1/models``
that picked the model), never an entry per measurement: those are the gate's.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from osiris_load.core.slo.generator import STALL_MIN_S
from osiris_load.testing.llm_stream_target import Running
from osiris_load.testing.support import (
    ahead_for_the_cpu,
    nearest_rank,
    outcome,
    run_distributed,
    run_side_by_side,
)
from tests.conftest import ROOT

OPENAI_CHAT = ROOT / "locustfiles" / "openai_chat.py"
PATH = "/v1/chat/completions"
TOLERANCE_MS = 6.0
HDR_PRECISION = 1e-3  # the verdict shows percentiles from a 3-significant-digit histogram
KNOWN_TABLE = f"""
[thresholds]
"llm_ttft{{name:{PATH}}}" = ["p(50)<100000", "max<100000"]
"llm_itl" = ["p(40)<100000", "p(60)<100000", "p(85)<100000", "p(95)<100000"]
"llm_tpot{{name:/v1/*}}" = ["p(50)<100000"]
"llm_e2el" = ["p(50)<100000"]
"llm_output_tokens" = ["count>0", "rate>0"]
"llm_input_tokens" = ["count>0"]
"""
ROWS = {"TTFT": f"llm_ttft{{name:{PATH}}}", "TTFT default": "llm_ttft", "ITL default": "llm_itl",
        "ITL": "llm_itl", "TPOT": "llm_tpot{name:/v1/*}", "E2EL": "llm_e2el",
        "output": "llm_output_tokens", "input": "llm_input_tokens"}


def run_locust(folder: Path, target_args: list[str], *args: str, workers: int = 0) -> dict[str, Any]:
    """The scenario against the fixture, in one process or (``workers``) a master and its workers."""
    target = Running(*target_args)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OSIRIS_", "LOCUST_", "OPENAI_"))}
    try:
        if workers:
            run = run_distributed(OPENAI_CHAT, "--host", target.url, "--csv", str(folder / "run"), *args,
                                  workers=workers, env={"OPENAI_API_KEY": ""}, timeout=90)
            rc, output = run.returncode, run.output
        else:
            done = subprocess.run([sys.executable, "-m", "locust", "-f", str(OPENAI_CHAT), "--headless",
                                   "--only-summary", "--host", target.url, "--csv", str(folder / "run"), *args],
                                  cwd=ROOT, capture_output=True, text=True, timeout=90, env=env,
                                  preexec_fn=ahead_for_the_cpu)  # its readings, not the machine's load
            rc, output = done.returncode, done.stdout + done.stderr
    finally:
        target.stop()
    out: dict[str, Any] = {"rc": rc, "output": output}
    verdict = folder / "run_slo.json"
    out["verdict"] = json.loads(verdict.read_text()) if verdict.exists() else None
    sent = folder / "sent.jsonl"
    out["sent"] = [json.loads(line) for line in sent.read_text().splitlines()] if sent.exists() else []
    with open(folder / "run_stats.csv", newline="") as f:
        out["stats"] = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    with open(folder / "run_failures.csv", newline="") as f:
        out["failures"] = [r["Error"] for r in csv.DictReader(f)]
    return out


def known(folder: Path) -> dict[str, Any]:
    table = folder / "known.toml"
    table.write_text(KNOWN_TABLE, encoding="utf-8")
    return run_locust(folder, ["--ttft-ms", "50", "--gaps-ms", "10,10,10,40", "--tokens", "9", "--log",
                               str(folder / "sent.jsonl")],
                      "--no-shape", "-u", "2", "-r", "2", "-t", "4s", "--slo-file", str(table))


def failures(folder: Path) -> dict[str, Any]:
    """The user's defaults: no --slo-file, so the scenario's own table (llm.toml) judges, under the open
    model, on a master and one worker (the measurements travel in the gate's worker reports); 24 answers/s:
    a worker that starts late on a loaded machine still cycles through every broken stream (one in six)."""
    return run_locust(folder, ["--ttft-ms", "5", "--gaps-ms", "2", "--tokens", "4"],
                      "--arrival-rate", "24", "-t", "2s", "--model", "cycle", "--stream-timeout", "0.25", workers=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_side_by_side({"known": known, "failures": failures}, tmp_path_factory, at_once=2)


def observed(verdict: dict[str, Any], measurement: str, expression: str) -> tuple[float, int]:
    row = ROWS[measurement]
    for threshold in verdict["thresholds"]:
        if threshold["row"] == row and threshold["expression"] == expression:
            return float(threshold["observed"]), int(threshold["n"])
    raise AssertionError(f"no {row} {expression} in the verdict")


def between_server_and_chargeable(verdict: dict[str, Any], measurement: str, server: list[float]) -> None:
    """The client's p(50) of ``measurement`` (TTFT or E2EL: from the request's start) against the server's
    log of the same answers. The measured figure is never below the server's (causality: the request
    started before the server received it, and a token is read after the server stamped and wrote
    it), exactly, at the client's rank among the server's answers (the server may log up to a user's
    worth more: answers the client was stopped reading). The chargeable figure (the measured one less
    the load generator's own stalls, which the gate measures: docs/verdicts.md) is at most the
    server's plus TOLERANCE_MS and one stretch under the stall threshold (the gate's bound leaves
    those out), at the rank shifted by the answers the client did not finish: on a starved machine
    the client's delay goes into the bound, not into the test's tolerance."""
    threshold = next(t for t in verdict["thresholds"] if t["row"] == ROWS[measurement] and t["expression"] ==
                     "p(50)<100000")
    answers, measured = threshold["n"], threshold["observed"]
    charged = threshold["chargeable_observed"]
    ordered = sorted(server)
    extra = len(ordered) - answers
    assert 0 <= extra <= 2, (answers, len(ordered))  # 2 users: at most one unfinished answer each
    rank = math.ceil(answers / 2)
    low, high = ordered[rank - 1], ordered[rank - 1 + extra]
    assert measured >= low * (1 - HDR_PRECISION), (measurement, measured, ordered)
    assert charged is not None and charged <= high + TOLERANCE_MS + STALL_MIN_S * 1000, (
        measurement, measured, charged, ordered)


def test_ttft_itl_and_tpot_percentiles_are_the_known_answer(runs: dict[str, Any]) -> None:
    """The client's figures against what the server really sent (its log, same monotonic clock): on a
    starved machine the server's own schedule slips, so its log is the known answer; and that log
    itself follows the nominal schedule unless the machine is starved (not asserted: machine speed).
    TTFT and E2EL, which carry the client's own delay in every sample, are held between the measured
    and the chargeable figure (``between_server_and_chargeable``)."""
    run = outcome(runs, "known")
    assert run["rc"] == 0, run["output"][-3000:]
    verdict, sent = run["verdict"], run["sent"]
    assert sent and all(len(s["sent"]) == 9 for s in sent)
    server_ttft = [(s["sent"][0] - s["received"]) * 1000 for s in sent]
    server_gaps = [(b - a) * 1000 for s in sent for a, b in zip(s["sent"], s["sent"][1:], strict=False)]
    server_tpot = [(s["done"] - s["sent"][0]) * 1000 / 8 for s in sent]  # the client's e2e ends at [DONE]
    answers = observed(verdict, "TTFT", "p(50)<100000")[1]
    assert answers >= 2
    between_server_and_chargeable(verdict, "TTFT", server_ttft)
    assert observed(verdict, "TTFT", "max<100000")[0] >= 50  # the schedule: never before 50 ms
    gaps = observed(verdict, "ITL", "p(40)<100000")[1]
    assert gaps == 8 * answers  # every gap its own sample: none merged, none split
    for p, nominal in ((40, 10), (60, 10), (85, 40), (95, 40)):
        value = observed(verdict, "ITL", f"p({p})<100000")[0]
        assert abs(value - nearest_rank(server_gaps, p)) <= TOLERANCE_MS, (p, value, nominal, sorted(server_gaps))
    tpot = observed(verdict, "TPOT", "p(50)<100000")[0]
    assert abs(tpot - nearest_rank(server_tpot, 50)) <= TOLERANCE_MS, (tpot, sorted(server_tpot))
    assert_one_request_per_answer(run, answers)
    assert "counted from usage" in run["output"]
    between_server_and_chargeable(verdict, "E2EL", [(s["done"] - s["received"]) * 1000 for s in sent])
    assert observed(verdict, "output", "count>0") == (9 * answers, answers)  # usage: 9 tokens an answer
    assert observed(verdict, "input", "count>0")[1] == answers
    rate = next(t for t in verdict["thresholds"] if t["row"] == "llm_output_tokens" and t["expression"] == "rate>0")
    assert rate["unit"] == "tokens/s" and rate["observed"] > 0


def assert_one_request_per_answer(run: dict[str, Any], answers: int) -> None:
    """Locust counts the answers (and the one GET /v1/models that picked the model), not their gaps."""
    answer_row = run["stats"][("POST", PATH)]
    assert int(answer_row["Request Count"]) == answers and int(answer_row["Failure Count"]) == 0
    models = sum(int(r["Request Count"]) for (method, name), r in run["stats"].items() if name == "/v1/models")
    assert set(run["stats"]) <= {("POST", PATH), ("GET", "/v1/models"), ("", "Aggregated")}, sorted(run["stats"])
    assert int(run["stats"][("", "Aggregated")]["Request Count"]) == answers + models


def test_each_broken_stream_fails_its_request_with_its_reason(runs: dict[str, Any]) -> None:
    run = outcome(runs, "failures")
    reasons = "\n".join(run["failures"])
    for reason in ("stream cut before [DONE] after 2 text chunks", "stream chunk is not JSON: {not json",
                   "stream had no tokens", "error in stream: fixture: the model fell over",
                   "stream stalled: nothing for 0.25 s (--stream-timeout) after 1 text chunks"):
        assert reason in reasons, reasons
    answers = run["stats"][("POST", PATH)]
    assert int(answers["Request Count"]) > int(answers["Failure Count"]) >= 5  # the whole answers pass

def test_master_and_worker_one_request_per_answer_every_gap_at_the_gate(runs: dict[str, Any]) -> None:
    """Distributed (the failures run): Locust's statistics on the master count one request per answer,
    broken ones included, while the gate's llm_ttft holds each whole answer and llm_itl every gap of
    them (3 per 4-token answer), shipped by the worker in the gate's reports."""
    run = outcome(runs, "failures")
    answers = run["stats"][("POST", PATH)]
    whole = int(answers["Request Count"]) - int(answers["Failure Count"])
    assert whole >= 1
    assert observed(run["verdict"], "TTFT default", "p(95)<500")[1] == whole  # only whole answers are measured
    assert observed(run["verdict"], "ITL default", "p(99)<100")[1] == 3 * whole
    models = sum(int(r["Request Count"]) for (_, name), r in run["stats"].items() if name == "/v1/models")
    assert set(run["stats"]) <= {("POST", PATH), ("GET", "/v1/models"), ("", "Aggregated")}, sorted(run["stats"])
    assert int(run["stats"][("", "Aggregated")]["Request Count"]) == int(answers["Request Count"]) + models
    assert "locustfiles/" not in run["output"], run["output"][-6000:]  # no traceback through the scenario


def test_the_default_llm_table_judges_the_open_model_with_the_measured_pair(runs: dict[str, Any]) -> None:
    """No --slo-file: the scenario's own table (llm.toml) judges. Under the open model TTFT and e2e are
    corrected for late starts (the measured figure beside), ITL and TPOT are measured (a late start
    delays no gap): their corrected and measured figures are the same samples."""
    run = outcome(runs, "failures")
    verdict = run["verdict"]
    assert verdict is not None and verdict["table"].endswith("llm.toml"), run["output"][-3000:]
    by_row = {t["row"]: t for t in verdict["thresholds"]}
    assert {"llm_answers", "llm_ttft", "llm_itl", "llm_tpot", "llm_e2el", "llm_output_tokens"} <= set(by_row)
    assert by_row["llm_answers"]["state"] == "FAIL"  # five broken streams of six
    for row in ("llm_ttft", "llm_e2el", "llm_itl", "llm_tpot"):
        assert by_row[row]["n"] >= 1 and by_row[row]["uncorrected_observed"] is not None, by_row[row]
    for row in ("llm_itl", "llm_tpot"):
        assert by_row[row]["uncorrected_observed"] == pytest.approx(by_row[row]["observed"], abs=0.01)
    assert by_row["llm_ttft"]["uncorrected_observed"] <= by_row["llm_ttft"]["observed"] + 0.01
    assert verdict["open_model"] is not None
