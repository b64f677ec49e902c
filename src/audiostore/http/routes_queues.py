"""/v1/queues/{name}: named queues of audio ids and their continuous MP3 stream."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StrictBool

from ..service import Principal
from ..service.hls import HlsService
from ..service.queue_hls import QueueHls
from ..service.queue_urls import is_signed
from ..service.queues import QueueView
from ..service.principal import DELETE, READ, UPLOAD
from .auth import runtime_of, scoped
from . import openapi_limits as limits
from .schemas import ErrorResponse, RequestBody

router = APIRouter(prefix="/v1", tags=["queues"], responses={"4XX": {"model": ErrorResponse}})
Reader = Annotated[Principal, Depends(scoped(READ))]
Writer = Annotated[Principal, Depends(scoped(UPLOAD))]
Deleter = Annotated[Principal, Depends(scoped(DELETE))]


class QueueBody(RequestBody):
    audio_ids: list[str] = Field(description="Audio ids in play order (repeats allowed).")


class QueueUrlRequest(RequestBody):
    mode: str = Field("sequential", description="sequential, loop, shuffle or endless-shuffle.",
                      json_schema_extra=limits.MODE)
    expires_in: int | None = Field(None, description="Seconds; default AUDIOSTORE_URL_DEFAULT_EXPIRY.")
    hls: StrictBool = Field(False, description="true: a signed URL of the queue's HLS playlist "
                            "instead of its MP3 stream.")


class QueueUrlResponse(BaseModel):
    name: str
    mode: str
    url: str = Field(description="Plays the stream with no header until `expires_at`.")
    expires_at: datetime


class QueueItem(BaseModel):
    id: str
    name: str
    duration: float


class QueueObject(BaseModel):
    name: str
    audio_ids: list[str] = Field(description="Items still playable (expired or deleted ones drop out).")
    items: list[QueueItem]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_view(cls, v: QueueView) -> QueueObject:
        return cls(
            name=v.name, audio_ids=v.audio_ids, created_at=v.created_at, updated_at=v.updated_at,
            items=[QueueItem(id=r.id, name=r.name, duration=r.duration) for r in v.items],
        )


@router.put("/queues/{name}", response_model=QueueObject)
async def put_queue(name: str, body: QueueBody, request: Request, who: Writer) -> QueueObject:
    """Create or replace a queue."""
    return QueueObject.from_view(await runtime_of(request).queues.put(who, name, body.audio_ids))


@router.get("/queues/{name}", response_model=QueueObject)
async def get_queue(name: str, request: Request, who: Reader) -> QueueObject:
    return QueueObject.from_view(await runtime_of(request).queues.get(who, name))


@router.delete("/queues/{name}", status_code=204, response_class=Response)
async def delete_queue(name: str, request: Request, who: Deleter) -> Response:
    await runtime_of(request).queues.delete(who, name)
    return Response(status_code=204)


@router.post("/queues/{name}/url", response_model=QueueUrlResponse)
async def sign_queue_url(
    name: str, request: Request, who: Reader, body: QueueUrlRequest | None = None
) -> QueueUrlResponse:
    """A signed URL that plays the queue's stream with no header: for players, speakers and
    devices that cannot send an API key. It opens this queue in this mode only."""
    body = body or QueueUrlRequest()
    rt = runtime_of(request)
    if body.hls:
        url, expires_at = await QueueHls(rt.queues, HlsService(rt.audio, rt.renditions)).sign_for(
            who, name, mode=body.mode, expires_in=body.expires_in
        )
        return QueueUrlResponse(name=name, mode=body.mode, url=url, expires_at=expires_at)
    signed = await runtime_of(request).queue_urls.sign(who, name, mode=body.mode, expires_in=body.expires_in)
    return QueueUrlResponse(name=signed.name, mode=signed.mode, url=signed.url, expires_at=signed.expires_at)


@router.get(
    "/queues/{name}/stream.mp3",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/mpeg": {}}}},
)
async def stream_queue(
    name: str,
    request: Request,
    mode: str = Query("sequential", description="sequential, loop, shuffle or endless-shuffle.",
                      json_schema_extra=limits.MODE),
) -> StreamingResponse:
    """One continuous MP3 (no Content-Length, `Accept-Ranges: none`); ICY metadata with
    `icy-metaint` when the client sends `Icy-MetaData: 1`.

    Either send `Authorization: Bearer <key>`, or use a URL from `POST /v1/queues/{name}/url`
    (its `owner`, `mode`, `expires` and `signature` parameters stand in for the key).
    """
    rt = runtime_of(request)
    icy = request.headers.get("icy-metadata", "").strip() == "1"
    if is_signed(request.query_params):
        stream = await rt.queue_urls.open_stream(name, request.url.query, icy=icy)
    else:
        who = await scoped(READ)(request)
        stream = await rt.queues.open_stream(who, name, mode=mode, icy=icy)
    return StreamingResponse(stream.body, headers=stream.headers, media_type="audio/mpeg")
