"""The Python SDK: talks to an audiostore service over HTTP only."""

from .errors import ApiError, AudiostoreClientError, ConnectionFailed
from .sync_client import Client

__all__ = ["ApiError", "AudiostoreClientError", "Client", "ConnectionFailed"]
