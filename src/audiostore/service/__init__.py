"""The rules of audiostore: ingest, read, sign, delete, keys."""

from .api_keys import ApiKeyService, IssuedKey
from .audio import AudioService, ContentSource, Page, SignedUrl, UploadFields
from .metadata_field import parse_metadata
from .principal import Principal
from .staging import StagedUpload

__all__ = [
    "ApiKeyService",
    "AudioService",
    "ContentSource",
    "IssuedKey",
    "Page",
    "Principal",
    "SignedUrl",
    "StagedUpload",
    "UploadFields",
    "parse_metadata",
]
