"""Schema-constrained proposal decoding: automata, masks and real-model generation always validate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
import torch
from tokenizers import ByteLevelBPETokenizer, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    GPT2TokenizerFast,
    PreTrainedTokenizerFast,
)

from sidecar.contract import PROPOSAL_SCHEMA
from sidecar.engine.constrained.automata import CharDFA, enum_dfa, letters_dfa, nullable_pct_dfa, unit_fraction_dfa
from sidecar.engine.constrained.grammar import (
    FORCE,
    MASK,
    FreeTextState,
    ProposalGrammar,
    RowConstraint,
    validate_proposal,
)
from sidecar.engine.constrained.processor import ConstraintProcessor
from sidecar.engine.constrained.vocabulary import ProposalDecodingError, TokenTable
from sidecar.engine.decode import DecodeResult, Sampling, decode
from sidecar.engine.model_builder import CORPUS_PATH, ensure_default_model
from sidecar.engine.step_backends import EagerBackend

DEFAULT_SAMPLING = Sampling()
PROMPTS = [
    "A trade idea for AAPL", "A short plan for trading BTC", "A strategy for SPY",
    "Should I tighten the stop on NVDA?", "ETH pair trade against BTC", "hello",
]


def accepts(dfa: CharDFA, text: str) -> bool:
    return dfa.accepts(text)


@pytest.fixture(scope="module")
def default_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    d = ensure_default_model("phi3", tmp_path_factory.mktemp("models"))
    tok = AutoTokenizer.from_pretrained(d, local_files_only=True)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(d, local_files_only=True).eval()
    return tok, model


def decode_rows(tok: Any, model: Any, table: TokenTable, rows: list[RowConstraint], prompts: list[str],
                max_new: int, sampling: Sampling) -> DecodeResult:
    """The sidecar's own decode loop (eager backend) over these rows, with a seeded draw: a sampled
    rationale can re-tokenize into a few more tokens than it was sampled as (about 1 in 200 at a
    3-token budget), so an unseeded run would fail now and then for reasons not under test."""
    width = model.get_output_embeddings().weight.shape[0]
    processor = ConstraintProcessor(table, width, "cpu")
    ids = [tok(p)["input_ids"] for p in prompts]
    return decode(EagerBackend(model, torch.device("cpu")), processor, rows, ids, max_new_tokens=max_new,
                  eos_id=table.eos_id, pad_id=tok.pad_token_id, sampling=sampling, rng=np.random.default_rng(17))


def run_proposals(tok: Any, model: Any, prompts: list[str], budget: int,
                  sampling: Sampling = DEFAULT_SAMPLING) -> list[tuple[str, int]]:
    """Generate one proposal per prompt in a single batch; returns (text, completion tokens)."""
    table = TokenTable(tok, width=model.get_output_embeddings().weight.shape[0])
    grammar = ProposalGrammar(table)
    rows: list[RowConstraint] = [grammar.new_state(budget) for _ in prompts]
    result = decode_rows(tok, model, table, rows, prompts, grammar.max_new_tokens(budget), sampling)
    assert all(result.finished), "every proposal row ends with EOS within the bound"
    return [(table.decode(ids), len(ids)) for ids in result.ids]


def check(text: str) -> dict[str, Any]:
    obj = json.loads(text)
    jsonschema.validate(obj, PROPOSAL_SCHEMA)
    assert re.fullmatch(r"[A-Z]{1,5}", obj["ticker"])
    assert 0 <= obj["confidence"] <= 1
    assert all(c.isprintable() for c in obj["rationale"])
    assert list(obj) == list(ProposalGrammar.FIELDS)
    return obj


# ---------------------------------------------------------------- schema and automata


def test_schema_accepts_and_rejects() -> None:
    good = {"ticker": "AAPL", "action": "adjust", "side": "LONG", "new_stop_pct": 2.5,
            "new_target_pct": None, "confidence": 0.6, "rationale": "held support"}
    validate_proposal(good)
    validate_proposal({k: good[k] for k in ("ticker", "action", "confidence", "rationale")})
    for bad in ({**good, "extra": 1}, {**good, "action": "buy"}, {**good, "confidence": 1.5},
                {**good, "side": "long"}, {k: v for k, v in good.items() if k != "rationale"}):
        with pytest.raises(ProposalDecodingError):
            validate_proposal(bad)


def test_automata() -> None:
    enum = enum_dfa(["adjust", "pass", "abort"])
    assert all(accepts(enum, s) for s in ("adjust", "pass", "abort"))
    assert not any(accepts(enum, s) for s in ("a", "ab", "passs", "Pass", ""))
    ticker = letters_dfa("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1, 5)
    assert accepts(ticker, "A") and accepts(ticker, "AAPL") and accepts(ticker, "GOOGL")
    assert not any(accepts(ticker, s) for s in ("", "ABCDEF", "aapl", "BRK.B"))
    pct = nullable_pct_dfa()
    for s in ("0", "7", "12", "0.5", "2.25", "99.99", "null"):
        assert accepts(pct, s), s
    assert not any(accepts(pct, s) for s in ("", "05", "1.", ".5", "123", "1.234", "nul", "-1"))
    conf = unit_fraction_dfa()
    assert all(accepts(conf, s) for s in ("0.0", "0.5", "0.999"))
    assert not any(accepts(conf, s) for s in ("0", "0.", "1", "1.0", "0.1234"))


def test_masks_follow_the_grammar(default_model: tuple[Any, Any]) -> None:
    tok, _ = default_model
    table = TokenTable(tok)
    g = ProposalGrammar(table)
    state = g.new_state(4)
    kind, value = state.constraint()
    assert kind == FORCE  # the opening structure is forced
    while (c := state.constraint())[0] == FORCE:
        state.advance(c[1])
    kind, row = state.constraint()
    assert kind == MASK
    allowed = [table.surfaces[i] for i in table.rows[row]]
    assert allowed and all(s and s.isalpha() and s.isupper() and len(s) <= 5 for s in allowed)
    assert '"' not in allowed  # a ticker has at least one letter


# ---------------------------------------------------------------- real-model generation


def test_sampled_proposals_always_validate(default_model: tuple[Any, Any]) -> None:
    tok, model = default_model
    prompts = [f"{p} #{i}" for i in range(8) for p in PROMPTS][:48]
    results = run_proposals(tok, model, prompts, budget=12, sampling=Sampling(1.0, 0))
    objs = [check(text) for text, _ in results]
    bound = ProposalGrammar(TokenTable(tok)).max_new_tokens(12)
    assert all(n <= bound for _, n in results)
    assert len({json.dumps(o, sort_keys=True) for o in objs}) > len(objs) // 2
    assert len({o["action"] for o in objs}) > 1 and len({o["ticker"] for o in objs}) > 1


def test_greedy_proposals_validate_and_follow_the_prompt(default_model: tuple[Any, Any]) -> None:
    tok, model = default_model
    results = run_proposals(tok, model, PROMPTS, budget=6, sampling=Sampling(0.0))
    objs = [check(text) for text, _ in results]
    assert len({json.dumps(o) for o in objs}) > 1  # greedy, yet the prompts steer the values
    again = run_proposals(tok, model, PROMPTS, budget=6, sampling=Sampling(0.0))
    assert [t for t, _ in again] == [t for t, _ in results]


def test_rationale_budget(default_model: tuple[Any, Any]) -> None:
    tok, model = default_model
    for budget in (0, 1, 3):
        for text, _ in run_proposals(tok, model, PROMPTS[:3], budget=budget):
            obj = check(text)
            n = len(tok.encode(obj["rationale"]))
            assert n <= budget + 2  # re-tokenizing may merge or split differently by a token or two
            if budget == 0:
                assert obj["rationale"] == ""


def test_free_rows_stop_at_their_own_limit(default_model: tuple[Any, Any]) -> None:
    tok, model = default_model
    table = TokenTable(tok)
    grammar = ProposalGrammar(table)
    limits = [1, 4, 9]
    rows: list[RowConstraint] = [FreeTextState(table, n) for n in limits] + [grammar.new_state(5)]
    result = decode_rows(tok, model, table, rows, PROMPTS[:4], grammar.max_new_tokens(5), Sampling())
    for ids, limit in zip(result.ids, limits, strict=False):
        assert 1 <= len(ids) <= limit
        assert "\ufffd" not in tok.decode(ids)
    assert all(result.finished)
    check(table.decode(result.ids[3]))


# ---------------------------------------------------------------- other tokenizers


def _tiny_model(vocab: int) -> GPT2LMHeadModel:
    torch.manual_seed(7)
    return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_layer=1, n_embd=64, n_head=2, n_positions=512)).eval()


def test_other_byte_level_bpe_tokenizer(tmp_path: Path) -> None:
    """A GPT-2 style tokenizer with a different, tiny vocabulary (mostly single bytes) still validates."""
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train([str(CORPUS_PATH)], vocab_size=300, min_frequency=2, special_tokens=["<|endoftext|>"],
              show_progress=False)
    tok = GPT2TokenizerFast(tokenizer_object=bpe._tokenizer, eos_token="<|endoftext|>",
                            pad_token="<|endoftext|>", bos_token="<|endoftext|>")
    tok.padding_side = "left"
    model = _tiny_model(len(tok) + 13)  # a padded embedding matrix, wider than the tokenizer
    results = run_proposals(tok, model, PROMPTS, budget=10)
    for text, _ in results:
        check(text)


def _metaspace_tokenizer() -> PreTrainedTokenizerFast:
    t = Tokenizer(models.BPE(unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    t.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    t.train([str(CORPUS_PATH)], trainers.BpeTrainer(vocab_size=800, special_tokens=["<unk>", "</s>"],
                                                   show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=t, eos_token="</s>", unk_token="<unk>", pad_token="</s>")
    tok.padding_side = "left"
    return tok


def test_sentencepiece_style_metaspace_tokenizer_validates() -> None:
    """Metaspace ("▁") decoding strips the first space; tokens are read in context, so the grammar builds
    (a refusal here is a regression: ProposalDecodingError fails the test) and every proposal validates."""
    tok = _metaspace_tokenizer()
    ProposalGrammar(TokenTable(tok))
    results = run_proposals(tok, _tiny_model(len(tok)), PROMPTS, budget=8)
    assert len(results) == len(PROMPTS)
    for text, _ in results:
        check(text)


def test_non_concatenative_tokenizer_is_refused() -> None:
    """A WordPiece decoder joins tokens with spaces: forced JSON cannot round-trip, so we refuse clearly."""
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=False)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.decoder = decoders.WordPiece()
    t.train([str(CORPUS_PATH)], trainers.WordPieceTrainer(vocab_size=600, special_tokens=["[UNK]", "[SEP]"],
                                                         show_progress=False))
    tok = PreTrainedTokenizerFast(tokenizer_object=t, eos_token="[SEP]", unk_token="[UNK]")
    table = TokenTable(tok)  # free-text tables still work
    assert table.eos_id == tok.eos_token_id
    with pytest.raises(ProposalDecodingError):
        ProposalGrammar(table)


def test_parse_refuses_invalid_text(default_model: tuple[Any, Any]) -> None:
    grammar = ProposalGrammar(TokenTable(default_model[0]))
    with pytest.raises(ProposalDecodingError):
        grammar.parse('{"ticker": "AAPL"')
    with pytest.raises(ProposalDecodingError):
        grammar.parse('{"ticker": "AAPL", "action": "buy", "confidence": 0.5, "rationale": ""}')
