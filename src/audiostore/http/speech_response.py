"""A streamed speech answer (`SpeechStream`) whose first chunk decides the status.

The first sentence is synthesised and encoded before the status line goes out, so bad input
the engine finds, an engine failure or a store that is down before any audio is the
catalogue's JSON error with its real status. Later failures can only cut the body short.
The stream is closed when the response ends however it ends (a client that hangs up
included): that is what tells the synthesis that one listener fewer waits for it.
"""

from __future__ import annotations

from ..service.speech_streams import SpeechStream
from .store_stream_response import StoreStreamResponse

CACHE_HEADER = "X-Audiostore-Cache"


class SpeechResponse(StoreStreamResponse):
    missing_message = "The stored speech is missing from storage."

    def __init__(self, speech: SpeechStream) -> None:
        headers = {"Cache-Control": "no-store", CACHE_HEADER: "hit" if speech.cache_hit else "miss"}
        if speech.audio_id is not None:
            headers["X-Audio-Id"] = speech.audio_id
        super().__init__(speech.chunks, headers=headers, media_type=speech.content_type)
        self._speech = speech
