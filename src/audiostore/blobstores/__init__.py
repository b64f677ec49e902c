"""Blob stores: where audio bytes live."""

from .base import (
    BlobMeta,
    BlobNotFound,
    BlobStore,
    BlobStoreAccessDenied,
    BlobStoreUnavailable,
    BlobWriter,
    LocalPathStore,
    SignCapableStore,
    StreamingPutStore,
)
from .deadlines import StoreDeadlineExceeded
from .local import LocalBlobStore

__all__ = [
    "BlobMeta",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreAccessDenied",
    "BlobStoreUnavailable",
    "BlobWriter",
    "LocalBlobStore",
    "LocalPathStore",
    "SignCapableStore",
    "StoreDeadlineExceeded",
    "StreamingPutStore",
]
