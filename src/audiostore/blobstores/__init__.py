"""Blob stores: where audio bytes live."""

from .base import (
    BlobMeta,
    BlobNotFound,
    BlobStore,
    BlobStoreAccessDenied,
    BlobStoreUnavailable,
    LocalPathStore,
    SignCapableStore,
)
from .local import LocalBlobStore

__all__ = [
    "BlobMeta",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreAccessDenied",
    "BlobStoreUnavailable",
    "LocalBlobStore",
    "LocalPathStore",
    "SignCapableStore",
]
