"""/v1/tts: text to stored speech, and the voices. Thin routes: parse, one call, render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field, StrictBool

from ..service import Principal
from ..service.tts import MAX_SPEED, MIN_SPEED, SpokenPart, TtsResult
from ..service.tts_request import TtsRequest
from ..tts.encoding import OUTPUT_FORMATS
from . import openapi_limits as limits
from ..service.principal import READ, UPLOAD
from .auth import runtime_of, scoped
from .schemas import AudioObject, ErrorResponse, RequestBody
from .speech_response import SpeechResponse

router = APIRouter(prefix="/v1/tts", tags=["tts"], responses={"4XX": {"model": ErrorResponse}})
Speaker = Annotated[Principal, Depends(scoped(UPLOAD))]
Reader = Annotated[Principal, Depends(scoped(READ))]


class TtsBody(RequestBody):
    text: str = Field(description="The words to speak (AUDIOSTORE_TTS_MAX_TEXT_CHARS at most).")
    voice: str | None = Field(
        None, description="A voice id from GET /v1/tts/voices, or `engine:voice`. "
        "Default AUDIOSTORE_TTS_DEFAULT_VOICE."
    )
    format: str | None = Field(
        None,
        description="wav, mp3, opus or ogg (both Opus in Ogg), aac (ADTS) or flac. Default "
        "AUDIOSTORE_TTS_DEFAULT_FORMAT.",
        json_schema_extra={"enum": [*OUTPUT_FORMATS, None]},
    )
    speed: float | None = Field(None, description="0.5 to 2.0; 1.0 is the voice's normal rate.",
                                json_schema_extra={"minimum": MIN_SPEED, "maximum": MAX_SPEED})
    ttl_seconds: int | None = Field(None, description="Default AUDIOSTORE_TTS_DEFAULT_TTL.",
                                    json_schema_extra=limits.TTL)
    segments: StrictBool = Field(
        False, description="Also store each sentence on its own, in order."
    )
    stream: StrictBool = Field(
        False, description="Answer with the audio's bytes while they are made, sentence by "
        "sentence, instead of the stored object (as POST /v1/audio/speech does). The result "
        "is still stored and cached: the same request without `stream` then answers its "
        "audio object. Not with `segments`.",
    )
    expires_in: int | None = Field(
        None, description="Lifetime in seconds of the signed URL(s) in the answer, as for "
        "POST /v1/audio/{id}/url: 1 to AUDIOSTORE_URL_MAX_EXPIRY; default "
        "AUDIOSTORE_URL_DEFAULT_EXPIRY. A cache hit signs fresh URLs of this lifetime.",
    )
    metadata: Any = Field(
        None, json_schema_extra={"anyOf": [{"type": "object"}, {"type": "null"}]},
        description="A JSON object stored on the new audio (and each segment), checked like an "
        "upload's; the key `tts` is the service's. Not part of the cache key: a cache hit "
        "returns the stored audio with the metadata of the request that made it.",
    )


class SpokenSegment(BaseModel):
    index: int
    text: str
    phonemes: str | None = Field(description="IPA, where the engine gives it.")
    audio: AudioObject


class TtsAudio(AudioObject):
    engine: str
    cache_hit: bool = Field(description="True when stored audio of an identical request answered.")
    phonemes: str | None = None
    segments: list[SpokenSegment] | None = None


class VoiceOut(BaseModel):
    id: str
    engine: str
    language: str
    name: str


class VoiceList(BaseModel):
    engines: list[str]
    voices: list[VoiceOut]


def _audio(part: SpokenPart) -> AudioObject:
    return AudioObject.from_row(part.row, part.signed)


def render(result: TtsResult, with_segments: bool) -> TtsAudio:
    return TtsAudio(
        **_audio(result.whole).model_dump(), engine=result.engine, cache_hit=result.cache_hit,
        phonemes=result.whole.phonemes,
        segments=[
            SpokenSegment(index=i, text=p.text, phonemes=p.phonemes, audio=_audio(p))
            for i, p in enumerate(result.segments)
        ] if with_segments else None,
    )


@router.post("", status_code=201, response_model=TtsAudio, responses={
    200: {"model": TtsAudio, "description": "A cache hit: stored audio of an identical request. "
          "With `stream: true`: the audio's bytes instead, as POST /v1/audio/speech sends them.",
          "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
    201: {"description": "New speech, stored."},
    "5XX": {"model": ErrorResponse, "description": "502 the engine failed; 503 the store is down."},
})
async def speak(body: TtsBody, request: Request, response: Response, who: Speaker) -> TtsAudio | Response:
    """Speak `text` and store it: 201. An identical earlier request whose audio still lives
    answers from storage with a fresh URL: 200 and `cache_hit: true`. With `stream: true`
    the answer is the audio itself, streamed as it is made."""
    ask = TtsRequest(
        text=body.text, voice=body.voice, format=body.format, speed=body.speed,
        ttl_seconds=body.ttl_seconds, segments=body.segments, expires_in=body.expires_in,
        metadata=body.metadata,
    )
    rt = runtime_of(request)
    if body.stream:
        return SpeechResponse(await rt.speech.open(who, ask))
    result = await rt.tts.speak(who, ask)
    if result.cache_hit:
        response.status_code = 200
    return render(result, body.segments)


@router.get("/voices", response_model=VoiceList)
async def voices(request: Request, who: Reader) -> VoiceList:
    """Every engine that is on and every voice it has."""
    tts = runtime_of(request).tts
    found = await tts.voices()
    return VoiceList(
        engines=tts.registry.names,
        voices=[VoiceOut(id=v.id, engine=v.engine, language=v.language, name=v.name) for v in found],
    )
