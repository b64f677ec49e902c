"""How long a remote store may take before it counts as down: three bounds, one rule.

A bucket that stops answering (a frozen server, a black-holed route) does not refuse the
connection: the kernel at the other end accepts it, the request goes into a socket buffer,
and nothing ever comes back. Without a bound of our own a request waits for the client's
default timeouts and retries (minutes). Every call to a remote store therefore runs under
one of these bounds, and past it fails as `BlobStoreUnavailable`, the store's ordinary
"down" error, so each caller's existing answer to an outage applies: an upload goes to the
spool (or is a 503), a read is a 503, a delete is left for the retry job.

- `connect`: setting up a connection (TCP, TLS).
- `first_byte`: waiting for the store to start answering a read, and for each next piece of
  a stream once it flows (a stream stalled midway ends too; a slow *client* never trips it,
  since the clock only runs while a piece is awaited).
- `call`: one whole bounded call (a HEAD, a small read, a delete batch, a list page), and
  each HTTP request of an upload: a single PUT, or one 8 MiB part of a multipart upload.

Example:
    ```py
    async with within(deadlines.call, "put alice/x.wav"):
        await obstore.put_async(store, key, path)
    ```
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .base import BlobStoreUnavailable


@dataclass(frozen=True, slots=True)
class StoreDeadlines:
    """Seconds each kind of store call may take (see the module docstring)."""

    connect: float = 3.0
    first_byte: float = 5.0
    call: float = 10.0


class StoreDeadlineExceeded(BlobStoreUnavailable):
    """The store did not answer within its deadline: it counts as down for this call. Unlike
    a refusal, the call may still take effect: a frozen server that resumes goes on with the
    requests it had taken (a PUT lands late)."""


@asynccontextmanager
async def within(seconds: float, what: str) -> AsyncIterator[None]:
    """Run the block under a deadline; past it, the block is cancelled (an obstore request
    is dropped and its connection closed) and `StoreDeadlineExceeded` raised."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        raise StoreDeadlineExceeded(f"{what}: no answer from the store within {seconds:g} s") from exc
