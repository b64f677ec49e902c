"""The tus 1.0 side of an upload, written once: the requests of a resumable upload under
`/v1/uploads` and how their answers are read. No I/O happens here; `upload_flows.upload` drives it.

An upload larger than `DEFAULT_TUS_THRESHOLD` goes as one creation (`POST /v1/uploads`, its
fields in `Upload-Metadata`), then PATCHes of `DEFAULT_TUS_CHUNK_BYTES`, each with a sha256
`Upload-Checksum`. A PATCH cut off, refused at the wrong offset (409), held by another
PATCH (423), damaged on the way (460) or answered 5xx is followed by a HEAD, which says
where the service stands, and the upload goes on from there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from .errors import ApiError
from .protocol import Call, check
from .upload_source import BodyPart

TUS_VERSION = "1.0.0"
CHUNK_TYPE = "application/offset+octet-stream"
AUDIO_ID_HEADER = "Audiostore-Audio-Id"
SIGNED_PUT_PATH = "/v1/signed-upload"
DEFAULT_TUS_THRESHOLD = 8 * 1024 * 1024
"""Uploads larger than this (bytes) go by tus; smaller ones as one `POST /v1/audio`, where a
resume would save little and costs two more round trips."""
DEFAULT_TUS_CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes per PATCH: what a cut connection can cost at most (a PATCH with a checksum is kept
whole or not at all), against one round trip and one fsync on the service per chunk."""
# Answers after which the upload goes on from the service's offset (HEAD first).
RESUMABLE_STATUSES = frozenset({409, 423, 460, 502, 503, 504})
# Answers to a HEAD that mean the remembered upload is gone: start a new one.
GONE_STATUSES = frozenset({403, 404, 410})


def _headers(**more: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, **more}


def upload_metadata(fields: Mapping[str, Any]) -> str:
    """`Upload-Metadata`: `key base64(value)` pairs of the fields that were given; `metadata`
    as JSON and `expires_at` as ISO 8601, as `POST /v1/audio` takes them."""
    pairs = []
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        encoded = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
        pairs.append(f"{key} {encoded}")
    return ",".join(pairs)


def create_call(length: int, metadata: str, signed_url: str | None = None) -> Call:
    """The creation: at the client's own `/v1/uploads` with its key or token, or at a signed
    upload URL's `tus_url` (the right is in its query; no key is sent)."""
    headers = _headers(**{"Upload-Length": str(length)})
    if metadata:
        headers["Upload-Metadata"] = metadata
    if signed_url is not None:
        # The URL makes one upload: a creation repeated after the first got through would
        # be refused (410), so it is sent again only when it cannot have left.
        return Call("POST", signed_url, headers=headers, repeatable=False, credentials=False)
    # A repeated creation makes a second empty upload at worst; it expires unused.
    return Call("POST", "/v1/uploads", headers=headers)


def head_call(location: str, *, credentials: bool = True) -> Call:
    return Call("HEAD", location, headers=_headers(), credentials=credentials)


def patch_call(location: str, part: BodyPart, digest: bytes, *, credentials: bool = True) -> Call:
    headers = _headers(**{
        "Content-Type": CHUNK_TYPE, "Content-Length": str(part.size), "Upload-Offset": str(part.start),
        "Upload-Checksum": f"sha256 {base64.b64encode(digest).decode('ascii')}",
    })
    # Never repeated as such: after a failure the flow asks the offset and sends what is missing.
    return Call("PATCH", location, headers=headers, repeatable=False, credentials=credentials)


def signed_tus_url(url: str) -> str:
    """The tus creation URL of a signed upload URL: the same signed query at `/v1/uploads`
    (`POST /v1/audio/upload-url` answers both; given only `url`, this finds its twin)."""
    parts = urlsplit(url)
    if parts.path.endswith(SIGNED_PUT_PATH):
        path = parts.path[: -len(SIGNED_PUT_PATH)] + "/v1/uploads"
        return urlunsplit(parts._replace(path=path))
    return url


@dataclass(frozen=True, slots=True)
class TusStatus:
    """Where an upload stands on the service: its offset, and once stored, the audio's id."""

    offset: int
    audio_id: str | None
    expires_at: datetime | None


def created_location(created_at: str, response: httpx.Response) -> str:
    """The new upload's absolute URL: the `Location` of a 201, relative to `created_at`
    (the service's base URL, or a signed upload URL, which may name another host)."""
    check(response)
    location = response.headers.get("location")
    if not location:
        raise ApiError(response.status_code, "http_error", "The tus creation answered no Location.")
    return str(urljoin(created_at if "?" in created_at else created_at + "/", location))


def expires_of(response: httpx.Response) -> datetime | None:
    """When the service forgets the upload if nothing more arrives (`Upload-Expires`)."""
    expires = response.headers.get("upload-expires")
    try:
        return parsedate_to_datetime(expires) if expires else None
    except (TypeError, ValueError):
        return None


def status_of(response: httpx.Response) -> TusStatus:
    """The offset (and audio id) of a HEAD or PATCH answer; an error answer raises."""
    check(response)
    raw = response.headers.get("upload-offset", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 20):
        raise ApiError(response.status_code, "http_error", "The tus answer carried no Upload-Offset.")
    return TusStatus(int(raw), response.headers.get(AUDIO_ID_HEADER.lower()) or None, expires_of(response))


def resumable(exc: Exception) -> bool:
    """Worth asking the offset and going on (else the upload has failed for good)."""
    return not isinstance(exc, ApiError) or exc.status in RESUMABLE_STATUSES


__all__ = [
    "DEFAULT_TUS_CHUNK_BYTES", "DEFAULT_TUS_THRESHOLD", "GONE_STATUSES", "TusStatus", "create_call",
    "created_location", "expires_of", "head_call", "patch_call", "resumable", "signed_tus_url", "status_of", "upload_metadata",
]
