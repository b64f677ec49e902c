"""One renderer for every error: `{"error": {"code", "message"}}` with the real status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.responses import JSONResponse

from ..blobstores import BlobNotFound, BlobStoreUnavailable
from ..disk_space import is_out_of_space
from ..errors import (
    AudiostoreError, BadRequest, InsufficientStorage, NotFound, StorageUnavailable, ValidationFailed,
)

log = logging.getLogger("audiostore.http")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 413: "too_large"}


def _render(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path. Starlette's 405 names only the first route
    whose path matched (GET and HEAD of one path are two routes here). Asked of each route
    through `matches()`, which included routers answer too. A path that is a documented
    operation's own (`/v1/audio/speech`) is that resource alone, not also one value of a
    template beside it (`/v1/audio/{audio_id}`): its documented methods answer."""
    own = request.app.openapi().get("paths", {}).get(request.scope["path"])
    if own is not None:
        return [method for method in _METHODS if method.lower() in own]
    routes = request.app.router.routes
    return [
        method for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(AudiostoreError)
    async def _ours(_: Request, exc: AudiostoreError) -> JSONResponse:
        return _render(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return _render(422, ValidationFailed.code, "; ".join(parts) or "The request is not valid.")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return _render(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(ClientDisconnect)
    async def _body_cut(_: Request, exc: ClientDisconnect) -> JSONResponse:
        # The body ended early: the client hung up, or the server refused its framing (a bad
        # chunk size). The client's mistake, not ours; most often nobody reads this answer.
        return _render(400, BadRequest.code, "The request body ended before it was complete.")

    @app.exception_handler(BlobNotFound)
    async def _blob_gone(request: Request, exc: BlobNotFound) -> JSONResponse:
        # A safety net: the services say NotFound themselves where they expect this (an object
        # deleted while it was being read); anything else is a row whose blob is missing.
        log.warning("blob %s missing on %s %s", exc, request.method, request.url.path)
        return _render(404, NotFound.code, "The audio's bytes are missing from storage.")

    @app.exception_handler(BlobStoreUnavailable)
    async def _store_down(request: Request, exc: BlobStoreUnavailable) -> JSONResponse:
        # A safety net, as for BlobNotFound: a store that is down or past its deadline is
        # the server's passing condition (503, try again), never a 500.
        log.warning("blob store unavailable on %s %s: %s", request.method, request.url.path, exc)
        err = StorageUnavailable()
        return _render(err.status, err.code, err.message, err.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(500, "internal", "Internal error; it has been logged.")

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        # A safety net, as for BlobNotFound: the write paths say InsufficientStorage themselves
        # (staging, blobs, spool, catalogue); a library's scratch write (an encoder's output,
        # a waveform file) that meets a full disk is still the server's condition, not a bug.
        if is_out_of_space(exc):
            log.warning("disk full on %s %s: %s", request.method, request.url.path, exc)
            err = InsufficientStorage()
            return _render(err.status, err.code, err.message)
        return await _bug(request, exc)
