"""OpenAI's speech request (`POST /v1/audio/speech`) as a TTS request of this service.

The names are the settings' tables (`audiostore.speech_names`): `model` picks the engine that
speaks a bare voice id, `voice` is looked up in the voice table, and a voice not in it is a
voice id of its own (so `en-gb` or `piper:en_US-lessac-medium` work as well). What OpenAI's
API takes that no engine here can do is refused by name rather than ignored, except
`instructions` (a speaking style for gpt-4o-mini-tts), which the engines here have no way to
follow: it is accepted and not used, so that clients that always send it still work.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnknownModel
from ..settings import Settings
from .tts_request import TtsRequest

__all__ = ["OpenAiSpeech", "tts_request_of"]

OPENAI_DEFAULT_FORMAT = "mp3"


@dataclass(frozen=True, slots=True)
class OpenAiSpeech:
    model: str
    input: str
    voice: str
    response_format: str | None = None
    speed: float | None = None


def tts_request_of(settings: Settings, ask: OpenAiSpeech) -> TtsRequest:
    """The TTS request `ask` stands for; `UnknownModel` for a model no table row names."""
    engine = settings.speech_models.get(ask.model.lower())
    if engine is None:
        known = ", ".join(sorted(settings.speech_models)) or "none"
        raise UnknownModel(
            f"Unknown model {ask.model!r}; this server speaks {known} (AUDIOSTORE_SPEECH_MODELS)."
        )
    voice = settings.speech_voices.get(ask.voice.lower(), ask.voice)
    if ":" not in voice:
        voice = f"{engine}:{voice}"
    return TtsRequest(
        text=ask.input, voice=voice, format=ask.response_format or OPENAI_DEFAULT_FORMAT,
        speed=ask.speed,
    )
