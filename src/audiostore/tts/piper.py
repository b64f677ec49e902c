"""Piper (`piper-tts`): neural voices from a folder of `.onnx` files (AUDIOSTORE_PIPER_VOICES).

Each voice is `<name>.onnx` with its config beside it as `<name>.onnx.json` (Piper's own
layout). The voice id is `<name>`, e.g. seed 000's `en_US-lessac-medium`. Models load on
first use and stay loaded; inference runs in a worker thread.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import anyio
import numpy as np

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
    """Piper voices found in `folder`."""

    name = "piper"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    async def voices(self) -> list[Voice]:
        found = await anyio.to_thread.run_sync(discover_piper_voices, self.folder)
        return [
            Voice(id=vid, engine=self.name, language=_language(vid, cfg),
                  name=str(cfg.get("dataset") or vid))
            for vid, (_, cfg) in found.items()
        ]

    def _voice(self, voice_id: str) -> Any:
        if voice_id not in self._loaded:
            try:
                from piper import PiperVoice
            except ImportError as exc:
                raise EngineError("piper-tts is not installed: pip install 'audiostore[piper]'.") from exc
            model = self.folder / f"{voice_id}.onnx"
            try:
                self._loaded[voice_id] = PiperVoice.load(model)
            except Exception as exc:  # onnxruntime raises its own types
                raise EngineError(f"Piper could not load {model.name}: {exc}") from exc
        return self._loaded[voice_id]

    def synthesize_blocking(self, text: str, voice_id: str, speed: float) -> Speech:
        with self._lock:
            voice = self._voice(voice_id)
            from piper import SynthesisConfig

            try:
                chunks = list(voice.synthesize(text, SynthesisConfig(length_scale=1.0 / speed)))
            except Exception as exc:
                raise EngineError(f"Piper synthesis failed: {exc}") from exc
        return speech_from_chunks(chunks, int(voice.config.sample_rate))

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        return await anyio.to_thread.run_sync(self.synthesize_blocking, text, voice.id, options.speed)


def speech_from_chunks(chunks: list[Any], sample_rate: int) -> Speech:
    """Join Piper's per-sentence `AudioChunk`s into one `Speech`."""
    if not chunks:
        raise EngineError("Piper produced no audio for this text.")
    samples = np.concatenate([np.asarray(c.audio_int16_array, dtype=np.int16).reshape(-1) for c in chunks])
    phonemes = " ".join("".join(c.phonemes) for c in chunks if getattr(c, "phonemes", None))
    return Speech(samples=samples, sample_rate=int(chunks[0].sample_rate or sample_rate),
                  phonemes=phonemes or None)
