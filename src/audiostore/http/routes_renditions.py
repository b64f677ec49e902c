"""GET /v1/audio/{id}/waveform: peaks in audiowaveform's JSON or `.dat` format.

Renditions themselves are served by the content route (`?format=...`), through
`RenditionService.open_content`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from ..service import Principal
from ..service.principal import READ
from .auth import runtime_of, scoped
from .client_gone import unless_client_leaves
from .content_response import render_content
from .schemas import ErrorResponse

router = APIRouter(prefix="/v1", tags=["renditions"], responses={"4XX": {"model": ErrorResponse}})
Who = Annotated[Principal, Depends(scoped(READ))]


@router.get(
    "/audio/{audio_id}/waveform",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "application/octet-stream": {}}}},
)
async def audio_waveform(
    audio_id: str,
    request: Request,
    who: Who,
    samples_per_pixel: int | None = Query(
        None, description="Audio samples per min/max pair (default 256).",
        json_schema_extra={"minimum": 2, "maximum": 10_000_000},
    ),
    pixels_per_second: int | None = Query(
        None, description="Instead of samples_per_pixel.",
        json_schema_extra={"minimum": 1, "maximum": 96_000},
    ),
    bits: int = Query(8, description="8 or 16.", json_schema_extra={"enum": [8, 16]}),
    channels: str = Query("mono", description="`mono` (mixed) or `all` (version 2 data).",
                          json_schema_extra={"enum": ["mono", "all"]}),
    format: str = Query("json", description="`json` or `dat` (audiowaveform binary).",
                        json_schema_extra={"enum": ["json", "dat"]}),
) -> Response:
    """Waveform peaks for peaks.js and the like; computed once, then served from storage."""
    source = await unless_client_leaves(
        request, runtime_of(request).renditions.waveform(who, audio_id, dict(request.query_params))
    )
    return render_content(source, request)
