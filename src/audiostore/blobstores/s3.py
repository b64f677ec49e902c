"""Blobs in any S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, SeaweedFS), on obstore.

Uploads go up as multipart straight from the file (8 MiB parts, never whole in memory);
deletes go in batches of 1000 keys (one DeleteObjects call each); presigned GET URLs are
SigV4, made locally by obstore without a round trip. obstore's errors are translated here:
callers only ever see `BlobNotFound` or `BlobStoreUnavailable` (`BlobStoreAccessDenied` when
the bucket refuses the credentials). Every call runs under a `StoreDeadlines` bound
(`deadlines.py`): a bucket that stops answering fails a call in seconds, as "unavailable".

Example:
    ```py
    store = S3BlobStore(bucket="audio", endpoint="http://127.0.0.1:8333", allow_http=True,
                        access_key_id="...", secret_access_key="...")
    await store.put_file("alice/default/2026-01-01/x.wav", Path("/tmp/x"), content_type="audio/wav")
    url = await store.sign_get("alice/default/2026-01-01/x.wav", expires_in=600)
    ```
"""

from __future__ import annotations

import math
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
from .deadlines import StoreDeadlineExceeded, StoreDeadlines, within
from .sigv4_batch import sign_like_first

if TYPE_CHECKING:
    # obstore's option types exist in its stubs only (not importable at runtime).
    from obstore import AsyncWritableFile, GetOptions, ListStream, ObjectMeta
    from obstore.auth.boto3 import Boto3CredentialProvider
    from obstore.store import ClientConfig, RetryConfig, S3Config

    from ..settings import S3Settings

PART_SIZE = 8 * 1024 * 1024
_CREDENTIALS_PROBE_KEY = "audiostore-credentials-probe/none"
_REJECTED_CREDENTIALS = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken")
DELETE_BATCH = 1000  # S3 DeleteObjects takes at most 1000 keys a call
_READ_CHUNK = 256 * 1024
# How many parts of a multipart upload are in flight at once.
PUT_CONCURRENCY = 4
# A streamed read may last as long as a slow client takes to read it: its stalls are bounded
# per piece (`first_byte`), and this only ends a stream nobody has finished in a day.
_STREAM_REQUEST_LIFETIME = timedelta(hours=24)


def _client_options(deadlines: StoreDeadlines, *, request: timedelta, allow_http: bool) -> ClientConfig:
    return {
        "connect_timeout": timedelta(seconds=deadlines.connect), "timeout": request,
        "pool_idle_timeout": timedelta(seconds=60), "allow_http": allow_http,
    }


def _retry(deadlines: StoreDeadlines) -> RetryConfig:
    """obstore retries a failed request (5xx, a dropped connection) within the call's deadline,
    not for its default three minutes: past it the caller's fallback takes over."""
    return {
        "max_retries": 3, "retry_timeout": timedelta(seconds=deadlines.call),
        "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=1),
                    "base": 2},
    }


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
        failure = StoreDeadlineExceeded if _timed_out(exc) else BlobStoreUnavailable
        raise failure(f"{type(exc).__name__}: {_first_line(exc)}") from exc


