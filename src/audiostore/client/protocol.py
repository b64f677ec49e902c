"""The HTTP protocol, written once for `Client` and `AsyncClient`: how each call is built,
how answers are parsed, and how a download resumes. No I/O happens here."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from .errors import ApiError, DownloadCorrupted, api_error
from .models import (
    ApiKey,
    AudioObject,
    AudioPage,
    BatchUrlItem,
    CleanupResult,
    ClientToken,
    IssuedApiKey,
    JobRun,
    PublicCollection,
    Queue,
    QueueUrl,
    SignedUrl,
    TokenRevocation,
    UploadUrl,
    Waveform,
)
from .upload_source import UploadBody

DEFAULT_URL = "http://127.0.0.1:8000"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DOWNLOAD_CHUNK_BYTES = 256 * 1024


def resolve_base_url(base_url: str | None) -> str:
    return (base_url or os.environ.get("AUDIOSTORE_URL") or DEFAULT_URL).rstrip("/")


def credential(api_key: str | None = None, token: str | None = None) -> str | None:
    """What the client sends as `Authorization: Bearer`: an API key or a client token (the
    service tells them apart by their shape). Given ones win over the environment; there a
    token (`AUDIOSTORE_TOKEN`) wins over a key (`AUDIOSTORE_KEY`): it is the narrower one,
    set on purpose to act as it."""
    if api_key and token:
        raise ValueError("Give an API key or a client token, not both.")
    return api_key or token or os.environ.get("AUDIOSTORE_TOKEN") or os.environ.get("AUDIOSTORE_KEY")


def auth_headers(api_key: str | None, token: str | None = None) -> dict[str, str]:
    bearer = credential(api_key, token)
    return {"Authorization": f"Bearer {bearer}"} if bearer else {}


@dataclass(frozen=True, slots=True)
class Call:
    """One request. `repeatable`: safe to send again after it may have reached the service."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    repeatable: bool = True
    # False: sent without the client's key or token (a signed URL carries its own right, and
    # may name another host: a key must never go there).
    credentials: bool = True


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


# --- calls -----------------------------------------------------------------------------
def upload_call(
    body: UploadBody,
    *,
    idempotency_key: str,
    collection: str | None = None,
    ttl_seconds: int | None = None,
    expires_at: datetime | str | None = None,
    metadata: Mapping[str, Any] | None = None,
    text: str | None = None,
    voice_id: str | None = None,
    owner: str | None = None,
) -> Call:
    """A raw-body upload (the bytes as the body, the fields in the query)."""
    params = _clean({
        "name": body.name, "collection": collection, "ttl_seconds": ttl_seconds,
        "expires_at": expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at,
        "metadata": json.dumps(metadata) if metadata is not None else None,
        "text": text, "voice_id": voice_id, "owner": owner,
    })
    headers = {"Content-Type": body.content_type, IDEMPOTENCY_HEADER: idempotency_key}
    if body.total is not None:
        headers["Content-Length"] = str(body.total)
    return Call("POST", "/v1/audio", params=params, headers=headers, repeatable=body.rewindable)


def get_call(audio_id: str) -> Call:
    return Call("GET", f"/v1/audio/{audio_id}")


def list_call(cursor: str | None, limit: int, filters: Mapping[str, Any]) -> Call:
    params = _clean({**filters, "cursor": cursor, "limit": limit})
    for k, v in params.items():
        if isinstance(v, datetime):
            params[k] = v.isoformat()
    return Call("GET", "/v1/audio", params=params)


def update_call(audio_id: str, changes: Mapping[str, Any]) -> Call:
    body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in changes.items()}
    return Call("PATCH", f"/v1/audio/{audio_id}", json=body)


def delete_call(audio_id: str) -> Call:
    return Call("DELETE", f"/v1/audio/{audio_id}")


def rendition(
    format: str | None = None,
    bitrate: str | int | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
    normalize: bool | None = None,
) -> dict[str, Any]:
    """The rendition parameters that were given (none: the original bytes)."""
    values = _clean({"format": format, "bitrate": bitrate, "sample_rate": sample_rate,
                     "channels": channels, "normalize": normalize})
    if values and "format" not in values:
        raise ValueError("A rendition needs `format` (mp3, opus, aac, wav or flac).")
    return values


def hls_clip(start: float | None, end: float | None) -> dict[str, Any]:
    """What asks the URL route for the HLS master playlist, of a clip if `start`/`end` given."""
    return {"hls": True, **_clean({"start": start, "end": end})}


