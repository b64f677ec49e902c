"""OpenAI's speech names, and the engine voices and engines they stand for by default.

`POST /v1/audio/speech` takes OpenAI's `model` and `voice` names so that OpenAI clients work
unchanged. Each voice name maps to a voice as `/v1/tts` takes it (a voice id, or
`engine:voice`); each model name maps to an engine, which speaks a bare voice id. Both tables
are settings (AUDIOSTORE_SPEECH_VOICES, AUDIOSTORE_SPEECH_MODELS), read from `name=value`
pairs or a JSON object. The defaults give each OpenAI voice a distinct English voice of
espeak-ng, the engine that is always on.
"""

from __future__ import annotations

import json

__all__ = ["DEFAULT_SPEECH_MODELS", "DEFAULT_SPEECH_VOICES", "parse_name_table"]

DEFAULT_SPEECH_VOICES: dict[str, str] = {
    "alloy": "en-us",
    "ash": "en-us-nyc",
    "ballad": "en-gb-x-rp",
    "coral": "en-gb",
    "echo": "en-gb-scotland",
    "fable": "en-gb-x-gbclan",
    "onyx": "en-gb-x-gbcwmd",
    "nova": "en-029",
    "sage": "en-gb-x-rp",
    "shimmer": "en-us",
    "verse": "en-gb-scotland",
    "marin": "en-us-nyc",
    "cedar": "en-gb",
}

DEFAULT_SPEECH_MODELS: dict[str, str] = {
    "tts-1": "espeak",
    "tts-1-hd": "espeak",
    "gpt-4o-mini-tts": "espeak",
    "gpt-4o-mini-tts-2025-03-20": "espeak",
    "gpt-4o-mini-tts-2025-12-15": "espeak",
}


def parse_name_table(text: str) -> dict[str, str]:
    """`alloy=en-us,echo=piper:en_US-lessac-medium` or `{"alloy": "en-us"}` as a dict with
    lower-case keys; raises ValueError saying what is wrong."""
    text = text.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc}") from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise ValueError("the JSON object must map names to strings")
        pairs = list(loaded.items())
    else:
        pairs = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"{part!r} is not `name=value`")
            pairs.append((name, value))
    table: dict[str, str] = {}
    for name, value in pairs:
        name, value = name.strip().lower(), value.strip()
        if not name or not value:
            raise ValueError(f"empty name or value in {name!r}={value!r}")
        table[name] = value
    return table
