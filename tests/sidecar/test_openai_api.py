"""The OpenAI-compatible routes over real HTTP: the suite's shared sidecar process (real default models),
read chunk by chunk with httpx as a streaming client would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import SidecarProcess, wait_until


@pytest.fixture(scope="module")
def url(sidecar: SidecarProcess) -> str:
    """The suite's shared sidecar process (its start is paid once for the whole suite)."""
    return str(sidecar.url)


def in_flight(url: str, model: str = "hermes") -> int:
    """Rows of ``model`` being decoded now, as /health reports them."""
    return int(httpx.get(url + "/health", timeout=10).json()["models"][model]["in_flight"])


def events(response: httpx.Response) -> Iterator[Any]:
    """Each SSE ``data:`` payload as it is read: a decoded JSON object, or the string "[DONE]"."""
    for line in response.iter_lines():
        if not line:
            continue
        assert line.startswith("data: "), line
        data = line[len("data: "):]
        yield data if data == "[DONE]" else json.loads(data)


def stream(url: str, path: str, body: dict[str, Any]) -> list[Any]:
    with httpx.stream("POST", url + path, json={**body, "stream": True}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(events(response))


def test_models_lists_both_models(url: str) -> None:
    body = httpx.get(url + "/v1/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["hermes", "phi3"]


def test_chat_stream_chunks_usage_and_done(url: str) -> None:
    got = stream(url, "/v1/chat/completions", {
        "model": "hermes", "messages": [{"role": "user", "content": "hello"}], "max_completion_tokens": 12,
        "ignore_eos": True, "stream_options": {"include_usage": True}})
    assert got[-1] == "[DONE]"
    chunks, usage_chunk, finish = got[:-2], got[-2], got[-3]
    assert {c["object"] for c in got[:-1]} == {"chat.completion.chunk"} and len({c["id"] for c in got[:-1]}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert all(content) and all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}
    assert usage_chunk["choices"] == []
    used = usage_chunk["usage"]
    assert used["completion_tokens"] == len(content) == 12  # one chunk per decoded token
    assert used["total_tokens"] == used["prompt_tokens"] + 12 and used["prompt_tokens"] >= 3


def test_streamed_text_is_the_non_streamed_text(url: str) -> None:
    """Greedy decoding, so both answers are the same tokens: the pieces join into the whole answer."""
    body = {"model": "phi3", "prompt": "Plan a BTC trade", "max_tokens": 20, "temperature": 0}
    whole = httpx.post(url + "/v1/completions", json=body, timeout=60).json()
    got = stream(url, "/v1/completions", body)
    assert whole["object"] == "text_completion" and whole["choices"][0]["text"]
    assert "".join(c["choices"][0]["text"] for c in got[:-1]) == whole["choices"][0]["text"]
    assert got[-2]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert "usage" not in got[-2]  # no include_usage: no usage chunk
    assert 1 <= whole["usage"]["completion_tokens"] <= 20


def test_ignore_eos_gives_exactly_max_tokens(url: str) -> None:
    body = {"model": "hermes", "messages": [{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}],
            "max_tokens": 7, "ignore_eos": True}
    answer = httpx.post(url + "/v1/chat/completions", json=body, timeout=60).json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] == 7 and answer["choices"][0]["finish_reason"] == "length"


def tokens_generated(url: str) -> float:
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith('osiris_model_generated_tokens_total{model_id="hermes"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_tokens_arrive_while_decoding_and_a_disconnect_frees_the_row(url: str) -> None:
    """The client leaves as soon as it has the first piece; the row then ends long before its 1024 tokens,
    which shows both orderings: the first chunk was sent before the last token was decoded (no buffering
    on the way), and the disconnect reached the decode loop (the row was freed)."""
    before = tokens_generated(url)
    body = {"model": "hermes", "prompt": "hello", "max_tokens": 1024, "ignore_eos": True, "stream": True}
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=60) as response:
        first = next(events(response))
    assert first["choices"][0]["text"]
    wait_until(lambda: in_flight(url) == 0, 30, "the disconnected row to end")
    wait_until(lambda: tokens_generated(url) > before, 10, "the batch's tokens to be counted")
    assert tokens_generated(url) - before < 1024


@pytest.mark.parametrize("path, body, status, param", [
    ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, 404, "model"),
    ("/v1/chat/completions", {"model": "hermes"}, 400, "messages"),
    ("/v1/chat/completions", {"model": "hermes", "messages": []}, 400, "messages"),
    ("/v1/chat/completions", {"model": "hermes", "messages": [{"role": "wizard", "content": "x"}]}, 400,
     "messages.0.role"),
    ("/v1/chat/completions", {"model": "hermes", "messages": [{"role": "user", "content": "x"}],
                              "max_completion_tokens": 0}, 400, "max_completion_tokens"),
    ("/v1/chat/completions", {"model": "hermes", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "x"}}]}]}, 400, "messages.0.content"),
    ("/v1/completions", {"model": "hermes", "prompt": "x", "max_tokens": 5000}, 400, "max_tokens"),
    ("/v1/completions", {"model": "hermes", "prompt": "x", "temperature": 9}, 400, "temperature"),
    ("/v1/completions", {"model": "hermes", "prompt": "x", "n": 2}, 400, "n"),
    ("/v1/completions", {"model": "hermes", "prompt": ["a", "b"]}, 400, None),
    ("/v1/completions", {"model": "hermes", "prompt": "x" * 9000, "stream": True}, 400, "prompt"),
    ("/v1/completions", {"model": 7, "prompt": "x"}, 400, "model"),
])
def test_bad_requests_get_openai_errors(url: str, path: str, body: dict[str, Any], status: int,
                                        param: str | None) -> None:
    response = httpx.post(url + path, json=body, timeout=30)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"]
    if param is not None:
        assert error["param"] == param and param.split(".")[0] in error["message"]


