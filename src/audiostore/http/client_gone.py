"""Stop waiting when the client hangs up: `unless_client_leaves(request, work)`.

Neither granian nor Starlette cancels a handler whose client disconnected while it awaits
(it would notice only when it writes), so a first `?format=` request would keep a rendition
going for nobody. This waits on the ASGI `receive` channel beside the work: the request
body is already read by then, so the next message is `http.disconnect`, and the work is then
cancelled; what it was waiting for (a `RenderJobs` job) decides whether to stop too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """The result of `work`; cancelled (and `CancelledError` raised) if the client leaves
    first. Only for requests whose body has been read (GET, HEAD)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():  # the client left (or we were cancelled ourselves)
            task.cancel()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    return await task
