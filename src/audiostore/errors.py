"""The one error catalogue.

Every failure a client can see is an `AudiostoreError` subclass with a stable `code`, a real
HTTP `status` and a default message. The HTTP layer renders any of them as
`{"error": {"code": ..., "message": ...}}`; foreign errors (database, object store, codec)
are translated into these at the edge where they occur.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AudiostoreError",
    "BadRequest",
    "InvalidName",
    "InvalidCursor",
    "InvalidMetadata",
    "ValidationFailed",
    "Unauthorized",
    "Forbidden",
    "SignatureInvalid",
    "SignatureExpired",
    "NotFound",
    "Conflict",
    "IdempotencyKeyReused",
    "IdempotencyKeyInProgress",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "RangeNotSatisfiable",
    "UndecodableAudio",
    "AudioTooLong",
    "UnsupportedSampleRate",
    "UnknownFormat",
    "UnknownVoice",
    "UnknownModel",
    "ProcessingLimit",
    "EngineFailed",
    "StorageUnavailable",
    "InsufficientStorage",
    "ShuttingDown",
    "ConfigurationError",
    "TokenExpired",
    "TokenRevoked",
    "ScopeDenied",
    "UploadNotFound",
    "UploadGone",
    "UploadOffsetMismatch",
    "UploadLocked",
    "ChecksumMismatch",
    "UnsupportedChecksum",
    "TusVersionUnsupported",
    "UploadUrlUsed",
    "UploadConcatInvalid",
    "CATALOGUE",
]


class AudiostoreError(Exception):
    """Base of every error a client may see."""

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal error."
    # Headers every answer of this error carries (a Retry-After, say); `headers=` adds to them.
    default_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None):
        self.message = message or self.default_message
        self.headers = {**self.default_headers, **(headers or {})}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(AudiostoreError):
    code, status, default_message = "bad_request", 400, "The request is malformed."


class InvalidName(AudiostoreError):
    code, status, default_message = (
        "invalid_name",
        400,
        "Names and key parts may not contain '..', slashes at the ends, or control characters.",
    )


class InvalidCursor(AudiostoreError):
    code, status, default_message = "invalid_cursor", 400, "The pagination cursor is not valid."


class InvalidMetadata(AudiostoreError):
    code, status, default_message = "invalid_metadata", 422, "metadata must be a JSON object."


class ValidationFailed(AudiostoreError):
    code, status, default_message = "validation_failed", 422, "The request is not valid."


class Unauthorized(AudiostoreError):
    code, status, default_message = (
        "unauthorized",
        401,
        "A valid API key is required: send 'Authorization: Bearer <key>'.",
    )


class Forbidden(AudiostoreError):
    code, status, default_message = "forbidden", 403, "This needs an admin API key."


class SignatureInvalid(AudiostoreError):
    code, status, default_message = (
        "signature_invalid",
        403,
        "The URL signature does not match this object.",
    )


class SignatureExpired(AudiostoreError):
    code, status, default_message = "signature_expired", 403, "The signed URL has expired."


class NotFound(AudiostoreError):
    code, status, default_message = "not_found", 404, "No such audio."


class Conflict(AudiostoreError):
    code, status, default_message = "conflict", 409, "The request conflicts with current state."


class IdempotencyKeyReused(AudiostoreError):
    code, status, default_message = (
        "idempotency_key_reused",
        409,
        "This Idempotency-Key was already used with a different upload; use a new key.",
    )


class IdempotencyKeyInProgress(AudiostoreError):
    code, status, default_message = (
        "idempotency_key_in_progress",
        409,
        "An upload with this Idempotency-Key is still being stored; retry shortly.",
    )
    # The first request ends within about one store deadline (stored, spooled or failed).
    default_headers = {"Retry-After": "5"}


class PayloadTooLarge(AudiostoreError):
    code, status, default_message = "too_large", 413, "The upload is larger than allowed."


class UnsupportedMediaType(AudiostoreError):
    code, status, default_message = (
        "unsupported_format",
        415,
        "The file is not audio in an accepted format.",
    )


class RangeNotSatisfiable(AudiostoreError):
    code, status, default_message = "bad_range", 416, "The Range header cannot be satisfied."


class UndecodableAudio(AudiostoreError):
    code, status, default_message = (
        "undecodable_audio",
        422,
        "The audio is truncated or cannot be decoded.",
    )


class AudioTooLong(AudiostoreError):
    """The decoded audio runs longer than `AUDIOSTORE_MAX_DURATION_SECONDS` (its header may
    say anything: the decode stops as soon as the limit is passed)."""

    code, status, default_message = (
        "audio_too_long",
        422,
        "The audio is longer than this service accepts.",
    )


class UnsupportedSampleRate(AudiostoreError):
    """The decoded sample rate is outside `AUDIOSTORE_MIN_SAMPLE_RATE` ..
    `AUDIOSTORE_MAX_SAMPLE_RATE` (a 1 Hz file turns a few bytes into days of audio)."""

    code, status, default_message = (
        "unsupported_sample_rate",
        422,
        "The audio's sample rate is outside the range this service accepts.",
    )


class UnknownFormat(AudiostoreError):
    code, status, default_message = "unknown_format", 422, "Unknown output format."


class UnknownVoice(AudiostoreError):
    code, status, default_message = "unknown_voice", 422, "Unknown voice."


class UnknownModel(AudiostoreError):
    """An OpenAI speech `model` name that AUDIOSTORE_SPEECH_MODELS does not map to an engine."""

    code, status, default_message = "unknown_model", 422, "Unknown speech model."


class ProcessingLimit(AudiostoreError):
    """Decoding the audio would cost more CPU time or write more bytes than the processing
    limits allow (`AUDIOSTORE_PROCESSING_*`): the work was stopped and nothing kept."""

    code, status, default_message = (
        "processing_limit",
        422,
        "This audio costs more to process than the server's processing limits allow.",
    )


class EngineFailed(AudiostoreError):
    code, status, default_message = "engine_failed", 502, "The speech engine failed."


# How soon a client may try again after a store outage: about one store call deadline.
STORAGE_RETRY_AFTER_SECONDS = 10


class StorageUnavailable(AudiostoreError):
    """The blob store refused, could not be reached, or did not answer within its deadline."""

    code, status, default_message = (
        "storage_unavailable",
        503,
        "The blob store cannot be reached; try again.",
    )
    default_headers = {"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)}


class InsufficientStorage(AudiostoreError):
    """A disk (or quota) this server writes to is full: staging, spool, blobs, scratch or the
    catalogue. The server's condition, not the client's mistake; nothing was stored."""

    code, status, default_message = (
        "insufficient_storage",
        507,
        "The server has no room to store this (its disk or quota is full); nothing was "
        "stored. Try again later.",
    )


class ShuttingDown(AudiostoreError):
    """Work in flight was cancelled because the server is stopping."""

    code, status, default_message = (
        "shutting_down",
        503,
        "The server is shutting down; try again.",
    )


class ConfigurationError(AudiostoreError):
    """Raised at start when settings are wrong; the message names the setting to fix."""

    code, status, default_message = "configuration", 500, "audiostore is misconfigured."


class TokenExpired(AudiostoreError):
    code, status, default_message = (
        "token_expired",
        401,
        "The client token has expired: mint a new one (POST /v1/tokens).",
    )


class TokenRevoked(AudiostoreError):
    code, status, default_message = (
        "token_revoked",
        401,
        "The client token was revoked (its owner's tokens before a moment were withdrawn).",
    )


class ScopeDenied(AudiostoreError):
    code, status, default_message = (
        "scope_denied",
        403,
        "The client token does not allow this (its scopes or collections).",
    )


class UploadNotFound(AudiostoreError):
    code, status, default_message = "upload_not_found", 404, "No such resumable upload."


class UploadGone(AudiostoreError):
    """A tus upload that expired, was terminated, or whose file failed the ingest checks."""

    code, status, default_message = (
        "upload_gone",
        410,
        "This resumable upload has expired or ended; start a new one.",
    )


class UploadOffsetMismatch(AudiostoreError):
    code, status, default_message = (
        "upload_offset_mismatch",
        409,
        "Upload-Offset is not the upload's current offset; ask with HEAD and resume from there.",
    )


class UploadLocked(AudiostoreError):
    """Another PATCH (here or on another instance) is appending to this upload right now."""

    code, status, default_message = (
        "upload_locked",
        423,
        "Another request is appending to this upload; retry after it ends (HEAD for the offset).",
    )


class ChecksumMismatch(AudiostoreError):
    """tus checksum extension: the PATCH's bytes do not match its `Upload-Checksum`; they
    were discarded and the offset is unchanged."""

    code, status, default_message = (
        "checksum_mismatch",
        460,
        "The bytes do not match Upload-Checksum; they were discarded. Send them again.",
    )


class UnsupportedChecksum(AudiostoreError):
    code, status, default_message = (
        "unsupported_checksum",
        400,
        "Upload-Checksum names an algorithm this server does not support (sha1, sha256, md5).",
    )


class TusVersionUnsupported(AudiostoreError):
    code, status, default_message = (
        "tus_version_unsupported",
        412,
        "This server speaks tus 1.0.0: send Tus-Resumable: 1.0.0.",
    )


class UploadUrlUsed(AudiostoreError):
    code, status, default_message = (
        "upload_url_used",
        410,
        "This signed upload URL has been used already; ask for a new one.",
    )


class UploadConcatInvalid(AudiostoreError):
    """tus concatenation: a final upload that names something other than complete partial
    uploads of its owner (or too many), or a request a final upload does not take."""

    code, status, default_message = (
        "upload_concat_invalid",
        400,
        "Upload-Concat must be `partial`, or `final;` and the URLs of complete partial uploads.",
    )


def _catalogue() -> dict[str, type[AudiostoreError]]:
    found: dict[str, type[AudiostoreError]] = {}
    pending = list(AudiostoreError.__subclasses__())
    while pending:
        cls = pending.pop()
        found[cls.code] = cls
        pending.extend(cls.__subclasses__())
    return found


CATALOGUE: dict[str, type[AudiostoreError]] = _catalogue()
"""Every error code, mapped to its class (for docs and tests)."""
