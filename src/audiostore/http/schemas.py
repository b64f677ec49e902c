"""The JSON shapes of the HTTP API (they are also the OpenAPI schema at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from ..catalog import AudioRow
from ..service import SignedUrl
from ..service.text_field import strings_in, unstorable
from . import openapi_limits as limits


class RequestBody(BaseModel):
    """A JSON request body: unknown fields are refused (booleans are `StrictBool`: `0` or
    `"yes"` is no boolean), and every string in it (ids, names,
    metadata keys and values) must be storable text (`service.text_field`), so a NUL or a lone
    surrogate is a 422 before any lookup or write."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _storable_strings(self) -> RequestBody:
        for field in type(self).model_fields:
            for text in strings_in(getattr(self, field)):
                why = unstorable(text)
                if why is not None:
                    raise PydanticCustomError("unstorable_text", "{field} holds {why}.", {"field": field, "why": why})
        return self


class RenditionInfo(BaseModel):
    format: str
    content_type: str
    size: int
    duration: float | None
    bitrate: int | None
    sample_rate: int
    channels: int
    gain_db: float
    start: float | None = Field(None, description="A clip's first second of the audio.")
    end: float | None = Field(None, description="A clip's end (null: the audio's end).")
    created_at: datetime

    @classmethod
    def from_derived(cls, d: Any) -> RenditionInfo:
        p = d.params or {}
        return cls(
            format=d.format, content_type=d.content_type, size=d.size, duration=d.duration,
            bitrate=p.get("bitrate"), sample_rate=p.get("sample_rate", 0),
            channels=p.get("channels", 0), gain_db=p.get("gain_db", 0.0),
            start=p.get("start"), end=p.get("end"), created_at=d.created_at,
        )


class AudioObject(BaseModel):
    id: str = Field(description="UUIDv7: sorts by creation time.")
    owner: str
    collection: str
    name: str
    key: str = Field(description="The blob key in the store.")
    content_type: str
    format: str
    codec: str
    duration: float = Field(description="Seconds, from a full decode.")
    sample_rate: int
    channels: int
    bitrate: int | None
    size: int
    sha256: str
    metadata: dict[str, Any]
    text: str | None
    voice_id: str | None
    created_at: datetime
    expires_at: datetime | None
    location: str = Field(
        "primary", description="Where the bytes are: `primary` (the configured store) or "
        "`spool` (kept locally while the primary store was unreachable; moved later)."
    )
    url: str | None = None
    url_expires_at: datetime | None = None
    loudness_lufs: float | None = Field(None, description="EBU R128 integrated loudness.")
    true_peak_dbtp: float | None = Field(None, description="EBU R128 true peak.")
    analysis: Literal["pending", "done", "failed"] = Field(
        "done", description="`pending` while loudness is still being measured after the upload "
        "(the two fields above are null until then); `done` once measured (null then means "
        "silence or unmeasurable); `failed` when it was given up for good (the audio costs "
        "more than the processing limits allow, or does not decode): never retried, and "
        "`normalize=true` then applies no gain."
    )
    renditions: list[RenditionInfo] = Field(
        default_factory=list, description="Renditions made so far (on GET and list; [] elsewhere)."
    )

    @classmethod
    def from_row(cls, row: AudioRow, signed: SignedUrl | None = None) -> AudioObject:
        return cls(
            id=row.id, owner=row.owner, collection=row.collection, name=row.name, key=row.key,
            content_type=row.content_type, format=row.format, codec=row.codec,
            duration=row.duration, sample_rate=row.sample_rate, channels=row.channels,
            bitrate=row.bitrate, size=row.size, sha256=row.sha256, metadata=row.meta or {},
            text=row.text, voice_id=row.voice_id, created_at=row.created_at,
            expires_at=row.expires_at, location=row.location or "primary",
            url=signed.url if signed else None,
            url_expires_at=signed.expires_at if signed else None,
            loudness_lufs=getattr(row, "loudness_lufs", None),
            true_peak_dbtp=getattr(row, "true_peak_dbtp", None),
            analysis=analysis_state(row),
        )


def analysis_state(row: AudioRow) -> Literal["pending", "done", "failed"]:
    if getattr(row, "analysis_due_at", None) is not None:
        return "pending"
    return "failed" if getattr(row, "analysis_error", None) else "done"


class AudioList(BaseModel):
    items: list[AudioObject]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class AudioPatch(RequestBody):
    name: str | None = Field(None, json_schema_extra=limits.NAME)
    metadata: dict[str, Any] | None = None
    ttl_seconds: int | None = Field(None, json_schema_extra=limits.TTL)
    expires_at: datetime | None = None
    clear_expiry: StrictBool = Field(False, description="Remove the expiry: keep the audio for good.")


class UrlRequest(RequestBody):
    expires_in: int | None = Field(None, description="Seconds; default AUDIOSTORE_URL_DEFAULT_EXPIRY.")
    # A rendition: the signature covers these, so the URL opens only that rendition.
    format: str | None = Field(None, description="Rendition: mp3, opus, aac, wav or flac.",
                               json_schema_extra={"enum": [*limits.RENDITION_FORMATS, None]})
    bitrate: str | int | None = Field(
        None, description="Rendition bit rate (bit/s, or e.g. `96k`); lossy formats only.",
        json_schema_extra={"minimum": limits.MIN_BITRATE, "maximum": limits.MAX_BITRATE,
                           "pattern": r"^[0-9]{1,6}k?$"},
    )
    sample_rate: int | None = Field(None, json_schema_extra=limits.SAMPLE_RATE)
    channels: int | None = Field(None, json_schema_extra=limits.CHANNELS)
    normalize: StrictBool | None = Field(None, description="Normalise to AUDIOSTORE_LOUDNESS_TARGET_LUFS.")
    start: float | None = Field(None, ge=0, description="A clip: from this second of the audio.")
    end: float | None = Field(None, gt=0, description="A clip: up to this second of the audio.")
    hls: StrictBool | None = Field(
        None, description="true: a signed URL of the HLS master playlist instead (of a clip "
        "with start/end; no other rendition parameters with it)."
    )

    def rendition_params(self) -> dict[str, str]:
        values = self.model_dump(exclude={"expires_in", "hls"}, exclude_none=True)
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


class UrlResponse(BaseModel):
    id: str
    url: str
    expires_at: datetime


class BatchUrlRequest(RequestBody):
    ids: list[str] = Field(json_schema_extra=limits.IDS)
    expires_in: int | None = None


class ErrorBody(BaseModel):
    code: str
    message: str


class BatchUrlItem(BaseModel):
    id: str
    url: str | None = None
    expires_at: datetime | None = None
    error: ErrorBody | None = None


class BatchUrlResponse(BaseModel):
    urls: list[BatchUrlItem]


class ErrorResponse(BaseModel):
    error: ErrorBody
