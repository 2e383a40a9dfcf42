"""The reports (JUnit, summary.json, HTML) of gate verdicts no short real run gives on demand: every
``--slo-inconclusive`` policy, a gate failed by a lost worker (no threshold failed), an abort, and
exceptions in user code.

Each run folder is written here: Locust's ``_stats.csv`` for the request counts, and the gate's
``_slo.json`` from a verdict the real gate computes (``osiris_load.core.slo.evaluate``) over requests recorded here,
judged by the user's own default table (``slo/default.toml``). The expected answers are worked out by
hand from those requests (see each case), never read back from the code under test. Pure: no process.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from osiris_load.core.slo.evaluate import conclude, evaluate, plan_for
from osiris_load.core.slo.recorder import RequestRecorder
from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, SloTable, load_table, parse_table
from osiris_load.core.slo.verdict import LostWorkerInfo, UserExceptions, Verdict, to_json
from osiris_load.reports.html import render_report
from osiris_load.reports.junit import render_junit_file
from osiris_load.reports.summary_json import summary_of

LOCUST_STATS_HEADER = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
                       "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,"
                       "80%,90%,95%,98%,99%,99.9%,99.99%,100%")
DEFAULT_THRESHOLDS = 9  # slo/default.toml: generate 3, health 2, metrics 2, propose 2
# /health, 28 answers in 12 ms and 2 in 1000 ms (a value the HDR recorder holds exactly), none failed.
# p(95)<400: the nearest rank of p95 in 30 is ceil(28.5) = 29, the 29th smallest is 1000 ms, so the point
# estimate fails; 2 of 30 above the limit is what a true p95 under 400 gives with probability
# 1 - 0.95**30 - 30 * 0.05 * 0.95**29 = 0.45, so at 95 % confidence neither side is shown: INCONCLUSIVE.
# rate>=0.999: 30 of 30 succeeded (the estimate passes), but 30 requests cannot show a rate of 99.9 %
# (0.999**30 = 0.97 > 0.05): INCONCLUSIVE. The other 7 thresholds of the default table: no data.
HEALTH_UNSETTLED = [(12.0, False)] * 28 + [(1000.0, False)] * 2


def recorded(table: SloTable, samples: dict[tuple[str, str], list[tuple[float, bool]]]) -> RequestRecorder:
    recorder = RequestRecorder(plan_for(table))
    for (method, name), values in samples.items():
        for ms, failed in values:
            recorder.record(method, name, ms, failed)
    return recorder


def write_scenario(folder: Path, name: str, verdict: Verdict,
                   samples: dict[tuple[str, str], list[tuple[float, bool]]],
                   exceptions: list[tuple[int, str, str]] = ()) -> Path:
    """``NAME_stats.csv`` (the request counts, as Locust writes them), ``NAME_slo.json`` and, given
    exceptions (count, message, traceback), ``NAME_exceptions.csv``."""
    folder.mkdir(exist_ok=True)
    lines = [LOCUST_STATS_HEADER]
    total = failed = 0
    for (method, request), values in samples.items():
        n, f = len(values), sum(1 for _, bad in values if bad)
        total, failed = total + n, failed + f
        lines.append(f"{method},{request},{n},{f}" + ",12,12,12,900,10,1.0,0.0" + ",12" * 11)
    lines.append(f",Aggregated,{total},{failed}" + ",12,12,12,900,10,1.0,0.0" + ",12" * 11)
    (folder / f"{name}_stats.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / f"{name}_slo.json").write_text(to_json(verdict), encoding="utf-8")
    if exceptions:
        with open(folder / f"{name}_exceptions.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Count", "Message", "Traceback", "Nodes"])
            writer.writerows([count, message, trace, "local"] for count, message, trace in exceptions)
    return folder


def junit_suite(folder: Path, name: str) -> ET.Element:
    root = ET.fromstring(render_junit_file(folder))
    (suite,) = root.findall(f"testsuite[@name='{name}']")
    return suite


def counts(suite: ET.Element) -> dict[str, int]:
    return {key: int(suite.get(key, "-1")) for key in ("tests", "failures", "errors", "skipped")}


def outcome(case: ET.Element) -> tuple[str, str] | None:
    """(tag, message) of a testcase's failure/skipped/error child; None when it passed."""
    children = [c for c in case if c.tag in ("failure", "skipped", "error")]
    assert len(children) <= 1
    return (children[0].tag, children[0].get("message", "")) if children else None


