"""Request and response bodies of the sidecar API (compatible with the original Osiris sidecar)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictStr

ModelId = Literal["hermes", "phi3"]
MAX_LENGTH_LIMIT = 1024  # documented range of max_length: 1..1024 new tokens


class GenerateRequest(BaseModel):
    prompt: StrictStr
    model_id: ModelId = "hermes"
    max_length: int = Field(default=256, ge=1, le=MAX_LENGTH_LIMIT)
    # true: server-sent events as /v1/completions streams them (text_completion chunks, usage, [DONE])
    stream: bool = False


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class GenerateResponse(BaseModel):
    generated_text: str
    model_id: ModelId
    usage: Usage


class ProposeRequest(BaseModel):
    prompt: StrictStr
    max_length: int = Field(default=64, ge=1, le=MAX_LENGTH_LIMIT)


class ProposeResponse(BaseModel):
    transaction_id: str
    phi3_proposal: dict[str, Any]
    hermes_assessment: str


class ErrorResponse(BaseModel):
    detail: Any
