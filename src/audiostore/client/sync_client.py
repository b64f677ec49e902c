"""`Client`: the synchronous Python SDK over httpx. It speaks only the HTTP API.

`AsyncClient` (async_client.py) has the same methods; both build requests and parse
answers through `protocol`, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, overload

import httpx

from . import protocol
from .errors import ConnectionFailed
from .models import (
    ApiKey,
    AudioObject,
    AudioPage,
    BatchUrlItem,
    CleanupResult,
    IssuedApiKey,
    JobRun,
    Queue,
    QueueUrl,
    SignedUrl,
    Waveform,
)
from .protocol import Call, Download
from .queue_stream import QueueStream
from .retry import RetryPolicy, never_sent
from .upload_source import ProgressCallback, UploadBody, UploadSource
from .url_cache import SignedUrlCache


class Client:
    """A client for one audiostore service.

    `base_url` and `api_key` default to `AUDIOSTORE_URL` and `AUDIOSTORE_KEY`. Connection
    errors and 502/503/504 answers are retried with backoff (`retry`); uploads carry an
    `Idempotency-Key`, so a retried upload is stored once.

    Example:
        ```py
        with Client("http://127.0.0.1:8000", api_key=key) as c:
            obj = c.upload("take1.wav", collection="takes", progress=print)
            print(obj.duration, c.sign(obj.id, expires_in=600).url)
            for item in c.list(collection="takes"):
                print(item.name)
        ```
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        url_cache: SignedUrlCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = protocol.resolve_base_url(base_url)
        self.retry = retry or RetryPolicy()
        self.url_cache = url_cache or SignedUrlCache()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url, headers=protocol.auth_headers(api_key), timeout=timeout,
            transport=transport, follow_redirects=True,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- transport with retries -------------------------------------------------------
    def _send(
        self, call: Call, *, content: Callable[[], Any] | None = None, stream: bool = False
    ) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(
                call.method, call.path, params=call.params, json=call.json, headers=call.headers,
                content=content() if content is not None else None,
            )
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt < self.retry.attempts and (call.repeatable or never_sent(exc)):
                    self._sleep(self.retry.delay(attempt))
                    continue
                raise ConnectionFailed(f"Cannot reach {self.base_url}: {exc}") from exc
            if (
                call.repeatable and attempt < self.retry.attempts
                and self.retry.retry_status(response.status_code)
            ):
                response.close()
                self._sleep(self.retry.delay(attempt, response))
                continue
            return response

    # --- audio ------------------------------------------------------------------------
    def upload(
        self,
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
    ) -> AudioObject:
        """Upload a path, bytes or a binary file object, streamed in chunks.

        `progress(sent_bytes, total_bytes)` is called as the bytes go out (total is None
        for a pipe). A retry sends the same `Idempotency-Key` (a fresh one per call unless
        given), so the service stores the audio once. Returns the audio object with `url`.
        """
        body = UploadBody(source, name=name)
        call = protocol.upload_call(
            body, idempotency_key=idempotency_key or uuid.uuid4().hex, collection=collection,
            ttl_seconds=ttl_seconds, expires_at=expires_at, metadata=metadata, text=text,
            voice_id=voice_id, owner=owner,
        )
        obj = protocol.parse_audio(self._send(call, content=lambda: body.chunks(progress)))
        if obj.url and obj.url_expires_at:
            self.url_cache.put(SignedUrl(id=obj.id, url=obj.url, expires_at=obj.url_expires_at), None)
        return obj

    def get(self, audio_id: str) -> AudioObject:
        return protocol.parse_audio(self._send(protocol.get_call(audio_id)))

    def list_page(self, *, cursor: str | None = None, limit: int = 50, **filters: Any) -> AudioPage:
        """One page: filters `collection`, `prefix`, `q`, `created_after`, `created_before`,
        `owner` (admins)."""
        return protocol.parse_page(self._send(protocol.list_call(cursor, limit, filters)))

    def list(self, *, limit: int | None = None, page_size: int = 100, **filters: Any) -> Iterator[AudioObject]:
        """Every matching object, newest first, fetching pages as they are needed."""
        cursor: str | None = None
        seen = 0
        while True:
            size = page_size if limit is None else max(1, min(page_size, limit - seen))
            page = self.list_page(cursor=cursor, limit=size, **filters)
            for item in page.items:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.next_cursor
            if not cursor:
                return

    def update(self, audio_id: str, **changes: Any) -> AudioObject:
        """Change `name`, `metadata`, `ttl_seconds`/`expires_at` or `clear_expiry`."""
        return protocol.parse_audio(self._send(protocol.update_call(audio_id, changes)))

    def delete(self, audio_id: str) -> None:
        protocol.check(self._send(protocol.delete_call(audio_id)))
        self.url_cache.forget(audio_id)

    # --- signed URLs ------------------------------------------------------------------
    def sign(
        self,
        audio_id: str,
        *,
        expires_in: int | None = None,
        cached: bool = True,
        format: str | None = None,
        bitrate: str | int | None = None,
        sample_rate: int | None = None,
        channels: int | None = None,
        normalize: bool | None = None,
    ) -> SignedUrl:
        """A URL that fetches the bytes with no header; reused from the cache until shortly
        before it expires (`cached=False` always asks the service).

        With `format` (mp3, opus, aac, wav, flac) and optionally `bitrate` (bit/s or `"96k"`),
        `sample_rate`, `channels`, `normalize`, the URL opens that rendition and nothing else
        (the signature covers them)."""
        params = protocol.rendition(format, bitrate, sample_rate, channels, normalize)
        variant = protocol.rendition_variant(params)
        if cached and (hit := self.url_cache.get(audio_id, expires_in, variant)) is not None:
            return hit
        signed = protocol.parse_signed(self._send(protocol.sign_call(audio_id, expires_in, params)))
        self.url_cache.put(signed, expires_in, variant)
        return signed

    def sign_many(self, ids: Sequence[str], *, expires_in: int | None = None) -> list[BatchUrlItem]:
        """One answer per id, in order; cached URLs are reused and only the rest are asked."""
        cached = {i: self.url_cache.get(i, expires_in) for i in ids}
        missing = list(dict.fromkeys(i for i, hit in cached.items() if hit is None))
        fresh: dict[str, BatchUrlItem] = {}
        if missing:
            for item in protocol.parse_batch(self._send(protocol.sign_many_call(missing, expires_in))):
                fresh[item.id] = item
                if item.url and item.expires_at:
                    self.url_cache.put(SignedUrl(id=item.id, url=item.url, expires_at=item.expires_at), expires_in)
        out = []
        for i in ids:
            hit = cached[i]
            out.append(BatchUrlItem(id=i, url=hit.url, expires_at=hit.expires_at) if hit else fresh[i])
        return out

    # --- bytes ------------------------------------------------------------------------
    def download(
        self,
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
    ) -> Path:
        """Stream the bytes to `path` (through `path.part`, renamed when whole and checked
        against the sha256). With `resume`, a `.part` left by a cut download is continued
        with a Range request instead of starting over.

        With `format` (and `bitrate`, `sample_rate`, `channels`, `normalize`), the bytes are
        that rendition, made by the service on first request (checked against its sha256)."""
        params = protocol.rendition(format, bitrate, sample_rate, channels, normalize)
        dl = Download(path, resume=resume)
        for _ in range(2):
            response = self._send(protocol.content_call(audio_id, dl.offset, params), stream=True)
            try:
                if response.status_code == 416 and dl.offset:
                    dl.restart()
                    continue
                if not response.is_success:
                    response.read()
                    protocol.check(response)
                with dl.open(response) as f:
                    if progress is not None:
                        progress(dl.received, dl.total)
                    for chunk in response.iter_bytes(protocol.DOWNLOAD_CHUNK_BYTES):
                        dl.write(f, chunk)
                        if progress is not None:
                            progress(dl.received, dl.total)
            except httpx.TransportError as exc:
                raise ConnectionFailed(f"Download cut off ({exc}); run again to resume.") from exc
            finally:
                response.close()
            return dl.finish()
        raise ConnectionFailed("The service refused the byte range twice.")

    # --- waveforms --------------------------------------------------------------------
    @overload
    def waveform(self, audio_id: str, *, format: Literal["json"] = "json", **params: Any) -> Waveform: ...

    @overload
    def waveform(self, audio_id: str, *, format: Literal["dat"], **params: Any) -> bytes: ...

    def waveform(self, audio_id: str, *, format: str = "json", **params: Any) -> Waveform | bytes:
        """Waveform peaks: a `Waveform` (audiowaveform JSON), or with `format="dat"` the binary
        `.dat` bytes. Params: `samples_per_pixel` or `pixels_per_second`, `bits` (8 or 16),
        `channels` (`"mono"` or `"all"`)."""
        call = protocol.waveform_call(audio_id, {**params, "format": format})
        return protocol.parse_waveform(self._send(call), format)

    # --- queues -----------------------------------------------------------------------
    def put_queue(self, name: str, audio_ids: Sequence[str]) -> Queue:
        """Create or replace the queue `name` (ids in play order; repeats allowed)."""
        return protocol.parse_queue(self._send(protocol.put_queue_call(name, audio_ids)))

    def get_queue(self, name: str) -> Queue:
        return protocol.parse_queue(self._send(protocol.get_queue_call(name)))

    def delete_queue(self, name: str) -> None:
        protocol.check(self._send(protocol.delete_queue_call(name)))

    def stream_queue(self, name: str, mode: str = "sequential", *, until: float | None = None) -> QueueStream:
        """Open the queue's continuous MP3 (`mode`: sequential, loop, shuffle or
        endless-shuffle) and return it to iterate as `bytes` chunks, read as they arrive.
        Loops never end: stop iterating when you have enough, or give `until` (seconds of
        audio; the stream then ends on the frame boundary after it). Errors (no such queue,
        a bad mode, an empty queue) raise here, before any byte.

        Example:
            ```py
            with c.stream_queue("bedtime", mode="loop", until=600) as stream:
                for chunk in stream:
                    out.write(chunk)
            ```
        """
        response = self._send(protocol.stream_queue_call(name, mode), stream=True)
        if not response.is_success:
            try:
                response.read()
            finally:
                response.close()
            protocol.check(response)
        return QueueStream(response, mode, until)

    def queue_url(self, name: str, mode: str = "sequential", *, expires_in: int | None = None) -> QueueUrl:
        """A signed URL that plays the queue's stream in `mode` with no header (for players
        and devices that cannot send a key), valid for `expires_in` seconds."""
        return protocol.parse_queue_url(self._send(protocol.queue_url_call(name, mode, expires_in)))

    # --- maintenance (admin keys) -----------------------------------------------------
    def cleanup(
        self, older_than: str | float | timedelta, *, collection: str | None = None, owner: str | None = None
    ) -> CleanupResult:
        """Delete audio created more than `older_than` ago (seconds, a `timedelta`, or
        `"30m"`, `"24h"`, `"7d"`), expiring or not; only `collection`/`owner` if given.
        Admin keys only (others: `AuthenticationError`, 403)."""
        return protocol.parse_cleanup(self._send(protocol.cleanup_call(older_than, collection, owner)))

    def sweep(self) -> list[JobRun]:
        """Run every maintenance job once now; one `JobRun` (counts or error) per job.
        Admin keys only."""
        return protocol.parse_sweep(self._send(protocol.sweep_call()))

    # --- API keys (admin keys only) ---------------------------------------------------
    def create_key(
        self, owner: str, *, admin: bool = False, label: str | None = None
    ) -> IssuedApiKey:
        """Create a key for `owner`; its secret is `.key`, given this once. Admin keys only.

        Example:
            ```py
            alice = c.create_key("alice", label="alice's phone")
            print(alice.key)
            ```
        """
        return protocol.parse_issued_key(self._send(protocol.create_key_call(owner, admin, label)))

    def list_keys(self, *, owner: str | None = None) -> list[ApiKey]:
        """Every key (or `owner`'s), oldest first, revoked ones too; never a secret."""
        return protocol.parse_keys(self._send(protocol.list_keys_call(owner)))

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key by id or prefix; `NotFoundError` if no active key has it."""
        protocol.check(self._send(protocol.revoke_key_call(key_id)))

    # --- speech and service facts -----------------------------------------------------
    def tts(
        self,
        text: str,
        *,
        voice: str | None = None,
        format: str | None = None,
        speed: float | None = None,
        ttl_seconds: int | None = None,
        segments: bool = False,
        expires_in: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Speak `text` and store it; returns the audio object (JSON) with `url`, `engine`,
        `cache_hit` (and `segments` when asked).

        `expires_in` is the signed URLs' lifetime in seconds (default: the service's
        AUDIOSTORE_URL_DEFAULT_EXPIRY, not the audio's TTL). `metadata` is stored on the new
        audio; a cache hit returns the stored audio with the metadata it was made with."""
        call = protocol.tts_call(
            text, voice=voice, format=format, speed=speed, ttl_seconds=ttl_seconds,
            segments=segments, expires_in=expires_in, metadata=metadata,
        )
        return protocol.parse_json(self._send(call))  # type: ignore[no-any-return]

    def tts_voices(self) -> dict[str, Any]:
        """`{"engines": [...], "voices": [{id, engine, language, name}, ...]}`."""
        return protocol.parse_json(self._send(Call("GET", "/v1/tts/voices")))  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any]:
        return protocol.parse_json(self._send(Call("GET", "/v1/info")))  # type: ignore[no-any-return]

    def health(self) -> dict[str, Any]:
        return protocol.parse_json(self._send(Call("GET", "/v1/health")))  # type: ignore[no-any-return]


__all__ = ["Client"]
