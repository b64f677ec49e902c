"""The I/O steps an SDK flow asks its driver to take, and what each one answers.

A flow (see `flows`) is a generator: it yields one of these steps, and the driver performs
it with httpx, sync or async, and sends back the answer; an exception the step raised is
thrown into the flow at the `yield`, so the flow's own `try` blocks see it as if the call
had been made in place.

| step | the driver does | the flow receives |
|---|---|---|
| `Send(call, body, progress, stream)` | build and send the request (`body` chunks from the start) | the `httpx.Response` |
| `Sleep(seconds)` | wait | None |
| `Read(response)` | read a streamed body whole | None |
| `Close(response)` | release a streamed response | None |
| `Chunks(response, size)` | start iterating the body | a handle for `Next` |
| `Next(chunks)` | the next chunk | `bytes`, or None at the end |
| `Emit(value)` | hand `value` to whoever iterates the flow | None |
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from .protocol import Call
from .upload_source import BodyPart, ProgressCallback, UploadBody

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Send:
    call: Call
    body: UploadBody | BodyPart | None = None
    progress: ProgressCallback | None = None
    stream: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Read:
    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Close:
    response: httpx.Response


@dataclass(frozen=True, slots=True)
class Chunks:
    response: httpx.Response
    size: int


@dataclass(frozen=True, slots=True)
class Next:
    chunks: object  # the driver's own iterator, opaque to the flow


@dataclass(frozen=True, slots=True)
class Emit(Generic[T]):
    value: T


Step: TypeAlias = Send | Sleep | Read | Close | Chunks | Next
Flow: TypeAlias = Generator[Step, Any, T]
"""A flow that ends with a result of type T."""
Feed: TypeAlias = Generator[Step | Emit[T], Any, None]
"""A flow that hands out values of type T as it goes (a page walk, a byte stream)."""


class Stepper(Generic[T]):
    """Advances one flow for a driver: `next()` gives the next step (None once it has
    ended, its result then in `result`); set `reply` or `error` before the following call."""

    result: T

    def __init__(self, flow: Generator[Step | Emit[Any], Any, T]) -> None:
        self._flow = flow
        self.reply: Any = None
        self.error: BaseException | None = None

    def next(self) -> Step | Emit[Any] | None:
        reply, error = self.reply, self.error
        self.reply = self.error = None
        try:
            return self._flow.throw(error) if error is not None else self._flow.send(reply)
        except StopIteration as stop:
            self.result = stop.value
            return None

    def close(self) -> None:
        """End a flow its consumer left early (a `Feed` cut short: `break` in a `for`).
        Such a flow must not yield from a `finally` block: there is no driver left to
        perform the step."""
        self._flow.close()


__all__ = [
    "Chunks", "Close", "Emit", "Feed", "Flow", "Next", "Read", "Send", "Sleep", "Step", "Stepper",
]
