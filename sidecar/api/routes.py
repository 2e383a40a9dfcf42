"""The sidecar's routes: thin handlers on an APIRouter; settings, faults, runners and the Redis bus
come in as dependencies (read from the app's state, which the lifespan fills).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sidecar.api.faults import Faults
from sidecar.api.openai_format import SSE_HEADERS, Answer
from sidecar.api.schemas import (
    ErrorResponse,
    GenerateRequest,
    GenerateResponse,
    ProposeRequest,
    ProposeResponse,
    Usage,
)
from sidecar.api.security import API_KEY_HEADER
from sidecar.api.sse_events import events
from sidecar.engine.runner import ModelRunner, QueueFull, RunnerNotReady
from sidecar.infra.bus import BusUnavailable, ProposalBus, redact_url
from sidecar.infra.metrics import SidecarMetrics
from sidecar.infra.settings import MODEL_IDS, Settings

T = TypeVar("T")

RETRY_AFTER_S = "1"

# Every status a POST route can answer besides 200 and FastAPI's own 422, so the OpenAPI document
# (and a schema-based fuzzer reading it) knows them all.
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body could not be read as text (not UTF-8)"},
    401: {"model": ErrorResponse, "description": f"OSIRIS_API_KEY is set and {API_KEY_HEADER} is missing or wrong"},
    413: {"model": ErrorResponse, "description": "Request body larger than OSIRIS_MAX_BODY_BYTES"},
    503: {"model": ErrorResponse, "description": "Queue full (Retry-After), model not loaded or Redis unavailable"},
}
# A streamed answer ("stream": true): server-sent events, documented beside the JSON answer's schema.
STREAMED_200: dict[str, Any] = {
    "description": "The answer: JSON, or with \"stream\": true server-sent events (`data: {...}` chunks, then "
                   "`data: [DONE]`)",
    # the schema of one event (OpenAPI 3.1 tools read `schema` of text/event-stream per event): its data is
    # a JSON chunk or the closing [DONE]
    "content": {"text/event-stream": {"schema": {
        "type": "object", "required": ["data"],
        "properties": {"data": {"type": "string", "description": "A JSON chunk (contentMediaType application/json), "
                                                                 "or [DONE]"},
                       "event": {"type": "string"}, "id": {"type": "string"}}}}},
}
GENERATE_RESPONSES: dict[int | str, dict[str, Any]] = {200: STREAMED_200, **POST_RESPONSES}
PROPOSE_RESPONSES = {**POST_RESPONSES, 501: {"model": ErrorResponse,
                                             "description": "The phi3 model's tokenizer cannot be constrained"}}


class Unavailable(Exception):
    """Answered as 503 with a message and, for overload, Retry-After."""

    def __init__(self, message: str, retry_after: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# ------------------------------------------------------------------------------------------ dependencies


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


def get_metrics(request: Request) -> SidecarMetrics:
    metrics: SidecarMetrics = request.app.state.metrics
    return metrics


def get_runners(request: Request) -> dict[str, ModelRunner]:
    runners: dict[str, ModelRunner] = getattr(request.app.state, "runners", {})
    return runners


def get_bus(request: Request) -> ProposalBus | None:
    bus: ProposalBus | None = getattr(request.app.state, "bus", None)
    return bus


SettingsDep = Annotated[Settings, Depends(get_settings)]
FaultsDep = Annotated[Faults, Depends(get_faults)]
MetricsDep = Annotated[SidecarMetrics, Depends(get_metrics)]
RunnersDep = Annotated[dict[str, ModelRunner], Depends(get_runners)]
BusDep = Annotated[ProposalBus | None, Depends(get_bus)]


def ready_runner(runners: dict[str, ModelRunner], model_id: str) -> ModelRunner:
    runner = runners.get(model_id)
    if runner is None or not runner.loaded:
        raise Unavailable(f"model {model_id!r} is not loaded")
    return runner


def check_prompt(prompt: str, settings: Settings) -> None:
    """Rules that depend on settings, reported in FastAPI's own 422 format."""
    problem = None
    if not prompt.strip():
        problem = "prompt must not be empty"
    elif (size := len(prompt.encode("utf-8"))) > settings.max_prompt_bytes:
        problem = f"prompt is {size} bytes; the limit is {settings.max_prompt_bytes} bytes"
    if problem:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "prompt"), "msg": problem,
                                       "input": None}])


@contextmanager
def refusals_as_503(model_id: str) -> Iterator[None]:
    """A runner's refusals (queue full, not ready) turned into 503s."""
    try:
        yield
    except QueueFull as exc:
        raise Unavailable(f"model {model_id!r} is overloaded: the request queue is full; retry later",
                          retry_after=True) from exc
    except RunnerNotReady as exc:
        raise Unavailable(f"model {model_id!r} is not ready: {exc}") from exc


async def model_call(model_id: str, call: Awaitable[T]) -> T:
    """A runner's answer, with its refusals turned into 503s."""
    with refusals_as_503(model_id):
        return await call


