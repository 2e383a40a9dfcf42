"""Case 4, security: loopback only, the optional API key, and no prompts or keys in the logs.

One sidecar for the module (``keyed_sidecar`` of tests/conftest.py), started as ``make sidecar``
starts it (the launcher, no ``REDIS_URL``: it starts its own ``redis-server``) with ``OSIRIS_API_KEY`` set.
"""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from osiris_load.testing.support import run_locust
from tests.reliability.reliability_support import API_KEY, LOCUSTFILES, record

MARKER = f"MARKER-{uuid.uuid4().hex}"
POSTS = {"/generate": {"prompt": f"generate {MARKER}", "max_length": 4},
         "/propose_trade_adjustments/": {"prompt": f"propose {MARKER}", "max_length": 8}}
UNAUTHORIZED = "missing or invalid API key"


def listening(process: psutil.Process) -> list[tuple[str, int]]:
    return [(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]


def test_sidecar_and_its_redis_listen_on_loopback_only(keyed_sidecar) -> None:
    launcher = psutil.Process(keyed_sidecar.proc.pid)
    sockets = listening(launcher)
    assert (("127.0.0.1", keyed_sidecar.port)) in sockets, sockets
    assert all(ip == "127.0.0.1" for ip, _ in sockets), sockets
    redis_servers = [p for p in launcher.children(recursive=True) if "redis-server" in p.name()]
    assert len(redis_servers) == 1, launcher.children(recursive=True)
    redis_sockets = listening(redis_servers[0])
    assert redis_sockets and all(ip == "127.0.0.1" for ip, _ in redis_sockets), redis_sockets
    record("loopback", sidecar=sockets, redis=redis_sockets)


@pytest.mark.parametrize("path", sorted(POSTS))
def test_posts_need_the_api_key(keyed_sidecar, path: str) -> None:
    url = f"{keyed_sidecar.url}{path}"
    for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}, {"X-API-Key": API_KEY.upper()},
                    {"Authorization": f"Bearer {API_KEY}"}):
        response = httpx.post(url, json=POSTS[path], headers=headers, timeout=30)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["detail"].startswith(UNAUTHORIZED), response.text
    # Without the key nothing is parsed: a malformed body gets 401 too, not 422 (no probing of validation).
    response = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 401, response.text
    response = httpx.post(url, json=POSTS[path], headers={"X-API-Key": API_KEY}, timeout=30)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_health_and_metrics_stay_open(keyed_sidecar, path: str) -> None:
    assert httpx.get(f"{keyed_sidecar.url}{path}", timeout=10).status_code == 200


def test_locustfiles_send_the_key_when_it_is_in_their_environment(keyed_sidecar, relaxed_slo_file: Path,
                                                                  tmp_path: Path) -> None:
    """mixed.py runs the read and propose scenarios (and sidecar_load): with the key it passes, without it
    every POST fails with 401 and the gate fails the run; the reads pass either way."""
    stages = ["--stages", "1s:6,4s:6", "--slo-file", str(relaxed_slo_file)]  # about keys, not latency
    mixed = (LOCUSTFILES / "mixed.py", "--host", keyed_sidecar.url, *stages)
    keyed = run_locust(*mixed, "--csv", str(tmp_path / "keyed"), env={"OSIRIS_API_KEY": API_KEY}, timeout=90)
    keyless = run_locust(*mixed, "--csv", str(tmp_path / "keyless"), timeout=90)
    keyed_stats, keyless_stats = stats(tmp_path / "keyed"), stats(tmp_path / "keyless")
    record("api_key_locust", with_key_exit=keyed.returncode, with_key=keyed_stats, without_key_exit=keyless.returncode,
           without_key=keyless_stats)

    assert keyed.returncode == 0, keyed.output[-4000:]
    assert all(failures == 0 for _, failures in keyed_stats.values()), keyed_stats
    assert {"POST /generate", "POST /propose_trade_adjustments/"} <= set(keyed_stats), keyed_stats

    assert keyless.returncode == 99, keyless.output[-4000:]
    for name in ("POST /generate", "POST /propose_trade_adjustments/"):
        requests, failures = keyless_stats[name]
        assert requests == failures > 0, keyless_stats
    for name in ("GET /health", "GET /metrics"):
        requests, failures = keyless_stats[name]
        assert requests > 0 and failures == 0, keyless_stats
    with open(tmp_path / "keyless_failures.csv", newline="") as handle:
        messages = {row["Error"] for row in csv.DictReader(handle)}
    assert messages and all("status 401" in m for m in messages), messages
    assert "Traceback" not in keyed.output + keyless.output


def stats(prefix: Path) -> dict[str, tuple[int, int]]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return {f"{row['Type']} {row['Name']}": (int(row["Request Count"]), int(row["Failure Count"]))
                for row in csv.DictReader(handle) if row["Name"] != "Aggregated"}


def test_prompts_and_keys_never_reach_the_output(keyed_sidecar) -> None:
    """At the default log level nothing a client sent is printed: not a prompt, not a key (right or wrong)."""
    url = keyed_sidecar.url
    wrong_key = f"wrong-{MARKER}"
    for path, body in POSTS.items():
        httpx.post(f"{url}{path}", json=body, headers={"X-API-Key": API_KEY}, timeout=30)
        httpx.post(f"{url}{path}", json=body, headers={"X-API-Key": wrong_key}, timeout=30)
        httpx.post(f"{url}{path}", json={"prompt": 7, "note": MARKER}, headers={"X-API-Key": API_KEY}, timeout=30)
        httpx.post(f"{url}{path}", content=f'{{"prompt": "{MARKER}'.encode(),
                   headers={"X-API-Key": API_KEY, "Content-Type": "application/json"}, timeout=30)
    keyed_sidecar.stop()  # everything the process will ever print is in the file now
    output = keyed_sidecar.output()
    record("log_leak", output_lines=len(output.splitlines()), marker_found=MARKER in output,
           key_found=API_KEY in output)
    assert "listening on" in output  # the capture works
    assert MARKER not in output, output[-3000:]
    assert API_KEY not in output, output[-3000:]
