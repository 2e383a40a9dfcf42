"""The sidecar's FastAPI app factory: settings in, app out; models and Redis live in the lifespan.

The routes (:mod:`sidecar.routes`) are thin and take what they need as dependencies; the body-size
limit and the metrics are middlewares of their own (:mod:`sidecar.middleware`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sidecar.bus import ProposalBus
from sidecar.constrained.vocabulary import ProposalDecodingError
from sidecar.faults import Faults, InjectedFault
from sidecar.metrics import SidecarMetrics
from sidecar.middleware import BodySizeLimitMiddleware, MetricsMiddleware
from sidecar.model_builder import resolve_model_dir
from sidecar.routes import RETRY_AFTER_S, Unavailable, router
from sidecar.runner import ModelRunner
from sidecar.security import ApiKeyMiddleware
from sidecar.settings import MODEL_IDS, Settings


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
    # Added innermost first: the API key, then the body limit, then (outermost) the metrics, so that
    # 401s and 413s are counted too.
    if settings.api_key is not None and settings.api_key.get_secret_value():
        app.add_middleware(ApiKeyMiddleware, api_key=settings.api_key.get_secret_value())
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

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

    return app
