"""The pure parts of the LLM scenario: the stream meter (fed lines and clock readings by hand) and
the prompts loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris_load.adapter.llm_prompts import LlmPromptsError, as_completion_prompt, generated_prompts, load_llm_prompts
from osiris_load.adapter.llm_stream import StreamFailure, StreamMeter


def chat(text: str | None = None, **extra: object) -> bytes:
    delta = {} if text is None else {"content": text}
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}], **extra}).encode() + b"\n"


def test_ttft_gaps_tpot_and_usage_from_the_read_times() -> None:
    meter = StreamMeter(start=10.0, chat=True)
    lines = [(chat(None), 10.001), (b"\n", 10.001), (b": keep-alive\n", 10.02), (chat("a"), 10.050),
             (chat("b"), 10.060), (chat(""), 10.065), (chat("c"), 10.100),
             (b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}\n', 10.101)]
    for line, at in lines:
        assert meter.feed(line, at) is False
    assert meter.feed(b"data: [DONE]\n", 10.102) is True
    m = meter.finish(10.102)
    assert m.ttft_ms == pytest.approx(50.0)  # the role chunk and the empty one carry no text
    assert m.gaps_ms == pytest.approx([10.0, 40.0])
    assert m.e2e_ms == pytest.approx(102.0)
    assert (m.output_tokens, m.input_tokens, m.token_source) == (3, 7, "usage")
    assert m.tpot_ms == pytest.approx((102.0 - 50.0) / 2)


def test_without_usage_the_text_chunks_are_counted() -> None:
    meter = StreamMeter(start=0.0, chat=False)
    for i, at in enumerate((0.1, 0.2)):
        meter.feed(b'data: {"choices":[{"text":"t%d"}]}\n' % i, at)
    meter.feed(b"data: [DONE]\n", 0.3)
    m = meter.finish(0.3)
    assert (m.output_tokens, m.token_source, m.input_tokens) == (2, "chunks", None)


@pytest.mark.parametrize("lines, reason", [
    ([chat("a")], "stream ended before [DONE] (after 1 text chunks)"),
    ([b"data: {oops\n"], "stream chunk is not JSON: {oops"),
    ([b"data: [1]\n"], "stream chunk is not a JSON object"),
    ([b'data: {"error":{"message":"overloaded"}}\n'], "error in stream: overloaded"),
    ([chat(None), b"data: [DONE]\n"], "stream had no tokens"),
])
def test_broken_streams_say_why(lines: list[bytes], reason: str) -> None:
    meter = StreamMeter(start=0.0, chat=True)
    with pytest.raises(StreamFailure) as caught:
        for line in lines:
            meter.feed(line, 1.0)
        meter.finish(1.0)
    assert reason in str(caught.value)


def test_prompts_files_json_list_and_jsonl(tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    system_and_user = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    listed.write_text(json.dumps(["plain", {"prompt": "p"}, [{"role": "user", "content": "m"}],
                                  {"messages": system_and_user}]))
    got = load_llm_prompts(listed)
    assert got[0] == [{"role": "user", "content": "plain"}] and got[1] == [{"role": "user", "content": "p"}]
    assert as_completion_prompt(got[3]) == "s\nu"
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"prompt": "one"}\n\n"two"\n')
    assert [m[0]["content"] for m in load_llm_prompts(lines)] == ["one", "two"]
    one_chat = tmp_path / "chat.json"
    one_chat.write_text(json.dumps([{"role": "user", "content": "only"}]))
    assert load_llm_prompts(one_chat) == [[{"role": "user", "content": "only"}]]


@pytest.mark.parametrize("text, where", [
    ("", "no prompts"),
    ('{"prompt": "ok"}\n{broken\n', "line 2 is not JSON"),
    ('[1]', "entry 0 is neither"),
    ('["  "]', "entry 0 is an empty prompt"),
    ('{"messages": [{"role": "user"}]}', "line 1 is neither"),
])
def test_bad_prompts_files_say_where(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(LlmPromptsError) as caught:
        load_llm_prompts(path)
    assert where in str(caught.value) and str(path) in str(caught.value)


def test_generated_prompts_have_the_asked_length_and_differ() -> None:
    prompts = generated_prompts(20, count=5)
    words = [p[0]["content"].split() for p in prompts]
    assert all(len(w) == 20 for w in words) and len({w[0] for w in words}) == 5
    with pytest.raises(LlmPromptsError):
        generated_prompts(0)


def test_the_llm_table_judges_every_measurement_of_both_endpoints() -> None:
    from osiris_load.adapter.llm_stream import ENDPOINTS, measurement_names, token_names
    from osiris_load.core.slo.k6_metrics import LLM_METHOD, TOKENS_METHOD
    from osiris_load.core.slo.table import LLM_TABLE_PATH, load_table

    table = load_table(LLM_TABLE_PATH)
    for path in ENDPOINTS.values():
        assert [r.name for r in table.rows if r.matches("POST", path)] == ["llm_answers"]
        for key, name in zip(("llm_ttft", "llm_itl", "llm_tpot", "llm_e2el"), measurement_names(path, "OpenAIChatUser"),
                             strict=True):
            assert [r.name for r in table.rows if r.matches_key((LLM_METHOD, name))] == [key]
        output, _ = token_names(path, "OpenAIChatUser")
        assert [r.name for r in table.rows if r.matches_key((TOKENS_METHOD, output))] == ["llm_output_tokens"]
