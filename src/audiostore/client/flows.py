"""Every SDK call written once, as a flow: retries, pagination, the `sign_many` cache merge,
download resume and stream errors, for `Client` and `AsyncClient` alike.

A flow is a generator that yields I/O steps (`steps`: send this request, sleep, read that
body, the next chunk) and receives their answers; `drivers.SyncDriver` performs them with
`httpx.Client`, `drivers.AsyncDriver` with `httpx.AsyncClient`. This is httpx's own habit
for the one piece of its logic that must run both ways (`Auth.auth_flow`, driven by
`sync_auth_flow` and `async_auth_flow` in `httpx/_auth.py`).

Why flows and not `unasync` (generating `sync_client.py` from `async_client.py`, as
httpcore does): with unasync the logic is still written out twice in the tree, once by
hand and once by a tool, so a reader still meets two copies, `duplicates` still pairs
them, and the generated copy needs a check that it is current. With flows there is one
copy, the async and sync clients cannot drift apart by construction, and each flow can be
tested without a network by sending it answers. The cost is one level of indirection: a
flow `yield from send(...)`s where a client would have called `self._http.send(...)`.

The public signature and docstring of each call are those of its flow here (`api.Api`
binds them to both clients); the first parameter is the client itself (`Context`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx

from . import protocol
from .errors import ConnectionFailed
from .models import ApiKey, AudioObject, AudioPage, BatchUrlItem, CleanupResult, IssuedApiKey, JobRun
from .models import ClientToken, PublicCollection, Queue, QueueUrl, TokenRevocation
from .models import SignedUrl, Waveform
from .protocol import Call, Download
from .retry import RetryPolicy, never_sent
from .steps import Chunks, Close, Emit, Feed, Flow, Next, Read, Send, Sleep
from .upload_source import BodyPart, ProgressCallback, UploadBody
from .url_cache import SignedUrlCache


class Context(Protocol):
    """What a flow reads from the client that runs it."""

    base_url: str
    retry: RetryPolicy
    url_cache: SignedUrlCache


# --- transport with retries ------------------------------------------------------------
def send(
    client: Context,
    /,
    call: Call,
    *,
    body: UploadBody | BodyPart | None = None,
    progress: ProgressCallback | None = None,
    stream: bool = False,
) -> Flow[httpx.Response]:
    """Send `call`, retrying connection errors and 502/503/504 as `client.retry` says, and
    an upload whose `Idempotency-Key` is still being stored (409 `idempotency_key_in_progress`)
    up to `client.retry.in_progress_attempts` tries.

    A call that is not `repeatable` is sent again only when it cannot have left."""
    attempt = 0
    waited_in_progress = 0
    while True:
        attempt += 1
        try:
            response: httpx.Response = yield Send(call, body, progress, stream)
        except httpx.TransportError as exc:
            if attempt < client.retry.attempts and (call.repeatable or never_sent(exc)):
                yield Sleep(client.retry.delay(attempt))
                continue
            raise ConnectionFailed(f"Cannot reach {client.base_url}: {exc}") from exc
        if (
            call.repeatable and attempt < client.retry.attempts
            and client.retry.retry_status(response.status_code)
        ):
            yield Close(response)
            yield Sleep(client.retry.delay(attempt, response))
            continue
        if (
            call.repeatable and not stream and waited_in_progress + 1 < client.retry.in_progress_attempts
            and protocol.in_progress(response)
        ):
            waited_in_progress += 1
            attempt -= 1  # a wait for another request, not a failure of this one
            yield Sleep(client.retry.delay(waited_in_progress, response))
            continue
        return response


def remember_url(client: Context, signed: SignedUrl, expires_in: int | None, variant: str | None = None) -> None:
    client.url_cache.put(signed, expires_in, variant)


# --- audio -----------------------------------------------------------------------------
def get(client: Context, /, audio_id: str) -> Flow[AudioObject]:
    """The audio object `audio_id`."""
    return protocol.parse_audio((yield from send(client, protocol.get_call(audio_id))))


def list_page(client: Context, /, *, cursor: str | None = None, limit: int = 50, **filters: Any) -> Flow[AudioPage]:
    """One page: filters `collection`, `prefix`, `q`, `created_after`, `created_before`,
    `owner` (admins)."""
    return protocol.parse_page((yield from send(client, protocol.list_call(cursor, limit, filters))))


def list_items(client: Context, /, *, limit: int | None = None, page_size: int = 100, **filters: Any) -> Feed[AudioObject]:
    """Every matching object, newest first, fetching pages as they are needed."""
    cursor: str | None = None
    seen = 0
    while True:
        size = page_size if limit is None else max(1, min(page_size, limit - seen))
        page = yield from list_page(client, cursor=cursor, limit=size, **filters)
        for item in page.items:
            yield Emit(item)
            seen += 1
            if limit is not None and seen >= limit:
                return
        cursor = page.next_cursor
        if not cursor:
            return


def update(client: Context, /, audio_id: str, **changes: Any) -> Flow[AudioObject]:
    """Change `name`, `metadata`, `ttl_seconds`/`expires_at` or `clear_expiry`."""
    return protocol.parse_audio((yield from send(client, protocol.update_call(audio_id, changes))))


def delete(client: Context, /, audio_id: str) -> Flow[None]:
    """Delete the audio (and forget its cached signed URLs)."""
    protocol.check((yield from send(client, protocol.delete_call(audio_id))))
    client.url_cache.forget(audio_id)


# --- signed URLs -----------------------------------------------------------------------
def sign(
    client: Context,
    /,
    audio_id: str,
    *,
    expires_in: int | None = None,
    cached: bool = True,
    format: str | None = None,
    bitrate: str | int | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
    normalize: bool | None = None,
) -> Flow[SignedUrl]:
    """A URL that fetches the bytes with no header; reused from the cache until shortly
    before it expires (`cached=False` always asks the service).

    With `format` (mp3, opus, aac, wav, flac) and optionally `bitrate` (bit/s or `"96k"`),
    `sample_rate`, `channels`, `normalize`, the URL opens that rendition and nothing else
    (the signature covers them)."""
    params = protocol.rendition(format, bitrate, sample_rate, channels, normalize)
    return (yield from _signed_url(client, audio_id, expires_in, cached, params))


def hls_url(
    client: Context,
    /,
    audio_id: str,
    *,
    start: float | None = None,
    end: float | None = None,
    expires_in: int | None = None,
    cached: bool = True,
) -> Flow[SignedUrl]:
    """A URL of the audio's HLS master playlist (AAC at 64 and 128 kbit/s, 6-second
    segments) that a player opens with no header (hls.js, Safari, mpv, ffmpeg): every
    playlist and segment it lists is signed too. Reused from the cache like `sign`.

    With `start` and/or `end` (seconds), the playlists are those of just that clip, and the
    signature covers it: no URL they list opens anything outside it."""
    params = protocol.hls_clip(start, end)
    return (yield from _signed_url(client, audio_id, expires_in, cached, params))


def _signed_url(
    client: Context, audio_id: str, expires_in: int | None, cached: bool, params: dict[str, Any]
) -> Flow[SignedUrl]:
    """`POST /v1/audio/{id}/url` with `params`, through the cache (one entry per `params`)."""
    variant = protocol.rendition_variant(params)
    if cached and (hit := client.url_cache.get(audio_id, expires_in, variant)) is not None:
        return hit
    signed = protocol.parse_signed((yield from send(client, protocol.sign_call(audio_id, expires_in, params))))
    remember_url(client, signed, expires_in, variant)
    return signed


def sign_many(client: Context, /, ids: Sequence[str], *, expires_in: int | None = None) -> Flow[list[BatchUrlItem]]:
    """One answer per id, in order; cached URLs are reused and only the rest are asked."""
    cached = {i: client.url_cache.get(i, expires_in) for i in ids}
    missing = list(dict.fromkeys(i for i, hit in cached.items() if hit is None))
    fresh: dict[str, BatchUrlItem] = {}
    if missing:
        answer = yield from send(client, protocol.sign_many_call(missing, expires_in))
        for item in protocol.parse_batch(answer):
            fresh[item.id] = item
            if item.url and item.expires_at:
                remember_url(client, SignedUrl(id=item.id, url=item.url, expires_at=item.expires_at), expires_in)
    out = []
    for i in ids:
        hit = cached[i]
        out.append(BatchUrlItem(id=i, url=hit.url, expires_at=hit.expires_at) if hit else fresh[i])
    return out


# --- bytes -----------------------------------------------------------------------------
def _read_error(response: httpx.Response) -> Flow[None]:
    """Raise the `ApiError` of a streamed answer that failed (reading its body first)."""
    if not response.is_success:
        try:
            yield Read(response)
        finally:
            yield Close(response)
        protocol.check(response)


def download(
    client: Context,
    /,
    audio_id: str,
    path: str | os.PathLike[str],
    *,
    resume: bool = True,
    progress: ProgressCallback | None = None,
    format: str | None = None,
    bitrate: str | int | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
    normalize: bool | None = None,
) -> Flow[Path]:
    """Stream the bytes to `path` (through `path.part`, renamed when whole and checked
    against the sha256). With `resume`, a `.part` left by a cut download is continued
    with a Range request instead of starting over.

    With `format` (and `bitrate`, `sample_rate`, `channels`, `normalize`), the bytes are
    that rendition, made by the service on first request (checked against its sha256)."""
    params = protocol.rendition(format, bitrate, sample_rate, channels, normalize)
    dl = Download(path, resume=resume)
    for _ in range(2):
        response = yield from send(client, protocol.content_call(audio_id, dl.offset, params), stream=True)
        try:
            if response.status_code == 416 and dl.offset:
                dl.restart()
                continue
            yield from _read_error(response)
            with dl.open(response) as f:
                if progress is not None:
                    progress(dl.received, dl.total)
                chunks = yield Chunks(response, protocol.DOWNLOAD_CHUNK_BYTES)
                while (chunk := (yield Next(chunks))) is not None:
                    dl.write(f, chunk)
                    if progress is not None:
                        progress(dl.received, dl.total)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"Download cut off ({exc}); run again to resume.") from exc
        finally:
            yield Close(response)
        return dl.finish()
    raise ConnectionFailed("The service refused the byte range twice.")


# --- waveforms -------------------------------------------------------------------------
def waveform(client: Context, /, audio_id: str, *, format: str = "json", **params: Any) -> Flow[Waveform | bytes]:
    """Waveform peaks: a `Waveform` (audiowaveform JSON), or with `format="dat"` the binary
    `.dat` bytes. Params: `samples_per_pixel` or `pixels_per_second`, `bits` (8 or 16),
    `channels` (`"mono"` or `"all"`)."""
    call = protocol.waveform_call(audio_id, {**params, "format": format})
    return protocol.parse_waveform((yield from send(client, call)), format)


# --- queues ----------------------------------------------------------------------------
def put_queue(client: Context, /, name: str, audio_ids: Sequence[str]) -> Flow[Queue]:
    """Create or replace the queue `name` (ids in play order; repeats allowed)."""
    return protocol.parse_queue((yield from send(client, protocol.put_queue_call(name, audio_ids))))


def get_queue(client: Context, /, name: str) -> Flow[Queue]:
    """The queue `name` and its items."""
    return protocol.parse_queue((yield from send(client, protocol.get_queue_call(name))))


def delete_queue(client: Context, /, name: str) -> Flow[None]:
    """Delete the queue `name` (its audio stays)."""
    protocol.check((yield from send(client, protocol.delete_queue_call(name))))


def stream_queue(client: Context, /, name: str, mode: str) -> Flow[httpx.Response]:
    """The open streamed answer of the queue's MP3; errors raise here, before any byte."""
    response = yield from send(client, protocol.stream_queue_call(name, mode), stream=True)
    yield from _read_error(response)
    return response


