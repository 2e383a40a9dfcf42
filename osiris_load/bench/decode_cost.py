"""Benchmark: cost per generated token of the decode paths, side by side in one run.

Why: a step of the small default models is almost all per-step overhead, so the decode path (not the
arithmetic) sets the sidecar's latency. Each path decodes the same batches; the figure is the wall
time of a whole batch (prefill + every step + sampling + constraints) divided by the tokens it made:

* ``generate``: ``model.generate`` with a per-step logits processor applying the same constraints
  (what the sidecar did before issue 10: the reference);
* ``eager``: the sidecar's own decode loop over the model's forward with a KV cache;
* ``onnx``: the same loop over the exported step in ONNX Runtime (the default on CPU): the step over a
  preallocated KV cache that also samples inside its run (:mod:`sidecar.engine.inplace_cache`);
* ``onnx_plain``: the exported step that takes and returns the whole cache, sampling in numpy (the
  fallback for models whose attention cannot be split; the ``onnx`` path before the in-place cache).
* ``floor`` (opt-in): not a decode path but its arithmetic floor: one matrix product per 2-D weight of
  the model (every projection, MLP and the LM head) for a batch of rows, per step, nothing else (no
  attention over the cache, no sampling). ``generate / floor`` bounds the speedup any decode loop can
  reach on this device without changing the arithmetic (precision, hardware).

Workloads: free text of ``--tokens`` new tokens, and schema-constrained proposals with a
``--tokens``-token rationale, each at batch 1 and 16 (``--batches``); the median of ``--rounds``.

Examples::

    osiris-load bench decode_cost                       # both default models, CPU, one thread
    osiris-load bench decode_cost --large --device cuda # 12 x 768 random-weight GPT-2 on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from transformers import LogitsProcessor

from sidecar.engine.constrained.grammar import FreeTextState, RowConstraint
from sidecar.engine.decode import Sampling, decode
from sidecar.engine.loader import LoadedModel, load_model, resolve_device
from sidecar.engine.model_builder import ensure_default_model
from sidecar.engine.step_backends import BackendUnavailable, EagerBackend, load_onnx_backend
from sidecar.infra.settings import Settings

LARGE_ARCH = {"n_layer": 12, "n_embd": 768, "n_head": 12, "n_positions": 1024}
PROMPTS = ["A trade idea for AAPL", "Should I tighten the stop on NVDA?", "hello", "Risk review of ETH"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help='"cpu", "cuda", "cuda:1", "auto"')
    p.add_argument("--models", default="hermes,phi3", help="default model ids to build and measure")
    p.add_argument("--model-dir", type=Path, help="measure this from_pretrained directory instead")
    p.add_argument("--large", action="store_true", help="a 12-layer, 768-wide random-weight GPT-2 instead")
    p.add_argument("--cache-dir", type=Path, help="where default models are built (default: the sidecar's)")
    p.add_argument("--paths", default="generate,eager,onnx", help="decode paths to compare (also: onnx_plain, floor)")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--tokens", type=int, default=64, help="new free-text tokens / rationale tokens per row")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch and ONNX Runtime CPU threads")
    p.add_argument("--json", type=Path, help="also write the results here as JSON")


class _ReferenceProcessor(LogitsProcessor):
    """The pre-issue-10 path: the same constraints applied from inside ``generate``."""

    def __init__(self, loaded: LoadedModel, rows: list[RowConstraint]) -> None:
        self.loaded, self.rows, self.last = loaded, rows, None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.last is not None:
            for row, tok in zip(self.rows, input_ids[:, -1].tolist(), strict=True):
                row.advance(tok)
        self.last = input_ids.shape[1]
        mask_rows, forced = self.loaded.processor.plan(self.rows)
        scores = self.loaded.processor.apply(scores.float(), mask_rows)
        for i, tok in forced.items():
            scores[i] = float("-inf")
            scores[i, tok] = 0.0
        return scores


def _rows(loaded: LoadedModel, kind: str, n: int, tokens: int) -> tuple[list[RowConstraint], int]:
    if kind == "proposal":
        assert loaded.grammar is not None
        return [loaded.grammar.new_state(tokens) for _ in range(n)], loaded.grammar.max_new_tokens(tokens)
    return [_NoEarlyEnd(loaded.table, tokens) for _ in range(n)], tokens


class _NoEarlyEnd(FreeTextState):
    """Free text that never samples EOS before its limit, so every round makes the same token count."""

    def constraint(self) -> tuple[int, int]:
        kind, value = super().constraint()
        return (kind, self.table.row_printable_no_eos) if value == self.table.row_printable else (kind, value)


def run_once(loaded: LoadedModel, path: str, backend: Any, kind: str, n: int, tokens: int) -> float:
    """Seconds per generated token of one batch of ``n`` rows."""
    prompts = [loaded.tokenizer(PROMPTS[i % len(PROMPTS)])["input_ids"] for i in range(n)]
    rows, new = _rows(loaded, kind, n, tokens)
    sampling = Sampling(0.8, 50)
    device = torch.device(loaded.device)
    if path == "floor":
        return _dense_floor(loaded, n, new, device)
    if path == "generate":
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[loaded.pad_id] * (width - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = loaded.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new, do_sample=True,
                                        temperature=0.8, top_k=50, top_p=1.0, pad_token_id=loaded.pad_id,
                                        eos_token_id=loaded.eos_id,
                                        logits_processor=[_ReferenceProcessor(loaded, rows)])
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        made = sum((r.index(loaded.eos_id) + 1) if loaded.eos_id in r else len(r) for r in out[:, width:].tolist())
        return seconds / made
    t0 = time.perf_counter()
    result = decode(backend, loaded.processor, rows, prompts, max_new_tokens=new + 1, eos_id=loaded.eos_id,
                    pad_id=loaded.pad_id, sampling=sampling)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    made = sum(len(ids) + (1 if done else 0) for ids, done in zip(result.ids, result.finished, strict=True))
    return seconds / made


def _dense_floor(loaded: LoadedModel, n: int, steps: int, device: torch.device) -> float:
    """Seconds per token of the model's dense products alone: ``steps`` steps of ``n`` rows."""
    weights = [w.detach() for w in loaded.model.parameters() if w.dim() == 2 and min(w.shape) > 1]
    embeddings = {id(m.weight) for m in loaded.model.modules() if isinstance(m, torch.nn.Embedding)}
    head = loaded.model.get_output_embeddings()
    products = []  # (input, weight as the right operand): the embedding tables are lookups, except the tied head
    for w in weights:
        if id(w) in embeddings and (head is None or w is not head.weight):
            continue
        right = w.t() if _is_linear_weight(loaded.model, w) else w
        products.append((torch.randn(n, right.shape[0], device=device), right))
    t0 = time.perf_counter()
    with torch.inference_mode():
        for _ in range(steps):
            for x, w in products:
                torch.mm(x, w)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (steps * n)


