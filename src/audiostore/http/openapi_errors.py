"""Which of the catalogue's errors each operation can answer, written into /openapi.json.

FastAPI documents what a route returns, not what it raises, so the document said `4XX` where
the service has a dozen precise answers (413 too large, 415 not audio, 422 too long, 507 a
full disk...). This table names them per operation; each becomes a response entry whose
description lists its codes and their meaning, with the catalogue's one error body. The
`4XX`/`5XX` ranges stay beside them: a proxy or the framework may still answer one of those
(a 405, a 414 URL too long, a 503 from a database that went away).

A test keeps the table honest: every operation of the app is in it, every entry is a real
operation, and every error a client can see is documented somewhere.
"""

from __future__ import annotations

from typing import Any

from .. import errors as e

__all__ = ["ERRORS_BY_OPERATION", "document_errors"]

# A key or a client token: a token may be expired, revoked or without the route's scope.
_AUTH = (e.Unauthorized, e.TokenExpired, e.TokenRevoked, e.ScopeDenied)
_KEY = (e.Unauthorized, e.ScopeDenied)  # an API key only (a client token is 403)
_ADMIN = (e.Unauthorized, e.Forbidden)
_MAKES_AUDIO = (e.StorageUnavailable, e.InsufficientStorage)
_RENDERS = (e.Conflict, e.UnknownFormat, e.ValidationFailed, e.ProcessingLimit, e.StorageUnavailable,
            e.ShuttingDown, e.InsufficientStorage)
_SIGNED = (e.SignatureInvalid, e.SignatureExpired)

_INGEST = (e.PayloadTooLarge, e.UnsupportedMediaType, e.UndecodableAudio, e.AudioTooLong,
           e.UnsupportedSampleRate, *_MAKES_AUDIO)
_TUS_APPEND = (e.BadRequest, e.TusVersionUnsupported, *_AUTH, *_SIGNED, e.UploadNotFound,
               e.UploadGone, e.UploadOffsetMismatch, e.UploadLocked, e.ChecksumMismatch, e.Forbidden,
               e.UnsupportedChecksum, e.IdempotencyKeyInProgress, *_INGEST)
_TUS_CREATE = (e.InvalidName, e.InvalidMetadata, e.ValidationFailed, e.Forbidden, e.UploadUrlUsed,
               e.UploadConcatInvalid, e.Conflict)
_SIGNED_UPLOAD = (e.BadRequest, *_SIGNED, e.UploadUrlUsed, e.ValidationFailed, e.InvalidName,
                  e.InvalidMetadata, *_INGEST)

