"""The sidecar's FastAPI app factory: settings in, app out; models and Redis live in the lifespan.

Routes are thin: validate, apply injected faults, hand the work to a batching model runner, and,
for proposals, store and publish through the Redis bus before answering 200.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sidecar.bus import BusUnavailable, ProposalBus, redact_url
from sidecar.faults import Faults, InjectedFault
from sidecar.metrics import SidecarMetrics
from sidecar.model_builder import resolve_model_dir
from sidecar.proposal_decoding import ProposalDecodingError
from sidecar.runner import ModelRunner, QueueFull, RunnerNotReady
from sidecar.schemas import (
    ErrorResponse,
    GenerateRequest,
    GenerateResponse,
    ProposeRequest,
    ProposeResponse,
    Usage,
)
from sidecar.security import API_KEY_HEADER, ApiKeyMiddleware
from sidecar.settings import MODEL_IDS, Settings

RETRY_AFTER_S = "1"
# Every status a POST route can answer besides 200 and FastAPI's own 422, so the OpenAPI document
# (and a schema-based fuzzer reading it) knows them all.
POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body could not be read as text (not UTF-8)"},
    401: {"model": ErrorResponse, "description": f"OSIRIS_API_KEY is set and {API_KEY_HEADER} is missing or wrong"},
    413: {"model": ErrorResponse, "description": "Request body larger than OSIRIS_MAX_BODY_BYTES"},
    503: {"model": ErrorResponse, "description": "Queue full (Retry-After), model not loaded or Redis unavailable"},
}
PROPOSE_RESPONSES = {**POST_RESPONSES, 501: {"model": ErrorResponse,
                                             "description": "The phi3 model's tokenizer cannot be constrained"}}


class Unavailable(Exception):
    """Answered as 503 with a message and, for overload, Retry-After."""

    def __init__(self, message: str, retry_after: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ObserveMiddleware:
    """Counts and times every request by route template, and refuses oversized bodies with 413.

    A plain ASGI middleware (no BaseHTTPMiddleware) keeps the per-request overhead small.
    """

    def __init__(self, app: ASGIApp, metrics: SidecarMetrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False

        async def send_observed(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            if self._too_large(scope):
                await _send_413(send_observed, self.max_body_bytes)
            else:
                await self.app(scope, _limited(receive, self.max_body_bytes), send_observed)
        except _BodyTooLarge:
            if not started:
                await _send_413(send_observed, self.max_body_bytes)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(label, method, str(status)).inc()
            self.metrics.request_latency.labels(label, method).observe(time.perf_counter() - start)

    def _too_large(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value) > self.max_body_bytes
                except ValueError:
                    return False
        return False


class _BodyTooLarge(HTTPException):
    """Raised from the body stream. An HTTPException, because FastAPI turns any other exception
    raised while reading the body into a 400; this one passes through as the 413 it is."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit} bytes")


def _limited(receive: Receive, limit: int) -> Receive:
    """Counts streamed (chunked) body bytes, so a body without Content-Length is bounded too."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge(limit)
        return message

    return wrapped


async def _send_413(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body too large: the limit is {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _prompt_error(prompt: str, settings: Settings) -> str | None:
    if not prompt.strip():
        return "prompt must not be empty"
    size = len(prompt.encode("utf-8"))
    if size > settings.max_prompt_bytes:
        return f"prompt is {size} bytes; the limit is {settings.max_prompt_bytes} bytes"
    return None


def _check_prompt(prompt: str, settings: Settings) -> None:
    """Rules that depend on settings, reported in FastAPI's own 422 format."""
    problem = _prompt_error(prompt, settings)
    if problem:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "prompt"), "msg": problem,
                                       "input": None}])


