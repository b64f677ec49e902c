"""A streaming response for bytes read from a blob store, whose first read happens before
the status line goes out.

A plain `StreamingResponse` sends its 200/206 and headers, then starts reading; if the blob
is gone or the store is down, the client gets a cut-off body and the server an exception.
Here the first chunk is awaited first, so those turn into the catalogue's 404 / 503 with a
JSON error body, like every other failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..blobstores import BlobNotFound, BlobStoreUnavailable
from ..errors import AudiostoreError, NotFound, StorageUnavailable


class StoreStreamResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = aiter(self.body_iterator)
        try:
            first: bytes | None = await anext(chunks)  # type: ignore[arg-type]
        except StopAsyncIteration:
            first = None
        except BlobNotFound:
            await _error(NotFound("The audio's bytes are missing from storage."))(scope, receive, send)
            return
        except BlobStoreUnavailable:
            await _error(StorageUnavailable())(scope, receive, send)
            return

        async def rest() -> AsyncIterator[bytes]:
            if first is not None:
                yield first
            async for chunk in chunks:
                yield chunk  # type: ignore[misc]

        self.body_iterator = rest()
        await super().__call__(scope, receive, send)


def _error(exc: AudiostoreError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers={"Cache-Control": "no-store"})
