"""`Authorization: Bearer <key>` -> Principal, as a FastAPI dependency."""

from __future__ import annotations

from fastapi import Request

from ..errors import Forbidden
from ..runtime import Runtime
from ..service import Principal
from .access_log import record_owner


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime  # starlette's State holds Any
    return runtime


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def principal(request: Request) -> Principal:
    """The key's (or client token's) principal; refused keys raise. Its owner goes in the
    request's access-log line."""
    who = await runtime_of(request).keys.authenticate(bearer_token(request))
    record_owner(request.scope, who.owner)
    return who


async def admin_principal(request: Request) -> Principal:
    who = await principal(request)
    if not who.admin:
        raise Forbidden()
    return who
