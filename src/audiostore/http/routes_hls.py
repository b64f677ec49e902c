"""HLS: `/v1/audio/{id}/hls/index.m3u8` (master), `.../hls/{variant}/index.m3u8` (media
playlist), `.../hls/{variant}/{n}.ts` (segments) and `/v1/queues/{name}/hls/index.m3u8`, by
API key or by a signed URL whose playlists list signed URLs in turn, so a player needs no
header at all. An object's playlists take a clip (`start`, `end`), carried by every URL they
list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response

from ..catalog import AudioRow
from ..service.hls import HlsClip, HlsService
from ..service.queue_hls import QueueHls, refuse_clip
from ..service.queue_urls import is_signed
from ..signing import parse_signed_query
from . import openapi_limits as limits
from ..service.principal import READ
from .auth import runtime_of, scoped
from .client_gone import unless_client_leaves
from .content_response import render_content
from .schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["hls"], responses={"4XX": {"model": ErrorResponse}})
PLAYLIST = "application/vnd.apple.mpegurl"
_PLAYLIST_DOC: dict[int | str, dict[str, Any]] = {200: {"content": {PLAYLIST: {}}, "description": "An HLS playlist."}}


async def _opened(
    request: Request, audio_id: str, path: str
) -> tuple[HlsService, AudioRow, int, HlsClip]:
    rt = runtime_of(request)
    hls = HlsService(rt.audio, rt.renditions)
    query = request.query_params
    if "signature" in query or "expires" in query:
        signed = parse_signed_query(request.url.query)
        return hls, *await hls.by_signature(
            audio_id, path, expires=signed.expires, signature=signed.signature,
            params=signed.params,
        )
    return hls, *await hls.by_key(await scoped(READ)(request), audio_id, query)


def _playlist(text: str) -> Response:
    # Its URLs carry signatures that expire: no cache may keep it past them.
    return Response(text, media_type=PLAYLIST, headers={"Cache-Control": "no-store"})


@router.get("/audio/{audio_id}/hls/index.m3u8", response_class=Response, responses=_PLAYLIST_DOC)
async def hls_master(audio_id: str, request: Request) -> Response:
    """The master playlist: one AAC variant per bit rate (64 and 128 kbit/s).

    `start` and `end` (seconds, as for a rendition) make it a playlist of just that part;
    every URL it lists carries them under its signature."""
    hls, row, expires, clip = await _opened(request, audio_id, "index.m3u8")
    return _playlist(hls.master(row, expires, clip))


@router.get(
    "/audio/{audio_id}/hls/{variant}/index.m3u8", response_class=Response, responses=_PLAYLIST_DOC
)
async def hls_media(audio_id: str, variant: str, request: Request) -> Response:
    """A VOD media playlist: segments of six seconds, each URL signed."""
    hls, row, expires, clip = await _opened(request, audio_id, f"{variant}/index.m3u8")
    return _playlist(hls.media(row, variant, expires, clip))


@router.get(
    "/audio/{audio_id}/hls/{variant}/{segment}", response_class=Response,
    responses={200: {"content": {"video/mp2t": {}}, "description": "One segment (AAC in MPEG-TS)."}},
)
async def hls_segment(audio_id: str, variant: str, segment: str, request: Request) -> Response:
    """One segment, made on first request and kept (of a clip: counted from its start)."""
    hls, row, _, clip = await _opened(request, audio_id, f"{variant}/{segment}")
    source = await unless_client_leaves(request, hls.segment(row, variant, segment, clip))
    return render_content(source, request)


@router.get("/queues/{name}/hls/index.m3u8", response_class=Response, responses=_PLAYLIST_DOC)
async def hls_queue(
    name: str, request: Request,
    mode: str = Query("sequential", description="sequential, loop, shuffle or endless-shuffle.",
                      json_schema_extra=limits.MODE),
) -> Response:
    """A queue as HLS: VOD for `sequential` and `shuffle`, a live playlist (a sliding
    window, no end) for `loop` and `endless-shuffle`. By API key, or by a URL from
    `POST /v1/queues/{name}/url` with `"hls": true`. Takes no clip (`start`/`end`: 422)."""
    rt = runtime_of(request)
    queue_hls = QueueHls(rt.queues, HlsService(rt.audio, rt.renditions))
    refuse_clip(request.query_params)
    if is_signed(request.query_params):
        return _playlist(await queue_hls.by_signature(name, request.url.query))
    return _playlist(await queue_hls.by_key(await scoped(READ)(request), name, mode))
