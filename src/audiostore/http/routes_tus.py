"""/v1/uploads: tus 1.0 resumable uploads. Parse the tus headers, call the service, render.

Extensions: creation, creation-with-upload, creation-defer-length, termination, checksum
(sha1, sha256, md5), expiration and concatenation (service/tus_concatenation.py: partial
uploads are never stored on their own; the final upload is assembled from them and stored
by the creation that names them, which answers like a completing PATCH). Every answer,
errors included, carries `Tus-Resumable`.
The PATCH (or creation) that completes an upload answers with the stored object's id in
`Audiostore-Audio-Id` and its path in `Audiostore-Audio-Location`; so does HEAD afterwards.

Auth: an API key as everywhere, or a signed upload URL's query on the creation (then the
upload's `Location` carries a signature of its own for HEAD, PATCH and DELETE).
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Awaitable, Callable, Coroutine
from email.utils import format_datetime
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from ..catalog.tus_uploads import FINAL, PARTIAL, STORED, TusUploadRow
from ..errors import (
    AudiostoreError,
    BadRequest,
    Forbidden,
    TusVersionUnsupported,
    UnsupportedMediaType,
    UploadConcatInvalid,
    UploadNotFound,
)
from ..service import Principal
from ..service.tus_checksum import ALGORITHMS, parse_upload_checksum
from ..service.tus_concatenation import PartialRef
from ..service.tus_uploads import AppendResult
from ..signing import SIGNATURE_PARAM
from ..service.principal import UPLOAD
from .auth import runtime_of, scoped
from .idle_body import IdleBody
from .upload_body import UPLOAD_FIELDS, upload_fields
from .schemas import ErrorResponse
from .tus_concat_header import UPLOADS_PATH, parse_upload_concat
from .tus_metadata import parse_upload_metadata

TUS_VERSION = "1.0.0"
EXTENSIONS = ("creation,creation-with-upload,creation-defer-length,termination,checksum,expiration,"
              "concatenation")
CHUNK_TYPE = "application/offset+octet-stream"
AUDIO_ID_HEADER = "Audiostore-Audio-Id"
AUDIO_LOCATION_HEADER = "Audiostore-Audio-Location"
# Headers a browser's tus client must be allowed to send and to read (CORS lists).
TUS_REQUEST_HEADERS = ("Tus-Resumable", "Upload-Length", "Upload-Defer-Length", "Upload-Offset",
                       "Upload-Metadata", "Upload-Checksum", "Upload-Concat", "X-HTTP-Method-Override")
TUS_RESPONSE_HEADERS = ("Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
                        "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length",
                        "Upload-Defer-Length", "Upload-Metadata", "Upload-Expires", "Upload-Concat",
                        "Location",
                        AUDIO_ID_HEADER, AUDIO_LOCATION_HEADER)
GRANT_FIXED = ("name", "collection", "owner", "ttl_seconds", "expires_at")


class TusRoute(APIRoute):
    """Adds `Tus-Resumable` to every answer of the tus routes, error answers too.

    Every tus endpoint takes the request and at most the upload's id from the path, so its
    handler calls it directly: FastAPI's own (a dependency solve, a body check, the telemetry
    hooks, an exit stack per request) was ~6% of a PATCH's event-loop CPU for nothing. An
    endpoint that takes anything else keeps FastAPI's handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler: Callable[[Request], Awaitable[Response]]
        if self._plain(self.dependant):
            call = cast(Callable[..., Awaitable[Response]], self.dependant.call)
            if self.dependant.path_params:
                async def handler(request: Request) -> Response:
                    return await call(request.path_params["upload_id"], request)
            else:
                handler = call
        else:
            handler = super().get_route_handler()

        async def with_tus_header(request: Request) -> Response:
            try:
                response = await handler(request)
            except AudiostoreError as exc:
                exc.headers.setdefault("Tus-Resumable", TUS_VERSION)
                raise
            response.headers.setdefault("Tus-Resumable", TUS_VERSION)
            return response

        return with_tus_header

    @staticmethod
    def _plain(dependant: Any) -> bool:
        """Whether the endpoint is `async (request)` or `async (upload_id: str, request)`."""
        params = inspect.signature(dependant.call).parameters
        names = list(params)
        paths = [f.name for f in dependant.path_params]
        return (
            inspect.iscoroutinefunction(dependant.call)
            and dependant.request_param_name == "request"
            and names in (["request"], ["upload_id", "request"])
            and paths == names[:-1]
            and all(params[p].annotation in (str, "str") for p in paths)  # no conversion to do
            and not (dependant.query_params or dependant.header_params or dependant.cookie_params
                     or dependant.body_params or dependant.dependencies)
        )


