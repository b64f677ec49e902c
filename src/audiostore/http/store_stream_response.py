"""A streaming response for bytes read from a blob store, whose first read happens before
the status line goes out.

A plain `StreamingResponse` sends its 200/206 and headers, then starts reading; if the blob
is gone or the store is down, the client gets a cut-off body and the server an exception.
Here the first chunk is awaited first, so those turn into the catalogue's 404 / 503 with a
JSON error body, like every other failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..blobstores import BlobNotFound, BlobStoreUnavailable
from ..errors import AudiostoreError, NotFound, StorageUnavailable


class StoreStreamResponse(StreamingResponse):
    missing_message = "The audio's bytes are missing from storage."

    def __init__(
        self, chunks: AsyncIterator[bytes], status_code: int = 200,
        headers: Mapping[str, str] | None = None, media_type: str | None = None,
    ) -> None:
        super().__init__(chunks, status_code=status_code, headers=headers, media_type=media_type)
        self._chunks = chunks  # the body_iterator, typed as the bytes a store reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Closed however the response ends (a client that hangs up included): for a stream
        # that is being made, that tells its maker one listener fewer waits for it.
        chunks = self._chunks
        try:
            try:
                first: bytes | None = await anext(chunks)
            except StopAsyncIteration:
                first = None
            except AudiostoreError as exc:
                await _error(exc)(scope, receive, send)
                return
            except BlobNotFound:
                await _error(NotFound(self.missing_message))(scope, receive, send)
                return
            except BlobStoreUnavailable:
                await _error(StorageUnavailable())(scope, receive, send)
                return

            async def rest() -> AsyncIterator[bytes]:
                if first is not None:
                    yield first
                async for chunk in chunks:
                    yield chunk

            self.body_iterator = rest()
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()


def _error(exc: AudiostoreError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status,
                        headers={**exc.headers, "Cache-Control": "no-store"})
