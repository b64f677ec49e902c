"""`GET /v1/health` answered before routing: the probe every load balancer sends.

The probe does one catalogue ping; routing it through FastAPI cost more than that: matching
the path against the routers in turn, the dependency solver for its `Request`, the response
class. The request gate (request_gate.py), inside every other layer of ours (the access log,
request id, metrics and nosniff header, CORS all still see the probe), answers the plain probe
with this lane after the URL refusals and the body cap, with the very bytes the route sends
(`routes_system.health_body`).

Only the exact probe takes this lane: `GET`, path `/v1/health`, no query, no root path. Any
other request, a `HEAD` or a query included, goes on to the router and its route, which stays
what the OpenAPI document describes.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope, Send

from .routes_system import HEALTH_MEDIA_TYPE, health_body
from .routes_system import router as system_router

__all__ = ["HEALTH_PATH", "HealthProbes"]

HEALTH_PATH = "/v1/health"


def _health_route() -> Any:
    """The route object the access log reads its template from (`scope["route"].path`)."""
    for route in system_router.routes:
        if getattr(route, "path", None) == HEALTH_PATH:
            return route
    raise LookupError(f"no {HEALTH_PATH} route")


class HealthProbes:
    """The probe lane: `takes` says whether a request is the plain probe, `answer` answers it."""

    def __init__(self) -> None:
        self.route = _health_route()
        self._content_type = HEALTH_MEDIA_TYPE.encode()

    @staticmethod
    def takes(scope: Scope) -> bool:
        return (
            scope["path"] == HEALTH_PATH
            and scope["method"] == "GET"
            and not scope["query_string"]
            and not scope.get("root_path")
        )

    async def answer(self, scope: Scope, send: Send) -> None:
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
