"""The ASGI application: `create_app()` is the factory granian and tests use."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from .. import __version__
from ..jobs import maintenance_loop
from ..runtime import Runtime
from ..settings import get_settings
from . import client_gone, error_handlers
from .access_log import AccessLog, flush_access_log
from .api_docs import install_api_docs
from .cors import install_cors
from .framework_telemetry import fastapi_telemetry
from .json_body_limit import json_body_cap
from .openapi_errors import document_errors
from .openapi_limits import document_limits
from .request_gate import RequestGate
from .routes_audio import router as audio_router
from .routes_content import router as content_router
from .routes_keys import router as keys_router
from .routes_maintenance import router as maintenance_router
from .routes_public import router as public_router
from .routes_queues import router as queues_router
from .routes_hls import router as hls_router
from .routes_renditions import router as renditions_router
from .routes_system import router as system_router
from .routes_tokens import router as tokens_router
from .routes_speech import router as speech_router
from .routes_tts import router as tts_router
from .routes_tus import router as tus_router
from .routes_upload_urls import router as upload_urls_router
from .startup_heap import freeze_startup_heap
from .stop_on_signal import stop_work_on_signal
from .web_page import install_web_page

log = logging.getLogger("audiostore")


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """Build the app. With no `runtime`, one is built from `AUDIOSTORE_*` settings at start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.build(get_settings())
        owned = runtime is None
        if owned and rt.settings.migrate_on_start:
            await rt.migrate()
        app.state.runtime = rt
        try:
            with contextlib.ExitStack() as signals:
                if owned:  # a real server: a stop signal cancels the long work at once
                    signals.enter_context(stop_work_on_signal(rt.begin_shutdown))
                async with maintenance_loop(rt, enabled=owned):  # sweeper, retries, spool drain
                    if owned:
                        freeze_startup_heap()
                    yield
        finally:
            if owned:
                await rt.close()
            flush_access_log()

    app = FastAPI(
        title="audiostore",
        version=__version__,
        summary="Audio storage and delivery: upload, probe, sign, stream, expire, speak.",
        lifespan=lifespan,
        docs_url=None,  # our own /docs (api_docs): its assets from this server, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
        telemetry=fastapi_telemetry(),  # off unless OpenTelemetry is set up: a check a request less
    )
    if runtime is not None:
        app.state.runtime = runtime
    settings = runtime.settings if runtime else get_settings()
    generate_openapi = app.openapi

    def openapi_with_limits() -> dict[str, Any]:
        # Cached by FastAPI: filled once.
        return document_errors(document_limits(generate_openapi(), settings))

    app.openapi = openapi_with_limits  # type: ignore[method-assign]  # FastAPI's documented hook
    error_handlers.install(app)
    client_gone.install(app)  # a rendition whose client left: 499, nothing logged
    # A request is matched against the routers in this order, each route's pattern tried in
    # turn: the bytes, the most requested route (a player's every seek), come first; no other
    # router's pattern matches `/v1/audio/{audio_id}/content`. (Health probes never get here:
    # RequestGate, below.) Then the tus routes: an upload in 8 MiB PATCHes makes 128
    # requests a GiB, and each would otherwise be tried against every pattern below first.
    app.include_router(content_router)
    app.include_router(tus_router)
    app.include_router(upload_urls_router)  # before /v1/audio/{audio_id}
    app.include_router(audio_router)
    app.include_router(system_router)
    app.include_router(maintenance_router)
    app.include_router(renditions_router)
    app.include_router(queues_router)
    app.include_router(hls_router)
    app.include_router(tts_router)
    app.include_router(speech_router)
    app.include_router(keys_router)
    app.include_router(tokens_router)
    app.include_router(public_router)
    # The URL refusals, the body cap, the refused-upload drain and the health probe lane, in
    # one layer below CORS and the log (the drain delays their answer; they see the probe).
    app.add_middleware(RequestGate, json_body_bytes=json_body_cap(settings.tts_max_text_chars))
    install_web_page(app)  # the web page at /
    install_api_docs(app)  # Swagger UI at /docs, offline
    install_cors(app, settings)
    # Outermost: sees every answer (CORS preflights and errors too): the log line, the request
    # id, the metrics and the nosniff header, in one layer.
    app.add_middleware(AccessLog, enabled=settings.access_log)
    return app