def cases(suite: ET.Element) -> dict[tuple[str, str], tuple[str, str] | None]:
    return {(c.get("classname", ""), c.get("name", "")): outcome(c) for c in suite.findall("testcase")}


@pytest.fixture(scope="module")
def default_table() -> SloTable:
    return load_table(DEFAULT_TABLE_PATH)


def unsettled_health(table: SloTable, policy: str) -> Verdict:
    verdict = evaluate(table, recorded(table, {("GET", "/health"): HEALTH_UNSETTLED}), confidence=0.95,
                       policy=policy)
    by_expression = {t.expression: t for t in verdict.thresholds if t.row == "health"}
    # the premises worked out above, so that a change in the gate shows here and not as a report bug
    assert (by_expression["p(95)<400"].state, by_expression["p(95)<400"].estimate) == ("INCONCLUSIVE", "FAIL")
    assert by_expression["p(95)<400"].observed == 1000.0
    assert (by_expression["rate>=0.999"].state, by_expression["rate>=0.999"].estimate) == ("INCONCLUSIVE", "PASS")
    return verdict


# -- JUnit under each --slo-inconclusive policy -------------------------------------------------------------

NO_DATA_CASES = {("s.generate", e) for e in ("rate>=0.999", "p(95)<800", "p(99)<1200")} | {
    ("s.metrics", e) for e in ("rate>=0.999", "p(95)<400")} | {("s.propose", e) for e in ("rate>=0.995", "p(95)<1500")}


@pytest.mark.parametrize("policy, p95, rate, totals", [
    # estimate (the default, k6's meaning): the failing point estimate fails p95; the rate is skipped
    ("estimate", "failure", "skipped", {"tests": 9, "failures": 1, "errors": 0, "skipped": 8}),
    # fail: every INCONCLUSIVE threshold is a failure (exit 98)
    ("fail", "failure", "failure", {"tests": 9, "failures": 2, "errors": 0, "skipped": 7}),
    # pass: INCONCLUSIVE never fails the exit code: both skipped
    ("pass", "skipped", "skipped", {"tests": 9, "failures": 0, "errors": 0, "skipped": 9}),
])
def test_junit_under_each_inconclusive_policy(default_table: SloTable, tmp_path: Path, policy: str, p95: str,
                                              rate: str, totals: dict[str, int]) -> None:
    folder = write_scenario(tmp_path / "run", "s", unsettled_health(default_table, policy),
                            {("GET", "/health"): HEALTH_UNSETTLED})
    suite = junit_suite(folder, "s")
    assert counts(suite) == totals
    found = cases(suite)
    assert len(found) == DEFAULT_THRESHOLDS and ("s", "SLO verdict") not in found  # a threshold carries it
    why = {"estimate": " (the point estimate fails)", "fail": " (--slo-inconclusive fail)", "pass": ""}[policy]
    tag, message = found[("s.health", "p(95)<400")]
    assert tag == p95 and message.startswith("inconclusive: observed 1000.00 ms, interval ")
    assert message.endswith(why) if p95 == "failure" else not message.endswith(")")
    tag, message = found[("s.health", "rate>=0.999")]
    assert tag == rate and message.startswith("inconclusive: observed 100.00%, interval ")
    assert message.endswith(" (--slo-inconclusive fail)") if rate == "failure" else message.endswith("more requests")
    for case in NO_DATA_CASES:
        assert found[case] == ("skipped", f"no data: none of {', '.join(default_table.row(case[0][2:]).requests)} ran")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    # the scenario's word: fail when the exit code fails (estimate), else inconclusive (see the HTML test below)
    assert properties["verdict"] == ("fail" if policy == "estimate" else "inconclusive")
    assert properties["requests"] == "30"


