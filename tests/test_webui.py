"""The SLO gate in Locust's web UI (``osiris_load/adapter/webui.py``).

Three layers:

* in a child process (importing Locust gevent-patches a process), through Flask's test client (no
  server, no load): the tab's rows on ``/stats/requests``, the CSV and report routes, SLO file
  reloading on ``test_start``;
* a real Locust web UI process against the real sidecar, driven over HTTP as the page does;
* the same in a real headless browser (the system chromium through Playwright): start a test from
  the form with a custom ``--slo-file``, watch the SLO tab fill with passing rows, take a screenshot.
  Skipped, with the reason, where Playwright or chromium is missing.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from osiris_load.core.slo.table import DEFAULT_TABLE_PATH, LLM_TABLE_PATH
from osiris_load.core.slo.verdict import CSV_FIELDS
from osiris_load.jobs.supervisor import free_port
from osiris_load.testing.support import stop_process
from tests.conftest import ROOT, relaxed_default_table, wait_until

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

CUSTOM_TABLE = """\
[[row]]
name = "reads"
requests = ["GET /health", "GET /metrics"]
thresholds = ["rate>=0.99", "p(95)<2000"]
"""


# --------------------------------------------------------------------------------------------------
# In a child process: a Locust Environment with a (never started) web UI and Flask's test client.
# Importing Locust gevent-patches the process, so, as elsewhere in this suite, that happens in a
# child: it runs the scenarios below (``python -c "import locust; ..."``, Locust first) and prints
# what it saw as JSON; the tests assert on that.
# --------------------------------------------------------------------------------------------------


class InProcess:
    """An Environment, its local runner, a web UI that never binds a port, and the gate wired by
    ``osiris_load.adapter.gate.on_init`` exactly as Locust's ``init`` event would. Used in the child only."""

    def __init__(self, web_ui: bool = True) -> None:
        from locust import argument_parser
        from locust.env import Environment
        from locust.event import Events

        import osiris_load.adapter.gate
        from osiris_load.adapter.context import context_of

        # intervals off: these scenarios judge a handful of samples to test the wiring (see _scenario_intervals)
        options = argument_parser.get_parser(default_config_files=[]).parse_args(
            ["-f", "read_heavy.py", "--slo-confidence", "0"])
        self.environment = Environment(events=Events(), parsed_options=options, locustfile="read_heavy.py",
                                       host="http://127.0.0.1:9")
        self.runner = self.environment.create_local_runner()
        self.web_ui = self.environment.create_web_ui("127.0.0.1", 0, delayed_start=True) if web_ui else None
        osiris_load.adapter.gate.on_init(environment=self.environment, runner=self.runner, web_ui=self.web_ui)
        self.gate = context_of(self.environment).gate
        self.ui = context_of(self.environment).web_ui
        self.client = self.web_ui.app.test_client() if self.web_ui else None

    def record(self, method: str, name: str, count: int, ms: float = 5.0, failed: int = 0) -> None:
        for i in range(count):
            self.gate.recorder.record(method, name, ms, i < failed)

    def slo_rows(self) -> list[dict[str, Any]]:
        response = self.client.get("/stats/requests")
        assert response.status_code == 200, response.status_code
        extended = response.get_json()["extended_stats"]
        assert [e["key"] for e in extended] == ["slo"], extended
        return extended[0]["data"]

    def start_test(self) -> None:
        """What the runner does when a test starts (the gate's live loop is stopped right after)."""
        self.environment.events.test_start.fire(environment=self.environment)
        self.gate.live.stop()

    def get(self, path: str) -> dict[str, Any]:
        response = self.client.get(path)
        return {"status": response.status_code, "mimetype": response.mimetype, "body": response.get_data(as_text=True),
                "disposition": response.headers.get("Content-Disposition")}

    def close(self) -> None:
        self.gate.live.stop()
        self.runner.quit()


