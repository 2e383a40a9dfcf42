"""The decode loop: prefill, then one step per token over a model's KV cache, many rows at once.

Why our own loop rather than ``model.generate``: a step of the small default models costs far less
than generate's per-step machinery (re-validation, stopping criteria, logits-processor lists), so the
loop keeps only what a step needs: the backend's forward (ONNX Runtime session or eager torch, see
:mod:`sidecar.engine.step_backends`), one gathered bias add for every row's constraint, top-k sampling (both
inside the ONNX step's own run when it offers that, see :mod:`sidecar.engine.inplace_cache`) and O(1) Python
per row to advance its grammar state. Rows that finish are reported at once (so their
request can be answered) and dropped from the batch once enough of them have finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import torch

from sidecar.engine.constrained.grammar import FORCE, RowConstraint
from sidecar.engine.constrained.processor import ConstraintProcessor
from sidecar.engine.inplace_cache import Pick
from sidecar.engine.sampling import Sampling, sample, sample_np

__all__ = ["DecodeResult", "SamplingStepSession", "Sampling", "StepBackend", "StepSession", "decode", "sample",
           "sample_np"]


class StepSession(Protocol):
    """One batch's forward passes over its own KV cache, attention mask and positions."""

    def start(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> torch.Tensor:
        """Prefill the left-padded prompts (int64 [batch, width]); return each row's next logits [batch, vocab]."""

    def step(self, tokens: np.ndarray, slots: np.ndarray) -> torch.Tensor:
        """Feed new tokens (int64 [batch, k]; ``slots`` 1 for a real token, 0 for a masked filler, fillers
        first); return the logits after each row's last token [batch, vocab]."""

    def select(self, keep: list[int]) -> None:
        """Keep only these rows of the batch (in this order) from now on."""


class SamplingStepSession(Protocol):
    """A session that can also sample inside its own forward (the in-place ONNX step): given ``pick`` (how
    to sample, each row's mask row) its start and step return each row's next token [batch, 1] instead
    of the logits."""

    fused_sampling: bool

    def start(self, input_ids: np.ndarray, attention_mask: np.ndarray,
              pick: tuple[Pick, list[int]] | None = None) -> Any: ...

    def step(self, tokens: np.ndarray, slots: np.ndarray, pick: tuple[Pick, list[int]] | None = None) -> Any: ...


class StepBackend(Protocol):
    name: str
    device: torch.device

    def session(self) -> StepSession: ...


MAX_JUMP = 64  # longest forced run fed in one step


@dataclass
class DecodeResult:
    ids: list[list[int]]  # new tokens of each row, without the EOS
    finished: list[bool]  # the row reached its end (EOS or its grammar's end) within the step limit


def decode(
    backend: StepBackend,
    processor: ConstraintProcessor,
    rows: Sequence[RowConstraint],
    prompts: Sequence[list[int]],
    *,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    sampling: Sampling,
    rng: np.random.Generator | None = None,
    stop: threading.Event | None = None,
    on_row_done: Callable[[int, list[int]], None] | None = None,
    on_row_step: Callable[[int, RowConstraint, list[int]], None] | None = None,
    jump_forward: bool = True,
) -> DecodeResult:
    """Generate up to ``max_new_tokens`` per row under each row's constraint.

    ``on_row_done(i, ids)`` is called once, from this thread, when row ``i`` ends; ``on_row_step(i,
    row, ids)`` after each of its tokens (e.g. to notice that a proposal's head is complete).
    ``jump_forward``: when every open row's next tokens are forced, feed them all in one step.
    """
    n = len(rows)
    device = backend.device
    on_cpu = device.type == "cpu"
    rng = rng or np.random.default_rng()
    width = max(len(p) for p in prompts)
    ids = np.array([[pad_id] * (width - len(p)) + p for p in prompts], dtype=np.int64)
    mask = np.array([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=np.int64)
    session = backend.session()
    out: list[list[int]] = [[] for _ in range(n)]
    finished = [False] * n
    live = list(range(n))  # original row index of each row of the current batch
    # A session that samples inside its own forward (the in-place ONNX step) needs each row's mask before
    # the forward; the rows' grammar states do not change between the forward and the next sampling.
    fused = cast(SamplingStepSession, session) if on_cpu and getattr(session, "fused_sampling", False) else None
    pick = Pick(processor.bias_array(), sampling, rng) if fused is not None else None
    planned: tuple[list[int], dict[int, int]] | None = None
    picked: np.ndarray | None = None
    logits: torch.Tensor | None = None
    if fused is not None and pick is not None:
        planned = processor.plan([rows[i] for i in live])
        picked = fused.start(ids, mask, pick=(pick, planned[0]))
    else:
        logits = session.start(ids, mask)

    def accept(i: int, tok: int) -> bool:
        """Advance row ``i`` by ``tok``; True when the row has ended."""
        row = rows[i]
        row.advance(tok)
        if tok == eos_id or row.done:
            finished[i] = True
            if on_row_done is not None:
                on_row_done(i, out[i])
            return True
        out[i].append(tok)
        if on_row_step is not None:
            on_row_step(i, row, out[i])
        return False

    for _ in range(max_new_tokens):
        if stop is not None and stop.is_set():
            break
        mask_rows, forced = planned if planned is not None else processor.plan([rows[i] for i in live])
        open_rows = sum(not finished[i] for i in live)
        if jump_forward and forced and len(forced) == open_rows:
            # Every open row is forced (e.g. a proposal's JSON keys): feed each row's whole forced run in
            # one step instead of one step per token; shorter runs are left-padded with masked slots.
            runs: list[list[int]] = []
            for i in live:
                run: list[int] = []
                while not finished[i] and len(run) < MAX_JUMP:
                    kind, tok = rows[i].constraint()
                    if kind != FORCE or accept(i, tok):
                        break
                    run.append(tok)
                runs.append(run if not finished[i] else [])
            width_k = max(len(r) for r in runs)
            if width_k == 0:
                break
            feed = np.array([[pad_id] * (width_k - len(r)) + r for r in runs], dtype=np.int64)
            slots = np.array([[0] * (width_k - len(r)) + [1] * len(r) for r in runs], dtype=np.int64)
        else:
            if picked is not None:
                tokens: list[int] = picked[:, 0].tolist()
            elif on_cpu:
                assert logits is not None
                tokens = sample_np(processor.apply_np(logits.numpy(), mask_rows), sampling, rng).tolist()
            else:
                assert logits is not None
                tokens = sample(processor.apply(logits, mask_rows), sampling).tolist()
            for j, tok in forced.items():
                tokens[j] = tok
            for j, i in enumerate(live):
                if finished[i] or accept(i, tokens[j]):
                    tokens[j] = pad_id
            feed = np.array(tokens, dtype=np.int64).reshape(-1, 1)
            slots = np.ones_like(feed)
        ended = sum(finished[i] for i in live)
        if ended == len(live):
            break
        if ended and ended * 4 >= len(live):  # drop finished rows: less work per step from now on
            keep = [j for j, i in enumerate(live) if not finished[i]]
            session.select(keep)
            live = [live[j] for j in keep]
            feed, slots = feed[keep], slots[keep]
        if fused is not None and pick is not None:
            planned = processor.plan([rows[i] for i in live])
            picked = fused.step(feed, slots, pick=(pick, planned[0]))
        else:
            logits = session.step(feed, slots)
    return DecodeResult(out, finished)
