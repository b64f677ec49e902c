"""Stop waiting when the client hangs up: `unless_client_leaves(request, work)`.

Neither granian nor Starlette cancels a handler whose client disconnected while it awaits
(it would notice only when it writes), so a first `?format=` request would keep a rendition
going for nobody. This waits on the ASGI `receive` channel beside the work: the request
body is already read by then, so the next message is `http.disconnect`, and the work is then
cancelled; what it was waiting for (a `RenderJobs` job) decides whether to stop too. The
request then ends with `ClientLeft`, answered 499 (nginx's "client closed request") for the
logs and metrics: nobody reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

T = TypeVar("T")
CLIENT_CLOSED_REQUEST = 499


class ClientLeft(Exception):
    """The client disconnected before the answer was ready; the work was cancelled."""


def install(app: FastAPI) -> None:
    @app.exception_handler(ClientLeft)
    async def _gone(_: Request, exc: ClientLeft) -> Response:
        return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """The result of `work`; cancelled, and `ClientLeft` raised, if the client leaves
    first. Only for requests whose body has been read (GET, HEAD)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        left = not task.done()  # the client left (or we were cancelled ourselves)
        if left:
            task.cancel()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if left:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        raise ClientLeft()
    return await task
