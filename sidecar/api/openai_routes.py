"""OpenAI-compatible routes: ``GET /v1/models``, ``POST /v1/completions``, ``POST /v1/chat/completions``.

Served by the same runners (and so the same batched decode loop) as ``/generate``. A streamed answer
sends each piece of text as an SSE chunk as soon as the decode loop hands it over: nothing on the way
buffers (the middlewares pass body messages straight through, and ``StreamingResponse`` sends each
yielded chunk as its own ASGI message). When the client goes away the response's generator is closed,
which ends the request's decode row at its next step (:meth:`sidecar.engine.token_stream.TokenStream.close`).
Errors are OpenAI's error objects (see :mod:`sidecar.api.app` for the handlers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from sidecar.api.openai_format import OWNER, SSE_HEADERS, Answer, finish_reason, usage
from sidecar.api.openai_schemas import ChatCompletionRequest, CompletionRequest, OpenAIErrorResponse
from sidecar.api.routes import (
    POST_RESPONSES,
    STREAMED_200,
    FaultsDep,
    RunnersDep,
    SettingsDep,
    model_call,
    ready_runner,
    refusals_as_503,
)
from sidecar.api.sse_events import events
from sidecar.engine.runner import ModelRunner
from sidecar.infra.settings import MODEL_IDS, Settings

# 401 and 413 come from the middlewares, before any route ({"detail"}, as POST_RESPONSES says); the
# route's own errors are OpenAI's error object.
OPENAI_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {**STREAMED_200, "content": {"application/json": {"schema": {"type": "object"}}, **STREAMED_200["content"]}},
    **POST_RESPONSES,
    400: {"model": OpenAIErrorResponse, "description": "A body that is not valid (OpenAI error object)"},
    404: {"model": OpenAIErrorResponse, "description": "Unknown model (OpenAI error object)"},
    503: {"model": OpenAIErrorResponse, "description": "Queue full (Retry-After), model not loaded (OpenAI error "
                                                       "object)"},
}


class OpenAIError(Exception):
    """Answered as OpenAI's error object with this status (see sidecar.api.app)."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.param, self.code = status, param, code


router = APIRouter(prefix="/v1")


@router.get("/models")
async def list_models() -> dict[str, Any]:
    return {"object": "list",
            "data": [{"id": m, "object": "model", "created": 0, "owned_by": OWNER} for m in MODEL_IDS]}


@router.post("/completions", responses=OPENAI_RESPONSES)
async def completions(body: CompletionRequest, settings: SettingsDep, faults: FaultsDep,
                      runners: RunnersDep) -> Any:
    runner = model_runner(runners, body.model)
    return await answer(runner, body, body.text, "prompt", settings, faults, "/v1/completions", chat=False)


@router.post("/chat/completions", responses=OPENAI_RESPONSES)
async def chat_completions(body: ChatCompletionRequest, settings: SettingsDep, faults: FaultsDep,
                           runners: RunnersDep) -> Any:
    runner = model_runner(runners, body.model)
    prompt = runner.chat_prompt([m.model_dump() for m in body.messages])
    return await answer(runner, body, prompt, "messages", settings, faults, "/v1/chat/completions", chat=True)


def model_runner(runners: dict[str, ModelRunner], model: str) -> ModelRunner:
    if model not in MODEL_IDS:
        raise OpenAIError(404, f"The model {model!r} does not exist (models: {', '.join(MODEL_IDS)})",
                          param="model", code="model_not_found")
    return ready_runner(runners, model)


async def answer(runner: ModelRunner, body: CompletionRequest | ChatCompletionRequest, prompt: str, param: str,
                 settings: Settings, faults: Any, route: str, *, chat: bool) -> Any:
    """The whole answer, or (``stream``) the SSE stream of its pieces."""
    size = len(prompt.encode("utf-8"))
    if size > settings.max_prompt_bytes:
        raise OpenAIError(400, f"{param}: the prompt is {size} bytes; the limit is {settings.max_prompt_bytes} "
                          "bytes (OSIRIS_MAX_PROMPT_BYTES)", param=param, code="prompt_too_long")
    await faults.apply(route)
    limit, shape = body.token_limit, Answer(body.model, chat)
    options = {"temperature": body.temperature, "ignore_eos": body.exact_length}
    if not body.stream:
        gen = await model_call(body.model, runner.generate(prompt, limit, **options))
        used = usage(gen.prompt_tokens, gen.completion_tokens)
        return JSONResponse(shape.whole(gen.text, finish_reason(gen.completion_tokens, limit), used))
    with refusals_as_503(body.model):  # queue full: a 503 before the stream begins
        stream = runner.stream(prompt, limit, **options)
    return StreamingResponse(events(stream, shape, limit, body.include_usage), media_type="text/event-stream",
                             headers=SSE_HEADERS)
