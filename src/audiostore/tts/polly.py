"""AWS Polly through boto3, when AUDIOSTORE_POLLY_REGION is set (credentials: the AWS chain).

Asks for raw PCM (16-bit mono, 16 kHz) so encoding stays in one place; speed is SSML prosody.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

import anyio
import numpy as np

from .base import EngineError, Speech, SynthesisOptions, Voice

__all__ = ["PollyEngine"]

SAMPLE_RATE = 16_000


def polly_client(region: str) -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise EngineError("boto3 is not installed: pip install 'audiostore[polly]'.") from exc
    return boto3.client("polly", region_name=region)


def speech_ssml(text: str, speed: float) -> str:
    body = escape(text)
    if speed != 1.0:
        body = f'<prosody rate="{round(speed * 100)}%">{body}</prosody>'
    return f"<speak>{body}</speak>"


class PollyEngine:
    """Amazon Polly voices; a neural engine where the voice has one, else standard."""

    name = "polly"

    def __init__(self, client: Any) -> None:
        self.client = client
        self._engines: dict[str, list[str]] = {}

    def voices_blocking(self) -> list[Voice]:
        from botocore.exceptions import BotoCoreError, ClientError

        voices: list[Voice] = []
        token: str | None = None
        for _ in range(100):  # pages; Polly has a few hundred voices at most
            try:
                page = self.client.describe_voices(**({"NextToken": token} if token else {}))
            except (BotoCoreError, ClientError) as exc:
                raise EngineError(f"AWS Polly could not list voices: {exc}") from exc
            for v in page.get("Voices", []):
                self._engines[v["Id"]] = list(v.get("SupportedEngines") or ["standard"])
                voices.append(Voice(id=v["Id"], engine=self.name, language=v.get("LanguageCode", ""),
                                    name=v.get("Name", v["Id"])))
            token = page.get("NextToken")
            if not token:
                break
        return voices

    def synthesize_blocking(self, text: str, voice_id: str, speed: float) -> Speech:
        from botocore.exceptions import BotoCoreError, ClientError

        engines = self._engines.get(voice_id, ["standard"])
        try:
            response = self.client.synthesize_speech(
                Text=speech_ssml(text, speed), TextType="ssml", OutputFormat="pcm",
                SampleRate=str(SAMPLE_RATE), VoiceId=voice_id,
                Engine="neural" if "neural" in engines else "standard",
            )
            audio = response["AudioStream"].read()
        except (BotoCoreError, ClientError) as exc:
            raise EngineError(f"AWS Polly synthesis failed: {exc}") from exc
        samples = np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2").astype(np.int16)
        if samples.size == 0:
            raise EngineError("AWS Polly returned no audio.")
        return Speech(samples=samples, sample_rate=SAMPLE_RATE)

    async def voices(self) -> list[Voice]:
        return await anyio.to_thread.run_sync(self.voices_blocking)

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        return await anyio.to_thread.run_sync(self.synthesize_blocking, text, voice.id, options.speed)
