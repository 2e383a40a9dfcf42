"""The sidecar's HTTP API, end to end: a real process, real models, real Redis."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from sidecar.contract import PROPOSAL_SCHEMA
from sidecar.infra.bus import CHANNEL_ASSESSED, CHANNEL_CREATED
from sidecar.infra.redis_server import RedisServer
from tests.conftest import FAULT_ERROR_RATE, FAULT_LATENCY_MS, OwnRedis, SidecarProcess, wait_until

STREAM = "osiris:proposals"


def post(url: str, path: str, body: object, timeout: float = 60) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, timeout=timeout)


@pytest.mark.parametrize("path", ["/generate", "/generate/"])
@pytest.mark.parametrize("model_id", ["hermes", "phi3"])
def test_generate_answers_with_model_text(sidecar, path: str, model_id: str) -> None:
    response = post(sidecar.url, path, {"prompt": "hello", "model_id": model_id, "max_length": 16})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == model_id
    assert isinstance(body["generated_text"], str)
    assert 0 <= body["usage"]["completion_tokens"] <= 16
    assert body["usage"]["prompt_tokens"] >= 1


def test_generate_defaults_to_hermes_and_text_varies_with_prompt(sidecar) -> None:
    texts = set()
    for prompt in ("hello", "Plan a BTC trade", "Is SPY overbought?", "AAPL earnings play"):
        body = post(sidecar.url, "/generate", {"prompt": prompt, "max_length": 24}).json()
        assert body["model_id"] == "hermes"
        texts.add(body["generated_text"])
    assert len(texts) > 1 and any(t.strip() for t in texts)


def test_max_length_bounds_new_tokens(sidecar) -> None:
    body = post(sidecar.url, "/generate", {"prompt": "hello", "max_length": 3}).json()
    assert body["usage"]["completion_tokens"] <= 3


@pytest.mark.parametrize("path", ["/propose_trade_adjustments/", "/propose_trade_adjustments"])
def test_proposal_is_valid_stored_and_published(sidecar, redis_server: RedisServer, path: str) -> None:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL_CREATED, CHANNEL_ASSESSED)
    wait_until(lambda: pubsub.get_message(timeout=0.1) is not None, 5, "subscribe confirmation")
    wait_until(lambda: pubsub.get_message(timeout=0.1) is not None, 5, "second subscribe confirmation")

    response = post(sidecar.url, path, {"prompt": "Give me a trade idea for AAPL", "max_length": 64})
    assert response.status_code == 200, response.text
    body = response.json()
    jsonschema.validate(body["phi3_proposal"], PROPOSAL_SCHEMA)
    assert isinstance(body["hermes_assessment"], str)

    entries = client.xrange(STREAM)
    mine = [fields for _, fields in entries if fields["transaction_id"] == body["transaction_id"]]
    assert len(mine) == 1
    assert json.loads(mine[0]["proposal"]) == body["phi3_proposal"]
    assert mine[0]["assessment"] == body["hermes_assessment"]

    messages: dict[str, dict] = {}

    def collect() -> bool:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            messages[message["channel"]] = json.loads(message["data"])
        return len(messages) == 2

    wait_until(collect, 5, "both pub/sub messages")
    for channel in (CHANNEL_CREATED, CHANNEL_ASSESSED):
        assert messages[channel]["transaction_id"] == body["transaction_id"]
        assert messages[channel]["proposal"] == body["phi3_proposal"]
    assert messages[CHANNEL_ASSESSED]["assessment"] == body["hermes_assessment"]
    pubsub.close()
    client.close()


def test_proposals_validate_on_many_prompts(sidecar) -> None:
    prompts = [f"Trade idea #{i} for {t}: {mood}" for i, (t, mood) in enumerate(
        [(t, m) for t in ("AAPL", "BTC", "SPY", "TSLA", "ETH") for m in ("bullish", "bearish", "flat", "volatile")])]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda p: post(sidecar.url, "/propose_trade_adjustments/",
                                                 {"prompt": p, "max_length": 32}), prompts))
    proposals = []
    for response in responses:
        assert response.status_code == 200, response.text
        jsonschema.validate(response.json()["phi3_proposal"], PROPOSAL_SCHEMA)
        proposals.append(json.dumps(response.json()["phi3_proposal"], sort_keys=True))
    assert len(set(proposals)) > 1, "every proposal was identical: the model is not choosing values"


def test_health_reports_models_and_redis(sidecar) -> None:
    response = httpx.get(f"{sidecar.url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["problems"] == []
    assert body["models"]["hermes"]["loaded"] and body["models"]["phi3"]["loaded"]
    assert body["redis"]["ok"] is True
    assert body["faults"]["active"] is False


def test_metrics_parse_and_count_requests(sidecar) -> None:
    post(sidecar.url, "/generate/", {"prompt": "hello", "model_id": "phi3", "max_length": 4})
    text = httpx.get(f"{sidecar.url}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("osiris_http_requests", "osiris_http_request_duration_seconds",
                 "osiris_model_inference_duration_seconds", "osiris_model_batch_size",
                 "osiris_model_generated_tokens", "osiris_model_queue_depth", "osiris_redis_errors"):
        assert name in families, f"{name} missing from /metrics"
    requests = [s for s in families["osiris_http_requests"].samples
                if s.name == "osiris_http_requests_total" and s.labels["route"] == "/generate/"
                and s.labels["status"] == "200"]
    assert requests and requests[0].value >= 1
    tokens = [s for s in families["osiris_model_generated_tokens"].samples if s.labels.get("model_id") == "phi3"]
    assert tokens and tokens[0].value >= 1


BAD_GENERATE = [
    ("not json", "{prompt: hello", "json"),
    ("not an object", [1, 2], "dict"),
    ("missing prompt", {"model_id": "phi3"}, "prompt"),
    ("prompt not a string", {"prompt": 42}, "string"),
    ("unknown model", {"prompt": "hi", "model_id": "gpt9"}, "'hermes' or 'phi3'"),
    ("empty prompt", {"prompt": "   "}, "must not be empty"),
    ("oversized prompt", {"prompt": "x" * 9000}, "limit is 8192 bytes"),
    ("max_length zero", {"prompt": "hi", "max_length": 0}, "greater than or equal to 1"),
    ("max_length too big", {"prompt": "hi", "max_length": 5000}, "less than or equal to 1024"),
    ("max_length not a number", {"prompt": "hi", "max_length": "abc"}, "integer"),
]


BAD_INPUT = [pytest.param(path, *case, id=f"{path}-{case[0]}") for path in ("/generate/", "/propose_trade_adjustments/")
             for case in BAD_GENERATE if not (path.startswith("/propose") and case[0] == "unknown model")]


@pytest.mark.parametrize("path,case,body,needle", BAD_INPUT)
def test_bad_input_is_422_with_a_message(sidecar, path: str, case: str, body: object, needle: str) -> None:
    if isinstance(body, str):
        response = httpx.post(f"{sidecar.url}{path}", content=body, headers={"Content-Type": "application/json"})
    else:
        response = post(sidecar.url, path, body)
    assert response.status_code == 422, response.text
    assert needle.lower() in response.text.lower()


def test_oversized_body_is_413(sidecar) -> None:
    response = httpx.post(f"{sidecar.url}/generate", content=b'{"prompt": "' + b"x" * 70000 + b'"}',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


@pytest.fixture(scope="module")
def own_sidecars(queue_of_one_sidecar: SidecarProcess, own_redis_sidecar: tuple[SidecarProcess, OwnRedis]
                 ) -> dict[str, Any]:
    """This module's two sidecars with settings of their own (conftest: they load side by side with the
    suite's other such sidecars): ``queue_of_one`` (a queue and a batch of one) and ``own_redis`` (on a Redis
    of its own, which its test stops and restarts; ``redis`` is that Redis, ``redis_dir`` its data directory)."""
    own_redis, own = own_redis_sidecar
    return {"queue_of_one": queue_of_one_sidecar, "own_redis": own_redis, "redis": own.server,
            "redis_dir": own.data_dir}


def test_queue_full_is_503_with_retry_after(own_sidecars: dict[str, Any]) -> None:
    sidecar = own_sidecars["queue_of_one"]
    barrier = threading.Barrier(12)

    def one(_: int) -> httpx.Response:
        barrier.wait()
        return post(sidecar.url, "/generate", {"prompt": "hello", "max_length": 64})

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(one, range(12)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503}, statuses
    assert 503 in statuses and 200 in statuses, statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["Retry-After"] == "1"
    assert "overloaded" in refused.json()["detail"]


def test_redis_loss_gives_503_then_recovers(own_sidecars: dict[str, Any]) -> None:
    sidecar, own = own_sidecars["own_redis"], own_sidecars["redis"]
    try:
        ok = post(sidecar.url, "/propose_trade_adjustments/", {"prompt": "BTC plan", "max_length": 16})
        assert ok.status_code == 200
        own.stop()

        health = httpx.get(f"{sidecar.url}/health", timeout=10)
        assert health.status_code == 503
        assert any("redis" in p for p in health.json()["problems"])
        lost = post(sidecar.url, "/propose_trade_adjustments/", {"prompt": "BTC plan", "max_length": 16})
        assert lost.status_code == 503
        assert "not acknowledged" in lost.json()["detail"]
        assert post(sidecar.url, "/generate", {"prompt": "still here", "max_length": 4}).status_code == 200

        own = RedisServer(port=own.port, data_dir=own_sidecars["redis_dir"]).start()
        wait_until(sidecar.healthy, 10, "health to recover")
        again = post(sidecar.url, "/propose_trade_adjustments/", {"prompt": "BTC plan", "max_length": 16})
        assert again.status_code == 200
        ids = [f[b"transaction_id"].decode() for _, f in redis.Redis.from_url(own.url).xrange(STREAM)]
        assert ok.json()["transaction_id"] in ids  # durable across the restart (append-only file)
        assert again.json()["transaction_id"] in ids
        assert len(ids) == len(set(ids)) == 2
    finally:
        own.stop()


def test_fault_injection_is_visible_and_applied(faulty_sidecar) -> None:
    """The suite's faulty sidecar (conftest): its faults are shown in /health and applied per route."""
    faults = httpx.get(f"{faulty_sidecar.url}/health", timeout=10).json()["faults"]
    assert faults["active"] is True and faults["error_rate"] == FAULT_ERROR_RATE
    assert faults["latency_ms"] == FAULT_LATENCY_MS
    response = httpx.get(f"{faulty_sidecar.url}/metrics", timeout=10)
    assert response.status_code == 500 and "injected fault" in response.json()["detail"]
    timed = post(faulty_sidecar.url, "/generate", {"prompt": "hello", "max_length": 4})
    assert timed.status_code == 200 and timed.elapsed.total_seconds() >= 0.9
    assert post(faulty_sidecar.url, "/propose_trade_adjustments/", {"prompt": "x", "max_length": 8}).status_code == 200