def queue_url(
    client: Context, /, name: str, mode: str = "sequential", *, expires_in: int | None = None, hls: bool = False
) -> Flow[QueueUrl]:
    """A signed URL that plays the queue's stream in `mode` with no header (for players
    and devices that cannot send a key), valid for `expires_in` seconds. With `hls=True`,
    the queue's HLS playlist instead of its MP3 stream (VOD for sequential and shuffle,
    live for loop and endless-shuffle)."""
    call = protocol.queue_url_call(name, mode, expires_in, hls)
    return protocol.parse_queue_url((yield from send(client, call)))


# --- maintenance (admin keys) ----------------------------------------------------------
def cleanup(
    client: Context, /, older_than: str | float | timedelta, *, collection: str | None = None, owner: str | None = None
) -> Flow[CleanupResult]:
    """Delete audio created more than `older_than` ago (seconds, a `timedelta`, or
    `"30m"`, `"24h"`, `"7d"`), expiring or not; only `collection`/`owner` if given.
    Admin keys only (others: `AuthenticationError`, 403)."""
    return protocol.parse_cleanup((yield from send(client, protocol.cleanup_call(older_than, collection, owner))))


def sweep(client: Context, /) -> Flow[list[JobRun]]:
    """Run every maintenance job once now; one `JobRun` (counts or error) per job.
    Admin keys only."""
    return protocol.parse_sweep((yield from send(client, protocol.sweep_call())))


