"""The idle watch of a tus PATCH's body (http/idle_body.py): only a pause in what the client
sends ends the body, never the time the body takes in all nor the consumer's own work, and a
cancellation from elsewhere stays a cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio
import pytest
from starlette.requests import Request

from audiostore.http.idle_body import IdleBody
from audiostore.service.tus_uploads import BodyCut

Message = dict[str, object]


def request_with(gaps: list[float], piece: bytes = b"x" * 10) -> Request:
    """A request whose body is one piece after each gap (seconds), then its end."""
    pending = list(gaps)

    async def receive() -> Message:
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(pending.pop(0))
        return {"type": "http.request", "body": piece, "more_body": True}

    return Request({"type": "http", "method": "PATCH", "path": "/", "headers": []}, receive)


async def read_all(body: IdleBody, work: Callable[[], Awaitable[None]] | None = None) -> bytes:
    got = b""
    try:
        async for chunk in body.chunks():
            got += chunk
            if work is not None:
                await work()
    finally:
        body.stop()
    return got


async def test_a_body_longer_than_the_timeout_with_short_pauses_is_read_whole() -> None:
    body = IdleBody(request_with([0.1] * 8), idle_timeout=0.3)  # 0.8 s in all
    with anyio.fail_after(10):
        assert await read_all(body) == b"x" * 80


async def test_a_pause_longer_than_the_timeout_ends_the_body_after_what_came_before() -> None:
    got: list[bytes] = []
    body = IdleBody(request_with([0.0, 0.0, 30.0]), idle_timeout=0.2)
    with anyio.fail_after(10), pytest.raises(BodyCut):
        try:
            async for chunk in body.chunks():
                got.append(chunk)
        finally:
            body.stop()
    assert got == [b"x" * 10] * 2


async def test_the_consumers_own_work_does_not_count_as_a_pause() -> None:
    """A slow write of each chunk (longer than the timeout) is the server's time, not a
    silent client's."""
    body = IdleBody(request_with([0.0] * 3), idle_timeout=0.1)
    with anyio.fail_after(10):
        assert await read_all(body, lambda: asyncio.sleep(0.3)) == b"x" * 30


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    body = IdleBody(request_with([30.0]), idle_timeout=5)
    with anyio.move_on_after(0.2) as scope:
        await read_all(body)
    assert scope.cancelled_caught  # not turned into BodyCut, not swallowed


async def test_stop_leaves_no_timer_behind() -> None:
    """A consumer that stops early (413) leaves the generator suspended: `stop` must drop the
    watch's timer, or it would re-arm itself for as long as the process lives."""
    body = IdleBody(request_with([0.0] * 5), idle_timeout=0.05)
    chunks = body.chunks()
    assert await chunks.__anext__() == b"x" * 10
    body.stop()
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0.2)
    timers = [h for h in getattr(loop, "_scheduled", []) if not h.cancelled()
              and getattr(h, "_callback", None) is not None
              and getattr(h._callback, "__self__", None) is body]
    assert timers == []
    await chunks.aclose()