# -- A gate failed with no failing threshold: a lost worker -----------------------------------------------

# /health, 3000 answers in 12 ms, none failed: both health thresholds PASS at 95 % (0.999**3000 = 0.0497 < 0.05
# settles the rate; 0.95**3000 the p95), the other 7 no data. The run still fails: worker w1 stopped sending
# heartbeats after reporting 5 of its requests.
HEALTH_SETTLED = [(12.0, False)] * 3000
LOST = LostWorkerInfo(worker_id="w1", requests_received=5, reported=True, missing_estimate=3)
LOST_REASON = "lost worker w1 (no heartbeat): 5 of its requests were received; about 3 more may be missing"


def lost_worker_run(table: SloTable, folder: Path, allow_lost: bool = False) -> Path:
    verdict = evaluate(table, recorded(table, {("GET", "/health"): HEALTH_SETTLED}), confidence=0.95)
    assert {t.expression: t.state for t in verdict.thresholds if t.row == "health"} == {
        "rate>=0.999": "PASS", "p(95)<400": "PASS"}
    verdict = conclude(verdict, lost_workers=(LOST,), allow_lost=allow_lost).with_exit_code(0 if allow_lost else 99)
    return write_scenario(folder, "lost", verdict, {("GET", "/health"): HEALTH_SETTLED})


def test_a_lost_worker_fails_the_junit_through_an_slo_verdict_testcase(default_table: SloTable,
                                                                       tmp_path: Path) -> None:
    suite = junit_suite(lost_worker_run(default_table, tmp_path / "run"), "lost")
    assert counts(suite) == {"tests": 10, "failures": 1, "errors": 0, "skipped": 7}
    found = cases(suite)
    assert found[("lost.health", "rate>=0.999")] is None and found[("lost.health", "p(95)<400")] is None
    assert found[("lost", "SLO verdict")] == ("failure", LOST_REASON)
    (verdict_case,) = [c for c in suite.findall("testcase") if c.get("name") == "SLO verdict"]
    assert verdict_case.find("failure").get("type") == "SloVerdictFailed"
    assert suite.find("system-out").text == LOST_REASON


def test_an_allowed_lost_worker_is_a_note_and_the_run_passes(default_table: SloTable, tmp_path: Path) -> None:
    folder = lost_worker_run(default_table, tmp_path / "run", allow_lost=True)
    suite = junit_suite(folder, "lost")
    assert counts(suite) == {"tests": 9, "failures": 0, "errors": 0, "skipped": 7}
    summary = summary_of(folder)
    assert summary["verdict"] == "pass" and summary["scenarios"]["lost"]["reasons"] == []
    assert f"<li>lost: {LOST_REASON}</li>" in render_report(folder)


def test_a_lost_worker_in_the_html_and_json_reports(default_table: SloTable, tmp_path: Path) -> None:
    folder = lost_worker_run(default_table, tmp_path / "run")
    summary = summary_of(folder)
    assert summary["verdict"] == "fail"
    scenario = summary["scenarios"]["lost"]
    assert (scenario["verdict"], scenario["state"], scenario["exit_code"]) == ("fail", "FAIL", 99)
    assert scenario["reasons"] == [LOST_REASON]
    assert summary["thresholds"] == {"pass": 2, "fail": 0, "inconclusive": 0, "no data": 7}
    html = render_report(folder)
    # The run's one headline (issue 18): a failed gate with no failing threshold says why, the lost worker.
    assert (f'<div class="verdict v-fail" id="verdict" data-verdict="fail" data-headline="FAIL ({LOST_REASON})">'
            f'<p class="headline"><strong>FAIL</strong> <b>({LOST_REASON})</b></p>') in html
    assert f'<p><b>Why it failed:</b></p><ul class="notes"><li>lost: {LOST_REASON}</li></ul>' in html


# -- An abort ----------------------------------------------------------------------------------------------

ABORT_TABLE = """\
[[row]]
name = "generate"
requests = ["POST /generate"]
thresholds = [{ threshold = "p(95)<800", abort_on_fail = true }, "rate>=0.999"]
"""


