"""Blobs in any S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, SeaweedFS), on obstore.

Uploads go up as multipart straight from the file (8 MiB parts, never whole in memory);
deletes go in batches of 1000 keys (one DeleteObjects call each); presigned GET URLs are
SigV4, made locally by obstore without a round trip. obstore's errors are translated here:
callers only ever see `BlobNotFound` or `BlobStoreUnavailable` (`BlobStoreAccessDenied` when
the bucket refuses the credentials).

Example:
    ```py
    store = S3BlobStore(bucket="audio", endpoint="http://127.0.0.1:8333", allow_http=True,
                        access_key_id="...", secret_access_key="...")
    await store.put_file("alice/default/2026-01-01/x.wav", Path("/tmp/x"), content_type="audio/wav")
    url = await store.sign_get("alice/default/2026-01-01/x.wav", expires_in=600)
    ```
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from .base import BlobMeta, BlobNotFound, BlobStoreAccessDenied, BlobStoreUnavailable

if TYPE_CHECKING:
    # obstore's option types exist in its stubs only (not importable at runtime).
    from obstore import AsyncWritableFile, GetOptions
    from obstore.auth.boto3 import Boto3CredentialProvider
    from obstore.store import ClientConfig, RetryConfig, S3Config

    from ..settings import Settings

PART_SIZE = 8 * 1024 * 1024
_CREDENTIALS_PROBE_KEY = "audiostore-credentials-probe/none"
_REJECTED_CREDENTIALS = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken")
DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1000 keys a call
_READ_CHUNK = 256 * 1024
# A bucket that is down should fail an upload in seconds (so a fallback can take over),
# not after obstore's default three minutes of retries.
_RETRY: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=20)}
# Streams stay open while a slow client reads; the connect phase is what detects "down".
_CLIENT: ClientConfig = {"connect_timeout": "5s", "timeout": "3600s", "pool_idle_timeout": "60s"}


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """obstore's errors → the blob store's two errors, at this edge."""
    try:
        yield
    except NotFoundError as exc:
        raise BlobNotFound(key) from exc
    except FileNotFoundError as exc:
        raise BlobNotFound(key) from exc
    except (PermissionDeniedError, UnauthenticatedError) as exc:
        raise BlobStoreAccessDenied(f"{type(exc).__name__}: {_first_line(exc)}") from exc
    except (ObstoreError, OSError) as exc:
        raise BlobStoreUnavailable(f"{type(exc).__name__}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


class S3BlobStore:
    """Blobs in one S3 bucket. With no access key, credentials come from the standard AWS
    chain (environment, profile via boto3 when installed, web identity, ECS, instance role)."""

    kind = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        allow_http: bool = False,
        path_style: bool = True,
        sse: str | None = None,
        sse_kms_key_id: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        # Path-style (`endpoint/bucket/key`) is what self-hosted servers speak; AWS takes
        # either. With virtual-hosted style and an endpoint, obstore wants the bucket in it.
        config: S3Config = {"region": region, "virtual_hosted_style_request": not path_style}
        if endpoint:
            config["endpoint"] = endpoint
        credential_provider: Boto3CredentialProvider | None = None
        self._static_credentials = bool(access_key_id)
        if access_key_id:
            if not secret_access_key:
                raise ValueError("an S3 access key id needs its secret access key")
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        else:
            credential_provider = _boto3_chain()
        if sse:
            config["server_side_encryption"] = sse
            if sse_kms_key_id:
                config["sse_kms_key_id"] = sse_kms_key_id
        self._store = S3Store(
            bucket,
            config=config,
            client_options={**_CLIENT, "allow_http": allow_http},
            retry_config=_RETRY,
            credential_provider=credential_provider,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        if not settings.s3_bucket:
            from ..errors import ConfigurationError

            raise ConfigurationError("AUDIOSTORE_S3_BUCKET is required when AUDIOSTORE_STORE=s3.")
        return cls(
            bucket=settings.s3_bucket,
            endpoint=settings.s3_endpoint,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            allow_http=settings.s3_allow_http,
            path_style=settings.s3_path_style,
            sse=settings.s3_sse,
            sse_kms_key_id=settings.s3_sse_kms_key_id,
        )

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        # obstore reads the file part by part (multipart above one part): no whole-file buffer.
        with _translated(key):
            await obstore.put_async(
                self._store, key, Path(path), attributes={"Content-Type": content_type},
                chunk_size=PART_SIZE, max_concurrency=4,
            )

    async def get_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        options: GetOptions = {"range": (start, end) if end is not None else {"offset": start}}
        if start == 0 and end is None:
            options = {}
        with _translated(key):
            result = await obstore.get_async(self._store, key, options=options)
            async for chunk in result.stream(min_chunk_size=_READ_CHUNK):
                yield bytes(chunk)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        with _translated(key):
            return bytes(await obstore.get_range_async(self._store, key, start=start, end=end))

    async def head(self, key: str) -> BlobMeta:
        with _translated(key):
            meta = await obstore.head_async(self._store, key)
        return BlobMeta(key=meta["path"], size=meta["size"], last_modified=meta["last_modified"])

    async def delete_many(self, keys: list[str]) -> None:
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i : i + DELETE_BATCH]
            try:
                with _translated(batch[0]):
                    await obstore.delete_async(self._store, batch)
            except BlobNotFound:
                continue  # missing keys are not errors

    async def list(self, prefix: str = "") -> AsyncIterator[BlobMeta]:
        with _translated(prefix):
            async for batch in obstore.list(self._store, prefix or None, chunk_size=1000):
                for meta in batch:
                    yield BlobMeta(meta["path"], meta["size"], meta["last_modified"])

    async def sign_get(self, key: str, *, expires_in: int, filename: str | None = None) -> str:
        """A SigV4 presigned GET URL, made locally. (`filename` is not carried: obstore's
        signer takes no response-header overrides.)"""
        expiry = timedelta(seconds=expires_in)
        with _translated(key):
            if self._static_credentials:
                # Pure CPU with static keys (~10 us); the async twin costs 4x that in
                # scheduling alone. A credential provider may need I/O, so it gets the async one.
                return obstore.sign(self._store, "GET", key, expiry)
            return await obstore.sign_async(self._store, "GET", key, expiry)

    async def sign_get_many(self, keys: Sequence[str], *, expires_in: int) -> Sequence[str]:
        """`sign_get` for many keys in one call into obstore: the per-call overhead (the
        credentials, the signing key of the day) is paid once for the batch."""
        if not keys:
            return []
        expiry = timedelta(seconds=expires_in)
        with _translated(keys[0]):
            if self._static_credentials:
                return list(obstore.sign(self._store, "GET", list(keys), expiry))
            return list(await obstore.sign_async(self._store, "GET", list(keys), expiry))

    async def rejected_credentials(self) -> str | None:
        """The S3 error code when the bucket rejects the credentials themselves (an unknown
        key, a wrong secret, an expired token), else None. Asks for a key that does not
        exist: a 404 proves the credentials. A plain `AccessDenied` proves nothing either way
        (without s3:ListBucket AWS answers 403 for a missing key), and an unreachable bucket
        is not a credentials problem: both give None."""
        try:
            await self.get_range(_CREDENTIALS_PROBE_KEY, 0, 1)
        except BlobStoreAccessDenied as exc:
            said = str(exc.__cause__ or exc)
            return next((c for c in _REJECTED_CREDENTIALS if f"<Code>{c}</Code>" in said), None)
        except (BlobNotFound, BlobStoreUnavailable):
            return None
        return None

    def open_writer(self, key: str, *, content_type: str) -> _S3Writer:
        """A multipart upload fed while the bytes arrive: 8 MiB parts, four in flight (so one
        upload holds at most ~40 MiB); under one part it becomes a single PUT at `complete`."""
        writer = obstore.open_writer_async(
            self._store, key, attributes={"Content-Type": content_type},
            buffer_size=PART_SIZE, max_concurrency=4,
        )
        return _S3Writer(key, writer)

    async def close(self) -> None:
        return None  # obstore's client pool needs no explicit close


class _S3Writer:
    """obstore's buffered writer, with the store's two errors and an explicit abort."""

    def __init__(self, key: str, writer: AsyncWritableFile) -> None:
        self.key = key
        self._writer = writer

    async def write(self, data: bytes) -> None:
        with _translated(self.key):
            await self._writer.write(data)

    async def complete(self) -> None:
        with _translated(self.key):
            await self._writer.close()

    async def abort(self) -> None:
        """Abort the multipart upload (its parts go); nothing appears under the key."""
        with _translated(self.key):
            # obstore aborts when its context exits with an exception (there is no abort()).
            await self._writer.__aexit__(RuntimeError, RuntimeError("upload abandoned"), None)


def _boto3_chain() -> Boto3CredentialProvider | None:
    """boto3's full credential chain (profiles, SSO, …) when boto3 is installed; otherwise
    None, and obstore's own chain (environment, web identity, ECS, instance metadata) applies."""
    try:
        from obstore.auth.boto3 import Boto3CredentialProvider
    except ImportError:
        return None
    from botocore.exceptions import ProfileNotFound

    try:
        import boto3

        session = boto3.session.Session()
        if session.get_credentials() is None:  # resolved once; the provider reuses it
            return None
        return Boto3CredentialProvider(session)
    except ProfileNotFound as exc:  # named, but not there: as in the AWS CLI, an error
        from ..errors import ConfigurationError

        raise ConfigurationError(
            f"AWS_PROFILE: {exc}. AUDIOSTORE_S3_ACCESS_KEY_ID is unset, so S3 credentials come "
            "from the AWS chain; fix or unset AWS_PROFILE, or set the AUDIOSTORE_S3_* keys."
        ) from exc
    except Exception:  # any other broken profile must not stop obstore's own chain
        return None
