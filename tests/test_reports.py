"""Reports (HTML, JUnit, summary JSON, compare) built from real run folders.

The run folders come from short headless Locust runs against the real sidecar (``scenario_runs`` of
conftest): one passing run, and one with injected faults (+900 ms on /generate, every /metrics
answered 500), so that the reports are tested on the CSVs Locust and the gate really
write, not on what we believe they write.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from osiris_load.core.report.charts import Line, Rule, line_chart, nice_ticks
from osiris_load.core.report.model import Failure, ReportError
from osiris_load.reports.build import OUTPUTS, build_all
from osiris_load.reports.compare import compare
from osiris_load.reports.html import render_report
from osiris_load.reports.load import load_run
from osiris_load.reports.summary_json import SCHEMA, render_json
from tests.conftest import ROOT, ScenarioRuns
from tests.verdict_files import read_verdict_rows

SCENARIOS = ("sidecar_load", "read_heavy")


@pytest.fixture(scope="module")
def run_dirs(scenario_runs: ScenarioRuns) -> dict[str, Path]:
    """``passing`` and ``failing`` run folders, each with sidecar_load and read_heavy: the suite's shared
    scenario runs (conftest), against the sidecar and the faulty sidecar (+900 ms on /generate, every
    /metrics answered 500)."""
    for which, expected in (("passing", 0), ("failing", 99)):
        for scenario in SCENARIOS:
            run = scenario_runs.run(which, scenario)
            assert run.returncode == expected, f"{which} {scenario}: exit {run.returncode}\n{run.output}"
    return {"passing": scenario_runs.dirs["passing"], "failing": scenario_runs.dirs["failing"]}


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osiris_load.jobs.report", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


class _Page(HTMLParser):
    """Collects every start tag with its attributes; ``html.parser`` raises on nothing, so the
    check that the page is well formed is that tags open and close in order."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "line", "circle", "polyline", "path", "rect"}

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def parse_page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    assert not page.errors, page.errors[:5]
    assert not page.stack, f"unclosed tags: {page.stack}"
    return page


# -- HTML ---------------------------------------------------------------------------------------

def locust_counts(prefix: Path) -> dict[str, int]:
    """Requests per ``METHOD NAME`` from Locust's own ``_stats.csv`` (not the gate's files)."""
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        return {f"{r['Type']} {r['Name']}": int(r["Request Count"]) for r in csv.DictReader(handle)
                if r["Name"] != "Aggregated"}


def test_a_short_passing_run_is_headlined_pass_by_estimate_as_it_printed(
        scenario_runs: ScenarioRuns, run_dirs: dict[str, Path]) -> None:
    """The passing runs last ~5 s with 2 users and 1 s think time, so no endpoint gets 59 requests:
    with n < 59 answers, even all under the limit, a p95 under the limit has probability
    0.95**n > 0.05 of showing that, so no p(95) threshold settles at 95 % confidence and each
    scenario's state is INCONCLUSIVE. The default exit policy (``estimate``) judges the point
    estimates, which pass on the relaxed table: exit 0 and "SLO gate: PASSED". The report's one
    headline (issue 18) says the same as the exit code: PASS, by estimate, with what is not settled;
    the state (``data-verdict``, the rows) stays INCONCLUSIVE."""
    for scenario in SCENARIOS:
        run = scenario_runs.run("passing", scenario)
        assert run.returncode == 0 and "SLO gate: PASSED" in run.stdout, run.output
        counts = locust_counts(run.prefix)
        assert counts and all(0 < n < 59 for n in counts.values()), counts
        assert 0.95 ** max(counts.values()) > 0.05
    page = parse_page(render_report(run_dirs["passing"]))
    banner = page.find("div", id="verdict")[0]
    assert banner["data-verdict"] == "inconclusive"
    assert banner["data-headline"].startswith("PASS (by estimate; "), banner
    assert " thresholds not yet settled" in banner["data-headline"], banner
    thresholds = [a for t, a in page.tags if t == "tr" and a.get("data-row")]
    assert thresholds and {a["class"] for a in thresholds} == {"r-inconclusive"}  # every threshold, n < 59
    assert build_all(run_dirs["passing"])
    summary = json.loads((run_dirs["passing"] / "summary.json").read_text())
    assert summary["verdict"] == "inconclusive" and summary["headline"] == banner["data-headline"]


