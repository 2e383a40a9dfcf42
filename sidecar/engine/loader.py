"""Loads a model directory for serving: tokenizer, model, the special tokens, the context length,
the vocabulary table, the proposal grammar (when this tokenizer can be constrained) and the decode
step backend (ONNX Runtime when it can take the model, else eager torch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sidecar.engine.constrained.grammar import ProposalGrammar
from sidecar.engine.constrained.processor import ConstraintProcessor
from sidecar.engine.constrained.vocabulary import ProposalDecodingError, TokenTable
from sidecar.engine.decode import StepBackend
from sidecar.engine.model_builder import quiet_progress
from sidecar.engine.step_backends import BackendUnavailable, EagerBackend, load_onnx_backend

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 2048
BACKENDS = ("auto", "onnx", "eager")


def resolve_device(device: str) -> str:
    """"auto" picks CUDA when torch sees a GPU, else CPU; anything else is used as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


@dataclass
class LoadedModel:
    tokenizer: Any
    model: Any
    device: str
    eos_id: int
    pad_id: int
    context: int
    table: TokenTable
    processor: ConstraintProcessor
    backend: StepBackend
    backend_note: str | None  # why the fast path was not taken, if it was not
    grammar: ProposalGrammar | None
    grammar_error: ProposalDecodingError | None


def load_model(
    directory: Path,
    *,
    device: str = "cpu",
    backend: str = "auto",
    cpu_threads: int | None = None,
    export_cache_dir: Path | None = None,
) -> LoadedModel:
    """Everything a runner needs to serve ``directory`` (blocking: call it from a worker thread).

    ``backend``: "auto" tries ONNX Runtime on CPU and falls back to eager; "onnx" requires it
    (BackendUnavailable otherwise); "eager" never exports.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if backend not in BACKENDS:
        raise ValueError(f"unknown decode backend {backend!r} (valid: {', '.join(BACKENDS)})")
    if cpu_threads and device == "cpu":
        # Process-wide. Small models gain nothing from intra-op threads, and on a busy box (Locust on
        # the same cores) OpenMP workers spin-waiting for a descheduled peer can cost 10x latency.
        torch.set_num_threads(cpu_threads)
    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    tokenizer.padding_side = "left"
    with quiet_progress():
        model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True, dtype="auto")
    model.to(device)
    model.eval()
    eos = tokenizer.eos_token_id
    if eos is None:  # some tokenizers only name their EOS in the generation config
        gen_eos = getattr(model.generation_config, "eos_token_id", None)
        eos = gen_eos[0] if isinstance(gen_eos, list) and gen_eos else gen_eos
        if eos is None:
            raise ValueError(f"{directory}: neither tokenizer nor generation config names an EOS token")
        tokenizer.eos_token = tokenizer.convert_ids_to_tokens(int(eos))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    cfg = model.config
    ctx = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    if not ctx:
        tml = getattr(tokenizer, "model_max_length", None)
        ctx = tml if isinstance(tml, int) and tml < 1_000_000 else DEFAULT_CONTEXT
    head = model.get_output_embeddings()
    width = int(head.weight.shape[0]) if head is not None else int(getattr(cfg, "vocab_size", len(tokenizer)))
    table = TokenTable(tokenizer, width=width, eos_token_id=int(eos))
    grammar: ProposalGrammar | None = None
    grammar_error: ProposalDecodingError | None = None
    try:
        grammar = ProposalGrammar(table)
    except ProposalDecodingError as exc:  # free text still works; proposals report why not
        log.warning("%s: proposals unavailable: %s", directory, exc)
        grammar_error = exc
    step, note = _backend(model, Path(directory), device, backend, cpu_threads, export_cache_dir)
    processor = ConstraintProcessor(table, width, step.device)
    processor.bias_table()  # built now, not on the first request
    return LoadedModel(tokenizer, model, device, int(eos), int(tokenizer.pad_token_id), int(ctx), table,
                       processor, step, note, grammar, grammar_error)


def _backend(model: Any, directory: Path, device: str, wanted: str, threads: int | None,
             cache_dir: Path | None) -> tuple[StepBackend, str | None]:
    eager = EagerBackend(model, torch.device(device))
    if wanted == "eager":
        return eager, "eager requested"
    try:
        if torch.device(device).type != "cpu":
            raise BackendUnavailable(f"the ONNX step runs on the CPU; device is {device}")
        return load_onnx_backend(model, directory, cache_dir or default_export_dir(), threads), None
    except BackendUnavailable as exc:
        if wanted == "onnx":
            raise
        log.warning("%s: decoding with the eager backend: %s", directory, exc)
        return eager, str(exc)


def default_export_dir() -> Path:
    return Path.home() / ".cache" / "osiris-load" / "onnx"
