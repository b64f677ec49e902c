"""Blob stores: where audio bytes live."""

from .base import BlobMeta, BlobNotFound, BlobStore, BlobStoreUnavailable, LocalPathStore, SignCapableStore
from .local import LocalBlobStore

__all__ = [
    "BlobMeta",
    "BlobNotFound",
    "BlobStore",
    "BlobStoreUnavailable",
    "LocalBlobStore",
    "LocalPathStore",
    "SignCapableStore",
]
