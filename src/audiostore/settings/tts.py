"""Text to speech: the engines, their worker processes, and what a request gets by default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from .group import SettingsGroup


class TtsSettings(SettingsGroup):
    tts_collection: str = Field(
        "tts", description="Collection TTS audio is stored in when the request names none."
    )
    tts_default_ttl: int = Field(
        86400, description="Seconds TTS audio lives when the request gives no ttl_seconds "
        "(0: keep it until deleted)."
    )
    tts_max_text_chars: int = Field(5000, description="Longest text one TTS request may speak.")
    tts_default_voice: str = Field("en-us", description="Voice used when a TTS request names none.")
    tts_default_format: str = Field(
        "mp3", description="Format used when a TTS request names none: wav, mp3, opus, ogg."
    )
    tts_processes: int = Field(
        2, ge=1, le=64, description="Worker processes each server worker runs espeak-ng and "
        "Piper in (outside the server's process, so an engine crash fails one request only); "
        "also how many syntheses run at once."
    )
    tts_timeout_seconds: float = Field(
        30.0, gt=0, le=3600, description="Deadline of one synthesis in its worker process; "
        "past it the worker is killed and the request answers 502 `engine_failed`."
    )
    piper_voices: Path | None = Field(
        None, description="Folder of Piper `.onnx` voices (each with its `.onnx.json`); unset: "
        "no Piper engine."
    )
    polly_region: str | None = Field(
        None, description="AWS region for Amazon Polly; unset: no Polly engine. Credentials "
        "come from the standard AWS chain."
    )
