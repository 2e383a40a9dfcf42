"""Reading one streamed OpenAI-style answer: its TTFT, every inter-token gap, TPOT, e2e and tokens.

No Locust here (pure, and importable without gevent): :class:`StreamMeter` is fed each SSE line with
the clock reading taken when that line was read off the socket, so every figure is measured on the
client as the bytes arrive, never after the body ends:

- **TTFT**: request start to the first chunk that carries text (a chat's role-only first chunk
  carries none, so it does not count);
- **ITL**: the gap between consecutive text chunks, each gap one sample (a server that packs several
  tokens in one chunk gives one gap for them, as vLLM's and GuideLLM's clients count);
- **TPOT**: ``(e2e - TTFT) / (output tokens - 1)``; **e2e**: request start to ``[DONE]``;
- **tokens**: ``usage`` when the server sends it (``token_source = "usage"``), else the text chunks
  counted (``"chunks"``).

A stream fails (:class:`StreamFailure`, its message is the reason Locust shows) when it ends before
``[DONE]``, a chunk is not JSON, it carries an error object, or no text came at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from osiris_load.core.slo.k6_metrics import LLM_TOKENS, LLM_TRENDS, llm_entry_name

ENDPOINTS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
DATA = b"data:"
DONE = b"[DONE]"
_EXCERPT = 120


def measurement_names(path: str, scenario: str) -> tuple[str, str, str, str]:
    """The recorder names (method ``LLM``) of the TTFT, ITL, TPOT and E2EL samples of ``path`` asked by
    the user class ``scenario``, as the ``llm_ttft``, ``llm_itl``, ``llm_tpot`` and ``llm_e2el`` keys
    select them (``{name:...}``, ``{scenario:...}``)."""
    ttft, itl, tpot, e2el = (llm_entry_name(LLM_TRENDS[key], path, scenario)
                             for key in ("llm_ttft", "llm_itl", "llm_tpot", "llm_e2el"))
    return ttft, itl, tpot, e2el


def token_names(path: str, scenario: str) -> tuple[str, str]:
    """The recorder names of ``path``'s output and input tokens (``llm_output_tokens``, ``llm_input_tokens``)."""
    return (llm_entry_name(LLM_TOKENS["llm_output_tokens"], path, scenario),
            llm_entry_name(LLM_TOKENS["llm_input_tokens"], path, scenario))


class StreamFailure(Exception):
    """Why a stream is a failed request (short, shown in Locust's failures table)."""


@dataclass(frozen=True)
class Measurement:
    ttft_ms: float
    gaps_ms: list[float]
    e2e_ms: float
    output_tokens: int
    token_source: str  # "usage" or "chunks"
    input_tokens: int | None  # from usage; None when the server sent none

    @property
    def tpot_ms(self) -> float | None:
        """Time per output token after the first; None for a one-token answer."""
        if self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)


class StreamMeter:
    """Fed every line of one SSE body as it is read (see the module docstring)."""

    __slots__ = ("start", "chat", "first", "last", "gaps", "chunks", "usage", "done")

    def __init__(self, start: float, chat: bool) -> None:
        self.start, self.chat = start, chat
        self.first: float | None = None
        self.last = 0.0
        self.gaps: list[float] = []
        self.chunks = 0
        self.usage: dict[str, Any] | None = None
        self.done = False

    def feed(self, line: bytes, now: float) -> bool:
        """One line read at ``now`` (perf_counter seconds); True once ``[DONE]`` was read."""
        if not line.startswith(DATA):
            return False  # blank separators, ": comments", "event:"/"id:" fields
        data = line[len(DATA):].strip()
        if data == DONE:
            self.done = True
            return True
        try:
            chunk = json.loads(data)
        except ValueError:
            raise StreamFailure(f"stream chunk is not JSON: {data[:_EXCERPT].decode('utf-8', 'replace')}") from None
        if not isinstance(chunk, dict):
            raise StreamFailure(f"stream chunk is not a JSON object: {data[:_EXCERPT].decode('utf-8', 'replace')}")
        error = chunk.get("error")
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise StreamFailure(f"error in stream: {str(message)[:_EXCERPT]}")
        usage = chunk.get("usage")
        if usage:
            self.usage = usage
        choices = chunk.get("choices")
        if choices and self._text(choices[0]):
            if self.first is None:
                self.first = now
            else:
                self.gaps.append((now - self.last) * 1000.0)
            self.last = now
            self.chunks += 1
        return False

    def _text(self, choice: Any) -> Any:
        if not isinstance(choice, dict):
            return None
        if self.chat:
            delta = choice.get("delta")
            return delta.get("content") if isinstance(delta, dict) else None
        return choice.get("text")

    def finish(self, now: float) -> Measurement:
        """The request's figures once the body ended at ``now``; StreamFailure if it is no whole answer."""
        if not self.done:
            raise StreamFailure(f"stream ended before [DONE] (after {self.chunks} text chunks)")
        if self.first is None:
            raise StreamFailure("stream had no tokens (no chunk with text before [DONE])")
        usage = self.usage or {}
        completion = usage.get("completion_tokens")
        prompt = usage.get("prompt_tokens")
        from_usage = isinstance(completion, int) and completion > 0
        return Measurement(
            ttft_ms=(self.first - self.start) * 1000.0, gaps_ms=self.gaps, e2e_ms=(now - self.start) * 1000.0,
            output_tokens=completion if from_usage else self.chunks, token_source="usage" if from_usage else "chunks",
            input_tokens=prompt if isinstance(prompt, int) else None,
        )
