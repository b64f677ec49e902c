"""/v1/queues/{name}: named queues of audio ids and their continuous MP3 stream."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from ..service import Principal
from ..service.queues import QueueView
from .auth import principal, runtime_of
from .schemas import ErrorResponse, RequestBody

router = APIRouter(prefix="/v1", tags=["queues"], responses={"4XX": {"model": ErrorResponse}})
Who = Annotated[Principal, Depends(principal)]


class QueueBody(RequestBody):
    audio_ids: list[str] = Field(description="Audio ids in play order (repeats allowed).")


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
async def put_queue(name: str, body: QueueBody, request: Request, who: Who) -> QueueObject:
    """Create or replace a queue."""
    return QueueObject.from_view(await runtime_of(request).queues.put(who, name, body.audio_ids))


@router.get("/queues/{name}", response_model=QueueObject)
async def get_queue(name: str, request: Request, who: Who) -> QueueObject:
    return QueueObject.from_view(await runtime_of(request).queues.get(who, name))


@router.delete("/queues/{name}", status_code=204, response_class=Response)
async def delete_queue(name: str, request: Request, who: Who) -> Response:
    await runtime_of(request).queues.delete(who, name)
    return Response(status_code=204)


@router.get(
    "/queues/{name}/stream.mp3",
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/mpeg": {}}}},
)
async def stream_queue(
    name: str,
    request: Request,
    who: Who,
    mode: str = Query("sequential", description="sequential, loop, shuffle or endless-shuffle."),
) -> StreamingResponse:
    """One continuous MP3 (no Content-Length, `Accept-Ranges: none`); ICY metadata with
    `icy-metaint` when the client sends `Icy-MetaData: 1`."""
    stream = await runtime_of(request).queues.open_stream(
        who, name, mode=mode, icy=request.headers.get("icy-metadata", "").strip() == "1"
    )
    return StreamingResponse(stream.body, headers=stream.headers, media_type="audio/mpeg")