def _timed_out(exc: BaseException) -> bool:
    """Whether the HTTP client gave up waiting (its own request or connect timeout) rather
    than being refused. obstore's error carries reqwest's debug form, its only mark of it."""
    said = str(exc)
    return isinstance(exc, TimeoutError) or "kind: Timeout" in said or "TimedOut" in said


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
        deadlines: StoreDeadlines | None = None,
    ) -> None:
        self.bucket = bucket
        self.deadlines = deadlines = deadlines or StoreDeadlines()
        self.endpoint = endpoint
        self.region = region
        # Path-style (`endpoint/bucket/key`) is what self-hosted servers speak; AWS takes
        # either. With virtual-hosted style and an endpoint, obstore wants the bucket in it.
        config: S3Config = {"region": region, "virtual_hosted_style_request": not path_style}
        if endpoint:
            config["endpoint"] = endpoint
        credential_provider: Boto3CredentialProvider | None = None
        self._static_credentials = bool(access_key_id)
        self._secret_access_key = secret_access_key if access_key_id else None
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
        # Two clients on one configuration: bounded calls, where each HTTP request (a PUT, a
        # part, a HEAD) may take at most `call`; and streamed reads, which stay open while a
        # slow client reads (their stalls are bounded per piece, in `get_stream`).
        self._store = S3Store(
            bucket, config=config, retry_config=_retry(deadlines),
            client_options=_client_options(
                deadlines, request=timedelta(seconds=deadlines.call), allow_http=allow_http),
            credential_provider=credential_provider,
        )
        self._stream_store = S3Store(
            bucket, config=config, retry_config=_retry(deadlines),
            client_options=_client_options(
                deadlines, request=_STREAM_REQUEST_LIFETIME, allow_http=allow_http),
            credential_provider=credential_provider,
        )

    @classmethod
    def from_settings(cls, settings: S3Settings) -> S3BlobStore:
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
            deadlines=StoreDeadlines(
                connect=settings.s3_connect_timeout_seconds,
                first_byte=settings.s3_first_byte_timeout_seconds,
                call=settings.s3_call_timeout_seconds,
            ),
        )

    async def put_file(self, key: str, path: Path, *, content_type: str) -> None:
        # obstore reads the file part by part (multipart above one part): no whole-file buffer.
        with _translated(key):
            async with within(self._put_deadline(Path(path).stat().st_size), f"put {key}"):
                await obstore.put_async(
                    self._store, key, Path(path), attributes={"Content-Type": content_type},
                    chunk_size=PART_SIZE, max_concurrency=PUT_CONCURRENCY,
                )

    def _put_deadline(self, size: int) -> float:
        """A whole put: `call` for each round of parts in flight, and one more for starting
        and completing the multipart upload. (Each request is bounded by `call` on its own.)"""
        if size <= PART_SIZE:
            return self.deadlines.call
        rounds = math.ceil(math.ceil(size / PART_SIZE) / PUT_CONCURRENCY)
        return self.deadlines.call * (rounds + 1)

    async def get_stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            return
        options: GetOptions = {"range": (start, end) if end is not None else {"offset": start}}
        if start == 0 and end is None:
            options = {}
        wait = self.deadlines.first_byte
        with _translated(key):
            async with within(wait, f"read {key}"):
                result = await obstore.get_async(self._stream_store, key, options=options)
            chunks = aiter(result.stream(min_chunk_size=_READ_CHUNK))
            while True:
                # The clock runs only while the store is awaited, never while our reader is.
                async with within(wait, f"read {key}"):
                    chunk = await anext(chunks, None)
                if chunk is None:
                    return
                yield bytes(chunk)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        with _translated(key):
            async with within(self.deadlines.call, f"read {key}"):
                return bytes(await obstore.get_range_async(self._store, key, start=start, end=end))

    async def head(self, key: str) -> BlobMeta:
        with _translated(key):
            async with within(self.deadlines.first_byte, f"head {key}"):
                meta = await obstore.head_async(self._store, key)
        return BlobMeta(key=meta["path"], size=meta["size"], last_modified=meta["last_modified"])

    async def delete_many(self, keys: list[str]) -> None:
        for i in range(0, len(keys), DELETE_BATCH):
            batch = keys[i : i + DELETE_BATCH]
            try:
                with _translated(batch[0]):
                    async with within(self.deadlines.call, f"delete {len(batch)} keys"):
                        await obstore.delete_async(self._store, batch)
            except BlobNotFound:
                continue  # missing keys are not errors

    async def list(self, prefix: str = "") -> AsyncIterator[BlobMeta]:
        with _translated(prefix):
            pages: ListStream[Sequence[ObjectMeta]] = obstore.list(
                self._store, prefix or None, chunk_size=1000)
            while True:
                async with within(self.deadlines.call, f"list {prefix or '/'}"):
                    batch = await anext(pages, None)
                if batch is None:
                    return
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
            async with within(self.deadlines.call, f"sign {key}"):  # may fetch credentials
                return await obstore.sign_async(self._store, "GET", key, expiry)

    async def sign_get_many(self, keys: Sequence[str], *, expires_in: int) -> Sequence[str]:
        """`sign_get` for many keys: with static keys, obstore's URL for the first and the
        same signing for the rest (`sigv4_batch`, 1-2 us a URL instead of ~12); otherwise one
        call into obstore for the batch."""
        if not keys:
            return []
        expiry = timedelta(seconds=expires_in)
        with _translated(keys[0]):
            if self._secret_access_key is not None:
                # obstore signs the first; the rest share its time and scope (sigv4_batch).
                same = sign_like_first(
                    keys, self._secret_access_key, lambda key: obstore.sign(self._store, "GET", key, expiry))
                if same is not None:
                    return same
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
            buffer_size=PART_SIZE, max_concurrency=PUT_CONCURRENCY,
        )
        return _S3Writer(key, writer, self.deadlines)

    async def close(self) -> None:
        return None  # obstore's client pool needs no explicit close


class _S3Writer:
    """obstore's buffered writer, with the store's two errors, deadlines and an explicit abort."""

    def __init__(self, key: str, writer: AsyncWritableFile, deadlines: StoreDeadlines) -> None:
        self.key = key
        self._writer = writer
        self._deadlines = deadlines
        self._stalled = False  # a call failed: the store is down or not answering

    async def write(self, data: bytes) -> None:
        # A write waits only when a part must go up first (a full buffer): one request's time.
        with _translated(self.key), self._noting_stalls():
            async with within(self._deadlines.call, f"write {self.key}"):
                await self._writer.write(data)

    async def complete(self) -> None:
        # The parts still in flight (at most PUT_CONCURRENCY, side by side), then the
        # CompleteMultipartUpload request.
        with _translated(self.key), self._noting_stalls():
            async with within(self._deadlines.call * 2, f"complete {self.key}"):
                await self._writer.close()

    async def abort(self) -> None:
        """Abort the multipart upload (its parts go); nothing appears under the key. After the
        store failed a write (down, or past its deadline) it does not wait on the store again:
        the parts stay invisible either way, and a lifecycle rule
        (`AbortIncompleteMultipartUpload`) reclaims them."""
        if self._stalled:
            return
        with _translated(self.key):
            async with within(self._deadlines.first_byte, f"abort {self.key}"):
                # obstore aborts when its context exits with an exception (there is no abort()).
                await self._writer.__aexit__(RuntimeError, RuntimeError("upload abandoned"), None)

    @contextmanager
    def _noting_stalls(self) -> Iterator[None]:
        try:
            yield
        except BlobStoreUnavailable:
            self._stalled = True
            raise


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
