"""The ONNX decode step over a preallocated KV cache: O(1) cache work per step instead of O(sequence).

Why: the plain export (:class:`sidecar.engine.step_backends.OnnxSession`) feeds the whole cache in and gets
the whole cache back each step: the graph concatenates past and new keys (a copy of the cache) and
the runtime copies every output into a fresh array (another). At batch 16 those copies cost more than
the arithmetic of the small default models, and they grow with every token.

Here the step takes the cache as a fixed-capacity buffer (unused slots masked out) and returns only
the new tokens' keys and values; the session writes that slice into its numpy buffers in place. No
concatenation happens in the graph because attention is computed in two parts: the scores against
the buffer and against the new keys are joined before one softmax (a ``[batch, heads, new, slots]``
join, 1/head_dim the size of the cache), and the outputs are the two partial products summed. That
attention is registered with transformers' ``AttentionInterface`` for the export only, so it takes any
model that routes attention through that interface with its layers' ``layer_idx`` (GPT-2, Llama, ...).
Models with a sliding window or logit soft-capping are refused (the plain export serves them), and
the loader checks the exported logits against the eager model's before using it.

The same graph also samples (:func:`add_sampling`): the step's logits plus each row's constraint
bias, top-k and a Gumbel-max draw happen inside the run, which then returns the next token of each
row instead of ``[batch, vocab]`` logits: no logits copy, no torch top-k, no numpy mask add per step.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sidecar.engine.sampling import Sampling, exponential_noise

ATTENTION_NAME = "osiris_split_cache"
TOKEN_OUTPUT = "next_token"  # [batch, 1] int64: the sampled next token of each row
GROW_SLOTS = 32  # free cache slots after the prompt, and added (one copy) whenever a step would overflow:
# attention reads every slot, so the buffer stays at most this much longer than the sequence


class InplaceUnsupported(RuntimeError):
    """This model's attention cannot be split this way (the plain export is used instead)."""


class _Trace(threading.local):
    """What the traced forward hands to the attention function: the cache buffers and both masks."""

    past: list[torch.Tensor]
    past_bias: torch.Tensor  # [batch, 1, 1, slots] additive: 0 for a filled slot, the dtype's min else
    new_bias: torch.Tensor  # [batch, 1, new, new] additive: causal among the new tokens, fillers masked
    present: dict[int, tuple[torch.Tensor, torch.Tensor]]


_trace = _Trace()


def split_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    attention_mask: Any, scaling: float | None = None, dropout: float = 0.0,
                    **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Attention over [cache buffer | new keys] without joining the keys (see the module docstring)."""
    layer = module.layer_idx
    _trace.present[layer] = (key, value)
    past_k, past_v = _trace.past[2 * layer], _trace.past[2 * layer + 1]
    batch, q_heads, new, dim = query.shape
    kv_heads = key.shape[1]
    groups = q_heads // kv_heads  # grouped-query attention: query heads h*g..h*g+g-1 read kv head h
    q = query.reshape(batch, kv_heads, groups * new, dim)
    scale = dim**-0.5 if scaling is None else scaling
    scores_past = torch.matmul(q, past_k.transpose(-1, -2)) * scale + _trace.past_bias
    new_bias = _trace.new_bias.repeat(1, 1, groups, 1) if groups > 1 else _trace.new_bias
    scores_new = torch.matmul(q, key.transpose(-1, -2)) * scale + new_bias
    slots = past_k.shape[2]
    probs = torch.softmax(torch.cat([scores_past, scores_new], dim=-1), dim=-1, dtype=torch.float32)
    probs = probs.to(value.dtype)
    out = torch.matmul(probs[..., :slots], past_v) + torch.matmul(probs[..., slots:], value)
    return out.reshape(batch, q_heads, new, dim).transpose(1, 2).contiguous(), None


def check_supported(model: Any) -> None:
    """Refuse what the split attention would compute differently from the model."""
    cfg = model.config
    for name in ("sliding_window", "attn_logit_softcapping", "final_logit_softcapping"):
        if getattr(cfg, name, None):
            raise InplaceUnsupported(f"{name} is set")
    if getattr(cfg, "is_encoder_decoder", False):
        raise InplaceUnsupported("an encoder-decoder model")
    layers = [m for m in model.modules() if hasattr(m, "layer_idx") and "Attention" in type(m).__name__]
    if not layers:
        raise InplaceUnsupported("no attention module with a layer_idx")


@contextlib.contextmanager
def split_attention_active(model: Any) -> Iterator[None]:
    """The model's attention routed through :func:`split_attention` (for tracing), restored after."""
    from transformers import AttentionInterface

    AttentionInterface.register(ATTENTION_NAME, split_attention)
    before = model.config._attn_implementation
    model.config._attn_implementation = ATTENTION_NAME
    try:
        yield
    finally:
        model.config._attn_implementation = before


