"""/v1/audio and /v1/urls: thin routes. Parse, call one service method, render."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError

from ..errors import ValidationFailed
from ..service import Principal, SignedUrl
from ..service.principal import DELETE, LIST, READ, UPLOAD
from ..service.hls import HlsService
from ..service.idempotent_upload import IDEMPOTENCY_HEADER
from .audio_json import audio_list_json
from .auth import runtime_of, scoped
from .batch_url_json import batch_url_json
from .schemas import (
    AudioList,
    AudioObject,
    AudioPatch,
    BatchUrlRequest,
    BatchUrlResponse,
    ErrorResponse,
    RenditionInfo,
    UrlRequest,
    UrlResponse,
)
from . import openapi_limits as limits
from .upload_body import UPLOAD_FIELDS, HttpUploadSource, time_field

router = APIRouter(prefix="/v1", tags=["audio"], responses={"4XX": {"model": ErrorResponse}})
Reader = Annotated[Principal, Depends(scoped(READ))]
Uploader = Annotated[Principal, Depends(scoped(UPLOAD))]
Lister = Annotated[Principal, Depends(scoped(LIST))]
Deleter = Annotated[Principal, Depends(scoped(DELETE))]

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **{f: {"type": "string", **limits.UPLOAD_FIELD_LIMITS[f]}
                           for f in UPLOAD_FIELDS},
                    },
                }
            },
            "audio/*": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {"name": f, "in": "query", "required": False,
         "schema": {"type": "string", **limits.UPLOAD_QUERY_LIMITS[f]}}
        for f in UPLOAD_FIELDS
    ] + [
        {"name": "Idempotency-Key", "in": "header", "required": False,
         "schema": {"type": "string", "pattern": limits.IDEMPOTENCY_KEY_PATTERN},
         "description": "Retry-safe uploads: same key + same body -> the first result. 1 to "
                        "255 printable ASCII characters, no spaces."},
    ],
}


_ISO_TIME = "ISO 8601 time with a timezone."
_DATE_TIME = {"format": "date-time"}


@router.post("/audio", status_code=201, response_model=AudioObject, openapi_extra=_UPLOAD_DOC)
async def upload_audio(request: Request, response: Response, who: Uploader) -> AudioObject:
    """Upload audio: multipart field `file`, or the raw bytes with an audio Content-Type.

    With an `Idempotency-Key` header, a retry with the same key and body answers the first
    result (header `Idempotent-Replayed: true`) instead of storing twice; the same key with a
    different body is 409 `idempotency_key_reused`.
    """
    rt = runtime_of(request)
    limit, limit_source = who.upload_limit(rt.settings.max_upload_bytes)  # a token's may be lower
    source = HttpUploadSource(
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        body=request.stream(), query=request.query_params, limit=limit, limit_source=limit_source,
    )
    stored = await rt.ingest.store(who, source, request.headers.get(IDEMPOTENCY_HEADER))
    if stored.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return AudioObject.from_row(stored.row, stored.signed)


@router.get("/audio", response_model=AudioList)
async def list_audio(
    request: Request,
    who: Lister,
    collection: str | None = None,
    prefix: str | None = Query(None, description="Blob key prefix."),
    name: str | None = Query(None, description="Exactly this name (e.g. `story.mp3`)."),
    q: str | None = Query(None, description="Search in name and text."),
    # Text, parsed as ISO 8601 only: pydantic would also take `-605` as a Unix time.
    created_after: str | None = Query(None, description=_ISO_TIME, json_schema_extra=_DATE_TIME),
    created_before: str | None = Query(None, description=_ISO_TIME, json_schema_extra=_DATE_TIME),
    limit: int = Query(50, ge=1, le=1000),
    cursor: str | None = None,
    owner: str | None = Query(None, description="Admins: list another owner's audio."),
    urls: bool = Query(False, description="Also give each item a signed `url` (as POST /v1/urls)."),
    expires_in: int | None = Query(None, description="With urls=true: their lifetime in seconds."),
) -> Response:
    rt = runtime_of(request)
    if expires_in is not None and not urls:
        raise ValidationFailed("expires_in applies to the URLs of urls=true; add urls=true.")
    page = await rt.audio.list(
        who, collection=collection, prefix=prefix, name=name, q=q,
        created_after=time_field({"created_after": created_after or ""}, "created_after"),
        created_before=time_field({"created_before": created_before or ""}, "created_before"),
        limit=limit, cursor=cursor, owner=owner,
    )
    made = await rt.renditions.renditions_of(page.items)  # one query a page
    signed: Sequence[SignedUrl | None] = (
        await rt.audio.sign_rows(page.items, expires_in=expires_in) if urls else [None] * len(page.items))
    # The AudioList shape written from the rows (audio_json: the models' bytes, no model an item).
    return Response(audio_list_json(page.items, signed, made, page.next_cursor), media_type="application/json")


@router.get("/audio/{audio_id}", response_model=AudioObject)
async def get_audio(audio_id: str, request: Request, who: Reader) -> AudioObject:
    row, renditions = await runtime_of(request).renditions.describe(who, audio_id)
    obj = AudioObject.from_row(row)
    obj.renditions = [RenditionInfo.from_derived(d) for d in renditions]
    return obj


@router.patch("/audio/{audio_id}", response_model=AudioObject)
async def patch_audio(audio_id: str, body: AudioPatch, request: Request, who: Uploader) -> AudioObject:
    changes = body.model_dump(exclude_unset=True)
    return AudioObject.from_row(await runtime_of(request).audio.update(who, audio_id, changes))


@router.delete("/audio/{audio_id}", status_code=204, response_class=Response)
async def delete_audio(audio_id: str, request: Request, who: Deleter) -> Response:
    await runtime_of(request).deletion.delete(who, audio_id)
    return Response(status_code=204)


@router.post("/audio/{audio_id}/url", response_model=UrlResponse)
async def sign_url(audio_id: str, request: Request, who: Reader, body: UrlRequest | None = None) -> UrlResponse:
    """A time-limited URL that fetches the bytes with no Authorization header (or, with
    `"hls": true`, opens the HLS master playlist)."""
    if body is not None and body.hls:
        url, expires_at = await HlsService(runtime_of(request).audio, runtime_of(request).renditions).sign_master(
            who, audio_id, expires_in=body.expires_in, rendition_params=body.rendition_params()
        )
        return UrlResponse(id=audio_id, url=url, expires_at=expires_at)
    signed = await runtime_of(request).audio.sign(
        who, audio_id, expires_in=body.expires_in if body else None,
        params=body.rendition_params() if body else None,
    )
    return UrlResponse(id=signed.audio_id, url=signed.url, expires_at=signed.expires_at)


@router.post("/urls", response_model=BatchUrlResponse)
async def sign_urls(body: BatchUrlRequest, request: Request, who: Reader) -> Response:
    """Signed URLs for many ids at once; ids that are not yours or not found get an error entry."""
    batch = await runtime_of(request).audio.sign_many(who, body.ids, expires_in=body.expires_in)
    # The BatchUrlResponse shape written straight to JSON (batch_url_json: the encoder's own
    # bytes, no model or dict an item; test_signed_urls checks the shape).
    return Response(batch_url_json(batch), media_type="application/json")


__all__ = ["router", "ValidationError"]
