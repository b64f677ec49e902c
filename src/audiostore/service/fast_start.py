"""First requests for a rendition: answered from its live copy while it is encoded.

A rendition that is stored is served like any object (Content-Length, ETag, Range). One
that is not is started (or joined: one job per rendition, `RenderJobs`). A short one
(`AUDIOSTORE_RENDITION_WHOLE_FIRST_SECONDS`, 10 s of audio: a few tenths of a second of
work) is waited for and answered as stored. A longer one is streamed from the job's live
copy as the encoder writes it (`LiveRendition`), so the first byte leaves within a fraction
of a second whatever the source's length, and the complete rendition is still stored when
the job ends.

Seeking during that first play is a clip (`start=`): a rendition of its own, which seeks the
source before encoding, so its first bytes come as fast wherever it starts. A HEAD never
starts a job: it answers what a GET would send first (`UnmadeRendition`).

Example:
    ```py
    opened = await fast.open(row, params, allow_redirect=True)
    if isinstance(opened, LiveRendition):
        async for chunk in opened.chunks(): ...   # then opened.release()
    ```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from ..audio.live_copy import LIVE_FORMATS
from ..catalog import AudioRow
from ..catalog.models import DerivedBlobRow
from ..errors import ValidationFailed
from .audio import AudioService
from .content_source import ContentSource
from .live_renditions import LiveReader
from .principal import Principal
from .renditions import RenditionService, parse_rendition

_LOOK_AGAIN = 0.01  # seconds between looks at a job that is not done and has no bytes yet


def _named(row: AudioRow, ext: str) -> AudioRow:
    copy = row.detached_copy()
    stem = row.name.rsplit(".", 1)[0] if "." in row.name else row.name
    copy.name = f"{stem}.{ext}"
    return copy


@dataclass(eq=False)
class LiveRendition:
    """A rendition being encoded, read from its live copy; `release` once done with it."""

    row: AudioRow  # named for the live copy's format (`talk.aac` while `talk.m4a` is made)
    reader: LiveReader
    job: asyncio.Future[DerivedBlobRow]  # this request's wait on the shared job

    @property
    def content_type(self) -> str:
        return self.reader.content_type

    async def available(self, size: int) -> int:
        """Wait until `size` bytes are written (or the encode ended); how many there are."""
        return await self.reader.wait_for(size, until=self.job)

    def chunks(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self.reader.chunks(self.job, start=start, end=end)

    def release(self) -> None:
        """Stop waiting on the job (nobody else waiting: it is cancelled unless nearly done)."""
        self.reader.close()
        if not self.job.done():
            self.job.cancel()


@dataclass(frozen=True, slots=True)
class UnmadeRendition:
    """A rendition not made yet, for a HEAD: the headers its first GET would start with."""

    row: AudioRow
    content_type: str


Opened = ContentSource | LiveRendition | UnmadeRendition


class FastStart:
    def __init__(self, audio: AudioService, renditions: RenditionService) -> None:
        self.renditions = renditions
        self.audio = audio

    async def open_content(
        self, principal: Principal, audio_id: str, params: Mapping[str, str], *, head: bool,
        wait: float | None = None,
    ) -> Opened:
        """A rendition of a visible object, by API key."""
        row = await self.audio.get(principal, audio_id)
        return await self.open(row, params, head=head, allow_redirect=True, wait=wait)

    async def open_signed(
        self, audio_id: str, *, expires: str, signature: str, params: Mapping[str, str],
        head: bool, wait: float | None = None,
    ) -> Opened:
        """The rendition a signed URL names, once its signature holds."""
        row = await self.audio.signed_row(
            audio_id, expires=expires, signature=signature, params=params
        )
        return await self.open(row, params, head=head, allow_redirect=False, wait=wait)

    async def open(
        self, row: AudioRow, params: Mapping[str, str], *, head: bool, allow_redirect: bool,
        wait: float | None = None,
    ) -> Opened:
        """`wait`: seconds the client is willing to wait for the whole rendition (RFC 7240
        `Prefer: wait=N`: downloads that keep a file want it whole, with its ETag); past that,
        or without it, a long rendition is streamed as it is made."""
        renditions = self.renditions
        req = parse_rendition(params)
        if req is None:
            raise ValidationFailed("A rendition needs a format (e.g. format=mp3).")
        profile = await renditions.measured_profile(row, req)
        variant = renditions.variant_of(profile)
        found = await renditions.rows.get(row.id, variant)
        if found is not None:
            return await renditions.source_of(row, found, allow_redirect=allow_redirect)
        if head:
            live = LIVE_FORMATS[profile.format]
            return UnmadeRendition(_named(row, live.ext), live.content_type)
        job = asyncio.ensure_future(renditions.ensure_rendition(row, profile))
        if profile.seconds_of(row.duration) <= self.renditions.settings.rendition_whole_first_seconds:
            derived = await job  # (a request cancelled meanwhile cancels this wait with it)
            return await renditions.source_of(row, derived, allow_redirect=allow_redirect)
        try:
            if wait:
                await asyncio.wait({job}, timeout=wait)
            return await self._first_answer(row, job, renditions.job_key(row, variant),
                                            allow_redirect=allow_redirect)
        except BaseException:
            if not job.done():
                job.cancel()
            raise

    async def _first_answer(
        self, row: AudioRow, job: asyncio.Future[DerivedBlobRow], key: str, *,
        allow_redirect: bool,
    ) -> ContentSource | LiveRendition:
        while True:
            if job.done():
                return await self.renditions.source_of(row, job.result(), allow_redirect=allow_redirect)
            reader = self.renditions.live.open(key)
            if reader is not None:
                return LiveRendition(_named(row, reader.ext), reader, job)
            await asyncio.wait({job}, timeout=_LOOK_AGAIN)



