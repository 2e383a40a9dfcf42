"""The model runner: one model served through the micro-batcher, the decode loop and the grammar.

Why this split: :mod:`sidecar.engine.batcher` decides *when* requests run together (and knows nothing of
torch), :mod:`sidecar.engine.loader` what a model directory becomes, :mod:`sidecar.engine.decode` how a batch is
generated; this module only turns requests into decode rows and rows back into answers.

A batch may mix free-text and proposal rows and different ``max_new_tokens``: each row has its own
constraint state (its token limit, or the proposal grammar) and is answered as soon as it ends, not
when the longest row of its batch is done.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sidecar.engine.batcher import Deliver, MicroBatcher, NotRunning, QueueFull
from sidecar.engine.constrained.grammar import FreeTextState, ProposalState, RowConstraint
from sidecar.engine.constrained.vocabulary import ProposalDecodingError
from sidecar.engine.decode import Sampling, decode
from sidecar.engine.loader import LoadedModel, load_model, resolve_device
from sidecar.engine.token_stream import TokenStream
from sidecar.infra.metrics import SidecarMetrics

log = logging.getLogger(__name__)

RunnerNotReady = NotRunning  # the model cannot serve requests now (not started, or stopped)

__all__ = ["Generation", "ModelRunner", "QueueFull", "RunnerNotReady", "TokenStream", "resolve_device"]


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass
class _Request:
    prompt: str
    budget: int  # free text: max new tokens; proposal: rationale tokens
    proposal: bool
    head: asyncio.Future[dict[str, Any]] | None = None  # proposal: resolved once every field but the rationale is out
    sampling: Sampling | None = None  # None: the runner's own; requests of different samplings never share a batch
    ignore_eos: bool = False
    sink: Callable[[str], None] | None = None  # streamed: each decoded piece, called on the event loop
    pending: list[int] = field(default_factory=list)  # streamed: tokens not yet sent (an incomplete character)
    row: FreeTextState | None = None  # set while decoding, so that a cancel can end the row
    cancelled: bool = False


class ModelRunner:
    """Serves one model: admission control, dynamic batching, free text and constrained proposals."""

    def __init__(
        self,
        model_id: str,
        directory: Path,
        *,
        device: str = "auto",
        max_batch_size: int = 16,
        batch_window_ms: float = 5.0,
        max_queue: int = 64,
        metrics: SidecarMetrics | None = None,
        temperature: float = 0.8,
        top_k: int = 50,
        printable_only: bool = True,
        cpu_threads: int | None = None,
        backend: str = "auto",
        export_cache_dir: Path | None = None,
    ) -> None:
        self.model_id = model_id
        self.directory = Path(directory)
        self.metrics = metrics
        self.sampling = Sampling(temperature, top_k)
        self.printable_only = printable_only
        self.cpu_threads = cpu_threads
        self.backend_wanted = backend
        self.export_cache_dir = export_cache_dir
        self._device = resolve_device(device)
        self._model: LoadedModel | None = None
        self._load_error: str | None = None
        self._stopping = threading.Event()
        self._batcher: MicroBatcher[_Request] = MicroBatcher(
            self._run_batch, max_batch_size=max_batch_size, window_ms=batch_window_ms, max_queue=max_queue,
            name=f"runner-{model_id}", on_depth=self._set_depth, on_reject=self._count_reject,
            key=lambda req: req.sampling or self.sampling,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the model in a worker thread, then start the batch loop (idempotent)."""
        if self._batcher.running:
            return
        self._stopping.clear()
        if self._model is None:
            try:
                self._model = await asyncio.to_thread(
                    load_model, self.directory, device=self._device, backend=self.backend_wanted,
                    cpu_threads=self.cpu_threads, export_cache_dir=self.export_cache_dir,
                )
            except Exception as exc:
                self._load_error = f"{type(exc).__name__}: {exc}"
                raise
        await self._batcher.start()

    async def stop(self) -> None:
        """Stop the batch loop and fail every waiting or in-flight request with RunnerNotReady."""
        self._stopping.set()  # ends a running decode at its next step
        await self._batcher.stop(RunnerNotReady(f"model runner {self.model_id!r} stopped"))

    # ------------------------------------------------------------------ properties

    @property
    def loaded(self) -> bool:
        return self._model is not None and self._batcher.running

    @property
    def queue_depth(self) -> int:
        return self._batcher.queue_depth

    @property
    def in_flight(self) -> int:
        return self._batcher.in_flight

    @property
    def batches_run(self) -> int:
        return self._batcher.batches_run

    @property
    def requests_served(self) -> int:
        return self._batcher.items_served

    @property
    def max_batch_seen(self) -> int:
        return self._batcher.max_batch_seen

    @property
    def device(self) -> str:
        return self._device

    @property
    def context_length(self) -> int:
        return self._model.context if self._model is not None else 0

    @property
    def proposals_supported(self) -> bool:
        return self._model is not None and self._model.grammar is not None

    @property
    def backend(self) -> str | None:
        """The decode step backend in use ("onnx" or "eager"), once loaded."""
        return self._model.backend.name if self._model is not None else None

    def info(self) -> dict[str, Any]:
        """State for /health."""
        b = self._batcher
        m = self._model
        return {
            "model_id": self.model_id,
            "directory": str(self.directory),
            "device": self._device,
            "loaded": self.loaded,
            "load_error": self._load_error,
            "decode_backend": m.backend.name if m is not None else None,
            "decode_backend_note": m.backend_note if m is not None else None,
            "queue_depth": b.queue_depth,
            "in_flight": b.in_flight,
            "max_batch_size": b.max_batch_size,
            "batch_window_ms": b.window_ms,
            "max_queue": b.max_queue,
            "context_length": self.context_length,
            "torch_threads": torch.get_num_threads() if self._device == "cpu" else None,
            "proposals_supported": self.proposals_supported,
            "batches_run": b.batches_run,
            "requests_served": b.items_served,
            "max_batch_seen": b.max_batch_seen,
        }

    # ------------------------------------------------------------------ requests

    async def generate(self, prompt: str, max_new_tokens: int, *, temperature: float | None = None,
                       ignore_eos: bool = False) -> Generation:
        """Free text: up to ``max_new_tokens`` new tokens sampled from the model (at ``temperature``,
        default the runner's; 0 is greedy); ``ignore_eos``: exactly ``max_new_tokens``."""
        result: Generation = await self._batcher.submit(
            self._free_text(prompt, max_new_tokens, temperature, ignore_eos))
        return result

    def stream(self, prompt: str, max_new_tokens: int, *, temperature: float | None = None,
               ignore_eos: bool = False) -> TokenStream:
        """:meth:`generate`, each piece of text handed over as it is decoded. Submits at once, so
        QueueFull/RunnerNotReady are raised here, before anything is streamed."""
        stream = TokenStream()
        req = self._free_text(prompt, max_new_tokens, temperature, ignore_eos)
        req.sink = stream.put
        stream.attach(self._batcher.submit(req), lambda: _cancel(req))
        return stream

    def _free_text(self, prompt: str, max_new_tokens: int, temperature: float | None, ignore_eos: bool) -> _Request:
        m = self._ready()
        limit = max(1, min(int(max_new_tokens), m.context - 1))
        sampling = None if temperature is None else Sampling(float(temperature), self.sampling.top_k)
        return _Request(prompt, limit, proposal=False, sampling=sampling, ignore_eos=ignore_eos)

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> str:
        """Chat messages as this model's prompt (its chat template, else the documented fallback)."""
        from sidecar.engine.chat_template import render_chat

        return render_chat(self._ready().tokenizer, messages)

    async def generate_proposal(
        self, prompt: str, max_new_tokens: int, head: asyncio.Future[dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], Generation]:
        """A trade proposal that validates against the proposal schema.

        ``max_new_tokens`` bounds the free-text rationale; the JSON structure and short values add
        at most ``ProposalGrammar.max_new_tokens(0)`` tokens on top (about 80 for the default model).
        ``head``, when given, is resolved with every field but the rationale as soon as they are
        decoded (so dependent work can start while the rationale is generated).
        Raises ProposalDecodingError when this model's tokenizer cannot be constrained.
        """
        m = self._ready()
        if m.grammar is None:
            assert m.grammar_error is not None
            raise m.grammar_error
        overhead = m.grammar.max_new_tokens(0)
        budget = min(max(0, int(max_new_tokens)), m.context - 1 - overhead)
        if budget < 0:
            raise ProposalDecodingError(f"context of {m.context} tokens is too short for a proposal")
        result: tuple[dict[str, Any], Generation] = await self._batcher.submit(
            _Request(prompt, budget, proposal=True, head=head))
        return result

    def _ready(self) -> LoadedModel:
        if self._model is None or not self._batcher.running:
            raise RunnerNotReady(f"model {self.model_id!r} is not loaded")
        return self._model

    def _set_depth(self, depth: int) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.model_id).set(depth)

    def _count_reject(self) -> None:
        if self.metrics is not None:
            self.metrics.rejected.labels(self.model_id).inc()

    # ------------------------------------------------------------------ the batch step (worker thread)

    def _prompt_ids(self, prompt: str, limit: int) -> list[int]:
        """Tokenize; keep the *last* ``limit`` tokens (and a leading BOS) so prompt + output fit."""
        assert self._model is not None
        tok = self._model.tokenizer
        ids: list[int] = tok(prompt)["input_ids"]
        if not ids:
            start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            ids = [start]
        if len(ids) > limit:
            keep = 1 if (tok.bos_token_id is not None and ids[0] == tok.bos_token_id and limit > 1) else 0
            ids = ids[:keep] + ids[len(ids) - (limit - keep):]
        return ids

    def _outcome(self, req: _Request, prompt_ids: list[int], ids: list[int]) -> Any:
        """A row's answer (or its exception) from its new token ids."""
        m = self._model
        assert m is not None
        if req.sink is not None and req.pending:  # a streamed row's last piece, before its answer
            self._batcher.call_soon(req.sink, m.table.decode(req.pending))
            req.pending = []
        text = m.table.decode(ids)
        gen = Generation(text=text, prompt_tokens=len(prompt_ids), completion_tokens=len(ids))
        if not req.proposal:
            return gen
        assert m.grammar is not None
        try:
            return m.grammar.parse(text), gen
        except ProposalDecodingError as exc:
            return exc

    def _run_batch(self, batch: Sequence[_Request], deliver: Deliver) -> list[Any]:
        """Decode one batch; each row is delivered as soon as it ends."""
        m = self._model
        assert m is not None
        rows: list[RowConstraint] = []
        needs: list[int] = []
        for req in batch:
            if req.proposal:
                assert m.grammar is not None
                rows.append(m.grammar.new_state(req.budget))
                needs.append(m.grammar.max_new_tokens(req.budget))
            else:
                row = FreeTextState(m.table, req.budget, printable=self.printable_only, ignore_eos=req.ignore_eos)
                req.row = row
                row.cancelled = req.cancelled  # after req.row is set: a cancel in between still lands
                rows.append(row)
                needs.append(req.budget)
        new_tokens = min(max(needs), m.context - 1)
        prompts = [self._prompt_ids(req.prompt, m.context - new_tokens) for req in batch]
        heads_sent: set[int] = set()
        delivered: set[int] = set()

        def on_row_done(i: int, ids: list[int]) -> None:
            if len(delivered) + 1 == len(batch):
                return  # the last row: answered with the batch, after its metrics are recorded
            delivered.add(i)
            deliver(i, self._outcome(batch[i], prompts[i], ids))

        def on_row_step(i: int, row: RowConstraint, ids: list[int]) -> None:
            sink = batch[i].sink
            if sink is not None:
                self._send_piece(batch[i], sink, ids[-1])
                return
            head = batch[i].head
            if head is None or i in heads_sent or not isinstance(row, ProposalState) or not row.head_done:
                return
            heads_sent.add(i)
            assert m.grammar is not None
            try:
                value: Any = m.grammar.parse_head(m.table.decode(ids))
            except ProposalDecodingError as exc:
                value = exc
            self._batcher.call_soon(_settle, head, value)

        t0 = time.perf_counter()
        result = decode(
            m.backend, m.processor, rows, prompts, max_new_tokens=new_tokens, eos_id=m.eos_id, pad_id=m.pad_id,
            sampling=batch[0].sampling or self.sampling, stop=self._stopping, on_row_done=on_row_done,
            on_row_step=on_row_step,
        )
        seconds = time.perf_counter() - t0
        if self._stopping.is_set():
            raise RunnerNotReady(f"model runner {self.model_id!r} stopped")
        # A row still open at the step limit is answered with what it has (a proposal then fails to parse).
        outcomes = [
            None if i in delivered else self._outcome(req, p, ids)
            for i, (req, p, ids) in enumerate(zip(batch, prompts, result.ids, strict=True))
        ]
        if self.metrics is not None:
            mt = self.metrics
            mt.inference_latency.labels(self.model_id).observe(seconds)
            mt.batch_size.labels(self.model_id).observe(len(batch))
            mt.tokens_generated.labels(self.model_id).inc(sum(len(ids) for ids in result.ids))
        return outcomes

    def _send_piece(self, req: _Request, sink: Callable[[str], None], token: int) -> None:
        """Hand a streamed row's new token to its reader, held back only while it ends inside a character."""
        assert self._model is not None
        req.pending.append(token)
        piece = self._model.table.decode(req.pending)
        if piece.endswith("\ufffd") and len(req.pending) < 4:  # a UTF-8 character spans up to 4 byte tokens
            return
        req.pending = []
        self._batcher.call_soon(sink, piece)


def _cancel(req: _Request) -> None:
    """The reader left: end the row at its next step (or never start it)."""
    req.cancelled = True
    if req.row is not None:
        req.row.cancelled = True


def _settle(fut: asyncio.Future[Any], value: Any) -> None:
    if fut.done():
        return
    if isinstance(value, BaseException):
        fut.set_exception(value)
    else:
        fut.set_result(value)
