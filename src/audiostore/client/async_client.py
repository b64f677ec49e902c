"""`AsyncClient`: the asyncio/trio twin of `Client`, with the same calls (awaited).

Both declare their calls once in `api.Api`, written once as flows (`flows`), so the two
cannot drift apart; this module adds only the `httpx.AsyncClient`, the async driver,
`aclose` and the async queue stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, overload

import anyio
import httpx

from . import flows
from .api import Api
from .drivers import AsyncDriver
from .models import Waveform
from .queue_stream import AsyncQueueStream

AsyncSleep = Callable[[float], Awaitable[None]]


class AsyncClient(Api[httpx.AsyncBaseTransport, AsyncSleep]):
    """An async client for one audiostore service; see `Client` for the details.

    Example:
        ```py
        async with AsyncClient("http://127.0.0.1:8000", api_key=key) as c:
            obj = await c.upload("take1.wav", collection="takes", progress=print)
            print(obj.duration, (await c.sign(obj.id, expires_in=600)).url)
            async for item in c.list(collection="takes"):
                print(item.name)
        ```
    """

    _driver: AsyncDriver

    def _connect(
        self, headers: dict[str, str], timeout: float, transport: httpx.AsyncBaseTransport | None,
        sleep: AsyncSleep | None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
            follow_redirects=True,
        )
        self._driver = AsyncDriver(self._http, sleep or anyio.sleep)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @overload
    async def waveform(self, audio_id: str, *, format: Literal["json"] = "json", **params: Any) -> Waveform: ...

    @overload
    async def waveform(self, audio_id: str, *, format: Literal["dat"], **params: Any) -> bytes: ...

    async def waveform(self, audio_id: str, *, format: str = "json", **params: Any) -> Waveform | bytes:
        """`Client.waveform`, awaited."""
        return await self._driver.run(flows.waveform(self, audio_id, format=format, **params))

    async def stream_queue(
        self, name: str, mode: str = "sequential", *, until: float | None = None
    ) -> AsyncQueueStream:
        """`Client.stream_queue`, awaited; iterate the stream with `async for`.

        Example:
            ```py
            stream = await c.stream_queue("bedtime", mode="loop", until=600)
            async with stream:
                async for chunk in stream:
                    out.write(chunk)
            ```
        """
        return AsyncQueueStream(await self._driver.run(flows.stream_queue(self, name, mode)), mode, until)


__all__ = ["AsyncClient"]
