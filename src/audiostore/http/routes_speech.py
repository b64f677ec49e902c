"""POST /v1/audio/speech: OpenAI's speech API, streamed. Thin route: parse, one call, render.

Errors keep this service's shape, `{"error": {"code", "message"}}`: OpenAI's clients read
`error.message` from it and raise on any non-2xx status either way.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..service import Principal
from ..service.openai_speech import OpenAiSpeech
from ..service.tts import MAX_SPEED, MIN_SPEED
from ..service.principal import UPLOAD
from .auth import runtime_of, scoped
from .schemas import ErrorResponse, RequestBody
from .speech_response import SpeechResponse

router = APIRouter(prefix="/v1/audio", tags=["tts"], responses={"4XX": {"model": ErrorResponse}})
Who = Annotated[Principal, Depends(scoped(UPLOAD))]

SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class VoiceRef(BaseModel):
    """OpenAI's form for a custom voice, `{"id": ...}`: here any voice id or table name."""

    id: str


class SpeechBody(RequestBody):
    model: str = Field(description="`tts-1`, `tts-1-hd`, `gpt-4o-mini-tts`...: mapped to an "
                       "engine by AUDIOSTORE_SPEECH_MODELS.")
    input: str = Field(description="The words to speak (AUDIOSTORE_TTS_MAX_TEXT_CHARS at most).")
    voice: str | VoiceRef = Field(description="An OpenAI voice name mapped by "
                                  "AUDIOSTORE_SPEECH_VOICES (alloy, ash, ballad, coral, echo, fable, "
                                  "onyx, nova, sage, shimmer, verse, marin, cedar), or any voice "
                                  "id of GET /v1/tts/voices.")
    response_format: SpeechFormat = Field("mp3", description="`pcm` is raw 24 kHz 16-bit mono "
                                          "little-endian samples.")
    speed: float | None = Field(None, description="0.5 to 2.0; 1.0 is the voice's normal rate.",
                                json_schema_extra={"minimum": MIN_SPEED, "maximum": MAX_SPEED})
    instructions: str | None = Field(None, description="Accepted and not used: no engine here "
                                     "takes a speaking style.")
    stream_format: Literal["audio"] | None = Field(None, description="Only `audio` (bytes); "
                                                   "server-sent events are not offered.")


_AUDIO = {f"audio/{t}": {"schema": {"type": "string", "format": "binary"}}
          for t in ("mpeg", "ogg", "aac", "flac", "wav", "pcm")}


@router.post("/speech", response_class=Response, responses={
    200: {"content": _AUDIO, "description": "The speech, streamed sentence by sentence (no "
          "Content-Length). `X-Audiostore-Cache: hit` (and `X-Audio-Id`) when stored speech "
          "of an identical request answered."},
    "5XX": {"model": ErrorResponse, "description": "502 the engine failed; 503 the store is down."},
})
async def speech(body: SpeechBody, request: Request, who: Who) -> Response:
    """OpenAI-compatible speech: the same engines and cache as POST /v1/tts, answered as the
    audio's bytes while they are made. The first complete answer is stored (and later
    requests stream it from storage); one whose every listener left early is not."""
    voice = body.voice.id if isinstance(body.voice, VoiceRef) else body.voice
    stream = await runtime_of(request).speech.open_openai(who, OpenAiSpeech(
        model=body.model, input=body.input, voice=voice, response_format=body.response_format,
        speed=body.speed,
    ))
    return SpeechResponse(stream)
