"""`GET /v1/health` answered before routing: the probe every load balancer sends.

The probe does one catalogue ping; routing it through FastAPI cost more than that: matching
the path against the routers in turn, the dependency solver for its `Request`, the response
class. This pure ASGI layer sits inside every other layer of ours (the access log, request
id, metrics and nosniff header, CORS, the URL refusals all still see the probe) and answers
the plain probe itself, with the very bytes the route sends (`routes_system.health_body`).

Only the exact probe takes this lane: `GET`, path `/v1/health`, no query, no root path. Any
other request, a `HEAD` or a query included, goes on to the router and its route, which stays
what the OpenAPI document describes.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from .routes_system import HEALTH_MEDIA_TYPE, health_body
from .routes_system import router as system_router

__all__ = ["AnswerHealthProbes", "HEALTH_PATH"]

HEALTH_PATH = "/v1/health"


def _health_route() -> Any:
    """The route object the access log reads its template from (`scope["route"].path`)."""
    for route in system_router.routes:
        if getattr(route, "path", None) == HEALTH_PATH:
            return route
    raise LookupError(f"no {HEALTH_PATH} route")


class AnswerHealthProbes:
    """Pure ASGI: the plain health probe is answered here; everything else passes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = _health_route()
        self._content_type = HEALTH_MEDIA_TYPE.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != HEALTH_PATH
            or scope["method"] != "GET"
            or scope["query_string"]
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        body = await health_body(scope["app"].state.runtime)
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", self._content_type),
            ],
        })
        await send({"type": "http.response.body", "body": body})