def _is_linear_weight(model: torch.nn.Module, w: torch.Tensor) -> bool:
    """``nn.Linear`` stores (out, in) (so x @ W.T); GPT-2's ``Conv1D`` stores (in, out)."""
    return any(isinstance(m, torch.nn.Linear) and m.weight is w for m in model.modules())


def measure(name: str, directory: Path, args: argparse.Namespace, device: str) -> list[dict[str, Any]]:
    loaded = load_model(directory, device=device, backend="eager", cpu_threads=args.threads)
    backends: dict[str, Any] = {"generate": None, "floor": None,
                                "eager": EagerBackend(loaded.model, torch.device(device))}
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    export_dir = (args.cache_dir or Settings().model_cache_dir).parent / "onnx"
    for path in [p for p in paths if p in ("onnx", "onnx_plain")]:
        try:
            if torch.device(device).type != "cpu":
                raise BackendUnavailable(f"the ONNX step runs on the CPU; device is {device}")
            backends[path] = load_onnx_backend(loaded.model, directory, export_dir, args.threads,
                                               inplace=path == "onnx")
        except BackendUnavailable as exc:
            print(f"{name}: {path} path skipped: {exc}")
            paths.remove(path)
    out: list[dict[str, Any]] = []
    kinds = ["text", "proposal"] if loaded.grammar is not None else ["text"]
    for kind in kinds:
        for n in [int(b) for b in args.batches.split(",")]:
            costs: dict[str, list[float]] = {p: [] for p in paths}
            for p in paths:  # warm-up
                run_once(loaded, p, backends[p], kind, n, min(args.tokens, 8))
            for _ in range(args.rounds):  # interleaved: each round runs every path once
                for p in paths:
                    costs[p].append(run_once(loaded, p, backends[p], kind, n, args.tokens))
            med = {p: statistics.median(c) * 1000 for p, c in costs.items()}
            row = {"model": name, "kind": kind, "batch": n,
                   **{f"{p}_ms_per_token": round(v, 4) for p, v in med.items()}}
            if "generate" in med:
                for p in paths:
                    if p != "generate":
                        row[f"{p}_speedup"] = round(med["generate"] / med[p], 1)
            out.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return out


def main(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: CUDA is not available on this machine; nothing measured (skipped).")
        return 0
    torch.set_num_threads(args.threads)
    cache = args.cache_dir or Settings().model_cache_dir
    if args.model_dir is not None:
        targets = [(args.model_dir.name, args.model_dir)]
    elif args.large:
        targets = [("large", ensure_default_model("bench", cache, arch=dict(LARGE_ARCH)))]
    else:
        targets = [(m, ensure_default_model(m, cache)) for m in args.models.split(",")]
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else None
    print(f"device: {device}{f' ({gpu})' if gpu else ''}; threads: {args.threads}; {args.tokens} tokens per row; "
          f"median of {args.rounds} rounds; ms per generated token")
    results = [r for name, directory in targets for r in measure(name, directory, args, device)]
    if args.json:
        args.json.write_text(json.dumps({"device": device, "gpu": gpu, "platform": platform.platform(),
                                         "threads": args.threads, "results": results}, indent=2) + "\n")
    return 0