def _header(name: str, schema: dict[str, Any], description: str, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema, "description": description}


_VERSION = _header("Tus-Resumable", {"type": "string", "enum": [TUS_VERSION]},
                   "The tus version; required on every tus request but OPTIONS.", required=True)
_LENGTH = _header("Upload-Length", {"type": "integer", "minimum": 0},
                  "The whole upload's size in bytes (413 above Tus-Max-Size).")
_OFFSET = _header("Upload-Offset", {"type": "integer", "minimum": 0},
                  "Where this PATCH's bytes go: the upload's current offset (else 409).", required=True)
_CHECKSUM = _header("Upload-Checksum", {"type": "string", "pattern": r"^(sha1|sha256|md5) [A-Za-z0-9+/=]+$"},
                    "`<algorithm> <base64 digest>` of this request's body (460 on mismatch).")
# The body (`application/offset+octet-stream`, the upload's next bytes) is described in
# words only: OpenAPI tools have no serializer for that media type.
_CREATE_DOC = {
    "parameters": [
        _VERSION, _LENGTH,
        _header("Upload-Defer-Length", {"type": "string", "enum": ["1"]},
                "Instead of Upload-Length: the length comes with a later PATCH."),
        _header("Upload-Metadata", {"type": "string"},
                "`key base64value` pairs: name, collection, ttl_seconds, expires_at, metadata, "
                "text, voice_id, owner; hints filename, filetype, type, relativePath."),
        _CHECKSUM,
        _header("Upload-Concat", {"type": "string"},
                "`partial` (a piece, never stored on its own), or `final;/v1/uploads/a "
                "/v1/uploads/b` (stored from those complete partial uploads, in order; no "
                "Upload-Length, no body)."),
    ],
}
_PATCH_DOC = {"parameters": [_VERSION, _OFFSET, _LENGTH, _CHECKSUM]}
_VERSION_DOC = {"parameters": [_VERSION]}
_OVERRIDE_DOC = {
    "parameters": [
        _VERSION, _header("X-HTTP-Method-Override", {"type": "string", "enum": ["PATCH", "DELETE"]},
                          "The method meant, for clients that cannot send it.", required=True),
        {**_OFFSET, "required": False}, _LENGTH, _CHECKSUM,
    ],
}

router = APIRouter(prefix="/v1", tags=["uploads (tus)"], route_class=TusRoute,
                   responses={"4XX": {"model": ErrorResponse}})


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusVersionUnsupported(headers={"Tus-Version": TUS_VERSION})


# ASCII digits only (`str.isdigit` also takes `²`, which `int` refuses), and few enough for
# `int` (it refuses more than 4300); 2**64 has 20, so any size a client means fits.
_COUNT = re.compile(r"[0-9]{1,64}")


def _int_header(request: Request, name: str) -> int | None:
    raw = request.headers.get(name)
    if raw is None:
        return None
    if not _COUNT.fullmatch(raw):
        raise BadRequest(f"{name} must be a non-negative integer of at most 64 digits.")
    return int(raw)


def _capabilities(request: Request) -> dict[str, str]:
    return {
        "Tus-Version": TUS_VERSION, "Tus-Extension": EXTENSIONS,
        "Tus-Max-Size": str(runtime_of(request).settings.max_upload_bytes),
        "Tus-Checksum-Algorithm": ",".join(ALGORITHMS),
    }


def _upload_headers(row: TusUploadRow, stored_id: str | None = None) -> dict[str, str]:
    headers = {"Upload-Offset": str(row.offset), "Cache-Control": "no-store"}
    if row.concat == PARTIAL:
        headers["Upload-Concat"] = PARTIAL
    elif row.concat == FINAL:
        pieces = " ".join(f"{UPLOADS_PATH}{i}" for i in row.concat_parts or [])
        headers["Upload-Concat"] = f"{FINAL};{pieces}"
        if row.state != STORED and not stored_id:  # the protocol: no offset until assembled
            del headers["Upload-Offset"]
    if row.length is None:
        headers["Upload-Defer-Length"] = "1"
    else:
        headers["Upload-Length"] = str(row.length)
    audio_id = stored_id or row.audio_id
    if audio_id:
        headers[AUDIO_ID_HEADER] = audio_id
        headers[AUDIO_LOCATION_HEADER] = f"/v1/audio/{audio_id}"
    else:
        headers["Upload-Expires"] = format_datetime(row.expires_at, usegmt=True)
    return headers


_uploader = scoped(UPLOAD)  # an API key, or a client token with the upload scope