def test_chat_content_parts_read_as_their_texts() -> None:
    """OpenAI's content parts, as GuideLLM and the OpenAI SDK send them: their texts joined."""
    from sidecar.api.openai_schemas import ChatCompletionRequest

    body = {"model": "hermes", "messages": [{"role": "user", "content": [{"type": "text", "text": "two "},
                                                                         {"type": "text", "text": "parts"}]}]}
    assert ChatCompletionRequest.model_validate(body).messages[0].content == "two parts"


def test_a_body_that_is_not_json_is_a_400(url: str) -> None:
    response = httpx.post(url + "/v1/chat/completions", content=b"{not json",
                          headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["message"]


def test_openai_client_reads_the_stream(url: str) -> None:
    """Cross-check with the official client, when it is installed (it is not a dependency)."""
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
        model="hermes", messages=[{"role": "user", "content": "hi"}], max_tokens=5, stream=True) if c.choices]
    assert "".join(p or "" for p in pieces)



def test_faults_can_target_the_openai_routes() -> None:
    from sidecar.infra.settings import Settings

    settings = Settings(fault_latency_ms={"/v1/chat/completions": 5}, fault_error_rate={"/v1/completions": 0.5})
    assert settings.fault_latency_ms == {"/v1/chat/completions": 5}


def test_generate_streams_when_asked_and_answers_whole_otherwise(url: str) -> None:
    """``POST /generate`` with ``"stream": true`` streams as /v1/completions does (text_completion chunks,
    the finish chunk, usage, [DONE]); without it the answer is the one it always was."""
    body = {"prompt": "hello", "model_id": "phi3", "max_length": 8}
    got = stream(url, "/generate", body)
    assert got[-1] == "[DONE]"
    pieces, finish, usage_chunk = got[:-3], got[-3], got[-2]
    assert {c["object"] for c in got[:-1]} == {"text_completion"} and {c["model"] for c in got[:-1]} == {"phi3"}
    assert pieces and all(c["choices"][0]["text"] and c["choices"][0]["finish_reason"] is None for c in pieces)
    assert finish["choices"][0]["finish_reason"] in ("length", "stop") and usage_chunk["choices"] == []
    assert 1 <= len(pieces) <= usage_chunk["usage"]["completion_tokens"] <= 8  # a piece per decoded token or more
    whole = httpx.post(url + "/generate", json=body, timeout=60)
    assert whole.status_code == 200 and whole.headers["content-type"] == "application/json"
    assert set(whole.json()) == {"generated_text", "model_id", "usage"}