@pytest.mark.parametrize("which, verdict", [("passing", "inconclusive"), ("failing", "fail")])
def test_html_report_shows_the_verdict_first_and_a_chart_per_endpoint(run_dirs: dict[str, Path], which: str,
                                                                      verdict: str) -> None:
    """The verdict of each run: see the test above for why the passing run reads INCONCLUSIVE."""
    run_dir = run_dirs[which]
    text = render_report(run_dir)
    page = parse_page(text)
    first_section = next(a for t, a in page.tags if a.get("id") in ("verdict", "thresholds"))
    assert first_section.get("id") == "verdict" and first_section.get("data-verdict") == verdict
    assert text.index('id="verdict"') < text.index('id="thresholds"') < text.index('class="scenario"')
    run = load_run(run_dir)
    for scenario in run.scenarios:
        assert page.find("section", data_scenario=scenario.name)
        assert len(page.find("svg", data_chart="users", data_scenario=scenario.name)) == 1
        for endpoint in scenario.endpoints:
            assert len(page.find("svg", data_chart="latency", data_scenario=scenario.name,
                                 data_endpoint=endpoint.key)) == 1, endpoint.key
            assert len(page.find("svg", data_chart="throughput", data_scenario=scenario.name,
                                 data_endpoint=endpoint.key)) == 1, endpoint.key
    endpoints = sum(len(s.endpoints) for s in run.scenarios)
    assert len(page.find("svg", data_chart="latency")) == endpoints
    # self-contained: nothing fetched from anywhere
    assert "<script" not in text and "<link" not in text and "src=" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text


def test_html_draws_the_slo_limits_and_lists_failures(run_dirs: dict[str, Path]) -> None:
    page = parse_page(render_report(run_dirs["failing"]))
    assert page.find("div", id="verdict")[0]["data-verdict"] == "fail"
    # the /generate latency chart of the failing run has its two limits inside the chart,
    # the p(95)<800 one marked failed by its colour
    text = render_report(run_dirs["failing"])
    chart = text[text.index('data-endpoint="POST /generate"', text.index('data-chart="latency"')):]
    chart = chart[: chart.index("</svg>")]
    assert 'data-limit="800"' in chart and 'data-limit="1200"' in chart
    assert "generate: p(95)&lt;800" in chart
    # each latency threshold's interval is a band in its state's colour (p95 > 800 ms: a confident FAIL)
    band = chart[chart.index('class="band"'):]
    assert 'fill="#d62728"' in chart[:chart.index('class="band"')].rsplit("<rect", 1)[1]
    assert float(band.split('data-low="', 1)[1].split('"', 1)[0]) > 800
    assert page.find("table", **{"class": "failures"}), "the failing run has a failures table"
    assert "injected fault on /metrics" in text
    # exact percentiles table with every endpoint
    for endpoint in ("POST /generate", "GET /metrics", "GET /health"):
        assert page.find("tr", data_endpoint=endpoint)


# -- JUnit --------------------------------------------------------------------------------------

def _check_junit(root: ET.Element) -> None:
    """The usual JUnit structure: testsuites > testsuite > testcase, counts that add up."""
    assert root.tag == "testsuites"
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for suite in root:
        assert suite.tag == "testsuite" and suite.get("name")
        cases = suite.findall("testcase")
        assert all(child.tag in ("properties", "testcase", "system-out", "system-err") for child in suite)
        counts = {"tests": len(cases),
                  "failures": sum(1 for c in cases if c.find("failure") is not None),
                  "errors": sum(1 for c in cases if c.find("error") is not None),
                  "skipped": sum(1 for c in cases if c.find("skipped") is not None)}
        for key, value in counts.items():
            assert int(suite.get(key, "-1")) == value, (suite.get("name"), key)
            totals[key] += value
        float(suite.get("time", "x"))
        for case in cases:
            assert case.get("classname") and case.get("name")
            assert len([c for c in case if c.tag in ("failure", "error", "skipped")]) <= 1
    for key, value in totals.items():
        assert int(root.get(key, "-1")) == value, key