def _has_signature(request: Request) -> bool:
    return SIGNATURE_PARAM in request.query_params


async def _upload_principal(request: Request, upload_id: str) -> Principal:
    """The key's principal, or the owner of an upload whose signed Location is used."""
    if not _has_signature(request):
        return await _uploader(request)
    rt = runtime_of(request)
    rt.upload_grants.verify_tus_location(upload_id, request.url.query)
    owner = await rt.tus_uploads.owner_of(upload_id)
    if owner is None:
        raise UploadNotFound()
    return Principal(owner=owner)


def _result_headers(result: AppendResult) -> dict[str, str]:
    return _upload_headers(result.upload, result.stored.id if result.stored else None)


async def _append(request: Request, who: Principal, row_id: str, offset: int) -> AppendResult:
    length = _int_header(request, "upload-length")
    checksum = parse_upload_checksum(request.headers.get("upload-checksum"))
    rt = runtime_of(request)
    # A pause longer than the idle timeout ends the body as a dropped connection does, so a
    # client gone silent does not hold the upload's lock.
    body = IdleBody(request, rt.settings.tus_patch_idle_timeout)
    try:
        return await rt.tus_uploads.append(
            who, row_id, offset=offset, length=length, checksum=checksum, body=body.chunks(),
        )
    finally:
        body.stop()


@router.options("/uploads", status_code=204, response_class=Response)
async def tus_options(request: Request) -> Response:
    """The server's tus capabilities: version, extensions, largest upload, checksums."""
    return Response(status_code=204, headers=_capabilities(request))


@router.options("/uploads/{upload_id}", status_code=204, response_class=Response)
async def tus_options_upload(upload_id: str, request: Request) -> Response:
    """The same capabilities, asked of an upload's own URL."""
    return Response(status_code=204, headers=_capabilities(request))


@router.post("/uploads", status_code=201, response_class=Response, openapi_extra=_CREATE_DOC)
async def tus_create(request: Request) -> Response:
    """Create an upload (`Upload-Length`, or `Upload-Defer-Length: 1`), with its fields in
    `Upload-Metadata`; a body with `Content-Type: application/offset+octet-stream` is its
    first bytes. Authorised by an API key, or by a signed upload URL's query."""
    _check_version(request)
    rt = runtime_of(request)
    parse_upload_checksum(request.headers.get("upload-checksum"))  # a bad one is 400, body or not
    concat_header = request.headers.get("upload-concat")
    concat, partials = parse_upload_concat(concat_header) if concat_header is not None else (None, [])
    if concat is not None and _has_signature(request):
        raise Forbidden("A signed upload URL authorises one plain upload; concatenation needs an "
                        "API key or a client token.")
    if concat == FINAL:
        return await _create_final(request, partials)
    length = _int_header(request, "upload-length")
    defer = request.headers.get("upload-defer-length")
    if defer is not None and defer != "1":
        raise BadRequest("Upload-Defer-Length must be 1.")
    if (length is None) == (defer is None):
        raise BadRequest("Send Upload-Length, or Upload-Defer-Length: 1 (not both).")
    raw_metadata = request.headers.get("upload-metadata")
    values = parse_upload_metadata(raw_metadata, UPLOAD_FIELDS)
    with_body = (request.headers.get("content-type") or "").split(";")[0].strip().lower() == CHUNK_TYPE
    if not with_body and (_int_header(request, "content-length") or 0) > 0:
        raise UnsupportedMediaType(f"The first bytes of an upload need Content-Type: {CHUNK_TYPE}.")
    filename = values.get("filename")
    grant = rt.upload_grants.verify(request.url.query) if _has_signature(request) else None
    if grant is not None:
        fixed = sorted(k for k in GRANT_FIXED if k in values)
        if fixed:
            raise Forbidden(f"The signed upload URL sets this upload's {', '.join(fixed)}.")
        values.update({"collection": grant.collection, "name": grant.name or "",
                       "ttl_seconds": str(grant.ttl_seconds or "")})
        who = grant.principal
    else:
        who = await _uploader(request)
    fields = upload_fields(values)

    async def create() -> TusUploadRow:
        return await rt.tus_uploads.create(
            who, length=length, upload_metadata=raw_metadata, fields=fields, filename=filename,
            bounds=grant.bounds if grant else None, concat=concat,
        )

    if grant is not None:
        row = await rt.upload_grants.use(grant, create, lambda r: (None, r.id))
        location = f"/v1/uploads/{row.id}?{rt.upload_grants.tus_location_query(row.id)}"
    else:
        row = await create()
        location = f"/v1/uploads/{row.id}"
    headers: dict[str, Any] = {"Location": location}
    if with_body or length == 0:
        try:
            result = await _append(request, who, row.id, 0)
        except AudiostoreError as exc:
            # A refused first body (too long, checksum mismatch, cut off) answers without a
            # Location, so no client can ever resume or end this upload: remove it now
            # rather than leave its row and part to wait out their expiry. (A 5xx keeps it:
            # the service may still be storing it.)
            if exc.status < 500:
                with contextlib.suppress(AudiostoreError):
                    await rt.tus_uploads.terminate(who, row.id)
            raise
        headers.update(_result_headers(result))
    else:
        headers.update(_upload_headers(row))
        headers.pop("Cache-Control")
    return Response(status_code=201, headers=headers)


