"""The speech-engine protocol: what every TTS engine gives the service.

An engine turns text into 16-bit mono PCM with a voice it lists. Encoding, storage, caching
and limits are the service's business (`audiostore.service.tts`), never an engine's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["EngineError", "Speech", "SynthesisOptions", "TtsEngine", "Voice"]


class EngineError(Exception):
    """An engine could not synthesise; the service answers 502 `engine_failed`."""


@dataclass(frozen=True, slots=True)
class Voice:
    """One voice an engine offers. `id` is what clients send as `voice`."""

    id: str
    engine: str
    language: str
    name: str


@dataclass(frozen=True, slots=True)
class SynthesisOptions:
    """Options a client may set. `speed` 1.0 is the voice's normal rate."""

    speed: float = 1.0


@dataclass(slots=True)
class Speech:
    """Synthesised audio: int16 mono samples at `sample_rate`, with IPA phonemes if known."""

    samples: npt.NDArray[np.int16]
    sample_rate: int
    phonemes: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


@runtime_checkable
class TtsEngine(Protocol):
    """A text-to-speech engine.

    Engines are registered in an `EngineRegistry`; the service picks one by the voice a
    client asks for. `synthesize` is async: engines that block (C libraries, ONNX) run their
    work in a thread. Failures are raised as `EngineError`.

    Example:
        ```py
        class Beeper:
            name = "beeper"

            async def voices(self) -> list[Voice]:
                return [Voice(id="beep", engine="beeper", language="xx", name="Beep")]

            async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
                t = np.arange(int(22050 * 0.05 * len(text))) / 22050
                tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
                return Speech(samples=tone, sample_rate=22050)

        registry.register(Beeper())
        ```
    """

    name: str
    """Short engine name: `espeak`, `piper`, `polly`. Part of every cache key."""

    async def voices(self) -> list[Voice]:
        """Every voice this engine can speak with now."""
        ...

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        """Speak `text` with `voice`; raise `EngineError` on failure."""
        ...