def _scenario_page(env: InProcess, tmp: Path) -> Any:
    page = env.get("/")
    args = json.loads(page["body"].split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
    return {"status": page["status"], **{k: args[k] for k in (
        "extended_tabs", "extended_tables", "extended_csv_files", "extra_options")}}


def _scenario_rows(env: InProcess, tmp: Path) -> Any:
    env.record("GET", "/health", 20, ms=12.0)
    env.record("GET", "/metrics", 10, ms=900.0)  # p(95)<400 fails
    return {"rows": env.slo_rows(), "table": [r.name for r in env.gate.table.rows for _ in r.thresholds]}


def _scenario_llm_rows(env: InProcess, tmp: Path) -> Any:
    """The LLM scenario's own table (llm.toml) in the tab: three answers of 5 tokens recorded as
    ``LlmUser`` records them (the answer's request, then its measurements and tokens to the gate)."""
    from osiris_load.adapter.llm_stream import measurement_names, token_names

    env.environment.parsed_options.slo_file = str(LLM_TABLE_PATH)
    env.start_test()
    path, user = "/v1/chat/completions", "OpenAIChatUser"
    for _ in range(3):
        env.gate.recorder.record("POST", path, 90.0, False)
        env.gate.recording.record_answer(measurement_names(path, user), 50.0, [10.0, 10.0, 10.0, 10.0], 10.0, 90.0,
                                         None)
        output, input_ = token_names(path, user)
        env.gate.recording.record_tokens(output, 5, input_, 12, False)
    env.gate.evaluate()
    return {"rows": env.slo_rows(), "endpoints": env.get("/slo/endpoints.csv")["body"]}


def _scenario_live_verdict(env: InProcess, tmp: Path) -> Any:
    def health_samples() -> int:
        return next(r["samples"] for r in env.slo_rows() if (r["row"], r["expression"]) == ("health", "p(95)<400"))

    env.record("GET", "/health", 3)
    seen = [health_samples(), env.gate.verdict is None]  # on demand, without touching the gate
    env.gate.evaluate()  # what the live loop does every --slo-eval-interval seconds
    env.record("GET", "/health", 4)
    seen.append(health_samples())  # still the live verdict
    env.gate.evaluate()
    seen.append(health_samples())
    return seen


def _scenario_intervals(env: InProcess, tmp: Path) -> Any:
    """At 95 % the tab shows each interval, INCONCLUSIVE with what would settle it, narrowing live."""
    env.environment.parsed_options.slo_confidence = "0.95"
    env.record("GET", "/health", 30, ms=12.0)
    seen = []
    for more in (0, 3000):
        env.record("GET", "/health", more, ms=12.0)
        env.gate.evaluate()
        seen.append({(r["row"], r["expression"]): r for r in env.slo_rows()})
    return [{f"{k[0]} {k[1]}": {c: r[c] for c in ("verdict", "interval", "settle")} for k, r in rows.items()
             if k[0] == "health"} for rows in seen]


def _scenario_bad_confidence(env: InProcess, tmp: Path) -> Any:
    return [env.ui.start_refusal({"slo_confidence": "2"}), env.ui.start_refusal({"slo_until_settled": "soon"}),
            env.ui.start_refusal({"slo_confidence": "0.99", "slo_until_settled": "5m"})]


def _scenario_waiting(env: InProcess, tmp: Path) -> Any:
    return env.slo_rows()


def _scenario_abort(env: InProcess, tmp: Path) -> Any:
    table = tmp / "abort.toml"
    table.write_text('[[row]]\nname = "h"\nrequests = ["GET /health"]\n'
                     'thresholds = [{ threshold = "p(95)<0.5s", abort_on_fail = true, delay_abort_eval = "10s" }]\n')
    env.environment.parsed_options.slo_file = str(table)
    env.start_test()
    env.record("GET", "/health", 2)
    return env.slo_rows()


def _scenario_csv(env: InProcess, tmp: Path) -> Any:
    env.record("GET", "/health", 20)
    env.record("GET", "/metrics", 20, failed=1)  # 95% success: rate>=0.999 fails
    slo_csv = env.get("/slo/csv")
    env.gate.write_files(str(tmp / "cli"), env.ui.current_verdict())  # what --csv PREFIX writes
    return {"csv": slo_csv, "cli": (tmp / "cli_slo.csv").read_text(), "endpoints": env.get("/slo/endpoints.csv"),
            "thresholds": sum(len(row.thresholds) for row in env.gate.table.rows)}


def _scenario_report_missing(env: InProcess, tmp: Path) -> Any:
    sys.modules["osiris_load.reports.html"] = None  # type: ignore[assignment]  # makes the import fail
    try:
        return env.get("/slo/report.html")
    finally:
        del sys.modules["osiris_load.reports.html"]


def _with_fake_report(env: InProcess, render_report: Any) -> dict[str, Any]:
    saved = sys.modules.get("osiris_load.reports.html")
    sys.modules["osiris_load.reports.html"] = types.SimpleNamespace(render_report=render_report)  # type: ignore[assignment]
    try:
        return env.get("/slo/report.html")
    finally:
        if saved is None:
            del sys.modules["osiris_load.reports.html"]
        else:
            sys.modules["osiris_load.reports.html"] = saved


def _scenario_report(env: InProcess, tmp: Path) -> Any:
    env.record("GET", "/health", 5)
    env.runner.stats.log_request("GET", "/health", 5, 10)
    env.runner.stats.log_error("GET", "/health", "boom")
    files: dict[str, str] = {}

    def render_report(run_dir: Path) -> str:
        assert isinstance(run_dir, Path)
        files.update({p.name: p.read_text() for p in run_dir.iterdir()})
        return "<html><body>report</body></html>"

    return {"response": _with_fake_report(env, render_report), "files": files}


def _scenario_report_fails(env: InProcess, tmp: Path) -> Any:
    def render_report(run_dir: Path) -> str:
        raise RuntimeError("no template")

    return {"response": _with_fake_report(env, render_report), "stats": env.get("/stats/requests")["status"]}


def _scenario_report_real(env: InProcess, tmp: Path) -> Any:
    env.record("GET", "/health", 5)
    env.runner.stats.log_request("GET", "/health", 5, 10)
    return env.get("/slo/report.html")


def _scenario_reload(env: InProcess, tmp: Path) -> Any:
    custom = tmp / "custom.toml"
    custom.write_text(CUSTOM_TABLE)
    env.environment.parsed_options.slo_file = str(custom)  # what /swarm does with the form's value
    seen: dict[str, Any] = {"before_start": env.gate.table.source}
    env.record("GET", "/health", 4)
    env.gate.evaluate()
    env.start_test()
    seen |= {"after_start": env.gate.table.source, "verdict_reset": env.gate.verdict is None}
    env.record("GET", "/health", 3)
    seen["rows"] = env.slo_rows()
    custom.write_text(CUSTOM_TABLE.replace("reads", "reads_v2") + " ")  # edited on disk, same path
    env.start_test()
    seen["edited"] = [row.name for row in env.gate.table.rows]
    return seen


def _scenario_bad_file(env: InProcess, tmp: Path) -> Any:
    bad = tmp / "bad.toml"
    bad.write_text('[[row]]\nname = "x"\nrequests = ["GET /health"]\nthresholds = ["p95<300"]\n')
    env.environment.parsed_options.slo_file = str(bad)
    env.start_test()
    env.record("GET", "/health", 2)
    seen: dict[str, Any] = {"path": str(bad), "table": env.gate.table.source, "rows": env.slo_rows(),
                            "csv": env.get("/slo/csv")["status"]}
    env.environment.parsed_options.slo_file = str(tmp / "missing.toml")
    env.start_test()
    seen["missing"] = env.slo_rows()[0]
    bad.write_text(CUSTOM_TABLE)  # fixed: the next start loads it and the error goes away
    env.environment.parsed_options.slo_file = str(bad)
    env.start_test()
    seen |= {"fixed_table": env.gate.table.source, "fixed_error": env.ui.error, "fixed_rows": env.slo_rows()}
    return seen


def _scenario_lost_worker(env: InProcess, tmp: Path) -> Any:
    env.record("GET", "/health", 5)
    env.gate.workers.reported("w1", 5, 100.0)
    env.gate.workers.mark_missing("w1", 104.0)
    lost = env.slo_rows()[-1]
    env.environment.parsed_options.slo_allow_lost_workers = True
    return {"lost": lost, "allowed": env.slo_rows()[-1]}


def _scenario_order(env: InProcess, tmp: Path) -> Any:
    handlers = env.environment.events.test_start._handlers
    return [handlers.index(env.ui.reload_table), handlers.index(env.gate.on_test_start)]


SCENARIOS = {name[len("_scenario_"):]: function for name, function in globals().items()
             if name.startswith("_scenario_")}
RESULT_MARK = "@@webui-results@@"


def child_main(tmp: str) -> None:
    """Run every scenario in this (Locust-patched) child process and print what each saw."""
    import traceback

    # Locust's UI reads its extra options from sys.argv: give it a Locust command line
    sys.argv = ["locust", "-f", "read_heavy.py", "--slo-confidence", "0"]
    results: dict[str, Any] = {}
    for name, scenario in SCENARIOS.items():
        folder = Path(tmp) / name
        folder.mkdir(parents=True, exist_ok=True)
        env = InProcess()
        try:
            results[name] = {"value": scenario(env, folder)}
        except Exception:
            results[name] = {"error": traceback.format_exc()}
        finally:
            env.close()
    bare = InProcess(web_ui=False)
    from osiris_load.adapter.context import context_of

    results["no_web_ui"] = {"value": bare.ui is None and context_of(bare.environment).web_ui is None}
    bare.close()
    print(RESULT_MARK + json.dumps(results))


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What each scenario saw, from one child process."""
    tmp = tmp_path_factory.mktemp("webui")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_SLO")}
    code = "import locust, sys; from tests import test_webui; test_webui.child_main(sys.argv[1])"
    result = subprocess.run([sys.executable, "-c", code, str(tmp)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    return json.loads(lines[-1][len(RESULT_MARK):])


def value(seen: dict[str, Any], name: str) -> Any:
    outcome = seen[name]
    assert "error" not in outcome, outcome.get("error")
    return outcome["value"]


def by_threshold(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["row"], r["expression"]): r for r in rows}


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_page_carries_the_slo_tab_its_table_and_the_csv_links(seen: dict[str, Any]) -> None:
    page = value(seen, "page")
    assert page["status"] == 200
    assert page["extended_tabs"] == [{"title": "SLO", "key": "slo"}]
    (table,) = page["extended_tables"]
    assert table["key"] == "slo"
    columns = [c["key"] for c in table["structure"]]
    assert columns == ["verdict", "row", "requests", "expression", "observed", "interval", "limit", "settle",
                       "samples"]
    assert "name" not in columns  # Locust sorts by "name": the rows must keep the SLO file's order
    assert [f["href"] for f in page["extended_csv_files"]] == ["./slo/csv", "./slo/endpoints.csv",
                                                               "./slo/verdict.json", "./slo/report.html"]
    # --slo-file is in the start form, with the default table as its value
    assert page["extra_options"]["slo_file"]["default_value"] == str(DEFAULT_TABLE_PATH)
    assert "slo_strict" in page["extra_options"]


def test_stats_poll_carries_one_row_per_threshold_and_an_overall_row(seen: dict[str, Any]) -> None:
    result = value(seen, "rows")
    rows = result["rows"]
    assert [r["row"] for r in rows[:-1]] == result["table"]  # the SLO file's order
    found = by_threshold(rows)
    assert found[("health", "rate>=0.999")] == {
        "verdict": "✓ PASS", "row": "health", "requests": "GET /health", "expression": "rate>=0.999",
        "observed": "100.00%", "interval": "-", "limit": ">= 99.9%", "settle": "", "samples": 20}
    assert found[("health", "p(95)<400")]["observed"] == "12.00 ms"
    assert found[("health", "p(95)<400")]["limit"] == "< 400 ms"
    assert found[("metrics", "p(95)<400")]["verdict"] == "✗ FAIL"
    assert found[("generate", "p(95)<800")]["verdict"] == "∅ NO DATA"
    assert found[("generate", "p(95)<800")]["samples"] == 0
    overall = rows[-1]
    assert overall["row"] == "OVERALL" and overall["verdict"] == "✗ FAIL"
    assert "metrics: p(95)<400 failed" in overall["expression"]
    assert str(DEFAULT_TABLE_PATH) in overall["requests"]


def test_the_tab_shows_the_llm_rows_of_the_llm_table(seen: dict[str, Any]) -> None:
    """The SLO tab's JSON (``/stats/requests``) carries every llm_* row of llm.toml with its samples:
    one TTFT per answer, every gap one ITL sample, tokens per second; the answers are the requests."""
    result = value(seen, "llm_rows")
    found = by_threshold(result["rows"])
    assert found[("llm_answers", "rate>=0.99")]["samples"] == 3
    ttft = found[("llm_ttft", "p(95)<500")]
    assert (ttft["samples"], ttft["observed"]) == (3, "50.00 ms")
    assert found[("llm_itl", "p(99)<100")]["samples"] == 12  # 4 gaps an answer, each one sample
    assert found[("llm_tpot", "p(95)<50")]["samples"] == found[("llm_e2el", "p(95)<20000")]["samples"] == 3
    assert found[("llm_output_tokens", "rate>0")]["limit"] == "> 0 tokens/s"
    assert found[("llm_output_tokens", "rate>0")]["verdict"] == "✓ PASS"
    overall = result["rows"][-1]
    assert overall["row"] == "OVERALL" and str(LLM_TABLE_PATH) in overall["requests"]
    endpoints = {(r["method"], r["name"]): r for r in read_csv(result["endpoints"])}
    assert endpoints[("LLM", "ITL /v1/chat/completions @OpenAIChatUser")]["count"] == "12"


def test_the_tab_shows_the_latest_live_verdict_and_evaluates_on_demand_before_it(seen: dict[str, Any]) -> None:
    on_demand, untouched, live, next_live = value(seen, "live_verdict")
    assert (on_demand, untouched) == (3, True)
    assert (live, next_live) == (3, 7)


def test_before_any_request_the_overall_row_waits_instead_of_failing(seen: dict[str, Any]) -> None:
    rows = value(seen, "waiting")
    assert rows[-1]["verdict"] == "… WAITING"
    assert all(r["verdict"] == "∅ NO DATA" for r in rows[:-1])


def test_abort_on_fail_thresholds_say_so(seen: dict[str, Any]) -> None:
    row, overall = value(seen, "abort")
    assert row["expression"] == "p(95)<0.5s (abort on fail after 10s)"
    assert row["limit"] == "< 500 ms"
    assert overall["row"] == "OVERALL"


def test_slo_csv_route_gives_what_the_gate_writes_with_csv(seen: dict[str, Any]) -> None:
    result = value(seen, "csv")
    response = result["csv"]
    assert response["status"] == 200
    assert response["mimetype"] == "text/csv"
    assert response["disposition"] == "attachment;filename=read_heavy_slo.csv"
    rows = read_csv(response["body"])
    assert tuple(rows[0]) == CSV_FIELDS
    thresholds = {(r["row"], r["expression"]): r for r in rows if r["row"] != "OVERALL"}
    assert len(thresholds) == result["thresholds"]
    assert thresholds[("health", "p(95)<400")]["state"] == "PASS"
    assert thresholds[("health", "p(95)<400")]["n"] == "20"
    assert thresholds[("metrics", "rate>=0.999")]["state"] == "FAIL"
    assert float(thresholds[("metrics", "rate>=0.999")]["observed"]) == pytest.approx(0.95)
    assert thresholds[("propose", "p(95)<1500")]["state"] == "NO_DATA"
    assert rows[-1]["row"] == "OVERALL" and rows[-1]["state"] == "FAIL" and rows[-1]["n"] == "40"
    assert response["body"] == result["cli"]  # byte for byte what --csv PREFIX writes
    endpoints = result["endpoints"]
    assert endpoints["status"] == 200
    assert endpoints["disposition"] == "attachment;filename=read_heavy_slo_endpoints.csv"
    assert {(r["method"], r["name"]): r["count"] for r in read_csv(endpoints["body"])} == {
        ("GET", "/health"): "20", ("GET", "/metrics"): "20"}


def test_report_route_says_503_while_reports_html_is_missing(seen: dict[str, Any]) -> None:
    response = value(seen, "report_missing")
    assert response["status"] == 503
    assert response["mimetype"] == "text/plain"
    assert "reports.html.render_report" in response["body"]


def test_report_route_renders_a_run_folder_of_csvs(seen: dict[str, Any]) -> None:
    result = value(seen, "report")
    response, files = result["response"], result["files"]
    assert response["status"] == 200, response["body"]
    assert response["mimetype"] == "text/html"
    assert response["body"] == "<html><body>report</body></html>"
    assert sorted(files) == sorted([*(f"read_heavy_{s}.csv" for s in (
        "stats", "stats_history", "failures", "exceptions", "slo", "slo_endpoints")), "read_heavy_slo.json"])
    assert files["read_heavy_stats.csv"].startswith("Type,Name,Request Count")
    assert "/health" in files["read_heavy_stats.csv"]
    assert "boom" in files["read_heavy_failures.csv"]
    assert files["read_heavy_stats_history.csv"].startswith("Timestamp,User Count,Type,Name")
    assert read_csv(files["read_heavy_slo.csv"])[-1]["row"] == "OVERALL"
    assert read_csv(files["read_heavy_slo_endpoints.csv"])[0]["name"] == "/health"


def test_a_failing_report_is_a_500_with_the_error_not_a_dead_ui(seen: dict[str, Any]) -> None:
    result = value(seen, "report_fails")
    assert result["response"]["status"] == 500
    assert "RuntimeError: no template" in result["response"]["body"]
    assert result["stats"] == 200


def test_the_real_report_renders(seen: dict[str, Any]) -> None:
    """The dev install has the reports extra: the route renders the real report (503 is only for a load
    tester installed without it, tested above with the import made to fail)."""
    response = value(seen, "report_real")
    assert response["status"] == 200, response["body"]
    assert response["mimetype"] == "text/html"
    assert response["body"].startswith("<!DOCTYPE html>") and 'id="verdict"' in response["body"]
    assert 'data-scenario="read_heavy"' in response["body"]


def test_the_tab_shows_intervals_narrowing_and_what_settles_them(seen: dict[str, Any]) -> None:
    few, many = value(seen, "intervals")
    assert few["health rate>=0.999"]["verdict"] == "? INCONCLUSIVE"
    assert few["health rate>=0.999"]["interval"].endswith("100.00%")
    assert "more requests" in few["health rate>=0.999"]["settle"]
    assert few["health p(95)<400"]["verdict"] == "? INCONCLUSIVE"  # 30 samples cannot show a p95 (59 needed)
    assert many["health p(95)<400"]["verdict"] == "✓ PASS" and many["health p(95)<400"]["settle"] == ""
    assert many["health rate>=0.999"]["verdict"] == "✓ PASS"  # 3030 without a failure: settled


def test_a_start_with_a_bad_confidence_option_is_refused(seen: dict[str, Any]) -> None:
    confidence, until, fine = value(seen, "bad_confidence")
    assert confidence.startswith("SLO gate: --slo-confidence '2': confidence must be 0")
    assert until.startswith("SLO gate: --slo-until-settled 'soon': ") and fine is None


def test_a_new_slo_file_from_the_form_is_loaded_when_the_test_starts(seen: dict[str, Any]) -> None:
    result = value(seen, "reload")
    assert result["before_start"] == str(DEFAULT_TABLE_PATH)  # nothing happens before the start
    assert result["after_start"].endswith("custom.toml")
    assert result["verdict_reset"]  # the gate's own test_start ran after the reload
    rows = result["rows"]
    assert [(r["row"], r["expression"], r["samples"]) for r in rows[:-1]] == [
        ("reads", "rate>=0.99", 3), ("reads", "p(95)<2000", 3)]
    assert rows[-1]["verdict"] == "✓ PASS"
    assert result["edited"] == ["reads_v2"]  # the same file edited on disk is loaded at the next start


def test_a_bad_slo_file_from_the_form_shows_in_the_tab_and_is_not_used(seen: dict[str, Any]) -> None:
    result = value(seen, "bad_file")
    assert result["table"] == str(DEFAULT_TABLE_PATH)  # still the previous table
    error = result["rows"][0]
    assert error["verdict"] == "⚠ ERROR"
    assert result["path"] in error["expression"] and "p95<300" in error["expression"]
    assert f"still judging against {DEFAULT_TABLE_PATH}" in error["expression"]
    assert by_threshold(result["rows"])[("health", "p(95)<400")]["verdict"] == "✓ PASS"
    assert result["csv"] == 200
    assert "SLO file not found" in result["missing"]["expression"]
    assert result["fixed_table"] == result["path"]  # fixed: loaded at the next start, the error gone
    assert result["fixed_error"] is None
    assert all(r["verdict"] != "⚠ ERROR" for r in result["fixed_rows"])


def test_a_lost_worker_fails_the_overall_row_unless_allowed(seen: dict[str, Any]) -> None:
    result = value(seen, "lost_worker")
    assert result["lost"]["verdict"] == "✗ FAIL"
    assert "lost worker w1" in result["lost"]["expression"]
    assert result["allowed"]["verdict"] == "✓ PASS"  # --slo-allow-lost-workers


def test_the_reload_runs_before_the_gate_resets(seen: dict[str, Any]) -> None:
    reload_index, gate_index = value(seen, "order")
    assert reload_index < gate_index


def test_no_web_ui_means_no_adapter(seen: dict[str, Any]) -> None:
    assert value(seen, "no_web_ui") is True


# --------------------------------------------------------------------------------------------------
# A real Locust web UI process against the real sidecar
# --------------------------------------------------------------------------------------------------


SHORT_PLAN = ("--stages", "1s:2,20s:2", "--slo-confidence", "0")
"""A 20 s run settles nothing at 95 %: the wiring is tested."""


class LocustUi:
    """``locust -f locustfiles/read_heavy.py`` with its web UI on a free loopback port (``plan``: its
    stages and gate options; empty, the scenario's own as a user starts it)."""

    def __init__(self, target: str, log_path: Path, *args: str, plan: tuple[str, ...] = SHORT_PLAN) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target = target
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSIRIS_SLO") and k != "OSIRIS_URL"}
        command = [sys.executable, "-m", "locust", "-f", "locustfiles/read_heavy.py", "--host", target,
                   "--web-host", "127.0.0.1", "--web-port", str(self.port), *plan, *args]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def serving(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"locust exited with {self.proc.returncode}: {self.output()}")
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stats(self) -> dict[str, Any]:
        return httpx.get(self.url + "/stats/requests", timeout=5).json()

    def slo_rows(self) -> list[dict[str, Any]]:
        (extended,) = self.stats()["extended_stats"]
        return extended["data"]

    def wait_stopped(self) -> None:
        wait_until(lambda: self.stats()["state"] == "stopped", 30, "the test to stop", interval_s=0.25)

    def stop(self) -> int:
        code = stop_process(self.proc)
        self._log.close()
        return code


@contextmanager
def serving(ui: LocustUi) -> Iterator[LocustUi]:
    """``ui`` once its web UI answers; stopped on the way out, whatever happened."""
    try:
        wait_until(ui.serving, 60, f"the Locust web UI on {ui.url}", interval_s=0.2)
        yield ui
    finally:
        ui.stop()


@pytest.fixture
def locust_ui(sidecar: Any, tmp_path: Path) -> Iterator[LocustUi]:
    with serving(LocustUi(sidecar.url, tmp_path / "locust.log")) as ui:
        yield ui


def passing_reads(rows: list[dict[str, Any]], names: tuple[str, ...]) -> bool:
    """Every threshold of the named rows passes with samples, and so does the overall row."""
    judged = [r for r in rows if r["row"] in names]
    return (bool(judged) and all(r["verdict"] == "✓ PASS" and r["samples"] > 0 for r in judged)
            and rows[-1]["row"] == "OVERALL" and rows[-1]["verdict"] == "✓ PASS")


def test_live_ui_over_http_bad_file_then_csv(locust_ui: LocustUi, tmp_path: Path) -> None:
    ui = locust_ui
    # a test started from the form with a file that does not parse is refused, with the reason in the form
    # (row 10 of issue 8: the CLI refuses it with exit 2; the old table must not judge the run)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[row]]\nname = "x"\nrequests = ["GET /health"]\nthresholds = ["p(95)<"]\n')
    answer = httpx.post(ui.url + "/swarm", data={"host": ui.target, "slo_file": str(bad)}, timeout=10).json()
    assert not answer["success"], answer
    assert answer["message"].startswith("SLO gate: ") and str(bad) in answer["message"]
    assert "missing value after '<'" in answer["message"]
    assert httpx.get(ui.url + "/stats/requests", timeout=10).json()["state"] in ("ready", "stopped")

    # the default table's rows again (its latency limits relaxed: this is about the form and the CSV, not the
    # machine's speed; a busy machine once took metrics' p95 over 400 ms between the wait and the download):
    # live rows pass, the CSV download has them
    relaxed = relaxed_default_table(tmp_path)
    answer = httpx.post(ui.url + "/swarm", data={"host": ui.target, "slo_file": str(relaxed)}, timeout=10).json()
    assert answer["success"], answer
    wait_until(lambda: passing_reads(ui.slo_rows(), ("health", "metrics")), 60, "health and metrics to pass",
               interval_s=0.5)
    assert all(r["verdict"] != "⚠ ERROR" for r in ui.slo_rows())
    response = httpx.get(ui.url + "/slo/csv", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = read_csv(response.text)
    verdicts = {(r["row"], r["expression"]): r["state"] for r in rows}
    assert verdicts == {("health", "rate>=0.999"): "PASS", ("health", "p(95)<600000"): "PASS",
                        ("metrics", "rate>=0.999"): "PASS", ("metrics", "p(95)<600000"): "PASS",
                        ("OVERALL", ""): "PASS"}  # read_heavy declares its rows: the others are not judged
    assert all(int(r["n"]) > 0 for r in rows)
    assert httpx.get(ui.url + "/slo/endpoints.csv", timeout=10).status_code == 200
    assert httpx.post(ui.url + "/stop", timeout=10).json()["success"]
    ui.wait_stopped()
    # after the stop: rendering (pandas' import) holds Locust's loop for a second, which would show in the
    # latencies of requests still running
    report = httpx.get(ui.url + "/slo/report.html", timeout=30)  # the dev install has the reports extra
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html"), report.text
    assert 'id="verdict"' in report.text and 'data-scenario="read_heavy"' in report.text
    assert ui.stop() == 0, ui.output()
    assert "SLO gate: PASSED" in ui.output()


# --------------------------------------------------------------------------------------------------
# A real headless browser
# --------------------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    candidates = [os.environ.get("OSIRIS_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                  shutil.which("chromium-browser"), shutil.which("google-chrome")]
    return next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)


CELLS_JS = "Array.from(document.querySelectorAll('table tbody tr')).map(r => Array.from(r.cells).map(c => c.innerText))"


def tab_rows(page: Any) -> list[dict[str, Any]]:
    """The SLO tab's table as the page shows it."""
    keys = ["verdict", "row", "requests", "expression", "observed", "interval", "limit", "settle", "samples"]
    rows = []
    for cells in page.evaluate(CELLS_JS):
        if len(cells) == len(keys):
            row: dict[str, Any] = dict(zip(keys, (c.strip() for c in cells), strict=True))
            row["samples"] = int(row["samples"]) if row["samples"].isdigit() else 0
            rows.append(row)
    return rows


def test_browser_start_from_the_form_and_watch_the_slo_tab(sidecar: Any, tmp_path: Path) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright; it drives the system "
                                      "chromium, no 'playwright install' needed)")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium browser found (apt-get install chromium, or set OSIRIS_CHROMIUM)")
    custom = tmp_path / "reads.toml"
    custom.write_text(CUSTOM_TABLE)
    screenshot = tmp_path / "slo-tab.png"
    started = time.monotonic()
    ui = LocustUi(sidecar.url, tmp_path / "locust.log")
    try:
        wait_until(ui.serving, 60, f"the Locust web UI on {ui.url}", interval_s=0.2)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
                                                 timeout=60_000)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 700})
                page.set_default_timeout(20_000)
                page.goto(ui.url + "/")
                # --slo-file is in the start form, editable; point it at another table
                page.get_by_role("button", name="Custom parameters").click()
                slo_file = page.locator("input[name=sloFile]")
                sync_api.expect(slo_file).to_have_value(str(DEFAULT_TABLE_PATH))
                slo_file.fill(str(custom))
                with page.expect_response(lambda r: r.url.endswith("/swarm")) as swarm:
                    page.get_by_role("button", name="Start").click()
                assert swarm.value.json()["success"], swarm.value.text()
                page.get_by_role("tab", name="SLO").click()
                sync_api.expect(page.get_by_role("columnheader", name="Threshold")).to_be_visible()
                deadline = time.monotonic() + 60
                rows = tab_rows(page)
                while not passing_reads(rows, ("reads",)):
                    assert time.monotonic() < deadline, f"the SLO tab never showed passing rows: {rows}"
                    page.wait_for_timeout(250)
                    rows = tab_rows(page)
                assert [(r["row"], r["expression"], r["limit"]) for r in rows[:-1]] == [
                    ("reads", "rate>=0.99", ">= 99%"), ("reads", "p(95)<2000", "< 2000 ms")]
                assert rows[-1]["row"] == "OVERALL" and str(custom) in rows[-1]["requests"]
                page.screenshot(path=str(screenshot), full_page=True)
                # the CSV downloads are listed under Download Data
                page.get_by_role("tab", name="Download Data").click()
                link = page.get_by_role("link", name="Download SLO verdict CSV (_slo.csv)")
                sync_api.expect(link).to_have_attribute("href", "./slo/csv")
                page.get_by_role("button", name="Stop").click()
                ui.wait_stopped()
            finally:
                browser.close()
        csv_rows = read_csv(httpx.get(ui.url + "/slo/csv", timeout=10).text)
        assert [(r["row"], r["state"]) for r in csv_rows] == [("reads", "PASS"), ("reads", "PASS"),
                                                              ("OVERALL", "PASS")]
        assert ui.stop() == 0, ui.output()
    finally:
        ui.stop()
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot} ({time.monotonic() - started:.1f}s)")
