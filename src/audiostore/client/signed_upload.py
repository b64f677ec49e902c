"""`upload_to_signed_url(url, file)`: send a file to a signed upload URL with no client set up.

Whoever holds a signed upload URL (`create_upload_url`) has the right to store one file and
usually no key; this opens a `Client` on the URL's own service, without credentials, for the
one call. With a client at hand, `Client.upload_to_signed_url` (or `AsyncClient`'s, awaited)
is the same flow.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .models import SignedUpload, UploadUrl
from .retry import RetryPolicy
from .sync_client import Client
from .tus import DEFAULT_TUS_CHUNK_BYTES, DEFAULT_TUS_THRESHOLD
from .upload_source import ProgressCallback, UploadSource
from .upload_state import UploadStateFile


def service_of(url: UploadUrl | str) -> str:
    """The service a signed upload URL belongs to: its scheme and host (`https://host:port`)."""
    parts = urlsplit(url.url if isinstance(url, UploadUrl) else url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("A signed upload URL is absolute: http(s)://host/v1/signed-upload?...")
    return f"{parts.scheme}://{parts.netloc}"


def upload_to_signed_url(
    url: UploadUrl | str,
    source: UploadSource,
    *,
    progress: ProgressCallback | None = None,
    tus_threshold: int | None = DEFAULT_TUS_THRESHOLD,
    tus_chunk_bytes: int = DEFAULT_TUS_CHUNK_BYTES,
    upload_state: UploadStateFile | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 60.0,
) -> SignedUpload:
    """`Client.upload_to_signed_url`, with no key and no client: see it for the details.

    Example:
        ```py
        stored = upload_to_signed_url(url_from_my_backend, "take1.wav", progress=print)
        print(stored.id)
        ```
    """
    with Client(service_of(url), timeout=timeout, retry=retry) as client:
        return client.upload_to_signed_url(
            url, source, progress=progress, tus_threshold=tus_threshold,
            tus_chunk_bytes=tus_chunk_bytes, upload_state=upload_state,
        )


__all__ = ["service_of", "upload_to_signed_url"]
