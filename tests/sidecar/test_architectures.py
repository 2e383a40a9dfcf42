"""The decode path takes any causal LM: a GPT-2 and a Llama-style model, built offline with random
weights, served through both step backends (ONNX Runtime and eager), free text and proposals."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from sidecar.contract import PROPOSAL_SCHEMA
from sidecar.engine.loader import load_model
from sidecar.engine.model_builder import ensure_default_model
from sidecar.engine.runner import ModelRunner
from sidecar.engine.step_backends import BackendUnavailable, model_fingerprint
from tests.conftest import EXPORT_CACHE

ARCHITECTURES = ("gpt2", "llama")


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both architectures share the default models' byte-level BPE tokenizer."""
    base = ensure_default_model("phi3", tmp_path_factory.mktemp("base"))
    tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
    out: dict[str, Path] = {}
    torch.manual_seed(11)
    models: dict[str, Any] = {
        "gpt2": GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_layer=2, n_embd=64, n_head=4, n_positions=512,
                                           eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)),
        # grouped-query attention (2 KV heads for 4 query heads), RoPE, RMSNorm, SwiGLU: the Llama family's parts
        "llama": LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                              max_position_embeddings=512, eos_token_id=tok.eos_token_id,
                                              bos_token_id=tok.eos_token_id, pad_token_id=tok.eos_token_id)),
    }
    for name, model in models.items():
        d = tmp_path_factory.mktemp(name)
        model.eval().save_pretrained(d)
        for f in base.iterdir():
            if f.name.startswith(("tokenizer", "special_tokens", "vocab", "merges")):
                shutil.copy(f, d / f.name)
        out[name] = d
    return out


@pytest.fixture(scope="module")
def export_dir() -> Path:
    """The suite's shared export cache: keyed by model content, so a re-run exports nothing."""
    return EXPORT_CACHE


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_onnx_step_matches_the_eager_model(arch: str, model_dirs: dict[str, Path], export_dir: Path) -> None:
    """Same logits step by step on a padded batch: the fast path is the model, not an approximation."""
    fast = load_model(model_dirs[arch], backend="onnx", cpu_threads=1, export_cache_dir=export_dir)
    eager = load_model(model_dirs[arch], backend="eager", cpu_threads=1)
    assert fast.backend.name == "onnx" and eager.backend.name == "eager"
    ids = np.array([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]], dtype=np.int64)
    mask = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]], dtype=np.int64)
    sessions = [fast.backend.session(), eager.backend.session()]
    pairs = [[s.start(ids, mask) for s in sessions]]
    for tok in ([8, 9], [10, 11], [12, 13]):
        one = np.array(tok, dtype=np.int64).reshape(2, 1)
        pairs.append([s.step(one, np.ones_like(one)) for s in sessions])
    # a ragged multi-token step (forced runs of 3 and 1 tokens, the shorter one left-filled with masked slots)
    run = np.array([[20, 21, 22], [0, 0, 23]], dtype=np.int64)
    slots = np.array([[1, 1, 1], [0, 0, 1]], dtype=np.int64)
    pairs.append([s.step(run, slots) for s in sessions])
    sessions[0].select([1])
    sessions[1].select([1])
    last = np.array([[14]], dtype=np.int64)
    pairs.append([s.step(last, np.ones_like(last)) for s in sessions])
    for a, b in pairs:
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("backend", ["onnx", "eager"])
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_text_and_proposals_from_each_architecture(arch: str, backend: str, model_dirs: dict[str, Path],
                                                   export_dir: Path) -> None:
    async def main() -> tuple[list[Any], list[Any]]:
        r = ModelRunner(arch, model_dirs[arch], backend=backend, export_cache_dir=export_dir, cpu_threads=1,
                        batch_window_ms=20)
        await r.start()
        try:
            assert r.backend == backend and r.proposals_supported
            texts = await asyncio.gather(*(r.generate(f"prompt {i}", 3 + i) for i in range(4)))
            proposals = await asyncio.gather(*(r.generate_proposal(f"A trade idea #{i}", 6) for i in range(4)))
            return texts, proposals
        finally:
            await r.stop()

    texts, proposals = asyncio.run(main())
    for i, gen in enumerate(texts):
        assert 1 <= gen.completion_tokens <= 3 + i and gen.text
    for obj, gen in proposals:
        jsonschema.validate(obj, PROPOSAL_SCHEMA)
        assert json.loads(gen.text) == obj


