"""Text to speech: the engines, their worker processes, and what a request gets by default."""

from __future__ import annotations

from pathlib import Path

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from ..speech_names import DEFAULT_SPEECH_MODELS, DEFAULT_SPEECH_VOICES, parse_name_table
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
        "mp3", description="Format used when a TTS request names none: wav, mp3, opus, ogg, "
        "aac, flac."
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
    speech_voices: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_SPEECH_VOICES),
        description="OpenAI voice names `POST /v1/audio/speech` takes, each mapped to a voice "
        "as `/v1/tts` takes it (`en-gb`, or `engine:voice` to pick the engine): `name=voice` "
        "pairs (`alloy=en-us,nova=piper:en_US-amy-medium`) or a JSON object. It replaces the "
        "default table (README, OpenAI-compatible speech). A voice not in it is used as a "
        "voice id as it is.",
    )
    speech_models: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_SPEECH_MODELS),
        description="OpenAI model names `POST /v1/audio/speech` takes, each mapped to the "
        "engine that speaks a voice given without `engine:`: `name=engine` pairs "
        "(`tts-1=espeak,tts-1-hd=piper`) or a JSON object. Default: `tts-1`, `tts-1-hd`, "
        "`gpt-4o-mini-tts` (and its dated names) all on espeak.",
    )

    @field_validator("speech_voices", "speech_models", mode="before")
    @classmethod
    def _name_tables(cls, value: object) -> object:
        return parse_name_table(value) if isinstance(value, str) else value