def test_junit_has_a_testcase_per_threshold_and_names_observed_and_limit(run_dirs: dict[str, Path]) -> None:
    paths = build_all(run_dirs["failing"])
    root = ET.parse(paths[OUTPUTS.index("junit.xml")]).getroot()
    _check_junit(root)
    # the suite's order (read_heavy first), each testcase what the gate's _slo.json says of its threshold,
    # by the rule of the default exit policy: FAIL a failure, INCONCLUSIVE a failure when its point
    # estimate fails and else skipped, NO DATA skipped, PASS nothing
    assert [s.get("name") for s in root] == ["read_heavy", "sidecar_load"]
    for suite in root:
        name = suite.get("name", "")
        rows = read_verdict_rows(run_dirs["failing"] / name)
        expected = {}
        for (row, expression), r in rows.items():
            if row == "OVERALL":
                continue
            if r["state"] == "fail" or (r["state"] == "inconclusive" and r["result"].estimate == "FAIL"):
                expected[(f"{name}.{row}", expression)] = "failure"
            else:
                expected[(f"{name}.{row}", expression)] = {"pass": None, "inconclusive": "skipped",
                                                           "no data": "skipped"}[r["state"]]
        cases = suite.findall("testcase")
        found = {(c.get("classname"), c.get("name")): next((x.tag for x in c if x.tag in ("failure", "skipped")), None)
                 for c in cases}
        assert found == expected and len(cases) == len(expected)
        assert "failure" in expected.values()  # each scenario of the failing run fails a threshold
    generate = root.find("testsuite[@name='sidecar_load']/testcase[@classname='sidecar_load.generate']"
                         "[@name='p(95)<800']/failure")
    assert generate is not None
    message = generate.get("message", "")
    match = re.fullmatch(r"observed (\d+\.\d\d) ms, interval [^,]+ ms, limit < 800 ms", message)
    assert match and float(match.group(1)) >= 800, message


def test_junit_of_a_passing_run_has_no_failures(run_dirs: dict[str, Path]) -> None:
    build_all(run_dirs["passing"])
    root = ET.parse(run_dirs["passing"] / "junit.xml").getroot()
    _check_junit(root)
    assert root.get("failures") == "0" and root.get("errors") == "0" and int(root.get("tests", "0")) > 0


# -- summary.json -------------------------------------------------------------------------------

def test_summary_json_round_trips_with_every_metric_and_threshold(run_dirs: dict[str, Path]) -> None:
    build_all(run_dirs["failing"])
    text = (run_dirs["failing"] / "summary.json").read_text()
    data = json.loads(text)
    assert json.loads(json.dumps(data)) == data
    assert data["schema"] == SCHEMA and data["verdict"] == "fail"
    # every threshold as the gate's own _slo.json has it, in its order
    for scenario in SCENARIOS:
        rows = read_verdict_rows(run_dirs["failing"] / scenario)
        assert [(t["row"], t["expression"], t["verdict"], t["samples"], t["observed"])
                for t in data["scenarios"][scenario]["thresholds"]] == [
            (row, expression, r["state"], r["samples"], r["observed"])
            for (row, expression), r in rows.items() if row != "OVERALL"]
        assert data["scenarios"][scenario]["reasons"] == list(rows[("OVERALL", "")]["verdict_object"].reasons)
        assert data["scenarios"][scenario]["total"]["count"] == sum(locust_counts(run_dirs["failing"] / scenario)
                                                                    .values())
    assert set(data["scenarios"]) == set(SCENARIOS)
    generate = data["scenarios"]["sidecar_load"]["metrics"]["POST /generate"]
    for key in ("count", "failures", "fail_rate", "rps", "avg_ms", "min_ms", "max_ms", "p50_ms", "p90_ms", "p95_ms",
                "p99_ms", "p99.9_ms"):
        assert isinstance(generate[key], int | float), key
    assert generate["exact"] is True and generate["p95_ms"] > 800
    # exact percentiles are the gate's, as written to _slo_endpoints.csv
    exact = (run_dirs["failing"] / "sidecar_load_slo_endpoints.csv").read_text().splitlines()
    row = next(line.split(",") for line in exact if line.startswith("POST,/generate,"))
    assert generate["p95_ms"] == pytest.approx(float(row[9]), abs=0.01)  # p95_ms, at summary.json's precision
    thresholds = data["scenarios"]["sidecar_load"]["thresholds"]
    p95 = next(t for t in thresholds if t["row"] == "generate" and t["expression"] == "p(95)<800")
    assert p95["verdict"] == "fail" and p95["limit"] == 800 and p95["observed"] > 800 and p95["samples"] > 0
    assert p95["state"] == "FAIL" and p95["interval"][0] > 800 and p95["confidence"] == 0.95
    assert {t["verdict"] for t in thresholds} <= {"pass", "fail", "inconclusive", "no data"}
    for scenario in data["scenarios"].values():
        assert scenario["verdict"] in ("pass", "fail", "inconclusive") and scenario["total"]["count"] > 0
    assert sum(len(s["failures"]) for s in data["scenarios"].values()) > 0