def test_a_model_the_fast_path_cannot_take_decodes_eagerly(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    """Exports ONNX Runtime cannot load (here: corrupt cache entries) fall back to eager, and say why."""
    directory = model_dirs["gpt2"]
    for kind in ("inplace-", ""):
        (tmp_path / f"step-{kind}{model_fingerprint(directory)}.onnx").write_bytes(b"not an onnx model")
    loaded = load_model(directory, backend="auto", cpu_threads=1, export_cache_dir=tmp_path)
    note = loaded.backend_note or ""
    assert loaded.backend.name == "eager" and "in-place step: ONNX Runtime cannot load" in note
    assert "plain step: ONNX Runtime cannot load" in note
    with pytest.raises(BackendUnavailable):
        load_model(directory, backend="onnx", cpu_threads=1, export_cache_dir=tmp_path)


def test_jumping_over_forced_runs_changes_nothing_but_the_step_count(model_dirs: dict[str, Path]) -> None:
    """Greedy proposals are the same token for token whether forced runs are fed at once or one by one."""
    from sidecar.engine.decode import Sampling, decode

    loaded = load_model(model_dirs["llama"], backend="eager", cpu_threads=1)
    assert loaded.grammar is not None
    prompts = [loaded.tokenizer(p)["input_ids"] for p in ("A trade idea for AAPL", "hello", "Risk review of ETH")]
    results = []
    for jump in (True, False):
        rows: list[Any] = [loaded.grammar.new_state(5) for _ in prompts]
        results.append(decode(loaded.backend, loaded.processor, rows, prompts,
                              max_new_tokens=loaded.grammar.max_new_tokens(5), eos_id=loaded.eos_id,
                              pad_id=loaded.pad_id, sampling=Sampling(0.0), jump_forward=jump))
    assert results[0].ids == results[1].ids and all(results[0].finished)
    for ids in results[0].ids:
        jsonschema.validate(json.loads(loaded.table.decode(ids)), PROPOSAL_SCHEMA)


def _lockstep(sessions: list[Any], vocab: int, steps: int) -> list[list[torch.Tensor]]:
    """The same left-padded batch through each session: prefill, ``steps`` one-token steps with a ragged
    forced run and a row drop in between; each step's logits per session."""
    gen = torch.Generator().manual_seed(5)
    ids = torch.randint(0, vocab, (3, 7), generator=gen).numpy()
    mask = np.ones((3, 7), dtype=np.int64)
    mask[0, :4] = 0
    mask[2, :1] = 0
    pairs = [[s.start(ids, mask) for s in sessions]]
    for i in range(steps):
        if i == steps // 2:  # a ragged multi-token step, then drop the middle row
            run = torch.randint(0, vocab, (len(ids), 4), generator=gen).numpy()
            slots = np.ones_like(run)
            slots[0, :3] = 0
            pairs.append([s.step(run, slots) for s in sessions])
            for s in sessions:
                s.select([0, 2])
            ids = ids[[0, 2]]
        tok = torch.randint(0, vocab, (len(ids), 1), generator=gen).numpy()
        pairs.append([s.step(tok, np.ones_like(tok)) for s in sessions])
    return pairs


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_in_place_cache_matches_the_eager_model_over_many_steps(
        arch: str, model_dirs: dict[str, Path], export_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preallocated cache, written a slice per step and grown three times, gives the eager
    model's logits at every step: left padding, a ragged forced run and a dropped row included."""
    from sidecar.engine import inplace_cache

    monkeypatch.setattr(inplace_cache, "GROW_SLOTS", 8)  # so the buffer starts at 7 prompt + 8 free slots
    fast = load_model(model_dirs[arch], backend="onnx", cpu_threads=1, export_cache_dir=export_dir)
    eager = load_model(model_dirs[arch], backend="eager", cpu_threads=1)
    assert getattr(fast.backend, "inplace", False), fast.backend_note
    sessions = [fast.backend.session(), eager.backend.session()]
    pairs = _lockstep(sessions, fast.model.config.vocab_size, 24)
    assert sessions[0].past_mask.shape[1] == 42  # 15 -> 24 -> 33 -> 42 slots for the 7 + 4 + 24 fed tokens
    assert len(pairs) == 26
    for a, b in pairs:
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_the_plain_export_serves_when_the_in_place_one_cannot(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    """A model whose attention cannot be split (here: a sliding window) gets the plain step, same logits."""
    from transformers import AutoModelForCausalLM

    from sidecar.engine.step_backends import EagerBackend, load_onnx_backend

    model = AutoModelForCausalLM.from_pretrained(model_dirs["llama"], local_files_only=True).eval()
    model.config.sliding_window = 4096  # longer than anything here: the logits do not change, the refusal does
    backend = load_onnx_backend(model, model_dirs["llama"], tmp_path, threads=1)
    assert backend.name == "onnx" and not backend.inplace
    assert not list(tmp_path.glob("step-inplace-*"))
    pairs = _lockstep([backend.session(), EagerBackend(model, torch.device("cpu")).session()],
                      model.config.vocab_size, 4)
    for a, b in pairs:
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_greedy_decoding_is_the_same_through_the_fused_step_and_eager(
        arch: str, model_dirs: dict[str, Path], export_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sampling inside the ONNX run (bias gather, top-k, draw) picks what the eager path picks:
    greedy free text and proposals, token for token, on a left-padded batch whose cache buffer grows
    (and whose IO binding is rebound) on the way."""
    from sidecar.engine import inplace_cache
    from sidecar.engine.constrained.grammar import FreeTextState
    from sidecar.engine.decode import Sampling, decode

    monkeypatch.setattr(inplace_cache, "GROW_SLOTS", 4)

    fast = load_model(model_dirs[arch], backend="onnx", cpu_threads=1, export_cache_dir=export_dir)
    eager = load_model(model_dirs[arch], backend="eager", cpu_threads=1)
    assert getattr(fast.backend.session(), "fused_sampling", False)
    assert fast.grammar is not None and eager.grammar is not None
    prompts = [fast.tokenizer(p)["input_ids"] for p in ("A trade idea for AAPL", "hi", "Risk review of ETH")]
    for kind in ("proposal", "text"):
        results = []
        for loaded in (fast, eager):
            assert loaded.grammar is not None
            rows: list[Any] = [loaded.grammar.new_state(6) if kind == "proposal" else FreeTextState(loaded.table, 20)
                               for _ in prompts]
            limit = loaded.grammar.max_new_tokens(6) if kind == "proposal" else 20
            results.append(decode(loaded.backend, loaded.processor, rows, prompts, max_new_tokens=limit,
                                  eos_id=loaded.eos_id, pad_id=loaded.pad_id, sampling=Sampling(0.0)))
        assert results[0].ids == results[1].ids and results[0].finished == results[1].finished
        assert any(results[0].ids)


def test_the_fused_draw_keeps_to_the_top_k_and_the_mask(model_dirs: dict[str, Path], export_dir: Path) -> None:
    """Many rows of one prompt: the in-run draw yields exactly the k best allowed tokens (at a high
    temperature every one of them shows up), never a masked or a lower-ranked one."""
    from sidecar.engine.inplace_cache import Pick
    from sidecar.engine.sampling import Sampling

    loaded = load_model(model_dirs["gpt2"], backend="onnx", cpu_threads=1, export_cache_dir=export_dir)
    ids = np.array([loaded.tokenizer("A trade idea for AAPL")["input_ids"]] * 400, dtype=np.int64)
    mask = np.ones_like(ids)
    logits = loaded.backend.session().start(ids[:1], mask[:1]).numpy()[0]
    table = loaded.processor.bias_array()
    allowed_row = loaded.table.row_printable_no_eos
    biased = logits + table[allowed_row]
    best = set(np.argsort(biased)[-4:].tolist())
    pick = Pick(table, Sampling(temperature=50.0, top_k=4), np.random.default_rng(0))
    tokens = loaded.backend.session().start(ids, mask, pick=(pick, [allowed_row] * len(ids)))
    assert tokens.shape == (len(ids), 1) and set(tokens[:, 0].tolist()) == best
    # a one-token step (the IO-bound path) against the logits of the same step without sampling
    plain, fused = loaded.backend.session(), loaded.backend.session()
    plain.start(ids[:1], mask[:1])
    fused.start(ids, mask, pick=(pick, [allowed_row] * len(ids)))
    tok = np.full((len(ids), 1), 7, dtype=np.int64)
    step_biased = plain.step(tok[:1], np.ones_like(tok[:1])).numpy()[0] + table[allowed_row]
    tokens = fused.step(tok, np.ones_like(tok), pick=(pick, [allowed_row] * len(ids)))
    assert set(tokens[:, 0].tolist()) == set(np.argsort(step_biased)[-4:].tolist())
    greedy = Pick(table, Sampling(temperature=0.0), np.random.default_rng(0))
    tokens = loaded.backend.session().start(ids[:2], mask[:2], pick=(greedy, [allowed_row, loaded.table.row_any]))
    assert tokens[:, 0].tolist() == [int(np.argmax(biased)), int(np.argmax(logits))]


def test_the_fused_draw_never_picks_a_masked_token_on_a_zero_draw(model_dirs: dict[str, Path],
                                                                  export_dir: Path) -> None:
    """Fewer allowed tokens than k and every exponential draw 0: the in-run draw still keeps to the mask."""
    from sidecar.engine.inplace_cache import Pick
    from sidecar.engine.sampling import Sampling
    from tests.sidecar.test_decode import ZeroDraws

    loaded = load_model(model_dirs["llama"], backend="onnx", cpu_threads=1, export_cache_dir=export_dir)
    ids = np.array([loaded.tokenizer("A trade idea for AAPL")["input_ids"]] * 8, dtype=np.int64)
    table = np.full((1, loaded.processor.width), -np.inf, dtype=np.float32)
    table[0, [5, 50, 500]] = 0.0
    pick = Pick(table, Sampling(1.0, 50), ZeroDraws())  # type: ignore[arg-type]
    session = loaded.backend.session()
    tokens = session.start(ids, np.ones_like(ids), pick=(pick, [0] * len(ids)))
    tokens = np.concatenate([tokens, session.step(tokens, np.ones_like(tokens), pick=(pick, [0] * len(ids)))])
    assert set(tokens[:, 0].tolist()) <= {5, 50, 500}
