"""k6 threshold keys in real Locust runs: ``http_req_failed: rate<0.01`` passes a clean run and fails
one with injected errors (exit 99, as k6's threshold failure), and ``{expected_response:true}``
keeps fast 503s out of the latency it judges.

The target is a stdlib HTTP server on 127.0.0.1 in this process (the test is about the gate, not
the sidecar): ``/ok`` answers 200 after 200 ms, ``/fail`` answers 503 at once. Runs are bounded
(``-t 3s``) and the verdict is read from the gate's verdict file.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from osiris_load.testing.support import run_locust
from tests.conftest import ROOT, serving
from tests.test_gate_runs import write
from tests.verdict_files import read_verdict_rows

LOCUSTFILE = ROOT / "tests" / "locustfiles_for_tests" / "k6_thresholds.py"
SUCCESS_DELAY_S = 0.2  # every success takes at least this long: med>=200 holds for successes by construction
SLO = """
[thresholds]
http_req_failed = ["rate<0.01"]
"http_req_duration{expected_response:true}" = ["med>=200"]
http_req_duration = ["med>=200"]
"http_reqs{status:503}" = ["count===0"]
http_reqs = ["rate>0"]
"""
ITERATIONS = ROOT / "tests" / "locustfiles_for_tests" / "iterations.py"
ITERATION_SLO = """
[thresholds]
iteration_duration = ["p(95)<5000", "min>=400"]
"iteration_duration{scenario:Caller}" = ["count>0"]
http_req_duration = ["med>=200"]
http_reqs = ["count>0"]
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/ok":
            threading.Event().wait(SUCCESS_DELAY_S)  # the target's latency, not a wait of the test
            status, body = 200, b"ok"
        else:
            status, body = 503, b"overloaded"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def _run(target: str, tmp_path: Path, errors: int) -> tuple[int, dict[tuple[str, str], str], str]:
    slo = write(tmp_path / "k6.toml", SLO)
    prefix = tmp_path / f"errors{errors}"
    done = run_locust(LOCUSTFILE, "--host", target, "-u", "2", "-r", "2", "-t", "3s", "--csv", str(prefix),
                      "--slo-file", str(slo), env={"K6_TEST_ERRORS": str(errors)}, timeout=90)
    rows = read_verdict_rows(prefix)
    return done.returncode, {key: row["verdict"] for key, row in rows.items()}, done.stdout + done.stderr


def test_http_req_failed_passes_a_clean_run(target: str, tmp_path: Path) -> None:
    code, verdicts, output = _run(target, tmp_path, errors=0)
    assert code == 0, output
    assert verdicts == {("http_req_failed", "rate<0.01"): "pass",
                        ("http_req_duration{expected_response:true}", "med>=200"): "pass",
                        ("http_req_duration", "med>=200"): "pass",
                        ("http_reqs{status:503}", "count===0"): "pass",
                        ("http_reqs", "rate>0"): "pass",
                        ("OVERALL", ""): "pass"}
    assert "asks for a success rate" not in output  # k6's spelling under its metric is not the rate<small mistake
    assert "SLO gate: warning:" not in output and "not measured" not in output


def test_injected_errors_fail_http_req_failed_and_expected_response_excludes_them(target: str,
                                                                                  tmp_path: Path) -> None:
    code, verdicts, output = _run(target, tmp_path, errors=3)
    assert code == 99, output
    assert verdicts[("http_req_failed", "rate<0.01")] == "fail"
    assert verdicts[("http_reqs{status:503}", "count===0")] == "fail"
    # three fast 503s per slow success: the median of every request is a 503's; of the successes, >= 200 ms
    assert verdicts[("http_req_duration", "med>=200")] == "fail"
    assert verdicts[("http_req_duration{expected_response:true}", "med>=200")] == "pass"
    assert "http_req_failed: rate<0.01 failed" in output


def _locust_requests(prefix: Path) -> dict[str, int]:
    """Locust's own stats table (``PREFIX_stats.csv``): request count per name."""
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        return {row["Name"]: int(row["Request Count"]) for row in csv.DictReader(handle)}


def test_iteration_duration_is_each_task_runs_wall_time_and_no_request(target: str, tmp_path: Path) -> None:
    slo = write(tmp_path / "iterations.toml", ITERATION_SLO)
    prefix = tmp_path / "iterations"
    done = run_locust(ITERATIONS, "--host", target, "-u", "2", "-r", "2", "-t", "3s", "--csv", str(prefix),
                      "--slo-file", str(slo), timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    rows = read_verdict_rows(prefix)
    p95 = rows[("iteration_duration", "p(95)<5000")]["result"]
    iterations = p95.n
    assert iterations > 0 and rows[("iteration_duration{scenario:Caller}", "count>0")]["result"].n == iterations
    # an iteration is two requests of >= 200 ms each: its wall time is at least their latencies
    assert rows[("iteration_duration", "min>=400")]["verdict"] == "pass"
    assert p95.observed >= rows[("http_req_duration", "med>=200")]["observed"] >= 200
    # requests are counted as before: Locust's table, http_reqs and OVERALL agree, no iteration among them;
    # each user may have cut its last iteration after one request (not a whole iteration: not timed)
    locust = _locust_requests(prefix)
    assert set(locust) == {"/api", "Aggregated"}
    requests = locust["/api"]
    assert rows[("http_reqs", "count>0")]["samples"] == requests == rows[("OVERALL", "")]["samples"]
    assert 2 * iterations <= requests <= 2 * iterations + 2
    assert rows[("OVERALL", "")]["verdict_object"].tally.unjudged == ()
    endpoints = Path(f"{prefix}_slo_endpoints.csv").read_text(encoding="utf-8").splitlines()
    assert len(endpoints) == 2 and endpoints[1].startswith(f"GET,/api,{requests},")