# ------------------------------------------------------------------------------------------ routes

router = APIRouter()


@router.post("/generate", response_model=GenerateResponse, responses=GENERATE_RESPONSES)
@router.post("/generate/", response_model=GenerateResponse, responses=GENERATE_RESPONSES, include_in_schema=False)
async def generate(
    body: GenerateRequest,
    settings: SettingsDep,
    faults: FaultsDep,
    runners: RunnersDep,
) -> GenerateResponse | StreamingResponse:
    check_prompt(body.prompt, settings)
    await faults.apply("/generate")
    runner = ready_runner(runners, body.model_id)
    if body.stream:  # each piece as it is decoded, as /v1/completions streams it (usage always, then [DONE])
        with refusals_as_503(body.model_id):  # queue full: a 503 before the stream begins
            stream = runner.stream(body.prompt, body.max_length)
        return StreamingResponse(events(stream, Answer(body.model_id, chat=False), body.max_length, True),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    result = await model_call(body.model_id, runner.generate(body.prompt, body.max_length))
    return GenerateResponse(
        generated_text=result.text, model_id=body.model_id,
        usage=Usage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens),
    )


@router.post("/propose_trade_adjustments/", response_model=ProposeResponse, responses=PROPOSE_RESPONSES)
@router.post("/propose_trade_adjustments", response_model=ProposeResponse, responses=PROPOSE_RESPONSES,
             include_in_schema=False)
async def propose(
    body: ProposeRequest,
    settings: SettingsDep,
    faults: FaultsDep,
    runners: RunnersDep,
    bus: BusDep,
) -> ProposeResponse:
    check_prompt(body.prompt, settings)
    await faults.apply("/propose_trade_adjustments")
    if bus is None:
        raise Unavailable("Redis is not configured (REDIS_URL); proposals cannot be stored")
    phi3, hermes = ready_runner(runners, "phi3"), ready_runner(runners, "hermes")
    proposal, assessment = await propose_and_assess(phi3, hermes, body.prompt, body.max_length)
    transaction_id = str(uuid.uuid4())
    try:
        await bus.record(transaction_id, body.prompt, proposal, assessment)
    except BusUnavailable as exc:
        raise Unavailable(f"{exc}; the proposal was not acknowledged") from exc
    return ProposeResponse(transaction_id=transaction_id, phi3_proposal=proposal, hermes_assessment=assessment)


async def propose_and_assess(phi3: ModelRunner, hermes: ModelRunner, prompt: str,
                             max_length: int) -> tuple[dict[str, Any], str]:
    """phi3's proposal and hermes's assessment of it, overlapped.

    The assessment prompt needs only the proposal's head (ticker, action, confidence), which phi3
    decodes before the rationale; so hermes starts as soon as the head is out, while phi3 is still
    writing the rationale, instead of after the whole proposal.
    """
    head: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    proposing = asyncio.ensure_future(model_call("phi3", phi3.generate_proposal(prompt, max_length, head=head)))
    try:
        await asyncio.wait([head, proposing], return_when=asyncio.FIRST_COMPLETED)
        if head.done() and head.exception() is None:
            fields = head.result()
        else:  # the proposal ended (or failed) without a head: its own outcome decides
            fields, _ = await proposing
        assessment = await model_call("hermes", hermes.generate(assessment_prompt(prompt, fields), max_length))
        proposal, _ = await proposing
    finally:
        if not proposing.done():
            proposing.cancel()
        if not head.done():
            head.cancel()
    return proposal, assessment.text


def assessment_prompt(prompt: str, proposal: dict[str, Any]) -> str:
    return (f"Request: {prompt}\nProposed adjustment: {proposal['action']} {proposal['ticker']} "
            f"(confidence {proposal['confidence']}). Risk assessment:")


@router.get("/health", responses={503: {"description": "A model is not loaded or Redis is unreachable"}})
async def health(
    faults: FaultsDep,
    runners: RunnersDep,
    bus: BusDep,
) -> JSONResponse:
    await faults.apply("/health")
    problems = [f"model {m!r} is not loaded" for m in MODEL_IDS if not (m in runners and runners[m].loaded)]
    if bus is None:
        redis_state: dict[str, Any] = {"ok": False, "error": "REDIS_URL is not configured"}
    else:
        ok = await bus.ping()
        redis_state = {"ok": ok, "url": redact_url(bus.url), "stream": bus.stream,
                       "error": None if ok else bus.last_error}
    if not redis_state["ok"]:
        problems.append(f"redis is unreachable: {redis_state['error']}")
    body = {
        "status": "ok" if not problems else "unavailable",
        "problems": problems,
        "models": {m: runners[m].info() if m in runners else {"loaded": False} for m in MODEL_IDS},
        "redis": redis_state,
        "faults": faults.describe(),
    }
    return JSONResponse(body, status_code=200 if not problems else 503)


@router.get("/metrics", response_class=Response)
async def prometheus_metrics(
    faults: FaultsDep, metrics: MetricsDep,
) -> Response:
    await faults.apply("/metrics")
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

