"""Forward-pass backends of the decode loop: ONNX Runtime (the fast path on CPU) and eager torch.

Why two: a decode step of a small model is almost all per-op overhead (Python module calls, mask
building, cache objects; an eager step of ~50 ops has a floor near 0.5 ms on this project's CPUs),
so the fast path exports the model's forward *with its KV cache as plain tensors* to ONNX once
(torch.onnx, dynamo exporter) and runs it in one ONNX Runtime session: a few fused kernels per step.
The export is cached on disk by the model's content, so a restart loads it in milliseconds.

Two exports, tried in this order: the in-place step (:mod:`sidecar.engine.inplace_cache`: a preallocated
cache the session fills a slice per step, attention split so the graph never copies the cache, and
the sampling inside the same run) and the plain step (the whole cache in, the whole cache out; for
models whose attention the in-place step cannot take). Any causal LM whose cache is a
``DynamicCache`` of per-layer key/value tensors exports at least the plain way (GPT-2, Llama, ...).
When both exports fail or disagree with the eager model's logits, onnxruntime is not installed, or
the device is not the CPU, the eager backend (the model's own forward with a ``DynamicCache``) runs
instead: slower, but it takes any model ``generate`` could.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sidecar.engine.inplace_cache import (
    TOKEN_OUTPUT,
    InplaceSession,
    InplaceStepModule,
    InplaceUnsupported,
    add_sampling,
    check_supported,
    split_attention_active,
)

log = logging.getLogger(__name__)

EXPORT_VERSION = 4  # bump when the exported graph's inputs or outputs change
HASHED_FILE_LIMIT = 256 * 1024 * 1024  # larger weight files are keyed by size and mtime, not content


class BackendUnavailable(RuntimeError):
    """The fast path cannot take this model (the eager backend is used instead)."""


def cache_argument(model: Any) -> str:
    """The forward's KV-cache argument: ``cache`` (transformers 5) or ``past_key_values`` (before)."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def output_cache(out: Any) -> Any:
    """The KV cache of a forward's output, under either name."""
    return out["cache"] if "cache" in out else out["past_key_values"]


# --------------------------------------------------------------------------------------------------
# eager torch
# --------------------------------------------------------------------------------------------------


class EagerBackend:
    """The model's own forward with a ``DynamicCache``: any causal LM, any device."""

    name = "eager"

    def __init__(self, model: Any, device: torch.device) -> None:
        self.model = model
        self.device = device
        self._cache_kw = cache_argument(model)
        self._keep_last = "logits_to_keep" in inspect.signature(model.forward).parameters

    def session(self) -> EagerSession:
        return EagerSession(self)


def positions_of(mask: np.ndarray) -> np.ndarray:
    """Position ids of left-padded rows: 0 at each row's first real token (and on its padding)."""
    return np.maximum(mask.cumsum(-1) - 1, 0)


class EagerSession:
    def __init__(self, backend: EagerBackend) -> None:
        self.b = backend
        self.cache: Any = None
        self.mask: torch.Tensor | None = None
        self.next_pos: torch.Tensor | None = None

    def _forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": self.mask,
                                  "position_ids": position_ids, "use_cache": True}
        if self.cache is not None:
            kwargs[self.b._cache_kw] = self.cache
        if self.b._keep_last:
            kwargs["logits_to_keep"] = 1
        with torch.inference_mode():
            out = self.b.model(**kwargs)
        self.cache = output_cache(out)
        return out.logits[:, -1, :].float()

    def start(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> torch.Tensor:
        dev = self.b.device
        positions = torch.from_numpy(positions_of(attention_mask)).to(dev)
        self.mask = torch.from_numpy(attention_mask).to(dev)
        self.next_pos = positions[:, -1:] + 1
        return self._forward(torch.from_numpy(input_ids).to(dev), positions)

    def step(self, tokens: np.ndarray, slots: np.ndarray) -> torch.Tensor:
        assert self.mask is not None and self.next_pos is not None
        dev = self.b.device
        slots_t = torch.from_numpy(slots).to(dev)
        self.mask = torch.cat([self.mask, slots_t], dim=1)
        positions = self.next_pos + (slots_t.cumsum(-1) - 1).clamp(min=0)
        self.next_pos = self.next_pos + slots_t.sum(-1, keepdim=True)
        return self._forward(torch.from_numpy(tokens).to(dev), positions)

    def select(self, keep: list[int]) -> None:
        assert self.mask is not None and self.next_pos is not None
        index = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
        self.mask = self.mask.index_select(0, index)
        self.next_pos = self.next_pos.index_select(0, index)
        self.cache.batch_select_indices(index)


# --------------------------------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------------------------------


class _StepModule(torch.nn.Module):
    """The model's forward with the KV cache flattened to tensors, as the exporter needs it."""

    def __init__(self, model: Any, n_layers: int, cache_kw: str) -> None:
        super().__init__()
        self.model = model
        self.n_layers = n_layers
        self.cache_kw = cache_kw
        # only the last position's logits: a prefill of many tokens then skips most of the lm_head
        keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.extra: dict[str, Any] = {"logits_to_keep": 1} if keep else {}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        for layer in range(self.n_layers):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         use_cache=True, **{self.cache_kw: cache}, **self.extra)
        present: list[torch.Tensor] = []
        for layer in output_cache(out).layers:
            present += [layer.keys, layer.values]
        return (out.logits[:, -1, :].float(), *present)


