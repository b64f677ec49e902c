"""`Authorization: Bearer <key or client token>` -> Principal, as FastAPI dependencies.

Each route names what it needs: `scoped(READ)` and the like take an API key or a client token
with that scope; `principal` an API key only (minting tokens, publishing collections);
`admin_principal` an admin key. A client token is told from a key by its shape (a JWT), and
verified without a catalogue read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from ..errors import Forbidden, ScopeDenied
from ..runtime import Runtime
from ..service import Principal
from ..service.client_tokens import looks_like_token
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


async def authenticate(request: Request) -> Principal:
    """The key's or client token's principal; refused ones raise. Its owner goes in the
    request's access-log line."""
    rt = runtime_of(request)
    bearer = bearer_token(request)
    if bearer and looks_like_token(bearer):
        who = await rt.tokens.authenticate(bearer)
    else:
        who = await rt.keys.authenticate(bearer)
    record_owner(request.scope, who.owner)
    return who


def scoped(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency: an API key, or a client token minted with `scope` (else 403)."""

    async def dependency(request: Request) -> Principal:
        who = await authenticate(request)
        who.require(scope)
        return who

    dependency.__name__ = f"{scope}_principal"
    return dependency


async def principal(request: Request) -> Principal:
    """An API key's principal; a client token is refused (403) where no scope was named."""
    who = await authenticate(request)
    if who.grant is not None:
        raise ScopeDenied("This needs an API key; client tokens are not accepted here.")
    return who


async def admin_principal(request: Request) -> Principal:
    try:
        who = await principal(request)
    except ScopeDenied as exc:
        raise Forbidden() from exc
    if not who.admin:
        raise Forbidden()
    return who

