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
    GoneError,
    NotFoundError,
    PermissionDeniedError,
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
    SignedUpload,
    SignedUrl,
    TokenRevocation,
    UploadUrl,
    Waveform,
)
from .mp3_clock import Mp3Clock
from .queue_stream import AsyncQueueStream, QueueStream
from .retry import NO_RETRY, RetryPolicy
from .signed_upload import upload_to_signed_url
from .sync_client import Client
from .tus import DEFAULT_TUS_CHUNK_BYTES, DEFAULT_TUS_THRESHOLD
from .upload_source import ProgressCallback, UploadSource
from .upload_state import UploadStateFile
from .url_cache import SignedUrlCache

__all__ = [
    "DEFAULT_TUS_CHUNK_BYTES",
    "DEFAULT_TUS_THRESHOLD",
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
    "GoneError",
    "IssuedApiKey",
    "JobRun",
    "Mp3Clock",
    "NotFoundError",
    "PermissionDeniedError",
    "ProgressCallback",
    "PublicCollection",
    "Queue",
    "QueueItem",
    "QueueStream",
    "QueueUrl",
    "RejectedInputError",
    "RetryPolicy",
    "ServerError",
    "SignedUpload",
    "SignedUrl",
    "SignedUrlCache",
    "TokenRevocation",
    "UploadSource",
    "UploadStateFile",
    "UploadUrl",
    "Waveform",
    "upload_to_signed_url",
]
