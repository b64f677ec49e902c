"""The Python SDK: `Client` and `AsyncClient` talk to an audiostore service over HTTP only.

Importing this package needs only httpx and pydantic (never the server's dependencies).
"""

from .async_client import AsyncClient
from .errors import (
    ApiError,
    AudiostoreClientError,
    AuthenticationError,
    ConflictError,
    ConnectionFailed,
    DownloadCorrupted,
    NotFoundError,
    RejectedInputError,
    ServerError,
)
from .models import (
    ApiKey,
    AudioObject,
    AudioPage,
    BatchUrlItem,
    CleanupResult,
    ClientToken,
    ErrorInfo,
    IssuedApiKey,
    JobRun,
    PublicCollection,
    Queue,
    QueueItem,
    QueueUrl,
    SignedUrl,
    TokenRevocation,
    Waveform,
)
from .mp3_clock import Mp3Clock
from .queue_stream import AsyncQueueStream, QueueStream
from .retry import NO_RETRY, RetryPolicy
from .sync_client import Client
from .upload_source import ProgressCallback, UploadSource
from .url_cache import SignedUrlCache

__all__ = [
    "NO_RETRY",
    "ApiError",
    "ApiKey",
    "AsyncClient",
    "AsyncQueueStream",
    "AudioObject",
    "AudioPage",
    "AudiostoreClientError",
    "AuthenticationError",
    "BatchUrlItem",
    "CleanupResult",
    "Client",
    "ClientToken",
    "ConflictError",
    "ConnectionFailed",
    "DownloadCorrupted",
    "ErrorInfo",
    "IssuedApiKey",
    "JobRun",
    "Mp3Clock",
    "NotFoundError",
    "ProgressCallback",
    "PublicCollection",
    "Queue",
    "QueueItem",
    "QueueStream",
    "QueueUrl",
    "RejectedInputError",
    "RetryPolicy",
    "ServerError",
    "SignedUrl",
    "SignedUrlCache",
    "TokenRevocation",
    "UploadSource",
    "Waveform",
]
