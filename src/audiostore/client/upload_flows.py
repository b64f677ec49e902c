"""The SDK's upload flows: one POST, a resumable tus upload that goes on from the service's
offset after a cut (and, with an `UploadStateFile`, in a later process), and the signed
upload URLs a key holder hands to a browser or phone. Flows as in `flows`: generators of I/O
steps that `Client` and `AsyncClient` both drive.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import protocol, tus
from .errors import ApiError, ConnectionFailed
from .flows import Context, get, remember_url, send, sign
from .models import AudioObject, SignedUpload, SignedUrl, UploadUrl
from .steps import Flow, Sleep
from .upload_source import ProgressCallback, UploadBody, UploadSource
from .upload_state import UploadStateFile, fingerprint


def upload(
    client: Context,
    /,
    source: UploadSource,
    *,
    name: str | None = None,
    collection: str | None = None,
    ttl_seconds: int | None = None,
    expires_at: datetime | str | None = None,
    metadata: dict[str, Any] | None = None,
    text: str | None = None,
    voice_id: str | None = None,
    owner: str | None = None,
    progress: ProgressCallback | None = None,
    idempotency_key: str | None = None,
    tus_threshold: int | None = tus.DEFAULT_TUS_THRESHOLD,
    tus_chunk_bytes: int = tus.DEFAULT_TUS_CHUNK_BYTES,
    upload_state: UploadStateFile | None = None,
) -> Flow[AudioObject]:
    """Upload a path, bytes or a binary file object, streamed in chunks.

    `progress(sent_bytes, total_bytes)` is called as the bytes go out (total is None
    for a pipe). A retry sends the same `Idempotency-Key` (a fresh one per call unless
    given), so the service stores the audio once. Returns the audio object with `url`.

    A source larger than `tus_threshold` bytes (default 8 MiB; None: never) whose size is
    known and that can be re-read goes as a resumable tus upload (`/v1/uploads`) in PATCHes
    of `tus_chunk_bytes`, each checked with sha256: a dropped connection or a 5xx is followed
    by a HEAD and the upload goes on from the service's offset, within `retry`'s attempts
    (counted afresh after each chunk that gets through). With `upload_state` (an
    `UploadStateFile`), a path's unfinished upload is remembered on disk, and the same call
    in a later process resumes it. The idempotency key does not apply to tus uploads.
    """
    body = UploadBody(source, name=name)
    fields = {"name": body.name, "collection": collection, "ttl_seconds": ttl_seconds,
              "expires_at": expires_at, "metadata": metadata, "text": text, "voice_id": voice_id,
              "owner": owner}
    if _by_tus(body, tus_threshold):
        audio_id = yield from _tus_upload(
            client, body, tus.upload_metadata(fields), tus_chunk_bytes, progress, upload_state,
        )
        obj = yield from get(client, audio_id)
        signed = yield from sign(client, audio_id, cached=False)
        return obj.model_copy(update={"url": signed.url, "url_expires_at": signed.expires_at})
    call = protocol.upload_call(
        body, idempotency_key=idempotency_key or uuid.uuid4().hex, collection=collection,
        ttl_seconds=ttl_seconds, expires_at=expires_at, metadata=metadata, text=text,
        voice_id=voice_id, owner=owner,
    )
    obj = protocol.parse_audio((yield from send(client, call, body=body, progress=progress)))
    if obj.url and obj.url_expires_at:
        remember_url(client, SignedUrl(id=obj.id, url=obj.url, expires_at=obj.url_expires_at), None)
    return obj


def _by_tus(body: UploadBody, threshold: int | None) -> bool:
    """A source over the threshold whose size is known and that can be re-read goes by tus."""
    return threshold is not None and body.rewindable and (body.total or 0) > threshold


def _tus_upload(
    client: Context,
    body: UploadBody,
    metadata: str,
    chunk_bytes: int,
    progress: ProgressCallback | None,
    state: UploadStateFile | None,
    signed_url: str | None = None,
) -> Flow[str]:
    """Send `body` by tus, resuming after each failure from the service's offset; the id of
    the stored audio. Failures in a row are bounded by `client.retry.attempts`.

    With `signed_url` (a signed upload URL's `tus_url`), the upload is created there and
    every request goes without the client's key: the upload's `Location` carries its own
    signature."""
    assert body.total is not None
    if chunk_bytes < 1:
        raise ValueError("tus_chunk_bytes must be at least 1.")
    keyed = signed_url is None
    created_at = client.base_url if signed_url is None else signed_url
    identity = body.identity() if state is not None else None
    key = fingerprint(created_at, identity, metadata) if identity is not None else None
    location = state.get(key) if state is not None and key is not None else None
    offset: int | None = None  # None: ask the service (HEAD) before the next PATCH
    audio_id: str | None = None
    failures = 0
    while audio_id is None:
        try:
            if location is None:
                created = yield from send(client, tus.create_call(body.total, metadata, signed_url))
                location = tus.created_location(created_at, created)
                offset = 0
                if state is not None and key is not None:
                    state.put(key, location, tus.expires_of(created))
            if offset is None:
                head = yield from send(client, tus.head_call(location, credentials=keyed))
                if head.status_code in tus.GONE_STATUSES:  # expired, or another key's: anew
                    location = None
                    continue
                where = tus.status_of(head)
                offset, audio_id = where.offset, where.audio_id
                if audio_id:  # the last PATCH got through; its answer did not
                    continue
            part = body.part(offset, min(offset + chunk_bytes, body.total))
            answer = tus.status_of((yield from send(
                client, tus.patch_call(location, part, part.sha256(), credentials=keyed), body=part,
                progress=progress,
            )))
            offset, audio_id = answer.offset, answer.audio_id
            failures = 0
        except (ApiError, ConnectionFailed) as exc:
            failures += 1
            if not tus.resumable(exc) or failures >= client.retry.attempts:
                if state is not None and key is not None and not tus.resumable(exc):
                    state.forget(key)
                raise
            yield Sleep(client.retry.delay(failures))
            offset = None
    if state is not None and key is not None:
        state.forget(key)
    return audio_id


# --- signed upload URLs ----------------------------------------------------------------
def create_upload_url(
    client: Context,
    /,
    *,
    collection: str | None = None,
    name: str | None = None,
    owner: str | None = None,
    max_bytes: int | None = None,
    formats: Sequence[str] | None = None,
    expires_in: int | None = None,
    ttl_seconds: int | None = None,
) -> Flow[UploadUrl]:
    """A one-use signed upload URL (API key, or a token with the upload scope): its holder
    sends one file to `collection` with no key, within `max_bytes` and `formats`, for
    `expires_in` seconds; `name` and `ttl_seconds` are the stored object's. Hand `.url`
    (and `.tus_url`) to a browser or phone, or pass the whole to `upload_to_signed_url`.

    Example:
        ```py
        u = c.create_upload_url(collection="phone", formats=["wav"], expires_in=600)
        stored = upload_to_signed_url(u, "take1.wav")   # no key needed
        ```
    """
    body = {"collection": collection, "name": name, "owner": owner, "max_bytes": max_bytes,
            "formats": list(formats) if formats is not None else None, "expires_in": expires_in,
            "ttl_seconds": ttl_seconds}
    return protocol.parse_upload_url((yield from send(client, protocol.create_upload_url_call(body))))


def upload_to_signed_url(
    client: Context,
    /,
    url: UploadUrl | str,
    source: UploadSource,
    *,
    progress: ProgressCallback | None = None,
    tus_threshold: int | None = tus.DEFAULT_TUS_THRESHOLD,
    tus_chunk_bytes: int = tus.DEFAULT_TUS_CHUNK_BYTES,
    upload_state: UploadStateFile | None = None,
) -> Flow[SignedUpload]:
    """Send one file to a signed upload URL (an `UploadUrl`, or its `url` or `tus_url`),
    without the client's key: the URL is the right, and fixes the collection, name and
    bounds. Returns a `SignedUpload`: the id, and the object when the service answered it.

    A source larger than `tus_threshold` (as for `upload`) goes by tus through the URL's
    `tus_url`, in sha256-checked PATCHes that resume from the service's offset after a cut;
    `upload_state` remembers it on disk so a later process resumes it (the URL itself
    creates one upload only). Smaller sources go as one `PUT`, sent once: the URL stores one
    object, so a second use answers `GoneError` (410 `upload_url_used`), an expired URL
    `PermissionDeniedError` (403 `signature_expired`).
    """
    put_url = url.url if isinstance(url, UploadUrl) else url
    tus_url = url.tus_url if isinstance(url, UploadUrl) else tus.signed_tus_url(url)
    body = UploadBody(source)
    if put_url == tus_url and not body.rewindable:
        raise ValueError("A tus URL takes a source of known size that can be re-read (a path, "
                         "bytes, a seekable file); send a pipe to the signed upload URL's `url`.")
    if _by_tus(body, tus_threshold) or put_url == tus_url:
        audio_id = yield from _tus_upload(
            client, body, "", tus_chunk_bytes, progress, upload_state, signed_url=tus_url,
        )
        return SignedUpload(id=audio_id)
    call = protocol.signed_put_call(put_url, body)
    obj = protocol.parse_audio((yield from send(client, call, body=body, progress=progress)))
    return SignedUpload(id=obj.id, audio=obj)
