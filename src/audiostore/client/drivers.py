"""The two thin drivers that run SDK flows: `SyncDriver` over `httpx.Client`, `AsyncDriver`
over `httpx.AsyncClient`.

A driver knows how to perform each step of `steps` and nothing about the SDK's calls:
retries, pages, caches and resumes live in `flows`, once. This is httpx's
`Auth.sync_auth_flow` / `async_auth_flow` split, applied to every call.
"""

from __future__ import annotations

import time
from contextlib import aclosing
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ClassVar, TypeVar, final

import anyio
import httpx

from .steps import Chunks, Close, Emit, Feed, Flow, Next, Read, Send, Sleep, Step, Stepper

T = TypeVar("T")


def _request(http: httpx.Client | httpx.AsyncClient, send: Send, content: Any) -> httpx.Request:
    call = send.call
    request = http.build_request(
        call.method, call.path, params=call.params, json=call.json, headers=call.headers,
        content=content,
    )
    if not call.credentials:
        request.headers.pop("Authorization", None)
    return request


_NO_HTTP = "This driver has no HTTP client; it can only read responses."
_EMITTED = "A flow that returns a result cannot hand out values; iterate it instead."


@final
class SyncDriver:
    """Performs steps with blocking calls; `http` may be None for response-only flows."""

    ITERATOR: ClassVar[str] = "Iterator"  # what `bind_items` methods return, for signatures

    def __init__(self, http: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.http = http
        self.sleep = sleep

    def perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            if self.http is None:
                raise RuntimeError(_NO_HTTP)
            body = step.body.chunks(step.progress) if step.body is not None else None
            return self.http.send(_request(self.http, step, body), stream=step.stream)
        if isinstance(step, Sleep):
            return self.sleep(step.seconds)
        if isinstance(step, Read):
            return step.response.read()
        if isinstance(step, Close):
            return step.response.close()
        if isinstance(step, Chunks):
            return step.response.iter_bytes(step.size)
        assert isinstance(step.chunks, Iterator)
        return next(step.chunks, None)

    def _drive(self, stepper: Stepper[Any]) -> Iterator[Any]:
        while (step := stepper.next()) is not None:
            if isinstance(step, Emit):
                yield step.value
                continue
            try:
                stepper.reply = self.perform(step)
            except BaseException as exc:  # thrown into the flow, whose try blocks decide
                stepper.error = exc

    def run(self, flow: Flow[T]) -> T:
        stepper = Stepper(flow)
        for _ in self._drive(stepper):
            raise TypeError(_EMITTED)
        return stepper.result

    def iterate(self, feed: Feed[T]) -> Iterator[T]:
        stepper = Stepper(feed)
        try:
            yield from self._drive(stepper)
        finally:
            stepper.close()

    def bind(self, flow: Callable[..., Flow[Any]], client: object) -> Callable[..., Any]:
        """A method of `client` that runs `flow` to its result."""
        def call(*args: Any, **kwargs: Any) -> Any:
            return self.run(flow(client, *args, **kwargs))
        return call

    def bind_items(self, flow: Callable[..., Feed[Any]], client: object) -> Callable[..., Any]:
        """A method of `client` that iterates what `flow` hands out."""
        def each(*args: Any, **kwargs: Any) -> Any:
            return self.iterate(flow(client, *args, **kwargs))
        return each


@final
class AsyncDriver:
    """Performs steps with awaited calls (asyncio or trio, through anyio)."""

    ITERATOR: ClassVar[str] = "AsyncIterator"

    def __init__(
        self, http: httpx.AsyncClient | None = None, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    ) -> None:
        self.http = http
        self.sleep = sleep

    async def perform(self, step: Step) -> Any:
        if isinstance(step, Send):
            if self.http is None:
                raise RuntimeError(_NO_HTTP)
            body = step.body.achunks(step.progress) if step.body is not None else None
            return await self.http.send(_request(self.http, step, body), stream=step.stream)
        if isinstance(step, Sleep):
            return await self.sleep(step.seconds)
        if isinstance(step, Read):
            return await step.response.aread()
        if isinstance(step, Close):
            return await step.response.aclose()
        if isinstance(step, Chunks):
            return step.response.aiter_bytes(step.size)
        assert isinstance(step.chunks, AsyncIterator)
        return await anext(step.chunks, None)

    async def _drive(self, stepper: Stepper[Any]) -> AsyncGenerator[Any, None]:
        while (step := stepper.next()) is not None:
            if isinstance(step, Emit):
                yield step.value
                continue
            try:
                stepper.reply = await self.perform(step)
            except BaseException as exc:  # cancellation too: the flow's finally blocks run
                stepper.error = exc

    async def run(self, flow: Flow[T]) -> T:
        stepper = Stepper(flow)
        async for _ in self._drive(stepper):
            raise TypeError(_EMITTED)
        return stepper.result

    async def iterate(self, feed: Feed[T]) -> AsyncGenerator[T, None]:
        stepper = Stepper(feed)
        try:
            # aclosing: a consumer that stops early ends the inner generators now, in order
            async with aclosing(self._drive(stepper)) as values:
                async for value in values:
                    yield value
        finally:
            stepper.close()

    def bind(self, flow: Callable[..., Flow[Any]], client: object) -> Callable[..., Any]:
        """A coroutine method of `client` that runs `flow` to its result."""
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.run(flow(client, *args, **kwargs))
        return call

    def bind_items(self, flow: Callable[..., Feed[Any]], client: object) -> Callable[..., Any]:
        """An async generator method of `client` that hands out what `flow` hands out."""
        async def each(*args: Any, **kwargs: Any) -> Any:
            async with aclosing(self.iterate(flow(client, *args, **kwargs))) as values:
                async for value in values:
                    yield value
        return each


__all__ = ["AsyncDriver", "SyncDriver"]