def _cache_layout(model: Any) -> tuple[int, int, int, torch.dtype]:
    """(layers, kv heads, head dim, dtype) of the model's cache, read from a one-token forward."""
    with torch.inference_mode():
        ids = torch.zeros((1, 2), dtype=torch.long)
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
    cache = output_cache(out)
    layers = getattr(cache, "layers", None)
    if not layers or any(getattr(layer, "keys", None) is None for layer in layers):
        raise BackendUnavailable(f"{type(cache).__name__} is not a cache of key/value tensors")
    keys = layers[0].keys
    shapes = {(tuple(layer.keys.shape), tuple(layer.values.shape)) for layer in layers}
    if len(shapes) != 1:
        raise BackendUnavailable("the cache layers differ in shape")
    return len(layers), int(keys.shape[1]), int(keys.shape[3]), keys.dtype


def model_fingerprint(directory: Path) -> str:
    """Hash of a model directory's files (contents; size and mtime for very large files) and the stack."""
    import onnxruntime
    import transformers

    h = hashlib.sha256(json.dumps([EXPORT_VERSION, torch.__version__, transformers.__version__,
                                   onnxruntime.__version__]).encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        stat = path.stat()
        h.update(str(path.relative_to(directory)).encode())
        if stat.st_size <= HASHED_FILE_LIMIT:
            h.update(hashlib.sha256(path.read_bytes()).digest())
        else:
            h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def export_step(model: Any, path: Path, *, inplace: bool = True) -> None:
    """Export the step module to ``path`` (atomically: a concurrent reader sees all or nothing).

    ``inplace``: the step over a preallocated cache (:mod:`sidecar.engine.inplace_cache`); else the plain step
    that takes and returns the whole cache.
    """
    n_layers, heads, head_dim, dtype = _cache_layout(model)
    batch, past_len, seq = 2, 5, 3  # distinct sizes > 1, so no dimension is specialised
    dyn = torch.export.Dim.DYNAMIC
    past = [torch.zeros((batch, heads, past_len, head_dim), dtype=dtype) for _ in range(2 * n_layers)]
    past_names = [f"past_{i}" for i in range(2 * n_layers)]
    positions = torch.arange(seq).repeat(batch, 1) + past_len
    module: torch.nn.Module
    if inplace:
        check_supported(model)
        module = InplaceStepModule(model, n_layers).eval()
        past_mask = torch.ones((batch, past_len), dtype=torch.long)
        past_mask[0, :2] = 0
        slots = torch.ones((batch, seq), dtype=torch.long)
        slots[1, 0] = 0
        example = (torch.ones((batch, seq), dtype=torch.long), past_mask, slots, positions, *past)
        names = ["input_ids", "past_mask", "slots", "position_ids", *past_names]
        dynamic_shapes: tuple[Any, ...] = ({0: dyn, 1: dyn}, {0: dyn, 1: dyn}, {0: dyn, 1: dyn}, {0: dyn, 1: dyn},
                                           tuple({0: dyn, 2: dyn} for _ in range(2 * n_layers)))
        active: Any = split_attention_active(model)
    else:
        module = _StepModule(model, n_layers, cache_argument(model)).eval()
        mask = torch.ones((batch, past_len + seq), dtype=torch.long)
        mask[0, :2] = 0  # a padded row: the exported mask logic must be the general one
        example = (torch.ones((batch, seq), dtype=torch.long), mask, positions, *past)
        names = ["input_ids", "attention_mask", "position_ids", *past_names]
        dynamic_shapes = ({0: dyn, 1: dyn}, {0: dyn, 1: dyn}, {0: dyn, 1: dyn},
                          tuple({0: dyn, 2: dyn} for _ in range(2 * n_layers)))
        active = contextlib.nullcontext()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with torch.no_grad(), _quiet_export(), active:
            torch.onnx.export(module, example, tmp, dynamo=True, input_names=names,
                              dynamic_shapes=dynamic_shapes, optimize=True, verbose=False,
                              external_data=False)
        if inplace:
            import onnx

            proto = onnx.load(tmp)
            add_sampling(proto)
            onnx.save(proto, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    """The exporter prints progress lines and warnings; a service log wants one line, ours."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        for name in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export", "torch._dynamo"):
            logger = logging.getLogger(name)
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.ERROR)
        yield


class OnnxBackend:
    """The exported step in an ONNX Runtime session (CPU): the in-place cache step or the plain one."""

    name = "onnx"

    def __init__(self, path: Path, model: Any, threads: int | None) -> None:
        import onnxruntime as ort

        self.device = torch.device("cpu")
        self.n_layers, self.heads, self.head_dim, dtype = _cache_layout(model)
        self.np_dtype = torch.zeros((), dtype=dtype).numpy().dtype
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # busy, shared cores
        options.log_severity_level = 3
        self.sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.past_names = [f"past_{i}" for i in range(2 * self.n_layers)]
        inputs = {i.name: i for i in self.sess.get_inputs()}
        self.inplace = "past_mask" in inputs
        outputs = [o.name for o in self.sess.get_outputs()]
        self.logits_outputs = [o for o in outputs if o != TOKEN_OUTPUT]
        self.token_outputs = [TOKEN_OUTPUT, *self.logits_outputs[1:]] if TOKEN_OUTPUT in outputs else []
        self._vocab = int(self.sess.get_outputs()[0].shape[1])
        self._no_pick: dict[int, dict[str, np.ndarray]] = {}

    def no_pick(self, batch: int) -> dict[str, np.ndarray]:
        """Placeholder sampling inputs for a run that asks only for the logits (the runtime wants every input)."""
        if not self.token_outputs:
            return {}
        feeds = self._no_pick.get(batch)
        if feeds is None:
            feeds = {"bias_table": np.zeros((1, self._vocab), dtype=np.float32),
                     "bias_rows": np.zeros(batch, dtype=np.int64), "top_k": np.ones(1, dtype=np.int64),
                     "temperature": np.zeros(1, dtype=np.float32), "exp_noise": np.ones((batch, 1), dtype=np.float32)}
            self._no_pick[batch] = feeds
        return feeds

    def session(self) -> OnnxSession | InplaceSession:
        return InplaceSession(self) if self.inplace else OnnxSession(self)


class OnnxSession:
    """The cache lives as numpy arrays between steps: each step's outputs are the next step's inputs.

    The prefill gets a one-position dummy past (masked out), so one graph serves prefill and steps.
    """

    def __init__(self, backend: OnnxBackend) -> None:
        self.b = backend
        self.past: list[np.ndarray] = []
        self.mask = np.zeros((0, 0), dtype=np.int64)
        self.next_pos = np.zeros((0, 1), dtype=np.int64)

    def _run(self, input_ids: np.ndarray, position_ids: np.ndarray) -> torch.Tensor:
        feeds = {"input_ids": input_ids, "attention_mask": self.mask, "position_ids": position_ids,
                 **dict(zip(self.b.past_names, self.past, strict=True))}
        outputs = self.b.sess.run(None, feeds)
        self.past = outputs[1:]
        return torch.from_numpy(outputs[0])

    def start(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> torch.Tensor:
        batch = input_ids.shape[0]
        b = self.b
        self.past = [np.zeros((batch, b.heads, 1, b.head_dim), dtype=b.np_dtype) for _ in range(2 * b.n_layers)]
        self.mask = np.concatenate([np.zeros((batch, 1), dtype=np.int64), attention_mask], axis=1)
        positions = positions_of(attention_mask)
        self.next_pos = positions[:, -1:] + 1
        return self._run(input_ids, positions)

    def step(self, tokens: np.ndarray, slots: np.ndarray) -> torch.Tensor:
        self.mask = np.concatenate([self.mask, slots], axis=1)
        positions = self.next_pos + np.maximum(slots.cumsum(-1) - 1, 0)
        self.next_pos = self.next_pos + slots.sum(-1, keepdims=True)
        return self._run(tokens, positions)

    def select(self, keep: list[int]) -> None:
        self.mask = self.mask[keep]
        self.next_pos = self.next_pos[keep]
        self.past = [p[keep] for p in self.past]


def load_onnx_backend(model: Any, directory: Path, cache_dir: Path, threads: int | None, *,
                      inplace: bool = True) -> OnnxBackend:
    """The ONNX backend for ``model``: exported into ``cache_dir`` unless already there, then verified.

    The in-place cache step first; the plain step when the model's attention cannot be split or that
    export fails or disagrees. Raises BackendUnavailable (with both reasons) when neither can take it.
    ``inplace=False``: only the plain step (the benchmark's comparison).
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable("onnxruntime is not installed") from exc
    fingerprint = model_fingerprint(directory)
    reasons: list[str] = []
    for kind in (True, False) if inplace else (False,):
        path = cache_dir / f"step-{'inplace-' if kind else ''}{fingerprint}.onnx"
        try:
            return _load_exported(model, directory, path, threads, inplace=kind)
        except BackendUnavailable as exc:
            reasons.append(f"{'in-place' if kind else 'plain'} step: {exc}")
    raise BackendUnavailable("; ".join(reasons))


def _load_exported(model: Any, directory: Path, path: Path, threads: int | None, *, inplace: bool) -> OnnxBackend:
    if not path.is_file():
        log.info("exporting the decode step of %s to %s (once per model)", directory, path)
        try:
            export_step(model, path, inplace=inplace)
        except InplaceUnsupported as exc:
            raise BackendUnavailable(str(exc)) from exc
        except Exception as exc:  # any exporter failure: the eager path still serves the model
            raise BackendUnavailable(f"ONNX export failed: {type(exc).__name__}: {str(exc)[:300]}") from exc
    try:
        backend = OnnxBackend(path, model, threads)
    except Exception as exc:
        raise BackendUnavailable(f"ONNX Runtime cannot load {path}: {exc}") from exc
    try:
        _verify(backend, EagerBackend(model, torch.device("cpu")))
    except BackendUnavailable:
        raise
    except Exception as exc:  # e.g. a cache layout the session does not expect: not this path, then
        raise BackendUnavailable(f"the exported step fails its check: {type(exc).__name__}: {str(exc)[:300]}") from exc
    return backend


def _verify(fast: OnnxBackend, eager: EagerBackend) -> None:
    """The exported step must reproduce the eager model's logits on a padded batch (prefill + 2 steps)."""
    gen = torch.Generator().manual_seed(0)
    vocab = int(getattr(eager.model.config, "vocab_size", 2) or 2)
    ids = torch.randint(0, vocab, (3, 6), generator=gen).numpy()
    mask = np.ones((3, 6), dtype=np.int64)
    mask[0, :3] = 0
    mask[2, :1] = 0
    sessions = [fast.session(), eager.session()]
    results = [s.start(ids, mask) for s in sessions]
    for width in (1, 3):  # one token per row, then a ragged multi-token step (masked fillers first)
        tok = torch.randint(0, vocab, (3, width), generator=gen).numpy()
        slots = np.ones_like(tok)
        slots[0, :-1] = 0
        results += [s.step(tok, slots) for s in sessions]
    worst = max(float((a - b).abs().max()) for a, b in zip(results[0::2], results[1::2], strict=True))
    scale = max(1.0, max(float(r.abs().max()) for r in results))
    if not worst <= 1e-3 * scale:
        raise BackendUnavailable(f"the exported step disagrees with the eager model (max |diff| {worst:.3g})")
