"""Signed upload URLs: `POST /v1/audio/upload-url` issues one; `PUT` (raw body) or `POST`
(multipart field `file`) of `/v1/signed-upload?<signed query>` uses it, with no header.

The file takes the same path as `POST /v1/audio` (staged, sniffed, probed, intent row, blob,
ready); the URL's terms (owner, collection, name, size, formats) are the upload's fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..service import Principal
from ..service.ingest import StoredUpload
from ..service.principal import UPLOAD
from .auth import runtime_of, scoped
from .granted_upload import GrantedUploadSource
from .schemas import AudioObject, ErrorResponse, RequestBody
from .upload_body import HttpUploadSource

router = APIRouter(prefix="/v1", tags=["audio"], responses={"4XX": {"model": ErrorResponse}})
Who = Annotated[Principal, Depends(scoped(UPLOAD))]


class UploadUrlRequest(RequestBody):
    collection: str | None = Field(None, description="Collection the file goes to (default: AUDIOSTORE_DEFAULT_COLLECTION).")
    name: str | None = Field(None, description="The object's name; unset: the file's own name, or `audio`.")
    owner: str | None = Field(None, description="Admins: upload for another owner.")
    max_bytes: int | None = Field(None, ge=1, description="Largest file accepted; default and cap AUDIOSTORE_MAX_UPLOAD_BYTES.")
    formats: list[str] | None = Field(None, description="Formats accepted (sniffed from the bytes), e.g. [\"webm\", \"ogg\"]; default AUDIOSTORE_ACCEPTED_FORMATS.")
    expires_in: int | None = Field(None, ge=1, description="Seconds the URL works; default AUDIOSTORE_URL_DEFAULT_EXPIRY, cap AUDIOSTORE_UPLOAD_URL_MAX_EXPIRY.")
    ttl_seconds: int | None = Field(None, ge=1, description="Lifetime of the stored object.")


class UploadUrlResponse(BaseModel):
    url: str = Field(description="Send the file here with no header: PUT the raw bytes, or POST multipart with a `file` field. Works once.")
    method: str = Field(description="`PUT` (POST multipart also works).")
    expires_at: datetime
    fields: dict[str, str] | None = Field(None, description="Form fields to send with a POST (none needed: the terms are in the URL).")
    tus_url: str = Field(description="The same terms as a tus creation URL (POST /v1/uploads), for a resumable upload.")
    max_bytes: int
    formats: list[str]


@router.post("/audio/upload-url", response_model=UploadUrlResponse)
async def create_upload_url(body: UploadUrlRequest, request: Request, who: Who) -> UploadUrlResponse:
    """A one-use URL a browser or phone sends one file to with no header: bound to owner,
    collection, optional name, maximum size, accepted formats and an expiry."""
    issued = runtime_of(request).upload_grants.issue(
        who, collection=body.collection, name=body.name, owner=body.owner,
        max_bytes=body.max_bytes, formats=body.formats, expires_in=body.expires_in,
        ttl_seconds=body.ttl_seconds,
    )
    return UploadUrlResponse(
        url=issued.url, method=issued.method, expires_at=issued.expires_at, fields=None,
        tus_url=issued.tus_url, max_bytes=issued.max_bytes, formats=list(issued.formats),
    )


@router.api_route("/audio/upload-url", methods=["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"],
                  include_in_schema=False)
async def upload_url_other_methods() -> JSONResponse:
    """This path is its own resource, not an audio id: without this route GET, PATCH and
    DELETE of `/v1/audio/{audio_id}` would take it (as the id "upload-url") and a 405 here
    would list them in `Allow`."""
    return JSONResponse(
        {"error": {"code": "method_not_allowed", "message": "Method Not Allowed"}},
        status_code=405, headers={"Allow": "POST"},
    )


async def _store_signed(request: Request) -> AudioObject:
    rt = runtime_of(request)
    grant = rt.upload_grants.verify(request.url.query)  # a refusal: see refused_upload_body.py

    async def store() -> StoredUpload:
        source = HttpUploadSource(
            content_type=request.headers.get("content-type") or "application/octet-stream",
            content_length=request.headers.get("content-length"), body=request.stream(),
            query={}, limit=rt.settings.max_upload_bytes,
        )
        return await rt.ingest.store(grant.principal, GrantedUploadSource(source, grant))

    stored = await rt.upload_grants.use(grant, store, lambda s: (s.row.id, None))
    return AudioObject.from_row(stored.row, stored.signed)


_SIGNED_QUERY = [
    {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
    for name in ("owner", "collection", "nonce", "max_bytes", "formats", "expires", "signature")
]
_RAW_DOC = {
    "parameters": _SIGNED_QUERY,
    "requestBody": {"required": True, "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "audio/*": {"schema": {"type": "string", "format": "binary"}},
    }},
}
_FORM_DOC = {
    "parameters": _SIGNED_QUERY,
    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}},
    }}}},
}


@router.put("/signed-upload", status_code=201, response_model=AudioObject, openapi_extra=_RAW_DOC)
async def put_signed_upload(request: Request) -> AudioObject:
    """Store the raw body under a signed upload URL's terms (no Authorization header)."""
    return await _store_signed(request)


@router.post("/signed-upload", status_code=201, response_model=AudioObject, openapi_extra=_FORM_DOC)
async def post_signed_upload(request: Request) -> AudioObject:
    """Store the multipart `file` under a signed upload URL's terms (no Authorization header)."""
    return await _store_signed(request)
