"""Text to speech: the engine protocol, the registry and the engines (espeak-ng by default)."""

from __future__ import annotations

from ..errors import ConfigurationError
from ..native_workers import NativeWorkerPool
from ..settings import TtsSettings
from .base import EngineError, Speech, SynthesisOptions, TtsEngine, Voice
from .encoding import OUTPUT_FORMATS, encode_speech
from .engine_processes import engine_pool
from .espeak import EspeakEngine
from .registry import EngineRegistry
from .sentences import split_sentences

__all__ = [
    "OUTPUT_FORMATS",
    "EngineError",
    "EngineRegistry",
    "EspeakEngine",
    "Speech",
    "SynthesisOptions",
    "TtsEngine",
    "Voice",
    "build_registry",
    "encode_speech",
    "engine_pool",
    "split_sentences",
]


def build_registry(settings: TtsSettings, pool: NativeWorkerPool | None = None) -> EngineRegistry:
    """espeak-ng always; Piper when AUDIOSTORE_PIPER_VOICES is set; Polly when
    AUDIOSTORE_POLLY_REGION is set. espeak-ng and Piper speak in `pool`'s worker processes
    (see `engine_pool`; default: one shared worker)."""
    registry = EngineRegistry()
    registry.register(EspeakEngine(pool))
    if settings.piper_voices is not None:
        from .piper import PiperEngine

        if not settings.piper_voices.is_dir():
            raise ConfigurationError(
                f"AUDIOSTORE_PIPER_VOICES={settings.piper_voices} is not a folder of Piper voices."
            )
        registry.register(PiperEngine(settings.piper_voices, pool))
    if settings.polly_region:
        from .polly import PollyEngine, polly_client

        try:
            registry.register(PollyEngine(polly_client(settings.polly_region)))
        except EngineError as exc:
            raise ConfigurationError(f"AUDIOSTORE_POLLY_REGION is set, but {exc}") from exc
    return registry
