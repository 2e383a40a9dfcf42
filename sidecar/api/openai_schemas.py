"""Request bodies of the OpenAI-compatible routes (``/v1/completions``, ``/v1/chat/completions``).

Only what the sidecar acts on is declared; other OpenAI fields (``top_p``, ``presence_penalty``,
``user``...) are accepted and ignored, as most OpenAI-compatible servers do. Lengths share the
Osiris routes' limit (1..1024 new tokens).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from sidecar.api.schemas import MAX_LENGTH_LIMIT

COMPLETION_MAX_TOKENS = 16  # OpenAI's legacy completions default
CHAT_MAX_TOKENS = 256  # OpenAI's chat default is "until the context ends"; this is /generate's default


class StreamOptions(BaseModel):
    include_usage: bool = False


class _Sampling(BaseModel):
    """What both routes share: the model, the length, the temperature, streaming."""

    model_config = ConfigDict(extra="ignore")
    default_max_tokens: ClassVar[int] = COMPLETION_MAX_TOKENS

    model: StrictStr
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_LENGTH_LIMIT)
    temperature: float | None = Field(default=None, ge=0, le=2)
    n: int = Field(default=1, ge=1, le=1)  # one choice per request
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False  # vLLM's extension: always generate max_tokens tokens
    min_tokens: int | None = Field(default=None, ge=0, le=MAX_LENGTH_LIMIT)  # = max_tokens: same as ignore_eos

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage

    @property
    def token_limit(self) -> int:
        return self.max_tokens or self.default_max_tokens

    @property
    def exact_length(self) -> bool:
        """Generate exactly ``token_limit`` tokens (``ignore_eos``, or ``min_tokens`` at the limit)."""
        return self.ignore_eos or (self.min_tokens is not None and self.min_tokens >= self.token_limit)


class CompletionRequest(_Sampling):
    prompt: StrictStr | list[StrictStr] = Field(description="one prompt (a list must hold exactly one)")

    @model_validator(mode="after")
    def _one_prompt(self) -> CompletionRequest:
        if isinstance(self.prompt, list):
            if len(self.prompt) != 1:
                raise ValueError(f"prompt: exactly one prompt per request is supported, got {len(self.prompt)}")
        return self

    @property
    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: StrictStr

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, value: object) -> object:
        """OpenAI's content parts (``[{"type": "text", "text": ...}]``, as GuideLLM and the OpenAI SDK
        send them) read as their texts joined; any other part is refused by name."""
        if not isinstance(value, list):
            return value
        texts = []
        for i, part in enumerate(value):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                raise ValueError(f"content part {i}: only text parts ({{\"type\": \"text\", \"text\": ...}}) are "
                                 f"supported, got {kind if kind is not None else type(part).__name__!r}")
            texts.append(part["text"])
        return "".join(texts)


class ChatCompletionRequest(_Sampling):
    default_max_tokens: ClassVar[int] = CHAT_MAX_TOKENS
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_LENGTH_LIMIT)

    @model_validator(mode="after")
    def _newer_length_wins(self) -> ChatCompletionRequest:
        """``max_completion_tokens`` (OpenAI's newer name) wins over ``max_tokens``."""
        if self.max_completion_tokens is not None:
            self.max_tokens = self.max_completion_tokens
        return self


class OpenAIErrorDetail(BaseModel):
    """OpenAI's error fields (``sidecar.api.openai_format.error_body`` writes them)."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """The body of every error a ``/v1`` route answers itself (bad body, unknown model, overload): the
    OpenAPI document says so, so a schema-based client or fuzzer expects this, not ``{"detail"}``."""

    error: OpenAIErrorDetail
