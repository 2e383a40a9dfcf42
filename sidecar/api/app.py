"""The sidecar's FastAPI app factory: settings in, app out; models and Redis live in the lifespan.

The routes (:mod:`sidecar.api.routes`) are thin and take what they need as dependencies; the body-size
limit and the metrics are middlewares of their own (:mod:`sidecar.api.middleware`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sidecar.api.faults import Faults, InjectedFault
from sidecar.api.middleware import BodySizeLimitMiddleware, MetricsMiddleware
from sidecar.api.openai_format import error_response
from sidecar.api.openai_routes import OpenAIError
from sidecar.api.openai_routes import router as openai_router
from sidecar.api.routes import RETRY_AFTER_S, Unavailable, router
from sidecar.api.security import ApiKeyMiddleware
from sidecar.engine.constrained.vocabulary import ProposalDecodingError
from sidecar.engine.model_builder import resolve_model_dir
from sidecar.engine.runner import ModelRunner
from sidecar.infra.bus import ProposalBus
from sidecar.infra.metrics import SidecarMetrics
from sidecar.infra.settings import MODEL_IDS, Settings


def create_app(settings: Settings | None = None, *, on_ready: Callable[[], None] | None = None) -> FastAPI:
    """Build the app. Models load and Redis connects in the lifespan, before the first request."""
    settings = settings or Settings()
    metrics = SidecarMetrics()
    faults = Faults(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runners: dict[str, ModelRunner] = {}
        bus: ProposalBus | None = None
        try:
            for model_id in MODEL_IDS:
                directory = await asyncio.to_thread(resolve_model_dir, settings, model_id)
                runner = ModelRunner(
                    model_id, directory, device=settings.device, max_batch_size=settings.max_batch_size,
                    batch_window_ms=settings.batch_window_ms, max_queue=settings.max_queue, metrics=metrics,
                    cpu_threads=settings.cpu_threads or None, backend=settings.decode_backend,
                    export_cache_dir=settings.export_dir(),
                )
                runners[model_id] = runner
                await runner.start()
            bus = ProposalBus(settings.redis_url, settings.proposal_stream, metrics) if settings.redis_url else None
            if bus is not None:
                await bus.ping()
            app.state.runners, app.state.bus = runners, bus
            if on_ready is not None:
                on_ready()
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
    app.include_router(router)
    app.include_router(openai_router)
    # Added innermost first: the API key, then the body limit, then (outermost) the metrics, so that
    # 401s and 413s are counted too.
    if settings.api_key is not None and settings.api_key.get_secret_value():
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    # The OpenAI-compatible routes (/v1/...) answer every error as OpenAI's error object; the Osiris
    # routes keep FastAPI's {"detail": ...}.
    @app.exception_handler(Unavailable)
    async def _unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        headers = {"Retry-After": RETRY_AFTER_S} if exc.retry_after else None
        if _openai(request):
            return error_response(503, str(exc), headers=headers)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=headers)

    @app.exception_handler(ProposalDecodingError)
    async def _cannot_constrain(_: Request, exc: ProposalDecodingError) -> JSONResponse:
        return JSONResponse({"detail": f"this phi3 model cannot produce schema-constrained proposals: {exc}"},
                            status_code=501)

    @app.exception_handler(InjectedFault)
    async def _injected(request: Request, exc: InjectedFault) -> JSONResponse:
        message = f"injected fault on {exc} (OSIRIS_FAULT_ERROR_RATE)"
        if _openai(request):
            return error_response(faults.status, message, code="injected_fault")
        return JSONResponse({"detail": message}, status_code=faults.status)

    @app.exception_handler(OpenAIError)
    async def _openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return error_response(exc.status, str(exc), param=exc.param, code=exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Any:
        # A body FastAPI cannot parse (not UTF-8) is its own 400: on /v1 it reads as OpenAI's error too.
        if _openai(request) and exc.status_code == 400:
            return error_response(400, str(exc.detail), headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if not _openai(request):
            return await request_validation_exception_handler(request, exc)
        message, param = _validation_message(exc)
        return error_response(400, message, param=param)

    return app


def _openai(request: Request) -> bool:
    return request.url.path.startswith("/v1/")


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    """Every problem of a refused body, as ``where: what`` (OpenAI's one message), and the first field."""
    problems, param = [], None
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        param = param or where or None
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request body", param
