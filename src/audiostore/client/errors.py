"""Errors the SDK raises: every non-2xx answer carries the service catalogue's code.

`ApiError` is the base of every answer-with-an-error; its subclasses group statuses a
caller usually treats alike (`except NotFoundError:`), and `code` tells them apart exactly.
"""

from __future__ import annotations


class AudiostoreClientError(Exception):
    """Base of SDK errors."""


class ApiError(AudiostoreClientError):
    """The service answered with an error: `status`, `code` (stable) and `message`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


class AuthenticationError(ApiError):
    """401 or 403: a missing, revoked or insufficient key or token, or a bad signature."""


class PermissionDeniedError(AuthenticationError):
    """403: the key or token is valid but may not do this (a client token outside its
    scopes or collections: `scope_denied`; a non-admin key: `forbidden`), or a signed URL
    was changed or has expired (`signature_invalid`, `signature_expired`)."""


class NotFoundError(ApiError):
    """404: no such audio (or not yours, or expired)."""


class GoneError(ApiError):
    """410: it was there and is no more: a signed upload URL already used
    (`upload_url_used`), a tus upload expired or refused (`upload_gone`)."""


class ConflictError(ApiError):
    """409: e.g. an `Idempotency-Key` reused with a different upload."""


class RejectedInputError(ApiError):
    """400, 413, 415, 416 or 422: the service refused what was sent; retrying won't help."""


class ServerError(ApiError):
    """5xx: the service or its storage failed; retried automatically where safe."""


class ConnectionFailed(AudiostoreClientError):
    """The service could not be reached (after the retries)."""


class DownloadCorrupted(AudiostoreClientError):
    """A download's bytes did not match the object's sha256; the partial file was removed."""


def api_error(status: int, code: str, message: str) -> ApiError:
    """The `ApiError` subclass for a status."""
    if status == 403:
        cls: type[ApiError] = PermissionDeniedError
    elif status == 401:
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 410:
        cls = GoneError
    elif status >= 500:
        cls = ServerError
    elif status in (400, 413, 415, 416, 422):
        cls = RejectedInputError
    else:
        cls = ApiError
    return cls(status, code, message)


__all__ = [
    "ApiError",
    "AudiostoreClientError",
    "AuthenticationError",
    "ConflictError",
    "ConnectionFailed",
    "DownloadCorrupted",
    "GoneError",
    "NotFoundError",
    "PermissionDeniedError",
    "RejectedInputError",
    "ServerError",
    "api_error",
]
