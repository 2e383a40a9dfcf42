"""The API's own rules, in process: ``create_app(settings)`` under Starlette's TestClient (lifespan
included), real default models and, where proposals are stored, a real Redis. No process, no port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from sidecar.api.app import create_app
from sidecar.contract import PROPOSAL_SCHEMA
from sidecar.infra.redis_server import RedisServer
from sidecar.infra.settings import Settings
from tests.conftest import MODEL_CACHE


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"model_cache_dir": MODEL_CACHE, "redis_url": None, "cpu_threads": 1}
    return Settings(**{**base, **overrides})


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="module")
def client(redis_url: str) -> Iterator[TestClient]:
    app = create_app(settings(redis_url=redis_url, max_prompt_bytes=64, max_body_bytes=2048))
    with TestClient(app) as c:
        yield c


def metric(c: TestClient, line_start: str) -> float:
    for line in c.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_generate_and_its_usage(client: TestClient) -> None:
    r = client.post("/generate/", json={"prompt": "hello", "model_id": "phi3", "max_length": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_id"] == "phi3" and 1 <= body["usage"]["completion_tokens"] <= 5


def test_proposal_validates_and_the_assessment_reads_its_head(client: TestClient) -> None:
    r = client.post("/propose_trade_adjustments/", json={"prompt": "A trade idea for AAPL", "max_length": 8})
    assert r.status_code == 200, r.text
    body = r.json()
    jsonschema.validate(body["phi3_proposal"], PROPOSAL_SCHEMA)
    assert isinstance(body["hermes_assessment"], str) and body["transaction_id"]


@pytest.mark.parametrize("body, where", [
    ({"prompt": "   "}, "prompt"),
    ({"prompt": "x" * 65}, "prompt"),
    ({"prompt": "hi", "max_length": 0}, "max_length"),
    ({"prompt": "hi", "max_length": 1025}, "max_length"),
    ({"prompt": "hi", "model_id": "gpt5"}, "model_id"),
    ({"prompt": 3}, "prompt"),
])
def test_bad_bodies_are_422_naming_the_field(client: TestClient, body: dict[str, Any], where: str) -> None:
    r = client.post("/generate", json=body)
    assert r.status_code == 422
    assert any(where in err["loc"] for err in r.json()["detail"])


def test_oversized_bodies_are_413_declared_or_streamed(client: TestClient) -> None:
    before = metric(client, 'osiris_http_requests_total{method="POST",route="unmatched",status="413"}')
    big = b'{"prompt": "' + b"x" * 4096 + b'"}'
    r = client.post("/generate", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "2048" in r.json()["detail"]
    streamed = client.post("/generate", content=iter([big[:1500], big[1500:]]),
                           headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert metric(client, 'osiris_http_requests_total{method="POST",route="unmatched",status="413"}') >= before + 1


def test_non_utf8_body_is_400(client: TestClient) -> None:
    """README's status table: 400 for a body not decodable as UTF-8; 422 stays for malformed JSON."""
    r = client.post("/generate", content=b'{"prompt": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json() == {"detail": "There was an error parsing the body"}
    malformed = client.post("/generate", content=b'{"prompt": ', headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["type"] == "json_invalid"


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    before = metric(client, 'osiris_http_requests_total{method="GET",route="/health",status="200"}')
    assert client.get("/health").status_code == 200
    assert metric(client, 'osiris_http_requests_total{method="GET",route="/health",status="200"}') == before + 1


def test_health_reports_the_decode_backend(client: TestClient) -> None:
    models = client.get("/health").json()["models"]
    for info in models.values():
        assert info["loaded"] and info["decode_backend"] in ("onnx", "eager")


def test_openapi_documents_the_error_statuses(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/propose_trade_adjustments/"]["post"]["responses"]
    assert {"400", "401", "413", "422", "501", "503"} <= set(responses)


def test_without_redis_proposals_are_503_and_health_says_why() -> None:
    with TestClient(create_app(settings(decode_backend="eager"))) as c:
        r = c.post("/propose_trade_adjustments", json={"prompt": "AAPL", "max_length": 4})
        assert r.status_code == 503 and "REDIS_URL" in r.json()["detail"]
        health = c.get("/health")
        assert health.status_code == 503
        assert any("redis" in p for p in health.json()["problems"])
        assert all(m["decode_backend"] == "eager" for m in health.json()["models"].values())


def test_api_key_guards_posts_and_401s_are_counted() -> None:
    with TestClient(create_app(settings(api_key="s3cret", decode_backend="eager"))) as c:
        assert c.post("/generate", json={"prompt": "hi"}).status_code == 401
        assert c.post("/generate", json={"prompt": "hi", "max_length": 2},
                      headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/health").status_code == 503  # GETs need no key (no Redis here: 503)
        assert metric(c, 'osiris_http_requests_total{method="POST",route="unmatched",status="401"}') == 1


def test_injected_faults_answer_with_the_configured_status() -> None:
    s = settings(decode_backend="eager", fault_error_rate={"/generate": 1.0}, fault_status=502)
    with TestClient(create_app(s)) as c:
        r = c.post("/generate", json={"prompt": "hi"})
        assert r.status_code == 502 and "injected" in r.json()["detail"]
        assert c.get("/metrics").status_code == 200
