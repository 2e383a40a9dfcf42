"""The lean HTTP path (``osiris_load.adapter.lean_http``) records what Locust's ``FastHttpSession`` records.

Two short real Locust runs side by side, one per path, each against its own known-answer server
that answers the n-th request of each endpoint from the same list (good answers, wrong bodies, error
statuses, a gzip body, a connection closed without an answer): the requests the servers receive,
Locust's statistics (``_stats.csv``: counts, failures, content sizes; ``_failures.csv``: every
error text and its count) and the SLO gate's counts (``_slo_endpoints.csv``) must be the same.
A second pair of runs against a closed port: the same connection errors. All four run at once.
"""

from __future__ import annotations

import base64
import csv
import gzip
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from osiris_load.jobs.supervisor import free_port
from tests.conftest import ROOT, serving
from tests.test_locustfiles import VALID_PROPOSAL

LOCUSTFILE = ROOT / "tests" / "locustfiles_for_tests" / "lean_honesty.py"
USERS, ITERATIONS = 3, 12
PROPOSAL_OK = json.dumps({"phi3_proposal": VALID_PROPOSAL, "hermes_assessment": "fine"})
CLOSE = "close"  # drop the connection without an answer
# path -> the answers, in turn: (status, content type, body) or CLOSE. Never two closes in a row (a
# GET on a reused connection is resent once by both paths).
ANSWERS: dict[str, list[tuple[int, str, str] | str]] = {
    "/health": [(200, "application/json", '{"status":"ok"}'), (200, "text/plain", "ok"),
                (503, "application/json", '{"status":"degraded"}'), (200, "gzip", '{"status":"zipped"}'),
                (200, "application/json", "null"), CLOSE],
    "/metrics": [(200, "text/plain", "# HELP up Up.\n# TYPE up gauge\nup 1\n"), (200, "text/plain", "up 1\n"),
                 (500, "text/plain", "e" * 500)],
    "/generate/": [(200, "application/json", '{"generated_text":"x"}'), (422, "application/json", '{"detail":[]}'),
                   (200, "application/json", '{"generated_text":3}'), CLOSE],
    "/propose_trade_adjustments/": [(200, "application/json", PROPOSAL_OK),
                                    (200, "application/json", '{"hermes_assessment":"ok"}')],
}


def known_answers() -> tuple[type[BaseHTTPRequestHandler], list[tuple[str, str, str, bytes]]]:
    """A handler answering from ``ANSWERS`` by each path's count, and the requests it received."""
    received: list[tuple[str, str, str, bytes]] = []
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                received.append((self.command, self.path, self.headers.get("Content-Type", ""), body))
                answers = ANSWERS[self.path]
                answer = answers[counts[self.path] % len(answers)]
                counts[self.path] += 1
            if answer == CLOSE:
                self.close_connection = True
                return
            status, kind, text = answer
            payload = text.encode()
            self.send_response(status)
            if kind == "gzip":
                payload = gzip.compress(payload)
                self.send_header("Content-Encoding", "gzip")
                kind = "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

    return Handler, received


