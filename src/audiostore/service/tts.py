"""TtsService: text to stored speech, with the request cache.

Speech is stored through the same path as uploads (`Ingest.store`), so keys,
probing, expiry and deletion follow the same rules. An identical request (engine, voice,
text, format, options) made by the same owner is answered from storage while the audio it
made lives; concurrent identical requests in one process synthesise once (a per-request
lock), and the catalogue's `tts_requests` table carries the cache across restarts.

Two fields are not part of the cache key, because they are about the caller's use of the
audio, not the speech: `expires_in` (the signed URLs' lifetime, checked and capped exactly as
`AudioService.sign` does, on a cache hit too) and `metadata` (stored on every object the
request makes, beside the service's own `tts` facts). A cache hit leaves the stored objects'
metadata as the request that made them left it; it is still checked, so bad metadata is a 422
whether or not the cache would answer.

`SpeechStreams` (speech_streams.py) answers the same requests as bytes while they are made,
sentence by sentence (`POST /v1/audio/speech`, `/v1/tts` with `stream: true`): a cache hit
streams the stored object; otherwise one synthesis per request is shared by every listener
that asks for it meanwhile (`LiveSpeech`), and its complete result is stored into the same
cache. A result is
stored whole or not at all: when every listener leaves before the last sentence, the
synthesis stops and nothing is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from .. import metrics
from ..catalog import AudioRow
from ..catalog.models import TtsRequestRow
from ..catalog.tts_requests import TtsRequestCatalog
from ..errors import EngineFailed, InvalidMetadata, UnknownFormat, ValidationFailed
from ..settings import TtsSettings
from ..tts import (
    OUTPUT_FORMATS,
    EngineError,
    EngineRegistry,
    Speech,
    SynthesisOptions,
    TtsEngine,
    Voice,
    encode_speech,
    split_sentences,
)
from .audio import AudioService, SignedUrl
from .ingest import Ingest, StoredUpload
from .deletion import Deletion
from .metadata_field import check_metadata
from .principal import Principal
from .text_field import check_text
from .tts_request import TtsRequest
from .upload_fields import UploadFields
from .upload_source import FileUploadSource

log = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.5, 2.0
PRUNE_EVERY_SECONDS = 3600.0
MIN_SPEECH_SECONDS = 0.05  # less than this is a click, not speech: the text had nothing to say
TTS_METADATA_KEY = "tts"  # the service's own facts in each object's metadata; callers may not use it


@dataclass(frozen=True, slots=True)
class SpokenPart:
    """One stored piece of speech with a fresh signed URL."""

    row: AudioRow
    signed: SignedUrl
    text: str
    phonemes: str | None


@dataclass(frozen=True, slots=True)
class TtsResult:
    whole: SpokenPart
    engine: str
    cache_hit: bool
    segments: list[SpokenPart] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SpeechPlan:
    """A validated request: which engine and voice, and its cache key (`format` is a key of
    the format table it was checked against)."""

    engine: TtsEngine
    voice: Voice
    text: str
    format: str
    options: SynthesisOptions
    segments: bool
    ttl_seconds: int | None
    request_hash: str
    url_expires_in: int
    metadata: dict[str, Any]


class TtsService:
    def __init__(
        self, *, settings: TtsSettings, audio: AudioService, ingest: Ingest, registry: EngineRegistry,
        requests: TtsRequestCatalog, deletion: Deletion,
    ) -> None:
        self.settings = settings
        self.audio = audio
        self.ingest = ingest
        self.deletion = deletion
        self.registry = registry
        self.requests = requests
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._last_prune = time.monotonic()
        # Syntheses being streamed now (`SpeechStreams` keeps this): each one's "stored or
        # failed" event, by owner and request.
        self.streaming: dict[tuple[str, str], asyncio.Event] = {}

    def lock_for(self, owner: str, request_hash: str) -> asyncio.Lock:
        """The lock identical requests of one owner take turns with in this process."""
        return self._locks.setdefault((owner, request_hash), asyncio.Lock())

    async def voices(self) -> list[Voice]:
        try:
            return await self.registry.voices()
        except EngineError as exc:  # e.g. the worker listing espeak-ng's voices died
            raise EngineFailed(f"Listing the voices failed: {exc}") from exc

    async def speak(self, principal: Principal, request: TtsRequest) -> TtsResult:
        """Synthesise and store `request`, or answer it from the cache."""
        plan = await self.plan(request)
        owner = principal.owner
        streamed = self.streaming.get((owner, plan.request_hash))
        if streamed is not None:  # the same speech, being streamed: its result is the cache's
            await streamed.wait()
        async with self.lock_for(owner, plan.request_hash):
            cached = await self._from_cache(principal, plan)
            if cached is not None:
                metrics.TTS_CACHE_HITS.labels(plan.engine.name).inc()
                return cached
            result = await self._synthesise_and_store(principal, plan)
        if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
            await self.prune_cache()
        return result

    async def prune_cache(self) -> dict[str, int]:
        """Forget cached requests whose audio is gone (a job-shaped unit: returns counts).
        Runs by itself at most hourly after a synthesis; stale entries never serve audio."""
        self._last_prune = time.monotonic()
        return {"tts_requests_pruned": await self.requests.prune_orphans()}

    # --- validation -------------------------------------------------------------------
    async def plan(
        self, request: TtsRequest, formats: Mapping[str, object] = OUTPUT_FORMATS
    ) -> SpeechPlan:
        """Check `request` and find its engine, voice and cache key; `formats` names the
        formats this way of answering can give."""
        text = request.text
        if not text or not text.strip():
            raise ValidationFailed("text is empty: give the words to speak.")
        check_text(text, "text")
        limit = self.settings.tts_max_text_chars
        if len(text) > limit:
            raise ValidationFailed(
                f"text holds {len(text)} characters; at most {limit} (AUDIOSTORE_TTS_MAX_TEXT_CHARS)."
            )
        fmt = (request.format or self.settings.tts_default_format).lower()
        if fmt not in formats:
            raise UnknownFormat(f"Unknown format {fmt!r}; use one of {', '.join(formats)}.")
        speed = 1.0 if request.speed is None else float(request.speed)
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValidationFailed(f"speed must be between {MIN_SPEED} and {MAX_SPEED}.")
        if request.ttl_seconds is not None and request.ttl_seconds <= 0:
            raise ValidationFailed("ttl_seconds must be positive.")
        url_expires_in = self.audio.check_expires_in(request.expires_in)
        metadata = _caller_metadata(request.metadata)
        try:
            engine, voice = await self.registry.resolve(request.voice or self.settings.tts_default_voice)
        except EngineError as exc:  # the voices could not be listed (not cached: retried next time)
            raise EngineFailed(f"Listing the voices failed: {exc}") from exc
        options = SynthesisOptions(speed=speed)
        key = json.dumps(
            {"engine": engine.name, "voice": voice.id, "text": text, "format": fmt,
             "speed": speed, "segments": request.segments},
            sort_keys=True, ensure_ascii=False,
        )
        ttl = request.ttl_seconds
        if ttl is None and self.settings.tts_default_ttl > 0:
            ttl = self.settings.tts_default_ttl
        plan = SpeechPlan(
            engine=engine, voice=voice, text=text, format=fmt, options=options,
            segments=request.segments, ttl_seconds=ttl,
            request_hash=hashlib.sha256(key.encode()).hexdigest(),
            url_expires_in=url_expires_in, metadata=metadata,
        )
        if metadata:  # the largest object metadata this request can store must still fit
            worst_segment = self.settings.tts_max_text_chars if plan.segments else None
            try:
                check_metadata(_stored_metadata(plan, worst_segment))
            except InvalidMetadata as exc:
                raise InvalidMetadata(
                    f"{exc.message.rstrip('.')}, counting the `{TTS_METADATA_KEY}` facts the "
                    "service adds to it."
                ) from exc
        return plan

    # --- cache ------------------------------------------------------------------------
    async def _from_cache(self, principal: Principal, plan: SpeechPlan) -> TtsResult | None:
        entry = await self.requests.get(principal.owner, plan.request_hash)
        if entry is None:
            return None
        parts = entry.segments or []
        ids = [entry.audio_id, *(p["audio_id"] for p in parts)]
        rows = await self.audio.catalog.get_many_visible(ids, owner=principal.owner, now=self.audio.clock())
        if len(rows) != len(ids):
            return None  # some of it expired or was deleted: synthesise again
        whole = await self._signed(principal, plan, rows[entry.audio_id], plan.text, entry.phonemes)
        segments = [
            await self._signed(principal, plan, rows[p["audio_id"]], p["text"], p.get("phonemes"))
            for p in parts
        ]
        return TtsResult(whole=whole, engine=entry.engine, cache_hit=True, segments=segments)

    async def cached_row(self, principal: Principal, plan: SpeechPlan) -> AudioRow | None:
        """The stored whole of an identical earlier request, while it lives."""
        entry = await self.requests.get(principal.owner, plan.request_hash)
        if entry is None:
            return None
        rows = await self.audio.catalog.get_many_visible(
            [entry.audio_id], owner=principal.owner, now=self.audio.clock()
        )
        return rows.get(entry.audio_id)

    async def remember(self, principal: Principal, plan: SpeechPlan, row: AudioRow, phonemes: str | None) -> None:
        """Make `row` the cached answer of `plan` (a request without segments)."""
        await self.requests.put(TtsRequestRow(
            owner=principal.owner, request_hash=plan.request_hash, audio_id=row.id,
            engine=plan.engine.name, phonemes=phonemes, segments=None, created_at=self.audio.clock(),
        ))

    async def _signed(
        self, principal: Principal, plan: SpeechPlan, row: AudioRow, text: str, phonemes: str | None
    ) -> SpokenPart:
        # `row` was just read as visible to this owner (or just stored): no second lookup.
        signed = (await self.audio.sign_rows([row], expires_in=plan.url_expires_in))[0]
        return SpokenPart(row=row, signed=signed, text=text, phonemes=phonemes)

    # --- synthesis and storage --------------------------------------------------------
    async def synthesise(self, plan: SpeechPlan, text: str) -> Speech:
        engine = plan.engine.name
        started = time.perf_counter()
        try:
            speech = await plan.engine.synthesize(text, plan.voice, plan.options)
            if speech.samples.size == 0:
                raise EngineError("the engine returned no audio")
        except EngineError as exc:
            metrics.TTS_SYNTHESES.labels(engine, "failed").inc()
            raise EngineFailed(f"The {engine} engine failed: {exc}") from exc
        except Exception as exc:  # an engine bug is still the engine's failure, not a 500
            log.exception("%s engine raised", engine)
            metrics.TTS_SYNTHESES.labels(engine, "failed").inc()
            raise EngineFailed(f"The {engine} engine failed: {type(exc).__name__}.") from exc
        metrics.TTS_SYNTHESES.labels(engine, "ok").inc()
        metrics.TTS_SYNTHESIS_SECONDS.labels(engine).observe(time.perf_counter() - started)
        if speech.duration < MIN_SPEECH_SECONDS:
            raise ValidationFailed(f"The voice finds nothing to speak in {text[:40]!r}.")
        return speech

    async def _synthesise_and_store(self, principal: Principal, plan: SpeechPlan) -> TtsResult:
        texts = split_sentences(plan.text) if plan.segments else [plan.text]
        # Everything is synthesised before anything is stored: an engine failure stores nothing.
        pieces = [await self.synthesise(plan, t) for t in texts]
        whole_speech = pieces[0] if not plan.segments else _joined(pieces)
        stored: list[StoredUpload] = []
        try:
            stored.append(await self._store(principal, plan, whole_speech, plan.text, None))
            for i, (t, speech) in enumerate(zip(texts, pieces, strict=True)):
                if plan.segments:
                    stored.append(await self._store(principal, plan, speech, t, i))
        except BaseException:
            for done in stored:  # all or nothing
                await self.deletion.delete(principal, done.row.id)
            raise
        whole_row, segment_rows = stored[0].row, [done.row for done in stored[1:]]
        await self.requests.put(TtsRequestRow(
            owner=principal.owner, request_hash=plan.request_hash, audio_id=whole_row.id,
            engine=plan.engine.name, phonemes=whole_speech.phonemes,
            segments=[
                {"audio_id": r.id, "text": t, "phonemes": s.phonemes}
                for r, t, s in zip(segment_rows, texts, pieces, strict=False)
            ] if plan.segments else None,
            created_at=self.audio.clock(),
        ))
        # The URLs signed as each part was stored: no second read of rows just written.
        whole = SpokenPart(row=whole_row, signed=stored[0].signed, text=plan.text,
                           phonemes=whole_speech.phonemes)
        segments = [
            SpokenPart(row=done.row, signed=done.signed, text=t, phonemes=s.phonemes)
            for done, t, s in zip(stored[1:], texts, pieces, strict=False)
        ]
        return TtsResult(whole=whole, engine=plan.engine.name, cache_hit=False, segments=segments)

    async def _store(
        self, principal: Principal, plan: SpeechPlan, speech: Speech, text: str, segment: int | None
    ) -> StoredUpload:
        ext = OUTPUT_FORMATS[plan.format].ext
        tmp_dir = self.ingest.tmp_dir
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="tts-", suffix="." + ext, dir=tmp_dir)
        os.close(fd)
        path = Path(name)
        try:
            await anyio.to_thread.run_sync(encode_speech, speech, plan.format, path)
            return await self.store_file(principal, plan, path, ext, text, segment)
        finally:
            path.unlink(missing_ok=True)

    async def store_file(
        self, principal: Principal, plan: SpeechPlan, path: Path, ext: str, text: str,
        segment: int | None,
    ) -> StoredUpload:
        """Store the encoded speech at `path` as one audio object of `plan`, with a signed URL
        (the one place TTS hands speech to ingest)."""
        suffix = "" if segment is None else f"-{segment + 1}"
        return await self.ingest.store(principal, FileUploadSource(path, fields=UploadFields(
            name=f"tts-{plan.request_hash[:16]}{suffix}.{ext}",
            collection=self.settings.tts_collection, ttl_seconds=plan.ttl_seconds,
            metadata=_stored_metadata(plan, segment), text=text, voice_id=plan.voice.id,
        )), expires_in=plan.url_expires_in)


def _caller_metadata(value: object) -> dict[str, Any]:
    """The request's metadata, checked like an upload's; the service's own key is refused
    rather than silently overwritten."""
    if value is None:
        return {}
    metadata = check_metadata(value)
    if TTS_METADATA_KEY in metadata:
        raise InvalidMetadata(
            f"metadata key {TTS_METADATA_KEY!r} is reserved for the engine's facts; use another name."
        )
    return metadata


def _stored_metadata(plan: SpeechPlan, segment: int | None) -> dict[str, Any]:
    """What one stored object of `plan` carries: the caller's metadata and the `tts` facts."""
    return {**plan.metadata, TTS_METADATA_KEY: {
        "engine": plan.engine.name, "format": plan.format, "speed": plan.options.speed,
        **({"segment": segment} if segment is not None else {}),
    }}


def _joined(pieces: list[Speech]) -> Speech:
    rate = pieces[0].sample_rate
    if any(p.sample_rate != rate for p in pieces):
        raise EngineFailed("The engine returned sentences at different sample rates.")
    phonemes = " ".join(p.phonemes for p in pieces if p.phonemes)
    return Speech(samples=np.concatenate([p.samples for p in pieces]), sample_rate=rate,
                  phonemes=phonemes or None)