# --- API keys (admin keys) -------------------------------------------------------------
def create_key(
    client: Context, /, owner: str, *, admin: bool = False, label: str | None = None
) -> Flow[IssuedApiKey]:
    """Create a key for `owner`; its secret is `.key`, given this once. Admin keys only.

    Example:
        ```py
        alice = c.create_key("alice", label="alice's phone")
        print(alice.key)
        ```
    """
    call = protocol.create_key_call(owner, admin, label)
    return protocol.parse_issued_key((yield from send(client, call)))


def list_keys(client: Context, /, *, owner: str | None = None) -> Flow[list[ApiKey]]:
    """Every key (or `owner`'s), oldest first, revoked ones too; never a secret."""
    return protocol.parse_keys((yield from send(client, protocol.list_keys_call(owner))))


def revoke_key(client: Context, /, key_id: str) -> Flow[None]:
    """Revoke a key by id or prefix; `NotFoundError` if no active key has it."""
    protocol.check((yield from send(client, protocol.revoke_key_call(key_id))))


# --- client tokens and public collections -----------------------------------------------
def create_token(
    client: Context,
    /,
    scopes: Sequence[str],
    *,
    owner: str | None = None,
    collections: Sequence[str] | None = None,
    lifetime_seconds: int | None = None,
    max_bytes: int | None = None,
    formats: Sequence[str] | None = None,
) -> Flow[ClientToken]:
    """Mint a short-lived client token (scopes: read, upload, delete, list) for a browser or
    phone to use instead of a key; with an API key only (admins may name another `owner`).

    Example:
        ```py
        t = c.create_token(["upload"], collections=["takes"], max_bytes=50_000_000,
                           formats=["wav", "webm"], lifetime_seconds=600)
        phone = Client(c.base_url, token=t.token)
        ```
    """
    body = {"scopes": list(scopes), "owner": owner, "lifetime_seconds": lifetime_seconds,
            "max_bytes": max_bytes,
            "collections": list(collections) if collections is not None else None,
            "formats": list(formats) if formats is not None else None}
    return protocol.parse_token((yield from send(client, protocol.create_token_call(body))))


