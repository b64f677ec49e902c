"""Piper (`piper-tts`): neural voices from a folder of `.onnx` files (AUDIOSTORE_PIPER_VOICES).

Each voice is `<name>.onnx` with its config beside it as `<name>.onnx.json` (Piper's own
layout). The voice id is `<name>`, e.g. seed 000's `en_US-lessac-medium`. Inference (ONNX
Runtime, native code) runs in a worker process of a `NativeWorkerPool`, where a crash fails
one request only; each worker loads a model on its first use and keeps it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from ..native_workers import NativeCallFailed, NativeWorkerPool
from .base import EngineError, Speech, SynthesisOptions, Voice

__all__ = ["PiperEngine", "discover_piper_voices"]


def discover_piper_voices(folder: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """`voice id -> (model path, config)` for every `.onnx` with a readable `.onnx.json`."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for model in sorted(folder.glob("*.onnx")):
        config_path = model.with_name(model.name + ".json")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a usable voice: Piper needs the config
        if isinstance(config, dict):
            found[model.stem] = (model, config)
    return found


def _language(voice_id: str, config: dict[str, Any]) -> str:
    lang = config.get("language")
    if isinstance(lang, dict) and isinstance(lang.get("code"), str):
        return str(lang["code"])
    espeak = config.get("espeak")
    if isinstance(espeak, dict) and isinstance(espeak.get("voice"), str):
        return str(espeak["voice"])
    return voice_id.split("-", 1)[0]


class PiperEngine:
    """Piper voices found in `folder`, spoken in `pool`'s worker processes (default: the
    process-wide `shared_engine_pool()`)."""

    name = "piper"

    def __init__(self, folder: Path, pool: NativeWorkerPool | None = None) -> None:
        if pool is None:
            from .engine_processes import shared_engine_pool

            pool = shared_engine_pool()
        self.folder = folder
        self.pool = pool

    async def voices(self) -> list[Voice]:
        found = await anyio.to_thread.run_sync(discover_piper_voices, self.folder)
        return [
            Voice(id=vid, engine=self.name, language=_language(vid, cfg),
                  name=str(cfg.get("dataset") or vid))
            for vid, (_, cfg) in found.items()
        ]

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        try:
            return await self.pool.call(synthesize_blocking, str(self.folder), voice.id, text, options.speed)
        except NativeCallFailed as exc:
            raise EngineError(f"{exc}.") from exc


# Models a worker process has loaded: (folder, voice id) -> PiperVoice.
_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _voice(folder: str, voice_id: str) -> Any:
    if (folder, voice_id) not in _LOADED:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise EngineError("piper-tts is not installed: pip install 'audiostore[piper]'.") from exc
        model = Path(folder) / f"{voice_id}.onnx"
        try:
            _LOADED[(folder, voice_id)] = PiperVoice.load(model)
        except Exception as exc:  # onnxruntime raises its own types
            raise EngineError(f"Piper could not load {model.name}: {exc}") from exc
    return _LOADED[(folder, voice_id)]


def synthesize_blocking(folder: str, voice_id: str, text: str, speed: float) -> Speech:
    """Speak `text` with the voice `<folder>/<voice_id>.onnx` (in a worker process)."""
    with _LOCK:
        voice = _voice(folder, voice_id)
        from piper import SynthesisConfig

        try:
            chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=1.0 / speed)))
        except Exception as exc:
            raise EngineError(f"Piper synthesis failed: {exc}") from exc
    return speech_from_chunks(chunks, int(voice.config.sample_rate))


def speech_from_chunks(chunks: list[Any], sample_rate: int) -> Speech:
    """Join Piper's per-sentence `AudioChunk`s into one `Speech`."""
    if not chunks:
        raise EngineError("Piper produced no audio for this text.")
    samples = np.concatenate([np.asarray(c.audio_int16_array, dtype=np.int16).reshape(-1) for c in chunks])
    phonemes = " ".join("".join(c.phonemes) for c in chunks if getattr(c, "phonemes", None))
    return Speech(samples=samples, sample_rate=int(chunks[0].sample_rate or sample_rate),
                  phonemes=phonemes or None)