def create_app(settings: Settings | None = None, *, on_ready: Callable[[], None] | None = None) -> FastAPI:
    """Build the app. Models load and Redis connects in the lifespan, before the first request."""
    settings = settings or Settings()
    metrics = SidecarMetrics()
    faults = Faults(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runners: dict[str, ModelRunner] = {}
        for model_id in MODEL_IDS:
            directory = await asyncio.to_thread(resolve_model_dir, settings, model_id)
            runner = ModelRunner(
                model_id, directory, device=settings.device, max_batch_size=settings.max_batch_size,
                batch_window_ms=settings.batch_window_ms, max_queue=settings.max_queue, metrics=metrics,
                cpu_threads=settings.cpu_threads or None,
            )
            await runner.start()
            runners[model_id] = runner
        bus = ProposalBus(settings.redis_url, settings.proposal_stream, metrics) if settings.redis_url else None
        if bus is not None:
            await bus.ping()
        app.state.runners, app.state.bus = runners, bus
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            for runner in runners.values():
                await runner.stop()
            if bus is not None:
                await bus.close()

    app = FastAPI(
        title="Osiris LLM sidecar (osiris-load bundled target)",
        description="API-compatible with the Osiris sidecar: generate, propose_trade_adjustments, health, metrics.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings, app.state.metrics, app.state.faults = settings, metrics, faults
    if settings.api_key is not None and settings.api_key.get_secret_value():
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    # Added last, so outermost: 401s and 413s are counted in the metrics too.
    app.add_middleware(ObserveMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)

    @app.exception_handler(Unavailable)
    async def _unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        headers = {"Retry-After": RETRY_AFTER_S} if exc.retry_after else None
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)

    @app.exception_handler(ProposalDecodingError)
    async def _cannot_constrain(_: Request, exc: ProposalDecodingError) -> JSONResponse:
        return JSONResponse({"detail": f"this phi3 model cannot produce schema-constrained proposals: {exc}"},
                            status_code=501)

    @app.exception_handler(InjectedFault)
    async def _injected(_: Request, exc: InjectedFault) -> JSONResponse:
        return JSONResponse({"detail": f"injected fault on {exc} (OSIRIS_FAULT_ERROR_RATE)"},
                            status_code=faults.status)

    def runner_for(request: Request, model_id: str) -> ModelRunner:
        runner: ModelRunner | None = getattr(request.app.state, "runners", {}).get(model_id)
        if runner is None or not runner.loaded:
            raise Unavailable(f"model {model_id!r} is not loaded")
        return runner

    async def run_model(coro: Any, model_id: str) -> Any:
        try:
            return await coro
        except QueueFull as exc:
            raise Unavailable(f"model {model_id!r} is overloaded: the request queue is full; retry later",
                              retry_after=True) from exc
        except RunnerNotReady as exc:
            raise Unavailable(f"model {model_id!r} is not ready: {exc}") from exc

    @app.post("/generate", response_model=GenerateResponse, responses=POST_RESPONSES)
    @app.post("/generate/", response_model=GenerateResponse, responses=POST_RESPONSES, include_in_schema=False)
    async def generate(body: GenerateRequest, request: Request) -> GenerateResponse:
        _check_prompt(body.prompt, settings)
        await faults.apply("/generate")
        runner = runner_for(request, body.model_id)
        result = await run_model(runner.generate(body.prompt, body.max_length), body.model_id)
        return GenerateResponse(
            generated_text=result.text, model_id=body.model_id,
            usage=Usage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens),
        )

    @app.post("/propose_trade_adjustments/", response_model=ProposeResponse, responses=PROPOSE_RESPONSES)
    @app.post("/propose_trade_adjustments", response_model=ProposeResponse, responses=PROPOSE_RESPONSES,
              include_in_schema=False)
    async def propose(body: ProposeRequest, request: Request) -> ProposeResponse:
        _check_prompt(body.prompt, settings)
        await faults.apply("/propose_trade_adjustments")
        bus: ProposalBus | None = request.app.state.bus
        if bus is None:
            raise Unavailable("Redis is not configured (REDIS_URL); proposals cannot be stored")
        phi3, hermes = runner_for(request, "phi3"), runner_for(request, "hermes")
        proposal, _ = await run_model(phi3.generate_proposal(body.prompt, body.max_length), "phi3")
        assessment = await run_model(hermes.generate(_assessment_prompt(body.prompt, proposal), body.max_length),
                                     "hermes")
        transaction_id = str(uuid.uuid4())
        try:
            await bus.record(transaction_id, body.prompt, proposal, assessment.text)
        except BusUnavailable as exc:
            raise Unavailable(f"{exc}; the proposal was not acknowledged") from exc
        return ProposeResponse(transaction_id=transaction_id, phi3_proposal=proposal,
                               hermes_assessment=assessment.text)

    @app.get("/health", responses={503: {"description": "A model is not loaded or Redis is unreachable"}})
    async def health(request: Request) -> JSONResponse:
        await faults.apply("/health")
        runners: dict[str, ModelRunner] = getattr(request.app.state, "runners", {})
        bus: ProposalBus | None = getattr(request.app.state, "bus", None)
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

    @app.get("/metrics", response_class=Response)
    async def prometheus_metrics() -> Response:
        await faults.apply("/metrics")
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _assessment_prompt(prompt: str, proposal: dict[str, Any]) -> str:
    return (f"Request: {prompt}\nProposed adjustment: {proposal['action']} {proposal['ticker']} "
            f"(confidence {proposal['confidence']}). Risk assessment:")