def revoke_tokens(client: Context, /, owner: str, *, before: datetime | None = None) -> Flow[TokenRevocation]:
    """Refuse every client token of `owner` issued before `before` (default: now). Admin keys."""
    return protocol.parse_revocation((yield from send(client, protocol.revoke_tokens_call(owner, before))))


def make_public(client: Context, /, owner: str, collection: str) -> Flow[PublicCollection]:
    """Make `owner`'s collection public (its owner's key, or an admin key): its objects play
    at `.url` + id or name, with no key and no expiry."""
    return protocol.parse_public((yield from send(client, protocol.make_public_call(owner, collection))))


def make_private(client: Context, /, owner: str, collection: str) -> Flow[None]:
    """Make a public collection private again: its public URLs answer 404 at once."""
    protocol.check((yield from send(client, protocol.make_private_call(owner, collection))))


def public_collections(client: Context, /, *, owner: str | None = None) -> Flow[list[PublicCollection]]:
    """The public collections of the key's owner (admins: everyone's, or `owner`'s)."""
    return protocol.parse_publics((yield from send(client, protocol.public_collections_call(owner))))


# --- speech and service facts ----------------------------------------------------------
def tts(
    client: Context,
    /,
    text: str,
    *,
    voice: str | None = None,
    format: str | None = None,
    speed: float | None = None,
    ttl_seconds: int | None = None,
    segments: bool = False,
    expires_in: int | None = None,
    metadata: dict[str, Any] | None = None,
) -> Flow[dict[str, Any]]:
    """Speak `text` and store it; returns the audio object (JSON) with `url`, `engine`,
    `cache_hit` (and `segments` when asked).

    `expires_in` is the signed URLs' lifetime in seconds (default: the service's
    AUDIOSTORE_URL_DEFAULT_EXPIRY, not the audio's TTL). `metadata` is stored on the new
    audio; a cache hit returns the stored audio with the metadata it was made with."""
    call = protocol.tts_call(
        text, voice=voice, format=format, speed=speed, ttl_seconds=ttl_seconds,
        segments=segments, expires_in=expires_in, metadata=metadata,
    )
    return (yield from _json(client, call))


def _json(client: Context, /, call: Call) -> Flow[dict[str, Any]]:
    answer: dict[str, Any] = protocol.parse_json((yield from send(client, call)))
    return answer


def tts_voices(client: Context, /) -> Flow[dict[str, Any]]:
    """`{"engines": [...], "voices": [{id, engine, language, name}, ...]}`."""
    return (yield from _json(client, Call("GET", "/v1/tts/voices")))


def info(client: Context, /) -> Flow[dict[str, Any]]:
    """What the service runs on: store, bucket, endpoint, catalogue, signing (never secrets)."""
    return (yield from _json(client, Call("GET", "/v1/info")))


def health(client: Context, /) -> Flow[dict[str, Any]]:
    """Liveness: `status` is "ok", or "degraded" when the catalogue cannot be reached."""
    return (yield from _json(client, Call("GET", "/v1/health")))


__all__ = ["Context", "send"]