async def _create_final(request: Request, partials: list[PartialRef]) -> Response:
    """The final upload of the concatenation extension: assembled and stored now."""
    if any(request.headers.get(h) is not None for h in ("upload-length", "upload-defer-length")):
        raise UploadConcatInvalid("A final upload's length is its partial uploads' (no Upload-Length).")
    if (_int_header(request, "content-length") or 0) > 0 or request.headers.get("transfer-encoding"):
        raise UploadConcatInvalid("A final upload takes no body: its bytes are its partial uploads'.")
    raw_metadata = request.headers.get("upload-metadata")
    values = parse_upload_metadata(raw_metadata, UPLOAD_FIELDS)
    who = await _uploader(request)
    result = await runtime_of(request).tus_concatenation.create_final(
        who, partials, upload_metadata=raw_metadata, fields=upload_fields(values),
        filename=values.get("filename"),
    )
    headers = {"Location": f"{UPLOADS_PATH}{result.upload.id}", **_result_headers(result)}
    headers.pop("Cache-Control")
    return Response(status_code=201, headers=headers)


@router.head("/uploads/{upload_id}", response_class=Response, openapi_extra=_VERSION_DOC)
async def tus_head(upload_id: str, request: Request) -> Response:
    """The upload's offset (resume from there), its length, metadata and expiry."""
    _check_version(request)
    who = await _upload_principal(request, upload_id)
    row = await runtime_of(request).tus_uploads.describe(who, upload_id)
    headers = _upload_headers(row)
    if row.upload_metadata:
        headers["Upload-Metadata"] = row.upload_metadata
    return Response(status_code=200, headers=headers)


async def _patch(upload_id: str, request: Request) -> Response:
    _check_version(request)
    if (request.headers.get("content-type") or "").split(";")[0].strip().lower() != CHUNK_TYPE:
        raise UnsupportedMediaType(f"A PATCH needs Content-Type: {CHUNK_TYPE}.")
    offset = _int_header(request, "upload-offset")
    if offset is None:
        raise BadRequest("A PATCH needs Upload-Offset.")
    who = await _upload_principal(request, upload_id)
    result = await _append(request, who, upload_id, offset)
    headers = _result_headers(result)
    headers.pop("Cache-Control")
    return Response(status_code=204, headers=headers)


async def _delete(upload_id: str, request: Request) -> Response:
    _check_version(request)
    who = await _upload_principal(request, upload_id)
    await runtime_of(request).tus_uploads.terminate(who, upload_id)
    return Response(status_code=204)


@router.patch("/uploads/{upload_id}", status_code=204, response_class=Response, openapi_extra=_PATCH_DOC)
async def tus_patch(upload_id: str, request: Request) -> Response:
    """Append the body at `Upload-Offset` (which must be the upload's offset: else 409).
    With `Upload-Checksum`, a mismatch is 460 and none of the bytes are kept. The PATCH
    that brings the last byte stores the object through the ingest and names it."""
    return await _patch(upload_id, request)


@router.delete("/uploads/{upload_id}", status_code=204, response_class=Response, openapi_extra=_VERSION_DOC)
async def tus_delete(upload_id: str, request: Request) -> Response:
    """Terminate: the upload and its bytes are removed (an object it stored stays)."""
    return await _delete(upload_id, request)


@router.post("/uploads/{upload_id}", status_code=204, response_class=Response, openapi_extra=_OVERRIDE_DOC)
async def tus_method_override(upload_id: str, request: Request) -> Response:
    """`X-HTTP-Method-Override: PATCH | DELETE` for clients that cannot send those methods."""
    method = (request.headers.get("x-http-method-override") or "").upper()
    if method == "PATCH":
        return await _patch(upload_id, request)
    if method == "DELETE":
        return await _delete(upload_id, request)
    raise BadRequest("POST to an upload needs X-HTTP-Method-Override: PATCH or DELETE.")
