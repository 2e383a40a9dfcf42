"""``python -m sidecar``: starts its own Redis on loopback, serves, and stops both cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import psutil

from tests.conftest import MODEL_CACHE, ROOT, SidecarProcess, wait_until


def test_launcher_starts_and_stops_its_own_redis(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    process = SidecarProcess({}, tmp_path / "log")
    try:
        wait_until(lambda: "listening on" in process.output(), 300, "the 'listening' line", interval_s=0.2)
        assert f"http://127.0.0.1:{process.port}" in process.output()
        redis_children = [c for c in psutil.Process(process.proc.pid).children() if "redis-server" in c.name()]
        assert len(redis_children) == 1
        redis_child = redis_children[0]
        listening = {c.laddr.ip for c in redis_child.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        assert listening == {"127.0.0.1"}
        health = httpx.get(f"{process.url}/health").json()
        assert health["redis"]["ok"] is True
    finally:
        code = process.stop()
    assert code == 0
    assert not redis_child.is_running() or redis_child.status() == psutil.STATUS_ZOMBIE
    assert "stopped redis-server" in process.output()


def test_bad_settings_exit_2_with_a_message() -> None:
    env = {**os.environ, "OSIRIS_MAX_BATCH_SIZE": "zero", "OSIRIS_MODEL_CACHE_DIR": str(MODEL_CACHE)}
    result = subprocess.run([sys.executable, "-m", "sidecar"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "bad settings: OSIRIS_MAX_BATCH_SIZE: " in result.stderr  # the variable the user set, not the field
    assert "Traceback" not in result.stderr


def test_missing_model_directory_is_a_clear_startup_error(tmp_path) -> None:
    env = {**os.environ, "OSIRIS_PHI3_MODEL_DIR": str(tmp_path / "nope"), "OSIRIS_MODEL_CACHE_DIR": str(MODEL_CACHE)}
    result = subprocess.run([sys.executable, "-m", "sidecar", "--port", "0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "phi3" in result.stderr and "nope" in result.stderr
    assert "Traceback" not in result.stderr
