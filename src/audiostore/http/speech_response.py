"""A streamed speech answer (`SpeechStream`) whose first chunk decides the status.

The first sentence is synthesised and encoded before the status line goes out, so bad input
the engine finds, an engine failure or a store that is down before any audio is the
catalogue's JSON error with its real status. Later failures can only cut the body short.
The stream is closed when the response ends however it ends (a client that hangs up
included): that is what tells the synthesis that one listener fewer waits for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..blobstores import BlobNotFound, BlobStoreUnavailable
from ..errors import AudiostoreError, NotFound, StorageUnavailable
from ..service.speech_streams import SpeechStream

CACHE_HEADER = "X-Audiostore-Cache"


class SpeechResponse(StreamingResponse):
    def __init__(self, speech: SpeechStream) -> None:
        headers = {"Cache-Control": "no-store", CACHE_HEADER: "hit" if speech.cache_hit else "miss"}
        if speech.audio_id is not None:
            headers["X-Audio-Id"] = speech.audio_id
        super().__init__(speech.chunks, headers=headers, media_type=speech.content_type)
        self._speech = speech

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = self._speech.chunks
        try:
            try:
                first: bytes | None = await anext(chunks)
            except StopAsyncIteration:
                first = None
            except AudiostoreError as exc:
                await _error(exc)(scope, receive, send)
                return
            except BlobNotFound:
                await _error(NotFound("The stored speech is missing from storage."))(scope, receive, send)
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
            await chunks.aclose()


def _error(exc: AudiostoreError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers={"Cache-Control": "no-store"})
