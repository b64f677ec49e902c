"""What is decided about a request before routing, in one pure ASGI layer.

Each decision is its own module: a repeated query parameter (repeated_query.py) or a NUL in
the URL (nul_refusal.py) refused with 400, a body other than an upload capped
(json_body_limit.py), an upload refused before its body is read drained first so the client
gets the answer (refused_upload_body.py), the plain health probe answered without routing
(health_probe.py). They were five layers; each layer is a call, an `await` and a frame more
on every request, and on every body message for those that wrap `receive`. Here a request
none of them concerns costs the checks and one call to the app.

Order, as the layers had it: the refusals first (a probe with a repeated query is refused
too), then the body cap and the drain, then the probe lane.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import AudiostoreError
from .health_probe import HealthProbes
from .json_body_limit import JsonBodyCap, is_upload
from .nul_refusal import nul_refusal
from .refused_upload_body import drain_before_refusal, takes_upload
from .repeated_query import repeated_query_refusal

__all__ = ["RequestGate"]


class RequestGate:
    """Pure ASGI: refusals answered here, bodies capped or drained, the health probe answered;
    everything else passes on to the app."""

    def __init__(self, app: ASGIApp, *, json_body_bytes: int) -> None:
        self.app = app
        self.json_bodies = JsonBodyCap(json_body_bytes)
        self.health = HealthProbes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal: AudiostoreError | None = repeated_query_refusal(scope) or nul_refusal(scope)
        if refusal is None and not is_upload(scope):
            refusal = self.json_bodies.refusal(scope)
            receive = self.json_bodies.counted(receive)
        if refusal is not None:
            await JSONResponse(refusal.to_dict(), status_code=refusal.status)(scope, receive, send)
            return
        if takes_upload(scope):
            receive, send = drain_before_refusal(receive, send)
        if self.health.takes(scope):
            await self.health.answer(scope, send)
            return
        await self.app(scope, receive, send)