def test_an_abort_is_said_in_every_report(tmp_path: Path) -> None:
    """100 answers of /generate in 1000 ms: p(95)<800 fails with confidence (all 100 above; a true p95
    under 800 gives that with probability 0.05**100) and aborts the run (the gate names it in
    ``aborted_by``); rate>=0.999 is INCONCLUSIVE (100 of 100, 0.999**100 = 0.90)."""
    table = parse_table(ABORT_TABLE, "abort.toml")
    samples = {("POST", "/generate"): [(1000.0, False)] * 100}
    verdict = evaluate(table, recorded(table, samples), confidence=0.95)
    assert [(t.expression, t.state) for t in verdict.thresholds] == [("p(95)<800", "FAIL"),
                                                                     ("rate>=0.999", "INCONCLUSIVE")]
    verdict = conclude(verdict, aborted_by=("generate: p(95)<800",)).with_exit_code(99)
    folder = write_scenario(tmp_path / "run", "abort", verdict, samples)
    reasons = verdict.reasons
    assert len(reasons) == 2 and reasons[1] == "aborted by generate: p(95)<800"
    suite = junit_suite(folder, "abort")
    assert counts(suite) == {"tests": 2, "failures": 1, "errors": 0, "skipped": 1}
    tag, message = cases(suite)[("abort.generate", "p(95)<800")]
    assert tag == "failure" and message.startswith("observed 1000.00 ms, interval ") and message.endswith(
        ", limit < 800 ms")
    assert suite.find("system-out").text == "\n".join(reasons)
    summary = summary_of(folder)
    assert summary["verdict"] == "fail" and summary["scenarios"]["abort"]["reasons"] == list(reasons)
    html = render_report(folder)
    assert ('data-verdict="fail" data-headline="FAIL (1 threshold failed with confidence)">'
            '<p class="headline"><strong>FAIL</strong> <b>(1 threshold failed with confidence)</b></p>') in html
    assert "<li>abort: aborted by generate: p(95)&lt;800</li>" in html


# -- Exceptions in user code -------------------------------------------------------------------------------

def test_exceptions_in_user_code_are_listed_and_counted(default_table: SloTable, tmp_path: Path) -> None:
    """Two ZeroDivisionErrors and one KeyError in the locustfile; the SLOs themselves hold (health settled).
    They set Locust's exit code (1, ``--exit-code-on-error``), not the verdict: the report says PASS for
    the SLOs and lists the exceptions with their tracebacks."""
    verdict = evaluate(default_table, recorded(default_table, {("GET", "/health"): HEALTH_SETTLED}),
                       confidence=0.95)
    verdict = conclude(verdict, exceptions=UserExceptions(count=3, first="division by zero")).with_exit_code(1)
    trace = 'Traceback (most recent call last):\n  File "locustfile.py", line 9, in task\n    1 / 0\n'
    folder = write_scenario(tmp_path / "run", "exc", verdict, {("GET", "/health"): HEALTH_SETTLED},
                            exceptions=[(2, "ZeroDivisionError('division by zero')", trace + "ZeroDivisionError"),
                                        (1, "KeyError('<x>')", "Traceback ...\nKeyError")])
    summary = summary_of(folder)
    assert summary["verdict"] == "pass" and summary["scenarios"]["exc"]["exceptions"] == 3
    assert summary["scenarios"]["exc"]["exit_code"] == 1
    html = render_report(folder)
    assert "<h3>Exceptions in user code</h3>" in html
    shown = trace.replace('"', "&quot;")
    assert ("<details><summary>2 &times; ZeroDivisionError(&#x27;division by zero&#x27;)</summary>"
            f"<pre>{shown}ZeroDivisionError</pre></details>") in html
    assert "<summary>1 &times; KeyError(&#x27;&lt;x&gt;&#x27;)</summary>" in html
    assert counts(junit_suite(folder, "exc")) == {"tests": 9, "failures": 0, "errors": 0, "skipped": 7}
    json.dumps(summary, allow_nan=False)
