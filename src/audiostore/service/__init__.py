"""The rules of audiostore: ingest, read, sign, delete, keys."""

from .api_keys import ApiKeyService, IssuedKey
from .audio import AudioService, Page, SignedBatch, SignedUrl
from .content_source import ContentSource
from .ingest import Ingest, StoredUpload
from .metadata_field import parse_metadata
from .principal import Principal
from .staging import StagedUpload
from .upload_fields import UploadFields
from .upload_source import FileUploadSource, UploadSource

__all__ = [
    "ApiKeyService",
    "AudioService",
    "ContentSource",
    "FileUploadSource",
    "Ingest",
    "IssuedKey",
    "Page",
    "Principal",
    "SignedBatch",
    "SignedUrl",
    "StagedUpload",
    "StoredUpload",
    "UploadFields",
    "UploadSource",
    "parse_metadata",
]
