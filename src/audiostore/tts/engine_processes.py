"""The worker processes TTS engines with native code speak in (`audiostore.native_workers`).

espeak-ng and Piper run there; Polly is a web API and stays in the server's process.
"""

from __future__ import annotations

import functools

from ..native_workers import NativeWorkerPool
from ..settings import TtsSettings

__all__ = ["engine_pool", "shared_engine_pool"]

# Imported once by the fork server, so a worker that replaces a crashed one starts at once.
ENGINE_MODULES = ("audiostore.tts.espeak",)


def engine_pool(settings: TtsSettings) -> NativeWorkerPool:
    """The pool a runtime's engines share: AUDIOSTORE_TTS_PROCESSES workers, each call within
    AUDIOSTORE_TTS_TIMEOUT_SECONDS. The runtime closes it."""
    return NativeWorkerPool(
        name="tts", size=settings.tts_processes, timeout=settings.tts_timeout_seconds,
        preload=ENGINE_MODULES, timeout_setting="AUDIOSTORE_TTS_TIMEOUT_SECONDS",
    )


@functools.cache
def shared_engine_pool() -> NativeWorkerPool:
    """One worker with the default deadline, for engines built without a pool (library use,
    tests). Its worker ends with this process: it exits when its pipe closes."""
    defaults = TtsSettings.model_fields
    return NativeWorkerPool(
        name="tts-shared", size=1, timeout=float(defaults["tts_timeout_seconds"].default),
        preload=ENGINE_MODULES, timeout_setting="AUDIOSTORE_TTS_TIMEOUT_SECONDS",
    )
