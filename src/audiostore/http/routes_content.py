"""GET|HEAD /v1/audio/{id}/content: by API key, or by a signed URL with no header at all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ..service import ContentSource
from ..service.fast_start import FastStart, LiveRendition, UnmadeRendition
from ..service.renditions import wants_rendition
from ..signing import EXPIRES_PARAM, SIGNATURE_PARAM, parse_signed_query
from ..service.principal import READ
from .auth import runtime_of, scoped
from .client_gone import unless_client_leaves
from .content_response import render_content, shared_cache_control
from .live_response import render_live, render_unmade
from .schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["content"])
MAX_PREFERRED_WAIT = 3600  # seconds; a rendition is under its processing budget long before


_BYTES = {"audio/*": {"schema": {"type": "string", "format": "binary"}}}
_CONTENT_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": _BYTES, "description": "The bytes (a HEAD: only the headers)."},
    206: {"content": _BYTES, "description": "The requested Range."},
    304: {"description": "If-None-Match matched the ETag."},
    307: {"description": "On S3 in direct mode (with an API key): a short-lived presigned URL."},
    "4XX": {"model": ErrorResponse, "description": "401 no or bad key; 403 a signed URL that "
            "does not hold; 404 no such audio (or another owner's); 416 a bad Range; 422 a bad "
            "rendition request."},
    "5XX": {"model": ErrorResponse, "description": "503 the store cannot be reached."},
}


# Two routes, not one `api_route` with both methods: that gives GET and HEAD one operation id.
@router.get("/audio/{audio_id}/content", response_class=Response, responses=_CONTENT_DOC)
@router.head("/audio/{audio_id}/content", response_class=Response, responses=_CONTENT_DOC)
async def audio_content(audio_id: str, request: Request) -> Response:
    """The audio's bytes, with Range (206/416), ETag, If-None-Match (304) and If-Range.

    Either send `Authorization: Bearer <key>`, or use a URL from `POST /v1/audio/{id}/url`
    (its `expires` and `signature` parameters stand in for the key).
    """
    rt = runtime_of(request)
    query = request.query_params
    head = request.method == "HEAD"
    if SIGNATURE_PARAM in query or EXPIRES_PARAM in query:
        signed = parse_signed_query(request.url.query)  # the raw query: 403 unless canonical
        if wants_rendition(signed.params):
            # A rendition may be made first: nobody should pay for it once the client has gone.
            opened = await unless_client_leaves(request, FastStart(rt.audio, rt.renditions).open_signed(
                audio_id, expires=signed.expires, signature=signed.signature,
                params=signed.params, head=head, wait=preferred_wait(request),
            ))
        else:
            opened = await rt.audio.open_signed_content(
                audio_id, expires=signed.expires, signature=signed.signature, params=signed.params,
            )
        if not isinstance(opened, ContentSource):
            return await _render_first_play(opened, request)
        shared = shared_cache_control(opened, int(signed.expires), rt.audio.clock())
        return render_content(opened, request, cache_control=shared)
    who = await scoped(READ)(request)
    if wants_rendition(query):
        opened = await unless_client_leaves(
            request, FastStart(rt.audio, rt.renditions).open_content(
                who, audio_id, dict(query), head=head, wait=preferred_wait(request)
            )
        )
        if not isinstance(opened, ContentSource):
            return await _render_first_play(opened, request)
        return render_content(opened, request)
    return render_content(await rt.audio.open_content(who, audio_id), request)


def preferred_wait(request: Request) -> float | None:
    """`Prefer: wait=N` (RFC 7240): how long the client would wait for a whole rendition."""
    for preference in request.headers.get("prefer", "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return float(min(int(value.strip()), MAX_PREFERRED_WAIT))
    return None


async def _render_first_play(opened: LiveRendition | UnmadeRendition, request: Request) -> Response:
    if isinstance(opened, UnmadeRendition):
        return render_unmade(opened)
    return await render_live(opened, request)