class InplaceStepModule(torch.nn.Module):
    """(input_ids, past_mask, slots, position_ids, *cache buffers) -> (last logits, *new keys/values)."""

    def __init__(self, model: Any, n_layers: int) -> None:
        super().__init__()
        self.model = model
        self.n_layers = n_layers
        keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.extra: dict[str, Any] = {"logits_to_keep": 1} if keep else {}

    def forward(self, input_ids: torch.Tensor, past_mask: torch.Tensor, slots: torch.Tensor,
                position_ids: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        dtype = past[0].dtype
        low = torch.finfo(dtype).min
        zero = torch.zeros((), dtype=dtype)
        new = input_ids.shape[1]
        _trace.past = list(past)
        _trace.past_bias = torch.where(past_mask[:, None, None, :] > 0, zero, low)
        causal = torch.ones((new, new), dtype=torch.bool).tril()
        allowed = causal[None, None, :, :] & (slots[:, None, None, :] > 0)
        _trace.new_bias = torch.where(allowed, zero, low)
        _trace.present = {}
        out = self.model(input_ids=input_ids, position_ids=position_ids, use_cache=False, **self.extra)
        present: list[torch.Tensor] = []
        for layer in range(self.n_layers):
            present += list(_trace.present[layer])
        _trace.past, _trace.present = [], {}
        return (out.logits[:, -1, :].float(), *present)


def add_sampling(model: Any) -> None:
    """Append the sampling to an exported step (an ``onnx.ModelProto``, changed in place).

    New inputs: ``bias_table`` [mask rows, vocab] (the constraint processor's additive masks, fed as is),
    ``bias_rows`` [batch] (each row's mask), ``top_k`` [1], ``temperature`` [1] and ``exp_noise``
    [batch, k] (standard exponential draws). New output ``next_token`` [batch, 1]:
    ``top[argmax(v - T*log(E))]`` over the k best biased logits ``v``: the Gumbel-max draw of
    softmax(v/T) (:func:`sidecar.engine.sampling.sample_np` does the same in numpy). Greedy is k=1.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    logits = graph.output[0].name
    vocab = graph.output[0].type.tensor_type.shape.dim[1]
    width: Any = vocab.dim_value or vocab.dim_param or "vocab"
    graph.input.extend([
        helper.make_tensor_value_info("bias_table", TensorProto.FLOAT, ["mask_rows", width]),
        helper.make_tensor_value_info("bias_rows", TensorProto.INT64, ["batch"]),
        helper.make_tensor_value_info("top_k", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("temperature", TensorProto.FLOAT, [1]),
        helper.make_tensor_value_info("exp_noise", TensorProto.FLOAT, ["batch", "k"]),
    ])
    graph.node.extend([
        helper.make_node("Gather", ["bias_table", "bias_rows"], ["pick_bias"], axis=0),
        helper.make_node("Add", [logits, "pick_bias"], ["pick_biased"]),
        helper.make_node("TopK", ["pick_biased", "top_k"], ["pick_values", "pick_indices"], axis=-1, sorted=0),
        helper.make_node("Log", ["exp_noise"], ["pick_log_noise"]),
        helper.make_node("Mul", ["pick_log_noise", "temperature"], ["pick_noise"]),
        helper.make_node("Sub", ["pick_values", "pick_noise"], ["pick_scores"]),
        helper.make_node("ArgMax", ["pick_scores"], ["pick_choice"], axis=-1, keepdims=1),
        helper.make_node("GatherElements", ["pick_indices", "pick_choice"], [TOKEN_OUTPUT], axis=1),
    ])
    graph.output.extend([helper.make_tensor_value_info(TOKEN_OUTPUT, TensorProto.INT64, ["batch", 1])])


class Pick:
    """How a fused step samples: the constraint masks, each row's mask, top-k, temperature, the RNG."""

    def __init__(self, table: np.ndarray, sampling: Sampling, rng: np.random.Generator) -> None:
        self.table = table
        width = table.shape[1]
        greedy = sampling.temperature <= 0
        self.k = 1 if greedy else (min(sampling.top_k, width) if sampling.top_k > 0 else width)
        self.greedy = greedy
        self.rng = rng
        self.top_k = np.array([self.k], dtype=np.int64)
        self.temperature = np.array([0.0 if greedy else sampling.temperature], dtype=np.float32)

    def feeds(self, rows: list[int]) -> dict[str, np.ndarray]:
        noise = np.empty((len(rows), self.k), dtype=np.float32)
        self.draw(noise)
        return {"bias_table": self.table, "bias_rows": np.array(rows, dtype=np.int64), "top_k": self.top_k,
                "temperature": self.temperature, "exp_noise": noise}

    def draw(self, noise: np.ndarray) -> None:
        """This step's exponential noise, into ``noise`` [batch, k] (ones when greedy: the draw is unused)."""
        if self.greedy:
            noise.fill(1.0)
        else:
            exponential_noise(self.rng, noise.shape, out=noise)


class InplaceSession:
    """One batch's cache as preallocated numpy buffers, filled in place a slice per step."""

    fused_sampling = True  # start/step take ``pick`` and then return tokens (see :class:`Pick`)

    def __init__(self, backend: Any) -> None:
        self.b = backend
        self.cache: list[np.ndarray] = []
        self.cache_feeds: dict[str, np.ndarray] = {}  # the buffers under their input names, built once per buffer
        self.past_mask = np.zeros((0, 0), dtype=np.int64)
        self.next_pos = np.zeros((0, 1), dtype=np.int64)
        self.used = 0
        self.io: Any = None  # the IO binding of one-token sampling steps (see _bound)
        self.io_pick: Pick | None = None
        self.io_in: dict[str, np.ndarray] = {}
        self.io_out: list[np.ndarray] = []
        self.io_noise = np.zeros((0, 0), dtype=np.float32)

    def _alloc(self, batch: int, capacity: int) -> None:
        b = self.b
        shape = (batch, b.heads, capacity, b.head_dim)
        old, old_mask = self.cache, self.past_mask
        self.cache = [np.zeros(shape, dtype=b.np_dtype) for _ in range(2 * b.n_layers)]
        self.past_mask = np.zeros((batch, capacity), dtype=np.int64)
        if self.used:
            for new, prev in zip(self.cache, old, strict=True):
                new[:, :, : self.used] = prev[:, :, : self.used]
            self.past_mask[:, : self.used] = old_mask[:, : self.used]
        self.cache_feeds = dict(zip(b.past_names, self.cache, strict=True))
        self.io = None

    def _bound(self, batch: int, pick: Pick) -> Any:
        """The one-token sampling step's IO binding: cache, mask, the step's small inputs and its outputs
        bound by reference once (per buffer, batch size and :class:`Pick`), so a step only writes its few
        new values into the bound arrays and runs: no feed dict, no input or output conversion."""
        from onnxruntime import OrtValue

        b = self.b
        if self.io is None:
            io = b.sess.io_binding()
            for name, buf in (*self.cache_feeds.items(), ("past_mask", self.past_mask)):
                io.bind_ortvalue_input(name, OrtValue.ortvalue_from_numpy(buf))
            self.io_in = {name: np.zeros((batch, 1), dtype=np.int64) for name in ("input_ids", "slots", "position_ids")}
            self.io_in["bias_rows"] = np.zeros(batch, dtype=np.int64)
            self.io_out = [np.zeros((batch, 1), dtype=np.int64),
                           *[np.zeros((batch, b.heads, 1, b.head_dim), dtype=b.np_dtype) for _ in b.past_names]]
            for name, arr in self.io_in.items():
                io.bind_ortvalue_input(name, OrtValue.ortvalue_from_numpy(arr))
            for name, arr in zip(b.token_outputs, self.io_out, strict=True):
                io.bind_ortvalue_output(name, OrtValue.ortvalue_from_numpy(arr))
            self.io, self.io_pick = io, None
        if self.io_pick is not pick:
            self.io_noise = np.ones((batch, pick.k), dtype=np.float32)
            for name, arr in (("bias_table", pick.table), ("top_k", pick.top_k), ("temperature", pick.temperature),
                              ("exp_noise", self.io_noise)):
                self.io.bind_ortvalue_input(name, OrtValue.ortvalue_from_numpy(arr))
            self.io_pick = pick
        return self.io

    def _run_bound(self, tokens: np.ndarray, slots: np.ndarray, positions: np.ndarray, pick: Pick,
                   rows: list[int]) -> list[np.ndarray]:
        io = self._bound(tokens.shape[0], pick)
        feed = self.io_in
        feed["input_ids"][...] = tokens
        feed["slots"][...] = slots
        feed["position_ids"][...] = positions
        feed["bias_rows"][...] = rows
        pick.draw(self.io_noise)
        self.b.sess.run_with_iobinding(io)
        return self.io_out

    def _run(self, tokens: np.ndarray, slots: np.ndarray, positions: np.ndarray,
             pick: tuple[Pick, list[int]] | None) -> Any:
        b = self.b
        if pick is not None and tokens.shape[1] == 1:  # the common step: one token per row, IO-bound
            outputs = self._run_bound(tokens, slots, positions, *pick)
        else:
            feeds = {"input_ids": tokens, "past_mask": self.past_mask, "slots": slots, "position_ids": positions,
                     **self.cache_feeds}
            if pick is None:
                feeds.update(b.no_pick(tokens.shape[0]))
                outputs = b.sess.run(b.logits_outputs, feeds)
            else:
                feeds.update(pick[0].feeds(pick[1]))
                outputs = b.sess.run(b.token_outputs, feeds)
        end = self.used + tokens.shape[1]
        if end > self.past_mask.shape[1]:
            self._alloc(tokens.shape[0], end + GROW_SLOTS)
        used = self.used
        for buf, part in zip(self.cache, outputs[1:], strict=True):
            buf[:, :, used:end] = part
        self.past_mask[:, used:end] = slots
        self.used = end
        return outputs[0].copy() if pick is not None else torch.from_numpy(outputs[0])

    def start(self, input_ids: np.ndarray, attention_mask: np.ndarray,
              pick: tuple[Pick, list[int]] | None = None) -> Any:
        """As :meth:`StepSession.start`; with ``pick`` (how, each row's mask row) the next tokens [batch, 1]."""
        batch, width = input_ids.shape
        self.used = 0
        self._alloc(batch, width + GROW_SLOTS)
        positions = np.maximum(attention_mask.cumsum(-1) - 1, 0)
        self.next_pos = positions[:, -1:] + 1
        return self._run(input_ids, attention_mask, positions, pick)

    def step(self, tokens: np.ndarray, slots: np.ndarray, pick: tuple[Pick, list[int]] | None = None) -> Any:
        """As :meth:`StepSession.step`; with ``pick`` the next tokens [batch, 1] instead of the logits."""
        if slots.shape[1] == 1:  # one slot per row: it takes the next position, filler or not
            positions = self.next_pos
            self.next_pos = self.next_pos + slots
        else:
            positions = self.next_pos + np.maximum(slots.cumsum(-1) - 1, 0)
            self.next_pos = self.next_pos + slots.sum(-1, keepdims=True)
        return self._run(tokens, slots, positions, pick)

    def select(self, keep: list[int]) -> None:
        self.cache = [np.ascontiguousarray(c[keep]) for c in self.cache]
        self.cache_feeds = dict(zip(self.b.past_names, self.cache, strict=True))
        self.past_mask = self.past_mask[keep]
        self.next_pos = self.next_pos[keep]
        self.io = None  # rebound for the new buffers and batch size on the next step