def rendition_query(params: Mapping[str, Any]) -> dict[str, str]:
    """Rendition parameters as the content route reads them (`normalize=true`)."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items()}


def rendition_variant(params: Mapping[str, Any]) -> str | None:
    """A stable name for one rendition, to keep its signed URLs apart in the cache."""
    query = rendition_query(params)
    return "&".join(f"{k}={query[k]}" for k in sorted(query)) or None


def sign_call(audio_id: str, expires_in: int | None, rendition: Mapping[str, Any] | None = None) -> Call:
    body = _clean({"expires_in": expires_in, **(rendition or {})})
    return Call("POST", f"/v1/audio/{audio_id}/url", json=body)


def sign_many_call(ids: Sequence[str], expires_in: int | None) -> Call:
    return Call("POST", "/v1/urls", json=_clean({"ids": list(ids), "expires_in": expires_in}))


def tts_call(text: str, **options: Any) -> Call:
    # Speaking twice would store twice: repeat only when the request never left.
    return Call("POST", "/v1/tts", json={"text": text, **_clean(options)}, repeatable=False)


def content_call(audio_id: str, offset: int, rendition: Mapping[str, Any] | None = None) -> Call:
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    params = rendition_query(rendition) if rendition else None
    if params:
        # A download keeps a file: the whole stored rendition (with its sha256 ETag), not
        # the stream of its first play (RFC 7240's `wait`).
        headers["Prefer"] = "wait=3600"
    return Call("GET", f"/v1/audio/{audio_id}/content", params=params, headers=headers)


def waveform_call(audio_id: str, params: Mapping[str, Any]) -> Call:
    return Call("GET", f"/v1/audio/{audio_id}/waveform", params=rendition_query(_clean(params)))


def _queue_path(name: str) -> str:
    return f"/v1/queues/{quote(name, safe='')}"


def put_queue_call(name: str, audio_ids: Sequence[str]) -> Call:
    return Call("PUT", _queue_path(name), json={"audio_ids": list(audio_ids)})


def get_queue_call(name: str) -> Call:
    return Call("GET", _queue_path(name))


def delete_queue_call(name: str) -> Call:
    return Call("DELETE", _queue_path(name))


def stream_queue_call(name: str, mode: str) -> Call:
    return Call("GET", f"{_queue_path(name)}/stream.mp3", params={"mode": mode})


def queue_url_call(name: str, mode: str, expires_in: int | None, hls: bool = False) -> Call:
    body = _clean({"mode": mode, "expires_in": expires_in, "hls": hls or None})
    return Call("POST", f"{_queue_path(name)}/url", json=body)


def cleanup_call(
    older_than: str | float | timedelta, collection: str | None, owner: str | None
) -> Call:
    age = older_than.total_seconds() if isinstance(older_than, timedelta) else older_than
    body = _clean({"older_than": age, "collection": collection, "owner": owner})
    return Call("POST", "/v1/admin/cleanup", json=body)


def sweep_call() -> Call:
    return Call("POST", "/v1/admin/sweep")


def create_key_call(owner: str, admin: bool, label: str | None) -> Call:
    # Not repeated after it may have arrived: a second key would be made, its secret lost.
    return Call("POST", "/v1/keys", json=_clean({"owner": owner, "admin": admin, "label": label}),
                repeatable=False)


def list_keys_call(owner: str | None) -> Call:
    return Call("GET", "/v1/keys", params=_clean({"owner": owner}))


def revoke_key_call(key_id: str) -> Call:
    return Call("DELETE", f"/v1/keys/{quote(key_id, safe='')}")


def create_token_call(body: Mapping[str, Any]) -> Call:
    return Call("POST", "/v1/tokens", json=_clean(body))


def revoke_tokens_call(owner: str, before: datetime | None) -> Call:
    return Call("POST", "/v1/tokens/revoke",
                json=_clean({"owner": owner, "before": before.isoformat() if before else None}))


def create_upload_url_call(body: Mapping[str, Any]) -> Call:
    return Call("POST", "/v1/audio/upload-url", json=_clean(body))


def signed_put_call(url: str, body: UploadBody) -> Call:
    """The raw-body PUT of a signed upload URL. Sent again only when it cannot have left:
    the URL stores one object, so a repeat after a first one got through would be refused
    (410) although the file was stored."""
    headers = {"Content-Type": body.content_type}
    if body.total is not None:
        headers["Content-Length"] = str(body.total)
    return Call("PUT", url, headers=headers, repeatable=False, credentials=False)


def _public_path(owner: str, collection: str) -> str:
    return f"/v1/collections/{quote(owner, safe='')}/{quote(collection, safe='')}/public"


def make_public_call(owner: str, collection: str) -> Call:
    return Call("PUT", _public_path(owner, collection))


def make_private_call(owner: str, collection: str) -> Call:
    return Call("DELETE", _public_path(owner, collection))


def public_collections_call(owner: str | None) -> Call:
    return Call("GET", "/v1/collections/public", params=_clean({"owner": owner}))


# --- answers ---------------------------------------------------------------------------
def check(response: httpx.Response) -> httpx.Response:
    """Raise the `ApiError` for a non-2xx answer (its body must have been read)."""
    if response.is_success or response.status_code == 304:
        return response
    raise error_of(response)


IN_PROGRESS_CODE = "idempotency_key_in_progress"


def in_progress(response: httpx.Response) -> bool:
    """A 409 saying an earlier upload with this `Idempotency-Key` is still being stored."""
    return response.status_code == 409 and error_of(response).code == IN_PROGRESS_CODE


def error_of(response: httpx.Response) -> ApiError:
    try:
        err = response.json()["error"]
        return api_error(response.status_code, str(err["code"]), str(err["message"]))
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return api_error(response.status_code, "http_error", text or response.reason_phrase)


def parse_audio(response: httpx.Response) -> AudioObject:
    return AudioObject.model_validate(check(response).json())


def parse_page(response: httpx.Response) -> AudioPage:
    return AudioPage.model_validate(check(response).json())


def parse_signed(response: httpx.Response) -> SignedUrl:
    return SignedUrl.model_validate(check(response).json())


def parse_batch(response: httpx.Response) -> list[BatchUrlItem]:
    return [BatchUrlItem.model_validate(u) for u in check(response).json()["urls"]]


def parse_json(response: httpx.Response) -> Any:
    return check(response).json()


def parse_queue(response: httpx.Response) -> Queue:
    return Queue.model_validate(check(response).json())


def parse_queue_url(response: httpx.Response) -> QueueUrl:
    return QueueUrl.model_validate(check(response).json())


def parse_waveform(response: httpx.Response, fmt: str) -> Waveform | bytes:
    check(response)
    return response.content if fmt == "dat" else Waveform.model_validate(response.json())


def parse_cleanup(response: httpx.Response) -> CleanupResult:
    return CleanupResult.model_validate(check(response).json())


def parse_sweep(response: httpx.Response) -> list[JobRun]:
    return [JobRun.model_validate(j) for j in check(response).json()["jobs"]]


def parse_issued_key(response: httpx.Response) -> IssuedApiKey:
    return IssuedApiKey.model_validate(check(response).json())


def parse_token(response: httpx.Response) -> ClientToken:
    return ClientToken.model_validate(check(response).json())


def parse_revocation(response: httpx.Response) -> TokenRevocation:
    return TokenRevocation.model_validate(check(response).json())


def parse_upload_url(response: httpx.Response) -> UploadUrl:
    return UploadUrl.model_validate(check(response).json())


def parse_public(response: httpx.Response) -> PublicCollection:
    return PublicCollection.model_validate(check(response).json())


def parse_publics(response: httpx.Response) -> list[PublicCollection]:
    return [PublicCollection.model_validate(i) for i in check(response).json()["items"]]


def parse_keys(response: httpx.Response) -> list[ApiKey]:
    return [ApiKey.model_validate(k) for k in check(response).json()["items"]]


# --- downloads -------------------------------------------------------------------------
_SHA256_ETAG = re.compile(r'^(?:W/)?"?([0-9a-f]{64})"?$')
_TOTAL = re.compile(r"/(\d+)\s*$")


class Download:
    """A download into `<target>.part`, renamed to `target` once whole and verified.

    With `resume`, an existing `.part` is continued with a Range request; the finished file
    is checked against the object's sha256 (the service's ETag), so a stale or foreign
    `.part` can never pass as the object.
    """

    def __init__(self, target: str | os.PathLike[str], *, resume: bool) -> None:
        self.target = Path(target)
        self.part = self.target.with_name(self.target.name + ".part")
        if not resume and self.part.exists():
            self.part.unlink()
        self.offset = self.part.stat().st_size if self.part.exists() else 0
        self.total: int | None = None
        self.received = 0
        self._hash = hashlib.sha256()
        self._expected: str | None = None

    def restart(self) -> None:
        """Drop the partial file and start over from byte 0."""
        self.part.unlink(missing_ok=True)
        self.offset = 0

    def open(self, response: httpx.Response) -> Any:
        """Given a 200 or 206 answer, return the file to append the body to."""
        etag = _SHA256_ETAG.match(response.headers.get("etag", "").strip())
        self._expected = etag.group(1) if etag else None
        if response.status_code == 206 and self.offset:
            found = _TOTAL.search(response.headers.get("content-range", ""))
            self.total = int(found.group(1)) if found else None
            with self.part.open("rb") as f:
                while block := f.read(DOWNLOAD_CHUNK_BYTES):
                    self._hash.update(block)
            self.received = self.offset
            return self.part.open("ab")
        length = response.headers.get("content-length")
        self.total = int(length) if length and length.isdigit() else None
        self.offset = 0
        self.received = 0
        return self.part.open("wb")

    def write(self, f: Any, chunk: bytes) -> None:
        f.write(chunk)
        self._hash.update(chunk)
        self.received += len(chunk)

    def finish(self, expected_sha256: str | None = None) -> Path:
        expected = expected_sha256 or self._expected
        if self.total is not None and self.received != self.total:
            raise DownloadCorrupted(
                f"Got {self.received} of {self.total} bytes; run again to resume."
            )
        if expected is not None and self._hash.hexdigest() != expected:
            self.part.unlink(missing_ok=True)
            raise DownloadCorrupted("The downloaded bytes do not match the object's sha256.")
        os.replace(self.part, self.target)
        return self.target


__all__ = [
    "Call",
    "DEFAULT_URL",
    "Download",
    "IDEMPOTENCY_HEADER",
    "auth_headers",
    "check",
    "credential",
    "resolve_base_url",
]
