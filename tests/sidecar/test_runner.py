"""The dynamic-batching runner against a real (small, random-weight) model: no mocks of the model."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from sidecar.contract import PROPOSAL_SCHEMA
from sidecar.engine.constrained.vocabulary import ProposalDecodingError
from sidecar.engine.model_builder import CORPUS_PATH, ensure_default_model
from sidecar.engine.runner import Generation, ModelRunner, QueueFull, RunnerNotReady
from sidecar.infra.metrics import SidecarMetrics
from tests.conftest import EXPORT_CACHE

T = TypeVar("T")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_default_model("hermes", tmp_path_factory.mktemp("models"))


def with_runner(directory: Path, body: Callable[[ModelRunner], Awaitable[T]], **kwargs: Any) -> T:
    """Run ``body`` against a started runner inside a fresh event loop (pytest-asyncio is not used)."""

    async def main() -> T:
        runner = ModelRunner("hermes", directory, **{"export_cache_dir": EXPORT_CACHE, **kwargs})
        await runner.start()
        try:
            return await body(runner)
        finally:
            await runner.stop()

    return asyncio.run(main())


def sample(metrics: SidecarMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"model_id": "hermes"})
    return 0.0 if value is None else value


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def test_generate_returns_model_text(model_dir: Path) -> None:
    async def body(r: ModelRunner) -> list[Generation]:
        assert r.loaded and r.device == "cpu"
        return [await r.generate("A trade idea for AAPL", n) for n in (1, 8, 24)]

    gens = with_runner(model_dir, body)
    for gen, limit in zip(gens, (1, 8, 24), strict=True):
        assert isinstance(gen, Generation)
        assert gen.text.strip() and "\ufffd" not in gen.text
        assert 1 <= gen.completion_tokens <= limit
        assert gen.prompt_tokens == 5
    assert len({g.text for g in gens}) == 3


def test_requests_before_start_are_refused(model_dir: Path) -> None:
    runner = ModelRunner("hermes", model_dir)
    with pytest.raises(RunnerNotReady):
        asyncio.run(runner.generate("hi", 4))
    assert runner.info()["loaded"] is False


def test_concurrent_requests_are_batched(model_dir: Path) -> None:
    metrics = SidecarMetrics()

    async def body(r: ModelRunner) -> list[Generation]:
        return await asyncio.gather(*(r.generate(f"prompt number {i}", 6) for i in range(24)))

    gens = with_runner(model_dir, body, metrics=metrics, max_batch_size=16, batch_window_ms=20)
    batches = sample(metrics, "osiris_model_batch_size_count")
    assert sample(metrics, "osiris_model_batch_size_sum") == 24
    assert 2 <= batches < 24  # at most 16 per batch, and far fewer batches than requests
    assert sample(metrics, "osiris_model_inference_duration_seconds_count") == batches
    assert sample(metrics, "osiris_model_generated_tokens_total") == sum(g.completion_tokens for g in gens)
    assert sample(metrics, "osiris_model_queue_depth") == 0


def test_queue_full_is_refused_immediately(model_dir: Path) -> None:
    metrics = SidecarMetrics()

    async def body(r: ModelRunner) -> tuple[Generation, Generation]:
        long = asyncio.create_task(r.generate("a long one", 500))
        await wait_until(lambda: r.in_flight == 1)
        queued = asyncio.create_task(r.generate("queued", 4))
        await wait_until(lambda: r.queue_depth == 1)
        assert sample(metrics, "osiris_model_queue_depth") == 1
        with pytest.raises(QueueFull):
            await r.generate("refused", 4)
        with pytest.raises(QueueFull):
            await r.generate_proposal("refused too", 4)
        # immediately: the long generation is still running, so neither refusal waited for a place
        # (what a refusal costs: osiris-load bench runner_loop)
        assert r.in_flight == 1 and r.queue_depth == 1
        return await long, await queued

    long, queued = with_runner(model_dir, body, metrics=metrics, max_batch_size=1, max_queue=1)
    assert long.completion_tokens <= 500 and queued.completion_tokens <= 4
    assert sample(metrics, "osiris_model_rejected_total") == 2


def test_proposals_always_validate(model_dir: Path) -> None:
    subjects = ["AAPL", "BTC", "SPY", "NVDA", "ETH", "TSLA", "GLD", "QQQ", "IWM", "MSFT"]
    verbs = ["A trade idea for", "A short plan for trading", "A strategy for", "Should I adjust my stop on",
             "Risk review of my position in"]
    prompts = [f"{v} {s}" for v in verbs for s in subjects]  # 50 prompts

    async def body(r: ModelRunner) -> list[tuple[dict[str, Any], Generation]]:
        return await asyncio.gather(*(r.generate_proposal(p, 8 + i % 17) for i, p in enumerate(prompts)))

    results = with_runner(model_dir, body, max_batch_size=16)
    for i, (obj, gen) in enumerate(results):
        jsonschema.validate(obj, PROPOSAL_SCHEMA)
        assert json.loads(gen.text) == obj
        assert gen.completion_tokens <= 90 + 8 + i % 17
    assert len({json.dumps(o, sort_keys=True) for o, _ in results}) == len(results)
    assert len({o["ticker"] for o, _ in results}) > 10 and len({o["action"] for o, _ in results}) > 1


def test_mixed_batch_of_text_and_proposals(model_dir: Path) -> None:
    limits = [2, 5, 9, 14, 20]

    async def body(r: ModelRunner) -> list[Any]:
        calls = [r.generate(f"free {n}", n) for n in limits]
        calls += [r.generate_proposal(f"proposal {n}", n) for n in (3, 30)]
        out = await asyncio.gather(*calls)
        assert r.batches_run == 1 and r.max_batch_seen == 7
        return out

    out = with_runner(model_dir, body, max_batch_size=16, batch_window_ms=50)
    for gen, limit in zip(out[:5], limits, strict=True):
        assert 1 <= gen.completion_tokens <= limit
    for obj, gen in out[5:]:
        jsonschema.validate(obj, PROPOSAL_SCHEMA)
        assert gen.completion_tokens > 20


def test_short_rows_are_answered_before_their_batch_ends(model_dir: Path) -> None:
    """Early delivery: the 2-token row is answered while the 400-token row of its batch still decodes.

    Asserted by order (the long row is not finished when the short one is delivered), not by timing.
    """
    async def body(r: ModelRunner) -> tuple[bool, Generation]:
        long_task = asyncio.ensure_future(r.generate("long", 400))
        proposal_task = asyncio.ensure_future(r.generate_proposal("AAPL", 4))
        short = await r.generate("short", 2)
        long_running_at_delivery = r.in_flight > 0 and not long_task.done()  # the batch still computes
        await asyncio.gather(long_task, proposal_task)
        assert r.batches_run == 1
        return long_running_at_delivery, short

    long_running, short = with_runner(model_dir, body, batch_window_ms=50)
    assert short.completion_tokens <= 2
    assert long_running


def test_long_prompts_are_truncated_from_the_left(model_dir: Path) -> None:
    prompt = " ".join(f"word{i}" for i in range(3000)) + " and finally AAPL"

    async def body(r: ModelRunner) -> tuple[Generation, Generation, tuple[dict[str, Any], Generation]]:
        solo = await r.generate(prompt, 16)
        pair = await asyncio.gather(r.generate(prompt, 16), r.generate_proposal(prompt, 32))
        return solo, pair[0], pair[1]

    solo, batched, (obj, proposal) = with_runner(model_dir, body, batch_window_ms=50)
    assert solo.prompt_tokens == 2048 - 16  # exactly what fits before the new tokens
    assert solo.completion_tokens == 16
    assert batched.prompt_tokens == proposal.prompt_tokens < 2048 - 16  # the batch needs room for the proposal
    jsonschema.validate(obj, PROPOSAL_SCHEMA)


LOOP_TURNS = 50


def test_the_event_loop_turns_while_a_generation_decodes(model_dir: Path) -> None:
    """Decoding runs off the event loop (in the batcher's worker thread): while a generation is in flight,
    another coroutine gets LOOP_TURNS turns of the loop before it ends. Were the decode run on the loop, the
    generation (a prefill and up to 400 steps; no batch window to wait out) would end before the loop came
    back. Only generations of 20 tokens or more count (a sampled EOS can end one at once). How often the
    loop turns and its longest gap are figures of the machine: ``osiris-load bench runner_loop``."""
    async def body(r: ModelRunner) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []
        for _ in range(10):
            generation = asyncio.create_task(r.generate("tick tock", 400))
            turns = 0
            while turns < LOOP_TURNS and not generation.done():
                await asyncio.sleep(0)
                turns += 1
            result = await generation
            if result.completion_tokens >= 20:
                seen.append((turns, result.completion_tokens))
            if len(seen) == 3:
                break
        return seen

    seen = with_runner(model_dir, body, batch_window_ms=0)
    assert seen, "no generation of 20 tokens or more in 10"
    assert all(turns == LOOP_TURNS for turns, _ in seen), seen


def test_a_failing_batch_fails_only_its_requests(model_dir: Path) -> None:
    async def body(r: ModelRunner) -> Generation:
        backend = r._model.backend
        real = backend.session
        calls = {"n": 0}

        def flaky() -> Any:  # fault injection: the first batch's forward raises
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("device fell over")
            return real()

        backend.session = flaky
        results = await asyncio.gather(r.generate("a", 4), r.generate("b", 4), return_exceptions=True)
        assert all(isinstance(e, RuntimeError) and "fell over" in str(e) for e in results)
        assert r.loaded
        return await r.generate("after", 4)

    gen = with_runner(model_dir, body, batch_window_ms=50)
    assert gen.completion_tokens >= 1


def test_stop_fails_waiting_and_running_requests(model_dir: Path) -> None:
    async def main() -> None:
        r = ModelRunner("hermes", model_dir, max_batch_size=1)
        await r.start()
        running = asyncio.create_task(r.generate("long", 200))
        await wait_until(lambda: r.in_flight == 1)
        waiting = asyncio.create_task(r.generate("waiting", 4))
        await wait_until(lambda: r.queue_depth == 1)
        await r.stop()
        for task in (running, waiting):
            with pytest.raises(RunnerNotReady):
                await task
        assert not r.loaded and r.queue_depth == 0
        with pytest.raises(RunnerNotReady):
            await r.generate("late", 4)

    asyncio.run(main())


def test_cancelled_request_leaves_the_queue(model_dir: Path) -> None:
    async def body(r: ModelRunner) -> None:
        long = asyncio.create_task(r.generate("long", 300))
        await wait_until(lambda: r.in_flight == 1)
        gone = asyncio.create_task(r.generate("gone", 4))
        await wait_until(lambda: r.queue_depth == 1)
        gone.cancel()
        await asyncio.sleep(0)
        assert r.queue_depth == 0
        await long

    with_runner(model_dir, body, max_batch_size=1)


def test_info_for_health(model_dir: Path) -> None:
    async def body(r: ModelRunner) -> dict[str, Any]:
        await r.generate("x", 2)
        return r.info()

    info = with_runner(model_dir, body, max_batch_size=8, cpu_threads=1)
    assert info["torch_threads"] == 1
    assert info["model_id"] == "hermes" and info["loaded"] is True and info["device"] == "cpu"
    assert info["directory"] == str(model_dir) and info["max_batch_size"] == 8
    assert info["queue_depth"] == 0 and info["context_length"] == 2048 and info["proposals_supported"]
    assert info["requests_served"] == 1


def test_unsupported_tokenizer_refuses_proposals_but_serves_text(tmp_path: Path) -> None:
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=False)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.decoder = decoders.WordPiece()
    t.train([str(CORPUS_PATH)], trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[UNK]", "[SEP]", "[PAD]"],
                                                         show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=t, eos_token="[SEP]", unk_token="[UNK]", pad_token="[PAD]")
    tok.save_pretrained(tmp_path)
    torch.manual_seed(3)
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_layer=1, n_embd=64, n_head=2, n_positions=256,
                               eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)).save_pretrained(tmp_path)

    async def body(r: ModelRunner) -> Generation:
        assert not r.proposals_supported and r.context_length == 256
        with pytest.raises(ProposalDecodingError):
            await r.generate_proposal("AAPL", 8)
        return await r.generate("AAPL", 8)

    gen = with_runner(tmp_path, body, backend="eager")  # about the tokenizer: no export needed
    assert 1 <= gen.completion_tokens <= 8


def test_proposal_head_is_out_before_the_rationale_ends(model_dir: Path) -> None:
    """The head future carries every field but the rationale, resolved while the rationale is generated."""

    async def body(r: ModelRunner) -> tuple[dict[str, Any], bool, dict[str, Any]]:
        head: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(r.generate_proposal("A trade idea for AAPL", 400, head=head))
        fields = await head
        still_generating = not task.done()
        obj, _ = await task
        return fields, still_generating, obj

    fields, still_generating, obj = with_runner(model_dir, body, printable_only=True)
    assert fields == {k: v for k, v in obj.items() if k != "rationale"}
    assert {"ticker", "action", "confidence"} <= set(fields)
    # the rationale had up to 400 tokens to go; it ends early only if the model closes the string at once
    assert still_generating or len(obj["rationale"]) < 8
