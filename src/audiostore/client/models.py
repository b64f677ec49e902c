"""Typed models of what the service answers (pydantic; unknown fields are kept, not lost).

Models also answer `obj["field"]` like the JSON dicts earlier SDK versions returned, and
`obj.to_json()` gives the plain JSON-ready dict back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)

    def to_json(self) -> dict[str, Any]:
        """The model as JSON-ready data (times as ISO 8601 strings)."""
        return self.model_dump(mode="json")


class AudioObject(_Model):
    """One stored audio object. `url`/`url_expires_at` are set where a URL was implied
    (upload, TTS); TTS answers also carry `engine`, `cache_hit` and `phonemes`."""

    id: str
    owner: str
    collection: str
    name: str
    key: str
    content_type: str
    format: str
    codec: str
    duration: float
    sample_rate: int
    channels: int
    bitrate: int | None = None
    size: int
    sha256: str
    metadata: dict[str, Any] = {}
    text: str | None = None
    voice_id: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    url: str | None = None
    url_expires_at: datetime | None = None
    location: str = "primary"
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    analysis: str = "done"  # "pending" until loudness is measured, just after the upload; "failed" if given up


class AudioPage(_Model):
    """One page of a listing; pass `next_cursor` back as `cursor` for the next one."""

    items: list[AudioObject]
    next_cursor: str | None = None


class SignedUrl(_Model):
    """A time-limited URL that fetches the bytes with no header at all."""

    id: str
    url: str
    expires_at: datetime


class ErrorInfo(_Model):
    code: str
    message: str


class BatchUrlItem(_Model):
    """One answer of `sign_many`: a `url` and `expires_at`, or an `error` for that id."""

    id: str
    url: str | None = None
    expires_at: datetime | None = None
    error: ErrorInfo | None = None


class QueueItem(_Model):
    """One playable item of a queue."""

    id: str
    name: str
    duration: float


class Queue(_Model):
    """A named queue of audio ids; `audio_ids`/`items` hold only the items still playable
    (expired or deleted audio drops out)."""

    name: str
    audio_ids: list[str]
    items: list[QueueItem]
    created_at: datetime
    updated_at: datetime


class QueueUrl(_Model):
    """A time-limited URL that plays a queue's stream (in one `mode`) with no header."""

    name: str
    mode: str
    url: str
    expires_at: datetime


class Waveform(_Model):
    """audiowaveform's JSON (v1, or v2 for `channels="all"`): `data` holds min,max pairs
    (interleaved per channel in v2), ready for peaks.js."""

    version: int
    channels: int = 1
    sample_rate: int
    samples_per_pixel: int
    bits: int
    length: int
    data: list[int]


class CleanupResult(_Model):
    """What `cleanup()` did: objects older than the age, those gone, those left for retry."""

    matched: int
    deleted: int
    left_for_retry: int


class JobRun(_Model):
    """One maintenance job's run from `sweep()`: its counts, or the error that stopped it."""

    job: str
    counts: dict[str, int]
    error: str | None = None


class ApiKey(_Model):
    """An API key as `list_keys()` shows it: never its secret."""

    id: str
    prefix: str
    owner: str
    admin: bool
    label: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedApiKey(ApiKey):
    """A key just made by `create_key()`: `key` is its secret, shown this once."""

    key: str


class ClientToken(_Model):
    """A short-lived client token from `create_token()`: hand `token` to a browser or phone,
    which sends it as `Authorization: Bearer <token>` (or `Client(token=token)`)."""

    token: str
    token_id: str
    owner: str
    scopes: list[str]
    collections: list[str] | None = None
    max_bytes: int | None = None
    formats: list[str] | None = None
    expires_at: datetime


class TokenRevocation(_Model):
    """From `revoke_tokens()`: the owner's tokens issued before `not_before` are refused."""

    owner: str
    not_before: datetime


class UploadUrl(_Model):
    """A one-use signed upload URL from `create_upload_url()`: whoever holds it sends one
    file with no key (`upload_to_signed_url(u, "take.wav")`, or a browser's `PUT` to `url`);
    `tus_url` is the same right as a tus creation URL, for a resumable upload."""

    url: str
    method: str
    expires_at: datetime
    fields: dict[str, str] | None = None
    tus_url: str
    max_bytes: int
    formats: list[str]


class SignedUpload(_Model):
    """What `upload_to_signed_url()` stored: the object's `id`, and the whole object as
    `audio` when the service answered it (a one-request upload). After a tus upload the
    service names only the id (`Audiostore-Audio-Id`): a URL's holder may have no key to
    read the object with, so `audio` is None then."""

    id: str
    audio: AudioObject | None = None


class PublicCollection(_Model):
    """A public collection: its objects play at `url` + id or name, with no key."""

    owner: str
    collection: str
    source: str
    created_at: datetime | None = None
    url: str


__all__ = [
    "ApiKey",
    "AudioObject",
    "AudioPage",
    "BatchUrlItem",
    "CleanupResult",
    "ClientToken",
    "ErrorInfo",
    "IssuedApiKey",
    "JobRun",
    "PublicCollection",
    "Queue",
    "QueueItem",
    "QueueUrl",
    "SignedUpload",
    "SignedUrl",
    "TokenRevocation",
    "UploadUrl",
    "Waveform",
]
