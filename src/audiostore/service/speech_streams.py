"""TTS answered as bytes while they are made, with `TtsService`'s engines and cache.

A request whose identical twin is stored streams that object from storage. Otherwise one
synthesis (a producer task) speaks the text sentence by sentence in the engine's worker
processes, encodes each sentence as it comes (`SpeechEncoder`) and publishes the bytes to a
`LiveSpeech`, which every listener of the same request reads; the next sentence is
synthesised while the current one is encoded and sent. Once the last sentence is encoded the
complete file is stored through `TtsService.store_file` and becomes the cached answer, so the
same request later streams from storage.

What a client sees: 200 once the first sentence is encoded (an engine failure or bad input
before that is the catalogue's JSON error with its status); no Content-Length; a failure
after the first bytes cuts the response off (the client sees an incomplete body), and
nothing is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from .. import metrics
from ..catalog import AudioRow
from ..disk_space import full_disk_is_507, is_out_of_space
from ..errors import AudiostoreError, EngineFailed, InsufficientStorage, ValidationFailed
from ..tts import Speech, split_sentences
from ..tts.stream_encoding import STREAM_FORMATS, SpeechEncoder, StreamFormat, pcm_data_offset
from .content_source import ContentSource
from .live_speech import LiveSpeech
from .openai_speech import OpenAiSpeech, tts_request_of
from .principal import Principal
from .scratch_dir import held_scratch_dir

if TYPE_CHECKING:
    from .tts import SpeechPlan, TtsService
    from .tts_request import TtsRequest

__all__ = ["SpeechStream", "SpeechStreams"]

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
MAX_WAV_HEADER = 64 * 1024  # a stored pcm answer's header is ~80 bytes; more is not ours


@dataclass(frozen=True, slots=True)
class SpeechStream:
    """Speech for one listener. `chunks` must be read or closed (`aclose`)."""

    content_type: str
    cache_hit: bool
    chunks: AsyncGenerator[bytes, None]
    audio_id: str | None = None  # the stored object's, when known before the first byte (a hit)


class SpeechStreams:
    """The streams of one `TtsService`: cache hits from storage, and the syntheses in
    progress (one per owner and request in this process)."""

    def __init__(self, tts: TtsService) -> None:
        self.tts = tts
        self._live: dict[tuple[str, str], LiveSpeech] = {}
        self._producers: set[asyncio.Task[None]] = set()  # strong references while they run

    async def open_openai(self, principal: Principal, ask: OpenAiSpeech) -> SpeechStream:
        """OpenAI's speech request, streamed: its names mapped by the settings' tables."""
        return await self.open(principal, tts_request_of(self.tts.settings, ask))

    async def open(self, principal: Principal, request: TtsRequest) -> SpeechStream:
        """`request` as bytes while they are made; `STREAM_FORMATS` may be asked for, `pcm`
        included, and `segments` may not."""
        tts = self.tts
        plan = await tts.plan(request, STREAM_FORMATS)
        if plan.segments:
            raise ValidationFailed("segments cannot be streamed: ask without `stream` for them.")
        fmt = STREAM_FORMATS[plan.format]
        key = (principal.owner, plan.request_hash)
        live = self._live.get(key)
        if live is None:
            async with tts.lock_for(*key):  # a /v1/tts request making the same speech ends first
                live = self._live.get(key)
                if live is None:
                    row = await tts.cached_row(principal, plan)
                    if row is not None:
                        metrics.TTS_CACHE_HITS.labels(plan.engine.name).inc()
                        source = await tts.audio.open_content(principal, row.id)
                        return SpeechStream(
                            fmt.content_type, True, self._stored(source, fmt), audio_id=row.id
                        )
                    live = self._start(principal, plan, key)
                return SpeechStream(fmt.content_type, False, live.join())
        return SpeechStream(fmt.content_type, False, live.join())

    async def settled(self) -> None:
        """Wait until every synthesis in progress has been stored or dropped."""
        while self._producers:
            await asyncio.gather(*list(self._producers), return_exceptions=True)

    # --- a cache hit --------------------------------------------------------------------
    async def _stored(self, source: ContentSource, fmt: StreamFormat) -> AsyncGenerator[bytes, None]:
        chunks = self._stored_bytes(source)
        if not fmt.raw_pcm:
            async for chunk in chunks:
                yield chunk
            return
        head, passed = bytearray(), False
        async for chunk in chunks:
            if not passed:
                head += chunk
                offset = pcm_data_offset(bytes(head))
                if offset is None:
                    if len(head) > MAX_WAV_HEADER:
                        raise RuntimeError("a stored pcm answer is not the WAV it was stored as")
                    continue
                chunk, passed = bytes(head[offset:]), True
            if chunk:
                yield chunk

    async def _stored_bytes(self, source: ContentSource) -> AsyncIterator[bytes]:
        if source.path is not None:
            path = source.path
            with await anyio.to_thread.run_sync(path.open, "rb") as f:
                while chunk := await anyio.to_thread.run_sync(f.read, READ_CHUNK):
                    yield chunk
            return
        # A presigned redirect is for players; the stream reads the blob itself.
        store = source.store or self.tts.audio.store
        async for chunk in store.get_stream(source.key):
            yield chunk

    # --- a synthesis --------------------------------------------------------------------
    def _start(self, principal: Principal, plan: SpeechPlan, key: tuple[str, str]) -> LiveSpeech:
        scratch_hold = contextlib.ExitStack()
        try:
            with full_disk_is_507("speech scratch"):
                scratch = scratch_hold.enter_context(held_scratch_dir(self.tts.ingest.tmp_dir))
                live = LiveSpeech(scratch / "listeners.part")
        except BaseException:
            scratch_hold.close()
            raise
        self._live[key] = live
        self.tts.streaming[key] = live.settled
        task = asyncio.get_running_loop().create_task(
            self._produce(live, scratch_hold, scratch, principal, plan, key)
        )
        live.producer = task
        self._producers.add(task)
        task.add_done_callback(self._producers.discard)
        return live

    async def _produce(
        self, live: LiveSpeech, scratch_hold: contextlib.ExitStack, scratch: Path,
        principal: Principal, plan: SpeechPlan, key: tuple[str, str],
    ) -> None:
        engine = plan.engine.name
        try:
            try:
                path, phonemes = await self._speak_into(live, scratch, plan)
            except asyncio.CancelledError:
                self._forget(key, live)
                live.fail(EngineFailed("Nobody is listening any more."))
                metrics.TTS_STREAMS.labels(engine, "abandoned").inc()
                return
            except Exception as exc:
                self._forget(key, live)
                if not isinstance(exc, AudiostoreError) and is_out_of_space(exc):
                    exc = InsufficientStorage()
                elif not isinstance(exc, AudiostoreError):
                    log.exception("streaming speech failed")
                    exc = EngineFailed(f"The {engine} engine failed: {type(exc).__name__}.")
                live.fail(exc)
                metrics.TTS_STREAMS.labels(engine, "failed").inc()
                return
            live.finish_publishing()  # from here the result is stored, listeners or not
            try:
                row = await self._store(principal, plan, path, phonemes)
            except Exception:
                # Every listener has had the whole speech; only its keeping failed.
                log.exception("storing streamed speech failed")
                metrics.TTS_STREAMS.labels(engine, "store_failed").inc()
            else:
                log.debug("streamed speech stored as %s", row.id)
                metrics.TTS_STREAMS.labels(engine, "stored").inc()
            finally:
                self._forget(key, live)
                live.settle()
        finally:
            scratch_hold.close()

    def _forget(self, key: tuple[str, str], live: LiveSpeech) -> None:
        if self._live.get(key) is live:
            del self._live[key]
            del self.tts.streaming[key]

    async def _speak_into(self, live: LiveSpeech, scratch: Path, plan: SpeechPlan) -> tuple[Path, str | None]:
        """Synthesise, encode and publish sentence by sentence; the complete file's path."""
        fmt = STREAM_FORMATS[plan.format]
        path = scratch / f"speech.{fmt.output.ext}"
        texts = split_sentences(plan.text) or [plan.text]
        encoder: SpeechEncoder | None = None
        phonemes: list[str] = []
        ahead: asyncio.Future[Speech] = asyncio.ensure_future(self.tts.synthesise(plan, texts[0]))
        try:
            for i in range(len(texts)):
                try:
                    speech: Speech | None = await ahead
                except ValidationFailed:  # a sentence with nothing to say (a stray symbol)
                    speech = None
                if i + 1 < len(texts):  # the next sentence is spoken while this one goes out
                    ahead = asyncio.ensure_future(self.tts.synthesise(plan, texts[i + 1]))
                if speech is None:
                    continue  # the others are still said; a text of nothing at all is a 422
                if encoder is None:
                    encoder = await anyio.to_thread.run_sync(
                        SpeechEncoder, plan.format, path, speech.sample_rate
                    )
                try:
                    data = await anyio.to_thread.run_sync(encoder.feed, speech)
                except ValueError as exc:  # another sample rate mid-text
                    raise EngineFailed("The engine returned sentences at different sample rates.") from exc
                await live.publish(data)
                if speech.phonemes:
                    phonemes.append(speech.phonemes)
            if encoder is None:
                raise ValidationFailed(f"The voice finds nothing to speak in {plan.text[:40]!r}.")
            await live.publish(await anyio.to_thread.run_sync(encoder.finish))
        except BaseException:
            ahead.cancel()
            with contextlib.suppress(BaseException):
                await ahead  # a worker call in flight ends (or is killed) before the scratch goes
            if encoder is not None:
                encoder.abort()
            raise
        return path, " ".join(phonemes) or None

    async def _store(self, principal: Principal, plan: SpeechPlan, path: Path, phonemes: str | None) -> AudioRow:
        """The one call that keeps a streamed result: stored, then cached."""
        ext = STREAM_FORMATS[plan.format].output.ext
        row = (await self.tts.store_file(principal, plan, path, ext, plan.text, None)).row
        await self.tts.remember(principal, plan, row, phonemes)
        return row
