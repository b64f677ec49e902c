"""`Client`: the synchronous Python SDK over httpx. It speaks only the HTTP API.

Its calls are declared once in `api.Api` and written once as flows (`flows`); this module
adds only what is blocking: the `httpx.Client`, the driver, closing, and the queue stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, overload

import httpx

from . import flows
from .api import Api
from .drivers import SyncDriver
from .models import Waveform
from .queue_stream import QueueStream


class Client(Api[httpx.BaseTransport, Callable[[float], None]]):
    """A client for one audiostore service.

    `base_url` defaults to `AUDIOSTORE_URL`; the client acts with `api_key` or a client
    `token` (default: `AUDIOSTORE_TOKEN`, else `AUDIOSTORE_KEY`). Connection errors and
    502/503/504 answers are retried with backoff (`retry`); uploads carry an
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

    _driver: SyncDriver

    def _connect(
        self, headers: dict[str, str], timeout: float, transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None] | None,
    ) -> None:
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
            follow_redirects=True,
        )
        self._driver = SyncDriver(self._http, sleep or time.sleep)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @overload
    def waveform(self, audio_id: str, *, format: Literal["json"] = "json", **params: Any) -> Waveform: ...

    @overload
    def waveform(self, audio_id: str, *, format: Literal["dat"], **params: Any) -> bytes: ...

    def waveform(self, audio_id: str, *, format: str = "json", **params: Any) -> Waveform | bytes:
        """Waveform peaks: a `Waveform` (audiowaveform JSON), or with `format="dat"` the binary
        `.dat` bytes. Params: `samples_per_pixel` or `pixels_per_second`, `bits` (8 or 16),
        `channels` (`"mono"` or `"all"`)."""
        return self._driver.run(flows.waveform(self, audio_id, format=format, **params))

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
        return QueueStream(self._driver.run(flows.stream_queue(self, name, mode)), mode, until)


__all__ = ["Client"]
