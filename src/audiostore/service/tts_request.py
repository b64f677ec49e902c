"""What a client asks of text to speech, before it is checked (`TtsService.plan`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TtsRequest"]


@dataclass(frozen=True, slots=True)
class TtsRequest:
    """What a client asks for. None means the setting's default."""

    text: str
    voice: str | None = None
    format: str | None = None
    speed: float | None = None
    ttl_seconds: int | None = None
    segments: bool = False
    expires_in: int | None = None  # signed URL lifetime; None: AUDIOSTORE_URL_DEFAULT_EXPIRY
    metadata: object = None  # a JSON object to store on the new audio; None: none
