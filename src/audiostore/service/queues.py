"""Queues: named, ordered lists of audio ids, and their continuous MP3 streams.

A stream is made by copying whole frames of each item's queue rendition (one MP3 profile
for every item: sample rate, channels, CBR bit rate; bit reservoir off, no ID3 or
Xing/Info), so frames join seamlessly and nothing is encoded per listener: a listener costs
a blob read and a frame parse. Renditions are made once, on first play, and kept.

After an initial burst (`AUDIOSTORE_QUEUE_BURST_SECONDS`, to fill the player's buffer) the
stream is paced at playback speed, so endless modes cost little. The clock and the sleep
are injectable. Which items play is decided again at every item boundary, so items that
expire or are deleted drop out of a running stream. ICY metadata (`StreamTitle` = the
item's name) is interleaved only for clients that ask with `Icy-MetaData: 1`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import uuid_utils

from ..audio.mp3_frames import Mp3FrameReader
from ..audio.transcode import OutputProfile
from ..blob_keys import check_key_part
from ..blobstores import BlobNotFound
from ..catalog import AudioRow
from ..catalog.models import QueueRow
from ..errors import Conflict, NotFound, ValidationFailed
from ..settings import QueueSettings
from .audio import AudioService
from .principal import Principal
from .renditions import RenditionService

log = logging.getLogger(__name__)

MODES = ("sequential", "loop", "shuffle", "endless-shuffle")
_CHUNK_SECONDS = 0.25  # frames are sent in batches of about this much audio


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str
    audio_ids: list[str]  # visible items only, in order
    items: list[AudioRow]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class QueueStream:
    """What the route needs to answer: headers and the body."""

    headers: dict[str, str]
    body: AsyncIterator[bytes]


def icy_block(title: str | None) -> bytes:
    """One ICY metadata block: a length byte (x16) and `StreamTitle='...';`, NUL-padded."""
    if title is None:
        return b"\x00"
    text = "StreamTitle='" + title.replace("'", "\u2019") + "';"
    data = text.encode("utf-8")[: 255 * 16]
    blocks = -(-len(data) // 16)
    return bytes([blocks]) + data.ljust(blocks * 16, b"\x00")


class QueueService:
    def __init__(
        self,
        audio: AudioService,
        renditions: RenditionService,
        *,
        settings: QueueSettings,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.audio = audio
        self.renditions = renditions
        self.settings = settings
        self.rows = audio.catalog.queues
        self.monotonic = monotonic
        self.sleep = sleep
        self.rng = rng or random.Random()

    def stream_profile(self) -> OutputProfile:
        """The rendition every item of a queue's stream is played from
        (`AUDIOSTORE_QUEUE_STREAM_*`): MP3 frames that can be joined back to back."""
        s = self.settings
        return OutputProfile(
            "mp3", s.queue_stream_bitrate, s.queue_stream_sample_rate, s.queue_stream_channels,
            standalone_frames=True,
        )

    # --- CRUD ---------------------------------------------------------------------------
    async def _view(self, principal: Principal, row: QueueRow) -> QueueView:
        live = await self.audio.catalog.get_many_visible(
            row.audio_ids, owner=principal.owner, now=self.audio.clock()
        )
        ids = [i for i in row.audio_ids if i in live and principal.sees_collection(live[i].collection)]
        return QueueView(row.name, ids, [live[i] for i in ids], row.created_at, row.updated_at)

    async def put(self, principal: Principal, name: str, audio_ids: list[str]) -> QueueView:
        name = check_key_part(name, what="queue name")
        if len(audio_ids) > self.settings.queue_max_items:
            raise ValidationFailed(
                f"A queue holds at most {self.settings.queue_max_items} items (AUDIOSTORE_QUEUE_MAX_ITEMS)."
            )
        now = self.audio.clock()
        live = await self.audio.catalog.get_many_visible(audio_ids, owner=principal.owner, now=now)
        missing = [
            i for i in dict.fromkeys(audio_ids)
            if i not in live or not principal.sees_collection(live[i].collection)
        ]
        if missing:
            raise ValidationFailed(f"No such audio: {', '.join(missing[:10])}.")
        row = QueueRow(
            id=str(uuid_utils.uuid7()), owner=principal.owner, name=name,
            audio_ids=list(audio_ids), created_at=now, updated_at=now,
        )
        return await self._view(principal, await self.rows.upsert(row, now=now))

    async def get(self, principal: Principal, name: str) -> QueueView:
        row = await self.rows.get(principal.owner, name)
        if row is None:
            raise NotFound("No such queue.")
        return await self._view(principal, row)

    async def delete(self, principal: Principal, name: str) -> None:
        if not await self.rows.delete(principal.owner, name):
            raise NotFound("No such queue.")

    # --- streaming ------------------------------------------------------------------------
    async def open_stream(
        self, principal: Principal, name: str, *, mode: str, icy: bool,
        gate: Callable[[], Awaitable[bool]] | None = None,
    ) -> QueueStream:
        """The queue's continuous stream. `gate`, if given, is asked before every item: once
        it says no (a public collection made private), the stream ends."""
        if mode not in MODES:
            raise ValidationFailed(f"mode must be one of {', '.join(MODES)}.")
        view = await self.get(principal, name)
        if not view.audio_ids:
            raise Conflict("The queue has no playable items.")
        headers = {
            "Content-Type": "audio/mpeg",
            "Accept-Ranges": "none",
            "Cache-Control": "no-cache",
            "icy-name": name,
            "icy-br": str(self.settings.queue_stream_bitrate // 1000),
        }
        body = self._paced(self._frames(principal, name, mode, gate))
        if icy:
            headers["icy-metaint"] = str(self.settings.queue_icy_metaint)
            return QueueStream(headers, self._with_icy(body, self.settings.queue_icy_metaint))
        return QueueStream(headers, self._bytes_only(body))

    async def _live(self, principal: Principal, name: str) -> list[AudioRow]:
        row = await self.rows.get(principal.owner, name)
        if row is None:
            return []
        return (await self._view(principal, row)).items

    async def _order(
        self, principal: Principal, name: str, mode: str,
        gate: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[AudioRow]:
        """Items in play order; who is still visible is asked again before each one."""
        previous: str | None = None
        while True:
            if gate is not None and not await gate():
                return
            snapshot = await self._live(principal, name)
            if not snapshot:
                return
            if mode == "endless-shuffle":
                choices = [r for r in snapshot if r.id != previous] or snapshot
                pick = self.rng.choice(choices)
                previous = pick.id
                yield pick
                continue
            if mode == "shuffle":
                self.rng.shuffle(snapshot)
            for item in snapshot:
                if gate is not None and not await gate():
                    return
                live = {r.id for r in await self._live(principal, name)}
                if item.id in live:
                    yield item
            if mode != "loop":
                return

    async def _frames(
        self, principal: Principal, name: str, mode: str,
        gate: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[tuple[bytes, float, str]]:
        """(frame bytes, seconds, title) for every frame of every item, in play order."""
        profile = self.stream_profile()
        expected: tuple[int, int, int, int] | None = None
        barren = 0  # items in a row that gave no frames: stop rather than spin
        async for item in self._order(principal, name, mode, gate):
            try:
                derived = await self.renditions.ensure_rendition(item, profile)
            except Exception as exc:  # noqa: BLE001 - one bad item must not end the stream
                log.warning("queue %s: no rendition of %s: %s", name, item.id, exc)
                barren += 1
                if barren > 3:
                    return
                continue
            reader = Mp3FrameReader()
            got = 0
            first = True
            try:
                async for chunk in self.audio.store.get_stream(derived.key):
                    for frame in reader.feed(chunk):
                        if first:
                            # LAME's first frame is its priming delay (1105 of its 1152 samples
                            # are silence): dropping it makes the joins nearly gapless.
                            first = False
                            continue
                        if expected is None:
                            expected = frame.header.profile
                        if frame.header.profile != expected:
                            continue  # never let a foreign frame break the stream
                        got += 1
                        yield frame.data, frame.header.duration, item.name
            except BlobNotFound:  # the item was deleted as its turn came: play the next one
                log.info("queue %s: %s was deleted as its turn came", name, item.id)
            barren = 0 if got else barren + 1
            if barren > 3:
                return

    async def _paced(
        self, frames: AsyncIterator[tuple[bytes, float, str]]
    ) -> AsyncIterator[list[tuple[bytes, str]]]:
        """Batches of frames, sent no faster than playback after the first burst."""
        burst = self.settings.queue_burst_seconds
        start = self.monotonic()
        sent = 0.0
        batch: list[tuple[bytes, str]] = []
        batch_seconds = 0.0
        async for data, seconds, title in frames:
            batch.append((data, title))
            batch_seconds += seconds
            if batch_seconds < _CHUNK_SECONDS:
                continue
            ahead = sent - burst - (self.monotonic() - start)
            if ahead > 0:
                await self.sleep(ahead)
            yield batch
            sent += batch_seconds
            batch, batch_seconds = [], 0.0
        if batch:
            yield batch

    @staticmethod
    async def _bytes_only(batches: AsyncIterator[list[tuple[bytes, str]]]) -> AsyncIterator[bytes]:
        async for batch in batches:
            yield b"".join(data for data, _ in batch)

    @staticmethod
    async def _with_icy(
        batches: AsyncIterator[list[tuple[bytes, str]]], metaint: int
    ) -> AsyncIterator[bytes]:
        """Insert a metadata block after every `metaint` audio bytes; the title is sent when
        it changes (an empty block otherwise), as SHOUTcast/Icecast clients expect."""
        until_meta = metaint
        sent_title: str | None = None
        async for batch in batches:
            out = bytearray()
            for data, title in batch:
                view = memoryview(data)
                while view:
                    n = min(until_meta, len(view))
                    out += view[:n]
                    view = view[n:]
                    until_meta -= n
                    if until_meta == 0:
                        out += icy_block(title if title != sent_title else None)
                        sent_title = title
                        until_meta = metaint
            yield bytes(out)
