"""A queue's continuous MP3 as it arrives: `QueueStream` (sync) and `AsyncQueueStream`.

The stream may never end (`loop`, `endless-shuffle`), so nothing here reads it whole: the
caller iterates chunks and stops when it has enough; `seconds` says how much audio has been
handed out so far (counted from the frame headers), and `until=` stops by itself on a frame
boundary after that many seconds. Closing (or leaving the `with` block) drops the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing

import httpx

from .drivers import AsyncDriver, SyncDriver
from .errors import ConnectionFailed
from .mp3_clock import Mp3Clock
from .steps import Chunks, Emit, Feed, Next

STREAM_CHUNK_BYTES = 64 * 1024


class _Counted:
    def __init__(self, response: httpx.Response, mode: str, until: float | None) -> None:
        self.response = response
        self.mode = mode
        self.until = until
        self.clock = Mp3Clock()
        self.bytes = 0

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    @property
    def seconds(self) -> float:
        """Seconds of audio handed out so far."""
        return self.clock.seconds

    def _cut(self, chunk: bytes) -> tuple[bytes, bool]:
        """The part of `chunk` to hand out, and whether the bound was reached."""
        keep = self.clock.feed(chunk, until=self.until)
        self.bytes += keep
        done = self.until is not None and self.clock.seconds >= self.until and self.clock.at_boundary
        return chunk[:keep], done

    def _flow(self) -> Feed[bytes]:
        """The chunks to hand out, cut at `until`; written once for both streams."""
        try:
            chunks = yield Chunks(self.response, STREAM_CHUNK_BYTES)
            while (chunk := (yield Next(chunks))) is not None:
                part, done = self._cut(chunk)
                if part:
                    yield Emit(part)
                if done:
                    return
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"The queue stream was cut off: {exc}") from exc


class QueueStream(_Counted):
    """Iterate for `bytes` chunks of the MP3; use as a context manager (or `close()`)."""

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from SyncDriver().iterate(self._flow())
        finally:
            self.close()

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> QueueStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncQueueStream(_Counted):
    """`async for` the `bytes` chunks of the MP3; use as an async context manager
    (or `await aclose()`)."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            async with aclosing(AsyncDriver().iterate(self._flow())) as parts:
                async for part in parts:
                    yield part
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> AsyncQueueStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = ["STREAM_CHUNK_BYTES", "AsyncQueueStream", "QueueStream"]
