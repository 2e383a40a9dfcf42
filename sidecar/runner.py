"""Async dynamic-batching model runner.

Why: one ``model.generate`` over N rows costs little more than over one row (most of the time of a
small model is per-step overhead), so under concurrent load the sidecar answers many requests per
forward pass. Requests wait on a queue; the batch loop takes the first one, gathers more for up to
``batch_window_ms`` (or until ``max_batch_size``), then runs a single left-padded ``generate`` in a
worker thread so the event loop keeps serving HTTP while the model computes.

A batch may mix free-text and proposal rows and different ``max_new_tokens``: a per-row logits
processor (:class:`~sidecar.proposal_decoding.BatchConstraintProcessor`) forces EOS when a row reaches
its own limit and applies the proposal grammar to proposal rows, while the batch runs for the largest
need of its rows.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from sidecar.metrics import SidecarMetrics
from sidecar.model_builder import quiet_progress
from sidecar.proposal_decoding import (
    BatchConstraintProcessor,
    FreeTextState,
    ProposalDecodingError,
    ProposalGrammar,
    RowConstraint,
    TokenTable,
)

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 2048


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int


class QueueFull(Exception):
    """Admission refused: too many requests are waiting. The app answers 503 with Retry-After."""


class RunnerNotReady(RuntimeError):
    """The runner is not started (or was stopped): the model cannot serve requests now."""


@dataclass
class _Request:
    prompt: str
    budget: int  # free text: max new tokens; proposal: rationale tokens
    proposal: bool
    future: asyncio.Future[Any]
    enqueued_at: float = field(default_factory=time.perf_counter)


@dataclass
class _BatchResult:
    outcomes: list[Any]  # per row: a result or an exception
    seconds: float
    tokens: int


def resolve_device(device: str) -> str:
    """"auto" picks CUDA when torch sees a GPU, else CPU; anything else is used as given."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


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
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or batch_window_ms < 0:
            raise ValueError("max_batch_size and max_queue must be >= 1, batch_window_ms >= 0")
        self.model_id = model_id
        self.directory = Path(directory)
        self.max_batch_size = max_batch_size
        self.batch_window_ms = batch_window_ms
        self.max_queue = max_queue
        self.metrics = metrics
        self.temperature = temperature
        self.top_k = top_k
        self.printable_only = printable_only
        self.cpu_threads = cpu_threads
        self._device = resolve_device(device)
        self._tokenizer: Any = None
        self._model: Any = None
        self._table: TokenTable | None = None
        self._grammar: ProposalGrammar | None = None
        self._grammar_error: ProposalDecodingError | None = None
        self._context = DEFAULT_CONTEXT
        self._pending: collections.deque[_Request] = collections.deque()
        self._inflight: list[_Request] = []
        self._has_work: asyncio.Event | None = None
        self._batch_full: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._load_error: str | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self.batches_run = 0
        self.requests_served = 0
        self.max_batch_seen = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load tokenizer and model in a worker thread, then start the batch loop (idempotent)."""
        if self._task is not None and not self._task.done():
            return
        self._stopping.clear()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"runner-{self.model_id}"
        )
        loop = asyncio.get_running_loop()
        self._event_loop = loop
        if self._model is None:
            try:
                await loop.run_in_executor(self._executor, self._load)
            except Exception as exc:
                self._load_error = f"{type(exc).__name__}: {exc}"
                self._executor.shutdown(wait=False)
                self._executor = None
                raise
        self._has_work = asyncio.Event()
        self._batch_full = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name=f"batch-loop-{self.model_id}")

    async def stop(self) -> None:
        """Cancel the batch loop and fail every waiting or in-flight request with RunnerNotReady."""
        self._stopping.set()
        task, self._task = self._task, None
        waiting = [*self._pending, *self._inflight]  # captured first: the loop clears _inflight on cancel
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        err = RunnerNotReady(f"model runner {self.model_id!r} stopped")
        for req in waiting:
            if not req.future.done():
                req.future.set_exception(err)
        self._pending.clear()
        self._inflight = []
        self._set_depth()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.cpu_threads and self._device == "cpu":
            # Process-wide. Small models gain nothing from intra-op threads, and on a busy box (Locust on
            # the same cores) OpenMP workers spin-waiting for a descheduled peer can cost 10x latency.
            torch.set_num_threads(self.cpu_threads)
        tokenizer = AutoTokenizer.from_pretrained(self.directory, local_files_only=True)
        tokenizer.padding_side = "left"
        with quiet_progress():
            model = AutoModelForCausalLM.from_pretrained(self.directory, local_files_only=True, dtype="auto")
        model.to(self._device)
        model.eval()
        eos = tokenizer.eos_token_id
        if eos is None:  # some tokenizers only name their EOS in the generation config
            gen_eos = getattr(model.generation_config, "eos_token_id", None)
            eos = gen_eos[0] if isinstance(gen_eos, list) and gen_eos else gen_eos
            if eos is None:
                raise ValueError(f"{self.directory}: neither tokenizer nor generation config names an EOS token")
            tokenizer.eos_token = tokenizer.convert_ids_to_tokens(int(eos))
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        cfg = model.config
        ctx = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
        if not ctx:
            tml = getattr(tokenizer, "model_max_length", None)
            ctx = tml if isinstance(tml, int) and tml < 1_000_000 else DEFAULT_CONTEXT
        head = model.get_output_embeddings()
        width = head.weight.shape[0] if head is not None else getattr(cfg, "vocab_size", len(tokenizer))
        table = TokenTable(tokenizer, width=width, eos_token_id=int(eos))
        try:
            self._grammar = ProposalGrammar(table)
        except ProposalDecodingError as exc:  # free text still works; proposals report why not
            log.warning("%s: proposals unavailable: %s", self.model_id, exc)
            self._grammar_error = exc
        self._tokenizer, self._model, self._table, self._context = tokenizer, model, table, int(ctx)

    # ------------------------------------------------------------------ properties

    @property
    def loaded(self) -> bool:
        return self._model is not None and self._task is not None and not self._task.done()

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch (not counting the batch being computed)."""
        return len(self._pending)

    @property
    def in_flight(self) -> int:
        """Requests in the batch being computed now."""
        return len(self._inflight)

    @property
    def device(self) -> str:
        return self._device

    @property
    def context_length(self) -> int:
        return self._context

    @property
    def proposals_supported(self) -> bool:
        return self._grammar is not None

    def info(self) -> dict[str, Any]:
        """State for /health."""
        return {
            "model_id": self.model_id,
            "directory": str(self.directory),
            "device": self._device,
            "loaded": self.loaded,
            "load_error": self._load_error,
            "queue_depth": self.queue_depth,
            "in_flight": self.in_flight,
            "max_batch_size": self.max_batch_size,
            "batch_window_ms": self.batch_window_ms,
            "max_queue": self.max_queue,
            "context_length": self._context,
            "torch_threads": torch.get_num_threads() if self._device == "cpu" else None,
            "proposals_supported": self.proposals_supported,
            "batches_run": self.batches_run,
            "requests_served": self.requests_served,
            "max_batch_seen": self.max_batch_seen,
        }

    # ------------------------------------------------------------------ requests

    async def generate(self, prompt: str, max_new_tokens: int) -> Generation:
        """Free text: up to ``max_new_tokens`` new tokens sampled from the model."""
        limit = max(1, min(int(max_new_tokens), self._context - 1))
        result: Generation = await self._submit(prompt, limit, proposal=False)
        return result

    async def generate_proposal(self, prompt: str, max_new_tokens: int) -> tuple[dict[str, Any], Generation]:
        """A trade proposal that validates against PROPOSAL_SCHEMA.

        ``max_new_tokens`` bounds the free-text rationale; the JSON structure and short values add
        at most ``ProposalGrammar.max_new_tokens(0)`` tokens on top (about 80 for the default model).
        Raises ProposalDecodingError when this model's tokenizer cannot be constrained.
        """
        if self._grammar is None:
            if self._grammar_error is not None:
                raise self._grammar_error
            raise RunnerNotReady(f"model {self.model_id!r} is not loaded")
        overhead = self._grammar.max_new_tokens(0)
        budget = min(max(0, int(max_new_tokens)), self._context - 1 - overhead)
        if budget < 0:
            raise ProposalDecodingError(f"context of {self._context} tokens is too short for a proposal")
        result: tuple[dict[str, Any], Generation] = await self._submit(prompt, budget, proposal=True)
        return result

    def _submit(self, prompt: str, budget: int, *, proposal: bool) -> asyncio.Future[Any]:
        if not self.loaded or self._has_work is None:
            raise RunnerNotReady(f"model {self.model_id!r} is not loaded")
        if len(self._pending) >= self.max_queue:
            if self.metrics is not None:
                self.metrics.rejected.labels(self.model_id).inc()
            raise QueueFull(f"{len(self._pending)} requests already waiting for model {self.model_id!r}")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        req = _Request(prompt, budget, proposal, fut)
        fut.add_done_callback(lambda f, r=req: self._on_done(r, f))
        self._pending.append(req)
        self._set_depth()
        self._has_work.set()
        if len(self._pending) >= self.max_batch_size and self._batch_full is not None:
            self._batch_full.set()
        return fut

    def _on_done(self, req: _Request, fut: asyncio.Future[Any]) -> None:
        """A caller that gave up (cancelled) leaves the queue at once."""
        if fut.cancelled():
            with contextlib.suppress(ValueError):
                self._pending.remove(req)
                self._set_depth()

    def _set_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.model_id).set(len(self._pending))

    # ------------------------------------------------------------------ batch loop

    async def _loop(self) -> None:
        assert self._has_work is not None and self._batch_full is not None
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._has_work.clear()
                await self._has_work.wait()
            # Gather: wait up to the window for the batch to fill (the first request is already here).
            if len(self._pending) < self.max_batch_size and self.batch_window_ms > 0:
                self._batch_full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.batch_window_ms / 1000):
                        await self._batch_full.wait()
            batch: list[_Request] = []
            while self._pending and len(batch) < self.max_batch_size:
                req = self._pending.popleft()
                if not req.future.done():
                    batch.append(req)
            self._set_depth()
            if not batch:
                continue
            self._inflight = batch
            try:
                assert self._executor is not None
                result: _BatchResult = await loop.run_in_executor(self._executor, self._run_batch, batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the whole batch failed: fail its requests, keep serving
                log.exception("%s: batch of %d failed", self.model_id, len(batch))
                for req in batch:
                    if not req.future.done():
                        req.future.set_exception(exc)
            else:
                self._record(len(batch), result)
                for req, outcome in zip(batch, result.outcomes, strict=True):
                    if outcome is not _DELIVERED:
                        _deliver(req, outcome)
            finally:
                self._inflight = []

    def _record(self, n: int, result: _BatchResult) -> None:
        self.batches_run += 1
        self.requests_served += n
        self.max_batch_seen = max(self.max_batch_seen, n)
        if self.metrics is not None:
            m = self.metrics
            m.inference_latency.labels(self.model_id).observe(result.seconds)
            m.batch_size.labels(self.model_id).observe(n)
            m.tokens_generated.labels(self.model_id).inc(result.tokens)

    # ------------------------------------------------------------------ the worker thread

    def _prompt_ids(self, prompt: str, limit: int) -> list[int]:
        """Tokenize; keep the *last* ``limit`` tokens (and a leading BOS) so prompt + output fit."""
        tok = self._tokenizer
        ids: list[int] = tok(prompt)["input_ids"]
        if not ids:
            start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            ids = [start]
        if len(ids) > limit:
            keep = 1 if (tok.bos_token_id is not None and ids[0] == tok.bos_token_id and limit > 1) else 0
            ids = ids[:keep] + ids[len(ids) - (limit - keep):]
        return ids

    def _outcome(self, req: _Request, prompt_ids: list[int], ids: list[int]) -> Any:
        """A row's answer (or its exception) from its new token ids, cut at the first EOS."""
        assert self._table is not None
        eos = self._table.eos_id
        if eos in ids:
            ids = ids[: ids.index(eos)]
        text = self._tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        gen = Generation(text=text, prompt_tokens=len(prompt_ids), completion_tokens=len(ids))
        if not req.proposal:
            return gen
        assert self._grammar is not None
        try:
            return self._grammar.parse(text), gen
        except ProposalDecodingError as exc:
            return exc

    def _run_batch(self, batch: list[_Request]) -> _BatchResult:
        """One batched generate (runs in the worker thread).

        Rows that finish early are answered at once (through the event loop) rather than when the
        longest row of the batch is done; their slot in the returned outcomes is ``_DELIVERED``.
        """
        assert self._table is not None and self._event_loop is not None
        table, tok, model, loop = self._table, self._tokenizer, self._model, self._event_loop
        rows: list[RowConstraint] = []
        needs: list[int] = []
        for req in batch:
            if req.proposal:
                assert self._grammar is not None
                rows.append(self._grammar.new_state(req.budget))
                needs.append(self._grammar.max_new_tokens(req.budget))
            else:
                rows.append(FreeTextState(table, req.budget, printable=self.printable_only))
                needs.append(req.budget)
        new_tokens = min(max(needs), self._context - 1)
        prompts = [self._prompt_ids(req.prompt, self._context - new_tokens) for req in batch]
        width = max(len(p) for p in prompts)
        pad = tok.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self._device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self._device)
        delivered: set[int] = set()

        def on_row_done(i: int, row_ids: torch.Tensor) -> None:
            if len(batch) == 1:
                return  # nothing to gain: the batch ends now anyway
            try:
                outcome = self._outcome(batch[i], prompts[i], row_ids[width:].tolist())
            except Exception:  # answered with the rest of the batch instead
                log.exception("%s: early delivery failed", self.model_id)
                return
            try:
                loop.call_soon_threadsafe(_deliver, batch[i], outcome)
            except RuntimeError:  # the event loop is closed (runner stopped): nobody is waiting
                return
            delivered.add(i)

        processor = BatchConstraintProcessor(table, rows, on_row_done=on_row_done)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=new_tokens,
                do_sample=True,
                temperature=self.temperature,
                top_k=self.top_k,
                top_p=1.0,
                logits_processor=[processor],
                stopping_criteria=StoppingCriteriaList([_StopWhen(self._stopping)]),
                pad_token_id=pad,
                eos_token_id=table.eos_id,
            )
        seconds = time.perf_counter() - t0
        outcomes: list[Any] = []
        total = 0
        for i, (req, prompt_ids, ids) in enumerate(zip(batch, prompts, out[:, width:].tolist(), strict=True)):
            total += ids.index(table.eos_id) if table.eos_id in ids else len(ids)
            outcomes.append(_DELIVERED if i in delivered else self._outcome(req, prompt_ids, ids))
        return _BatchResult(outcomes, seconds, total)


class _StopWhen(StoppingCriteria):
    """Ends a running generate early once the runner is stopping (frees the CPU/GPU at shutdown)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


_DELIVERED = object()  # placeholder outcome: the row was answered before its batch ended


def _deliver(req: _Request, outcome: Any) -> None:
    """Resolve a request's future (on the event loop thread) unless it was cancelled or failed already."""
    if req.future.done():
        return
    if isinstance(outcome, BaseException):
        req.future.set_exception(outcome)
    else:
        req.future.set_result(outcome)