# -- compare ------------------------------------------------------------------------------------

def test_compare_flags_the_injected_latency_regression(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cmp.md"
    result = run_cli("compare", run_dirs["passing"], run_dirs["failing"], "--tolerance", "10", "--out", out)
    assert result.returncode == 1, result.stdout + result.stderr
    line = next(ln for ln in result.stdout.splitlines() if "| POST /generate | p95 |" in ln)
    assert "REGRESSION" in line
    assert out.read_text().startswith("# Compare")
    csv_out = tmp_path / "cmp.csv"
    result = run_cli("compare", run_dirs["passing"], run_dirs["failing"], "--out", csv_out)
    assert result.returncode == 1
    rows = csv_out.read_text().splitlines()
    assert rows[0].startswith("scenario,endpoint,metric,baseline,current,change")
    assert any(r.startswith("sidecar_load,POST /generate,p95,") and r.endswith(",REGRESSION") for r in rows)


def test_compare_a_run_with_itself_finds_no_regression(run_dirs: dict[str, Path]) -> None:
    build_all(run_dirs["passing"])
    result = run_cli("compare", run_dirs["passing"] / "summary.json", run_dirs["passing"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No regression" in result.stdout and "REGRESSION" not in result.stdout
    assert (run_dirs["passing"] / "compare.md").is_file()


def test_compare_rules_on_summaries() -> None:
    def summary(**metrics: dict[str, float]) -> dict[str, Any]:
        return {"schema": SCHEMA, "scenarios": {"s": {"verdict": "pass", "metrics": metrics}}}

    base = {"p50_ms": 100.0, "p95_ms": 200.0, "p99_ms": 300.0, "rps": 10.0, "fail_rate": 0.001}
    same = compare(summary(e=base), summary(e=base))
    assert not same.regressions
    worse = compare(summary(e=base), summary(e={**base, "p99_ms": 331.0, "rps": 8.9, "fail_rate": 0.0115},
                                             new=base), tolerance=10)
    assert {(d.endpoint, d.metric) for d in worse.regressions} == {("e", "p99"), ("e", "throughput"),
                                                                    ("e", "error rate")}
    errors = next(d for d in worse.deltas if d.metric == "error rate")
    assert errors.change == pytest.approx(1.05)  # percentage points, not percent
    assert {d.status for d in worse.deltas if d.endpoint == "new"} == {"new"}
    within = compare(summary(e=base), summary(e={**base, "p99_ms": 329.0, "rps": 9.1, "fail_rate": 0.0109}))
    assert not within.regressions
    jitter = compare(summary(e={**base, "p50_ms": 1.0}), summary(e={**base, "p50_ms": 1.4}), min_delta_ms=1)
    assert not jitter.regressions


# -- build on degraded but valid runs -----------------------------------------------------------

def test_build_survives_missing_gate_files_and_history(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "degraded"
    shutil.copytree(run_dirs["passing"], run_dir)
    (run_dir / "read_heavy_slo.json").unlink()
    (run_dir / "read_heavy_slo_endpoints.csv").unlink()
    history = run_dir / "sidecar_load_stats_history.csv"
    history.write_text(history.read_text().splitlines()[0] + "\n")
    (run_dir / "sidecar_load_failures.csv").unlink()
    paths = build_all(run_dir)
    assert [p.name for p in paths] == list(OUTPUTS)
    page = parse_page(paths[0].read_text())
    assert page.find("div", id="verdict")[0]["data-verdict"] == "not judged"
    assert not page.find("svg", data_scenario="sidecar_load")  # no history: no chart, a note instead
    assert "no history rows" in paths[0].read_text()
    assert page.find("svg", data_chart="latency", data_scenario="read_heavy")
    root = ET.parse(paths[1]).getroot()
    _check_junit(root)
    error = root.find("testsuite[@name='read_heavy']/testcase/error")
    assert error is not None and "read_heavy_slo.json" in error.get("message", "")
    data = json.loads(paths[2].read_text())
    assert data["verdict"] == "not judged" and data["scenarios"]["read_heavy"]["verdict"] == "not judged"
    assert data["scenarios"]["read_heavy"]["metrics"]["GET /health"]["exact"] is False


def test_history_without_per_endpoint_rows_still_charts_the_scenario(run_dirs: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    run_dir = tmp_path / "aggregated-only"
    shutil.copytree(run_dirs["passing"], run_dir)
    for scenario in SCENARIOS:
        history = run_dir / f"{scenario}_stats_history.csv"
        lines = history.read_text().splitlines()
        history.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if ",,Aggregated," in ln)]) + "\n")
    page = parse_page(render_report(run_dir))
    assert len(page.find("svg", data_chart="users")) == len(SCENARIOS)
    assert not page.find("svg", data_chart="latency")
    assert "--csv-full-history" in render_report(run_dir)


def test_history_without_counters_falls_back_to_locusts_rates(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    """The web UI's in-memory history has no cumulative counters (N/A): throughput then comes from
    Locust's own Requests/s column instead of reading as zero."""
    run_dir = tmp_path / "web-ui"
    shutil.copytree(run_dirs["passing"], run_dir)
    history = run_dir / "read_heavy_stats_history.csv"
    lines = history.read_text().splitlines()
    header = lines[0].split(",")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        if cells[3] != "Aggregated":
            continue
        for column in ("Total Request Count", "Total Failure Count"):
            cells[header.index(column)] = "N/A"
        rows.append(",".join(cells))
    history.write_text("\n".join([lines[0], *rows]) + "\n")
    series = next(s for s in load_run(run_dir).scenarios if s.name == "read_heavy").history
    assert series is not None
    expected = [float(r.split(",")[header.index("Requests/s")]) for r in rows]
    assert list(series.rps) == expected and max(expected) > 0


# -- the CLI and bad input ----------------------------------------------------------------------

def test_build_cli_writes_the_reports(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "copy"
    shutil.copytree(run_dirs["failing"], run_dir)
    for name in OUTPUTS:
        (run_dir / name).unlink(missing_ok=True)
    result = run_cli("build", run_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(run_dir / name) for name in OUTPUTS]


def _bad_runs(tmp: Path, real: Path) -> dict[str, tuple[list[str | Path], str]]:
    """Each case: CLI arguments and a fragment the one-line message must hold."""
    empty = tmp / "empty"
    empty.mkdir()
    other = tmp / "other"
    other.mkdir()
    (other / "x_stats.csv").write_text("time,latency\n1,2\n")
    zero = tmp / "zero"
    zero.mkdir()
    header = (real / "read_heavy_stats.csv").read_text().splitlines()[0]
    zeros = ",Aggregated," + ",".join(["0"] * (header.count(",") - 1))
    (zero / "read_heavy_stats.csv").write_text(f"{header}\n{zeros}\n")
    garbage = tmp / "garbage"
    garbage.mkdir()
    text = (real / "read_heavy_stats.csv").read_text().splitlines()
    (garbage / "read_heavy_stats.csv").write_text(text[0] + "\nGET,/health,lots,0" + ",1" * 18 + "\n")
    binary = tmp / "binary"
    binary.mkdir()
    (binary / "a_stats.csv").write_bytes(b"\xff\xfe\x00\x01garbage\x00")
    bad_json = tmp / "bad.json"
    bad_json.write_text("{not json")
    foreign_json = tmp / "foreign.json"
    foreign_json.write_text('{"metrics": {}}')
    a_file = tmp / "file.txt"
    a_file.write_text("x")
    return {
        "missing folder": (["build", tmp / "nope"], "no such run folder"),
        "a file": (["build", a_file], "not a folder"),
        "no Locust CSVs": (["build", empty], "no Locust CSVs"),
        "CSV of another tool": (["build", other], "missing columns"),
        "zero requests": (["build", zero], "empty run"),
        "non-numeric count": (["build", garbage], "expected a number"),
        "not UTF-8": (["build", binary], "a_stats.csv"),
        "compare missing": (["compare", tmp / "nope", real], "no such run folder"),
        "compare bad json": (["compare", bad_json, real], "not JSON"),
        "compare foreign json": (["compare", foreign_json, real], "not an osiris-load summary.json"),
        "compare empty folder": (["compare", real, empty], "no Locust CSVs"),
        "negative tolerance": (["compare", real, real, "--tolerance", "-5"], "--tolerance"),
        "unknown command": (["frobnicate"], "invalid choice"),
    }


def test_bad_input_exits_2_with_one_line(run_dirs: dict[str, Path], tmp_path: Path) -> None:
    cases = _bad_runs(tmp_path, run_dirs["passing"])
    with ThreadPoolExecutor(max_workers=4) as pool:  # thirteen CLI processes, each mostly start-up
        results = dict(zip(cases, pool.map(lambda case: run_cli(*cases[case][0]), cases), strict=True))
    for case, (_, fragment) in cases.items():
        result = results[case]
        assert result.returncode == 2, f"{case}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr + result.stdout, case
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, f"{case}: {result.stderr}"
        assert fragment in lines[0], f"{case}: {lines[0]}"


def test_build_all_raises_report_error_for_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such run folder"):
        build_all(tmp_path / "missing")
    with pytest.raises(ReportError, match="no Locust CSVs"):
        render_report(tmp_path)
    assert not list(tmp_path.iterdir())


# -- pure helpers -------------------------------------------------------------------------------

def test_nice_ticks_cover_the_range_with_round_steps() -> None:
    assert nice_ticks(0, 962) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0, 7.6) == [0, 2, 4, 6, 8]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_line_chart_gaps_limits_and_attributes() -> None:
    svg = line_chart([Line("p95", [(0, None), (1, 5.0), (2, None), (3, 6.0), (4, 7.0)], "#000")],
                     title="t <x>", unit="ms", rules=[Rule("near", 10, "#f00"), Rule("far", 800, "#f00")],
                     attrs={"chart": "latency", "endpoint": 'GET /a"b'})
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'data-endpoint="GET /a&quot;b"' in svg and "t &lt;x&gt;" in svg
    assert svg.count("<polyline") == 1  # the lone point at t=1 is a dot, not a line
    assert 'data-limit="10"' in svg and 'data-limit="800"' not in svg and "far (above the chart)" in svg


def test_failure_message_drops_locusts_exception_wrapper() -> None:
    failure = Failure("GET", "/m", "CatchResponseError('status 500: {\"detail\":\"x\"}')", 3)
    assert failure.message == 'status 500: {"detail":"x"}'
    assert Failure("GET", "/m", "ConnectionRefusedError(111, 'Connection refused')", 1).message.startswith("Conn")


def test_render_json_is_strict_json(run_dirs: dict[str, Path]) -> None:
    text = render_json(load_run(run_dirs["passing"]))
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard constant {name}"))
