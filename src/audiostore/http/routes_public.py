"""Public collections: `/v1/public/...` plays with no key; `/v1/collections/.../public` sets it.

A public object's URL is `/v1/public/{owner}/{collection}/{id or name}`: stable, with no
signature and no expiry. By id it is one file for ever; by name it is the newest file of that
name, so a link can be moved to a new recording by uploading it under the same name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from ..service import Principal
from ..service.renditions import wants_rendition
from . import openapi_limits as limits
from .auth import principal, runtime_of
from .client_gone import unless_client_leaves
from .content_response import render_content
from .schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["public"], responses={"4XX": {"model": ErrorResponse}})
KeyHolder = Annotated[Principal, Depends(principal)]

_BYTES = {"audio/*": {"schema": {"type": "string", "format": "binary"}}}
_CONTENT_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": _BYTES, "description": "The bytes (a HEAD: only the headers)."},
    206: {"content": _BYTES, "description": "The requested Range."},
    304: {"description": "If-None-Match matched the ETag."},
}


class PublicCollectionInfo(BaseModel):
    owner: str
    collection: str
    source: str
    created_at: datetime | None = None
    url: str


class PublicCollectionList(BaseModel):
    items: list[PublicCollectionInfo]


def _info(request: Request, owner: str, collection: str, source: str,
          created_at: datetime | None) -> PublicCollectionInfo:
    base = runtime_of(request).settings.resolved_public_url
    return PublicCollectionInfo(owner=owner, collection=collection, source=source,
                                created_at=created_at, url=f"{base}/v1/public/{owner}/{collection}/")


@router.put("/collections/{owner}/{collection}/public", response_model=PublicCollectionInfo)
async def make_public(owner: str, collection: str, request: Request, who: KeyHolder) -> PublicCollectionInfo:
    """Make a collection public (an API key of its owner, or an admin key): its objects play at
    `/v1/public/{owner}/{collection}/{id or name}` with no key. Idempotent."""
    made = await runtime_of(request).public.publish(who, owner, collection)
    return _info(request, made.owner, made.collection, made.source, made.created_at)


@router.delete("/collections/{owner}/{collection}/public", status_code=204, response_class=Response)
async def make_private(owner: str, collection: str, request: Request, who: KeyHolder) -> Response:
    """Make it private again: its public URLs answer 404 at once on this server, within
    AUDIOSTORE_PUBLIC_CACHE_SECONDS on the others. 404 if it was not public."""
    await runtime_of(request).public.unpublish(who, owner, collection)
    return Response(status_code=204)


@router.get("/collections/public", response_model=PublicCollectionList)
async def list_public(
    request: Request, who: KeyHolder,
    owner: Annotated[str | None, Query(description="Admins: this owner's only.")] = None,
) -> PublicCollectionList:
    """The public collections of the key's owner (admins: everyone's, or `owner`'s)."""
    found = await runtime_of(request).public.listed(who, owner)
    return PublicCollectionList(
        items=[_info(request, p.owner, p.collection, p.source, p.created_at) for p in found]
    )


@router.get("/public/{owner}/{collection}/{ref}", response_class=Response, responses=_CONTENT_DOC)
@router.head("/public/{owner}/{collection}/{ref}", response_class=Response, responses=_CONTENT_DOC)
async def public_content(owner: str, collection: str, ref: str, request: Request) -> Response:
    """The bytes of an object of a public collection, by id or name, with no key: Range, ETag,
    If-None-Match and If-Range as `/v1/audio/{id}/content`, and `?format=...` for a rendition.
    404 unless the collection is public and holds the object."""
    public = runtime_of(request).public
    params = dict(request.query_params)
    opening = public.open_content(owner, collection, ref, params)
    source = await (unless_client_leaves(request, opening) if wants_rendition(params) else opening)
    return render_content(source, request, cache_control=public.cache_control(source))


@router.get(
    "/public/{owner}/{collection}/queues/{name}/stream.mp3",
    response_class=StreamingResponse, responses={200: {"content": {"audio/mpeg": {}}}},
)
async def public_queue_stream(
    owner: str, collection: str, name: str, request: Request,
    mode: str = Query("sequential", description="sequential, loop, shuffle or endless-shuffle.",
                      json_schema_extra=limits.MODE),
) -> StreamingResponse:
    """The owner's queue `name` as one continuous MP3, with no key, playing only its items in
    this public collection; it ends at the next item once the collection is private."""
    icy = request.headers.get("icy-metadata", "").strip() == "1"
    stream = await runtime_of(request).public.open_stream(owner, collection, name, mode=mode, icy=icy)
    return StreamingResponse(stream.body, headers=stream.headers, media_type="audio/mpeg")