ERRORS_BY_OPERATION: dict[str, tuple[type[e.AudiostoreError], ...]] = {
    "POST /v1/audio": (
        e.BadRequest, e.InvalidName, e.InvalidMetadata, e.ValidationFailed, *_ADMIN, *_AUTH,
        e.Conflict, e.IdempotencyKeyReused, e.IdempotencyKeyInProgress, e.PayloadTooLarge,
        e.UnsupportedMediaType, e.UndecodableAudio, e.AudioTooLong, e.UnsupportedSampleRate,
        *_MAKES_AUDIO,
    ),
    "GET /v1/audio": (e.BadRequest, e.InvalidCursor, e.ValidationFailed, *_ADMIN, *_AUTH),
    "GET /v1/audio/{audio_id}": (*_AUTH, e.NotFound),
    "PATCH /v1/audio/{audio_id}": (
        e.BadRequest, e.InvalidName, e.InvalidMetadata, e.ValidationFailed, *_AUTH, e.NotFound,
        e.InsufficientStorage,
    ),
    "DELETE /v1/audio/{audio_id}": (*_AUTH, e.NotFound),
    "POST /v1/audio/{audio_id}/url": (e.UnknownFormat, e.ValidationFailed, *_AUTH, e.NotFound),
    "POST /v1/urls": (e.ValidationFailed, *_AUTH),
    "GET /v1/audio/{audio_id}/content": (*_AUTH, *_SIGNED, e.NotFound, e.RangeNotSatisfiable,
                                         *_RENDERS),
    "HEAD /v1/audio/{audio_id}/content": (*_AUTH, *_SIGNED, e.NotFound, e.RangeNotSatisfiable,
                                          *_RENDERS),
    "GET /v1/audio/{audio_id}/waveform": (*_AUTH, e.NotFound, *_RENDERS),
    "GET /v1/audio/{audio_id}/hls/index.m3u8": (e.BadRequest, e.ValidationFailed, *_AUTH,
                                                 *_SIGNED, e.NotFound),
    "GET /v1/audio/{audio_id}/hls/{variant}/index.m3u8": (e.BadRequest, e.ValidationFailed,
                                                          *_AUTH, *_SIGNED, e.NotFound),
    "GET /v1/audio/{audio_id}/hls/{variant}/{segment}": (e.BadRequest, *_AUTH, *_SIGNED,
                                                         e.NotFound, e.RangeNotSatisfiable,
                                                         *_RENDERS),
    "GET /v1/health": (),
    "GET /v1/info": _AUTH,
    "POST /v1/admin/cleanup": (e.ValidationFailed, *_ADMIN),
    "POST /v1/admin/sweep": _ADMIN,
    "PUT /v1/queues/{name}": (e.InvalidName, e.ValidationFailed, *_AUTH, e.Conflict),
    "GET /v1/queues/{name}": (*_AUTH, e.NotFound),
    "DELETE /v1/queues/{name}": (*_AUTH, e.NotFound),
    "POST /v1/queues/{name}/url": (e.ValidationFailed, *_AUTH, e.NotFound),
    "GET /v1/queues/{name}/hls/index.m3u8": (e.BadRequest, e.ValidationFailed, *_AUTH, *_SIGNED,
                                             e.NotFound, e.Conflict),
    "GET /v1/queues/{name}/stream.mp3": (e.ValidationFailed, *_AUTH, *_SIGNED, e.NotFound,
                                         e.Conflict, e.StorageUnavailable),
    "POST /v1/tts": (e.ValidationFailed, e.InvalidMetadata, e.UnknownVoice, e.UnknownFormat,
                     *_AUTH, e.NotFound, e.EngineFailed, *_MAKES_AUDIO),
    "GET /v1/tts/voices": (*_AUTH, e.EngineFailed),
    "POST /v1/audio/speech": (e.ValidationFailed, e.UnknownModel, e.UnknownVoice, e.UnknownFormat,
                              *_AUTH, e.NotFound, e.EngineFailed, *_MAKES_AUDIO),
    "POST /v1/keys": (e.BadRequest, e.InvalidName, e.ValidationFailed, *_ADMIN, e.Conflict),
    "GET /v1/keys": (e.ValidationFailed, *_ADMIN),
    "DELETE /v1/keys/{key_id}": (*_ADMIN, e.NotFound),
    "POST /v1/tokens": (e.InvalidName, e.ValidationFailed, *_KEY, e.Forbidden),
    "POST /v1/tokens/revoke": (e.InvalidName, e.ValidationFailed, *_ADMIN, e.Conflict),
    "PUT /v1/collections/{owner}/{collection}/public": (e.InvalidName, *_KEY, e.Forbidden),
    "DELETE /v1/collections/{owner}/{collection}/public": (e.InvalidName, *_KEY, e.Forbidden,
                                                           e.NotFound, e.Conflict),
    "GET /v1/collections/public": (*_KEY, e.Forbidden),
    "GET /v1/public/{owner}/{collection}/{ref}": (e.NotFound, e.RangeNotSatisfiable, *_RENDERS),
    "HEAD /v1/public/{owner}/{collection}/{ref}": (e.NotFound, e.RangeNotSatisfiable, *_RENDERS),
    "GET /v1/public/{owner}/{collection}/queues/{name}/stream.mp3": (
        e.ValidationFailed, e.NotFound, e.StorageUnavailable),
    "OPTIONS /v1/uploads": (),
    "OPTIONS /v1/uploads/{upload_id}": (),
    "POST /v1/uploads": (*_TUS_CREATE, *_TUS_APPEND),
    "HEAD /v1/uploads/{upload_id}": (e.TusVersionUnsupported, *_AUTH, *_SIGNED, e.UploadNotFound,
                                      e.UploadGone),
    "PATCH /v1/uploads/{upload_id}": _TUS_APPEND,
    "DELETE /v1/uploads/{upload_id}": (e.TusVersionUnsupported, *_AUTH, *_SIGNED, e.UploadNotFound,
                                        e.UploadLocked),
    "POST /v1/uploads/{upload_id}": (*_TUS_APPEND, e.UploadLocked),
    "POST /v1/audio/upload-url": (e.InvalidName, e.ValidationFailed, e.Forbidden, *_AUTH),
    "PUT /v1/signed-upload": _SIGNED_UPLOAD,
    "POST /v1/signed-upload": _SIGNED_UPLOAD,
}


def _entry(errors: list[type[e.AudiostoreError]]) -> dict[str, Any]:
    codes = "; ".join(f"`{err.code}`: {err.default_message}" for err in errors)
    return {
        "description": codes,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def document_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Add one response entry per status each operation's errors can have (in place)."""
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            by_status: dict[int, list[type[e.AudiostoreError]]] = {}
            for err in ERRORS_BY_OPERATION.get(f"{method.upper()} {path}", ()):
                by_status.setdefault(err.status, []).append(err)
            responses = operation.setdefault("responses", {})
            for status, errs in sorted(by_status.items()):
                responses.setdefault(str(status), _entry(errs))
    return doc
