"""Case 2, Redis lost mid-run and restarted, under proposal load: nothing acknowledged is lost.

The sidecar runs on a Redis of its own (a real ``redis-server`` with an append-only file) and a
stream of its own. Locust sends proposals (3 users, 50 ms think time) and writes down the
``transaction_id`` of every 200. Mid-run the test stops Redis (SIGTERM); while it is down,
``/health`` answers 503 naming Redis, ``/generate`` still answers 200 and proposals get 503
("not acknowledged"). Then a new ``redis-server`` starts on the same port and data directory, and
the sidecar must recover by itself. At the end, every proposal answered 200 is in the Redis Stream,
exactly once.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import httpx
import redis

from osiris_load.testing.reliability import RELIABILITY_LOCUSTFILE, LocustProcess, read_records
from osiris_load.testing.support import locust_command
from sidecar.infra.redis_server import RedisServer
from tests.conftest import REDIS_LOSS_STREAM, OwnRedis, SidecarProcess, wait_until
from tests.reliability.reliability_support import metric_total, record

USERS = 3
RUN_LIMIT_S = 60  # backstop; the test stops Locust itself once Redis is back and proposals flow again


def stream_ids(client: redis.Redis, stream: str) -> list[str]:
    return [fields[b"transaction_id"].decode() for _, fields in client.xrange(stream)]


def refused_proposals(url: str) -> float:
    return metric_total(url, "osiris_http_requests_total", route="/propose_trade_adjustments/", method="POST",
                        status="503")


def test_redis_lost_and_restarted_under_load_loses_nothing(redis_loss_sidecar: tuple[SidecarProcess, OwnRedis],
                                                           tmp_path: Path) -> None:
    sidecar, own = redis_loss_sidecar
    server, data_dir, stream = own.server, own.data_dir, REDIS_LOSS_STREAM
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2)
    out = tmp_path / "records"
    out.mkdir()
    locust: LocustProcess | None = None
    try:
        locust = LocustProcess(
            locust_command(RELIABILITY_LOCUSTFILE, "ProposerUser", "--headless", "--host", sidecar.url,
                           "--only-summary", "-u", str(USERS), "-r", str(USERS), "-t", f"{RUN_LIMIT_S}s"),
            tmp_path / "locust.log", env={"REL_OUT_DIR": str(out)})
        wait_until(lambda: client.xlen(stream) >= 10, 60, "proposals to flow before the fault", interval_s=0.2)

        # Fault: Redis goes away (SIGTERM; the append-only file is flushed on shutdown).
        stored_before = client.xlen(stream)
        client.close()
        server.stop()
        refused_at_fault = refused_proposals(sidecar.url)

        health = httpx.get(f"{sidecar.url}/health", timeout=10)
        assert health.status_code == 503, health.text
        assert any("redis" in problem for problem in health.json()["problems"]), health.text
        generated = httpx.post(f"{sidecar.url}/generate", json={"prompt": "Redis is down", "max_length": 4},
                               timeout=10)
        assert generated.status_code == 200, generated.text
        refused = httpx.post(f"{sidecar.url}/propose_trade_adjustments/",
                             json={"prompt": "BTC plan", "max_length": 8}, timeout=10)
        assert refused.status_code == 503, refused.text
        assert "not acknowledged" in refused.json()["detail"]
        wait_until(lambda: refused_proposals(sidecar.url) >= refused_at_fault + 10, 30,
                   "the load to meet the outage", interval_s=0.2)
        assert locust.proc.poll() is None, locust.output()[-3000:]

        # Redis comes back on the same port and data directory; the sidecar recovers by itself.
        server = RedisServer(port=server.port, data_dir=data_dir).start()
        client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2)
        assert client.xlen(stream) >= stored_before  # durable across the restart
        wait_until(sidecar.healthy, 15, "the sidecar to report healthy again", interval_s=0.2)
        restarted_with = client.xlen(stream)
        wait_until(lambda: client.xlen(stream) >= restarted_with + 10, 30, "proposals to be stored again",
                   interval_s=0.2)

        locust.proc.send_signal(signal.SIGTERM)  # ends the run; each process writes its records at quitting
        finished = locust.wait(60)
        assert "Traceback" not in finished.output, finished.output[-4000:]

        records = read_records(out)
        acknowledged = records.proposal_ids
        in_stream = stream_ids(client, stream)
        counts = Counter(in_stream)
        lost = sorted(set(acknowledged) - set(in_stream))
        duplicates = {tid: n for tid, n in counts.items() if n > 1}
        statuses = records.by_status()
        record("redis_loss", sent=records.sent, status_200=statuses.get(200, 0), status_503=statuses.get(503, 0),
               status_5xx_other=sum(n for s, n in statuses.items() if s >= 500 and s != 503),
               connection_errors=statuses.get(0, 0), stream_entries=len(in_stream),
               stored_not_acknowledged=len(set(in_stream) - set(acknowledged)), lost=len(lost),
               duplicates=len(duplicates), stored_before_fault=stored_before)

        assert set(statuses) <= {200, 503}, statuses
        assert statuses.get(503, 0) > 0, statuses  # the load did meet the outage
        assert len(acknowledged) == len(set(acknowledged)) > 0
        assert not lost, f"{len(lost)} proposals answered 200 are not in the stream: {lost[:5]}"
        assert not duplicates, duplicates
    finally:
        if locust is not None:
            locust.kill()
        sidecar.stop()
        client.close()
        server.stop()
