"""Errors the SDK raises: every non-2xx answer carries the service catalogue's code."""

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


class ConnectionFailed(AudiostoreClientError):
    """The service could not be reached."""
