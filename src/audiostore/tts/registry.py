"""The engine registry: which engines are on, and which engine speaks a given voice."""

from __future__ import annotations

import re

from ..errors import UnknownVoice
from .base import TtsEngine, Voice

__all__ = ["EngineRegistry", "PIPER_VOICE_NAME"]

# Piper's voice files are named `<lang>_<REGION>-<name>-<quality>` (e.g. en_US-lessac-medium).
PIPER_VOICE_NAME = re.compile(r"^[a-z]{2,3}_[A-Z]{2}-[\w]+-(x_low|low|medium|high)$")

# Engines that exist but need a setting before they are listed: the hint names the setting.
_OFF_ENGINE_HINTS = {
    "piper": "Piper voices need AUDIOSTORE_PIPER_VOICES set to a folder of .onnx voice files.",
    "polly": "AWS Polly voices need AUDIOSTORE_POLLY_REGION set (credentials from the AWS chain).",
}


class EngineRegistry:
    """Engines in priority order. A bare voice id goes to the first engine that has it;
    `engine:voice` picks the engine explicitly."""

    def __init__(self) -> None:
        self._engines: dict[str, TtsEngine] = {}
        self._voices: dict[str, list[Voice]] = {}

    def register(self, engine: TtsEngine, *, first: bool = False) -> None:
        """Add (or replace) an engine; `first=True` puts it ahead of the others."""
        self._engines.pop(engine.name, None)
        self._voices.pop(engine.name, None)
        if first:
            self._engines = {engine.name: engine, **self._engines}
        else:
            self._engines[engine.name] = engine

    def unregister(self, name: str) -> None:
        self._engines.pop(name, None)
        self._voices.pop(name, None)

    def engine(self, name: str) -> TtsEngine:
        return self._engines[name]

    @property
    def names(self) -> list[str]:
        return list(self._engines)

    async def voices_of(self, name: str) -> list[Voice]:
        if name not in self._voices:
            self._voices[name] = await self._engines[name].voices()
        return self._voices[name]

    async def voices(self) -> list[Voice]:
        """Every voice of every registered engine, engines in priority order."""
        return [v for name in list(self._engines) for v in await self.voices_of(name)]

    async def resolve(self, voice_id: str) -> tuple[TtsEngine, Voice]:
        """The engine and voice for `voice_id`, or `UnknownVoice` saying what to do."""
        engine_name, sep, bare = voice_id.partition(":")
        if sep and engine_name in self._engines:
            candidates = [engine_name]
        elif sep and engine_name in _OFF_ENGINE_HINTS:
            raise UnknownVoice(f"Unknown voice {voice_id!r}: {_OFF_ENGINE_HINTS[engine_name]}")
        else:
            candidates, bare = list(self._engines), voice_id
        for name in candidates:
            for voice in await self.voices_of(name):
                if voice.id == bare or voice.id.lower() == bare.lower():
                    return self._engines[name], voice
        if "piper" not in self._engines and PIPER_VOICE_NAME.match(bare):
            raise UnknownVoice(f"Unknown voice {voice_id!r}: {_OFF_ENGINE_HINTS['piper']}")
        raise UnknownVoice(f"Unknown voice {voice_id!r}; GET /v1/tts/voices lists the voices.")