def start_run(url: str, lean: bool, prefix: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HONESTY_LEAN": "1" if lean else "0", "HONESTY_ITERATIONS": str(ITERATIONS),
           "HONESTY_USERS": str(USERS), "OSIRIS_SHAPE": "off"}
    return subprocess.Popen([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(USERS),
                             "-r", str(USERS), "-t", "60s", "--host", url, "--csv", str(prefix), "--only-summary",
                             "--loglevel", "WARNING"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (1, 99), err[-3000:]  # failed requests (Locust 1, or the gate's 99), no crash
    assert "Traceback" not in err, err[-3000:]
    return err


def recorded(prefix: Path) -> dict[str, Any]:
    """What a run recorded: Locust's stats and failures, the gate's counts (no timings)."""
    def rows(suffix: str) -> list[dict[str, str]]:
        with open(f"{prefix}{suffix}", newline="") as handle:
            return list(csv.DictReader(handle))

    stats = {(r["Type"], r["Name"]): (r["Request Count"], r["Failure Count"], r["Average Content Size"])
             for r in rows("_stats.csv")}
    failures = {(r["Method"], r["Name"], r["Error"]): r["Occurrences"] for r in rows("_failures.csv")}
    gate = {(r["method"], r["name"]): (r["count"], r["failures"]) for r in rows("_slo_endpoints.csv")}
    return {"stats": stats, "failures": failures, "gate": gate}


@pytest.fixture(scope="module")
def recorded_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The four runs at once (two paths x the known-answer servers, two x a closed port)."""
    tmp = tmp_path_factory.mktemp("lean_http")
    lean_handler, lean_received = known_answers()
    locust_handler, locust_received = known_answers()
    closed = f"http://127.0.0.1:{free_port()}"
    with serving(lean_handler) as lean_url, serving(locust_handler) as locust_url:
        runs = {"lean": start_run(lean_url, True, tmp / "lean"), "locust": start_run(locust_url, False, tmp / "locust"),
                "lean-refused": start_run(closed, True, tmp / "lean-refused"),
                "locust-refused": start_run(closed, False, tmp / "locust-refused")}
        for run in runs.values():
            finish(run)
    return {**{name: recorded(tmp / name) for name in runs},
            "lean-received": Counter(lean_received), "locust-received": Counter(locust_received)}


def test_lean_path_records_what_fasthttpsession_records(recorded_runs: dict[str, Any]) -> None:
    lean, locust = recorded_runs["lean"], recorded_runs["locust"]
    assert lean == locust
    assert recorded_runs["lean-received"] == recorded_runs["locust-received"]
    per_endpoint = USERS * ITERATIONS
    assert lean["stats"][("", "Aggregated")][0] == str(4 * per_endpoint)
    # every kind of answer was met: wrong bodies, statuses, the gzip body, connections closed
    errors = " ".join(key[2] for key in lean["failures"])
    for text in ("body is not JSON", "status 503", "body is not a JSON object", "not Prometheus text",
                 "status 500: " + "e" * 200, "status 422", "generated_text is not a string",
                 "missing phi3_proposal", "no response: HTTPConnectionClosed"):
        assert text in errors, (text, lean["failures"])
    assert lean["gate"][("POST", "/propose_trade_adjustments/")] == (str(per_endpoint), str(per_endpoint // 2))


def test_lean_path_reports_connection_errors_as_fasthttpsession_does(recorded_runs: dict[str, Any]) -> None:
    lean, locust = recorded_runs["lean-refused"], recorded_runs["locust-refused"]
    assert lean == locust
    assert any("no response: ConnectionRefusedError" in key[2] for key in lean["failures"]), lean["failures"]


HEADS_PROBE = """
import json

from osiris_load.adapter.lean_http import LeanSession

class Events:
    fire = staticmethod(lambda **_: None)

session = LeanSession("http://us%3Aer:p%40ss@127.0.0.1:8080/api", Events(), None)
plain = LeanSession("https://example.com:443", Events(), None)
print(json.dumps([session.base_url,
                  session._build_head("POST", "/generate/", b'{"a":1}', {"Content-Type": "application/json"}).decode(),
                  plain._build_head("GET", "/health", None, None).decode()]))
"""


def test_lean_heads_carry_the_base_path_host_and_credentials_of_the_url() -> None:
    """What Locust's session derives from ``--host`` (a path prefix, credentials as Basic auth, the
    port in ``Host`` unless it is the scheme's default), built once into each request head. In a
    child: importing Locust monkey-patches the process."""
    result = subprocess.run([sys.executable, "-c", HEADS_PROBE], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    base_url, head, plain = json.loads(result.stdout.strip().splitlines()[-1])
    assert base_url == "http://127.0.0.1:8080/api"
    assert head.startswith("POST /api/generate/ HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
    assert f"Authorization: Basic {base64.b64encode(b'us:er:p@ss').decode()}\r\n" in head
    assert head.endswith('Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}')
    assert plain.startswith("GET /health HTTP/1.1\r\nHost: example.com\r\n") and "Content-Length" not in plain
