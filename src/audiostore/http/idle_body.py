"""A request body that ends, as a dropped connection does, when it pauses too long.

A tus PATCH holds its upload's lock while its body arrives; a client gone silent without
closing (a phone off the network) must not hold it for ever. The watch is one timer per
request, not one per body message: a timeout scope around each `receive` (a cancel scope and a
timer handle created and dropped per message, ~30 per 8 MiB) cost more of a PATCH's CPU than
the rest of its body handling. Each wait notes when it began (one clock read); the timer fires
at the earliest moment the current wait could have run out, and either finds it has (the task
is cancelled at that wait, which is turned into `BodyCut`) or sets itself for the next such
moment, so it is re-armed about once per `idle_timeout` however many messages arrive.

The cancellation is delivered only while the task waits for the body, never while the
consumer works on a chunk (a worker-thread write must not be interrupted), and it is taken
back with `Task.uncancel` as `asyncio.timeout` does, so a cancellation from elsewhere at the
same moment still propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request

from ..service.tus_uploads import BodyCut


class IdleBody:
    """`chunks()` is the body; `stop()` (always, once the body's consumer is done) drops the
    timer, since a consumer that stops early leaves the generator suspended."""

    def __init__(self, request: Request, idle_timeout: float) -> None:
        self._request = request
        self._timeout = idle_timeout
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._waiting_since: float | None = None  # set while the task waits for a message
        self._fired = False
        self._cancelling = 0
        self._timer: asyncio.TimerHandle | None = None

    def _check(self) -> None:
        since = self._waiting_since
        now = self._loop.time()
        if since is not None and now - since >= self._timeout and self._task is not None:
            self._timer = None
            self._fired = True
            self._task.cancel()
            return
        self._timer = self._loop.call_at((now if since is None else since) + self._timeout, self._check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._task is None:  # not in a task: nothing to cancel, so no watch
            raise RuntimeError("IdleBody needs to run in an asyncio task")
        self._cancelling = self._task.cancelling()
        self._timer = self._loop.call_later(self._timeout, self._check)
        clock = self._loop.time
        stream = self._request.stream().__aiter__()
        try:
            while True:
                self._waiting_since = clock()
                try:
                    chunk = await stream.__anext__()
                except StopAsyncIteration:
                    return
                except ClientDisconnect as exc:
                    raise BodyCut() from exc
                except asyncio.CancelledError as exc:
                    if self._fired and self._task.uncancel() <= self._cancelling:
                        raise BodyCut() from exc
                    raise
                finally:
                    self._waiting_since = None
                yield chunk
        finally:
            self.stop()
