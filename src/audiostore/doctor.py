"""`audiostore doctor`: check that a deployment's settings, blob store and catalogue work.

Each check is one line of the report: settings, store reach / write / read / delete / sign,
database reach, migrations current. A later check that depends on an earlier failure is
reported as skipped. Nothing stays behind: the probe blob is deleted, the catalogue is only
read, and a data folder or SQLite catalogue that is not there is reported, never
created (`audiostore serve` creates them on first start).

Example:
    ```py
    report = await run_doctor(Settings())
    for check in report:
        print(check.ok, check.name, check.detail)
    ```
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .blobstores import (
    BlobNotFound,
    BlobStore,
    BlobStoreAccessDenied,
    BlobStoreUnavailable,
    LocalBlobStore,
    SignCapableStore,
)
from .catalogue_location import chosen_by, missing_sqlite_catalogue
from .errors import AudiostoreError
from .settings import Settings
from .settings import settings_problems

PROBE_PREFIX = ".audiostore-doctor/"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool | None  # None: skipped
    detail: str = ""


def _store_label(settings: Settings) -> str:
    if settings.store == "s3":
        return f"s3 bucket {settings.s3_bucket} at {settings.s3_endpoint or 'AWS'}"
    return f"local disk {(settings.data_dir / 'blobs').resolve()}"


def _short(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{type(exc).__name__}: {text[:200]}"


async def run_doctor(settings: Settings) -> list[Check]:
    report: list[Check] = []
    problems = settings_problems(settings)
    report.append(Check("settings", not problems, "; ".join(problems) or "consistent"))
    if problems:
        return report
    report += await _check_store(settings)
    report += await _check_catalogue(settings)
    return report


async def _step(
    report: list[Check], name: str, fn: Callable[[], Awaitable[str]], *, after: bool = True
) -> bool:
    if not after:
        report.append(Check(name, None, "skipped: an earlier check failed"))
        return False
    try:
        detail = await fn()
    except Exception as exc:  # the report names the failure; doctor never crashes
        report.append(Check(name, False, _short(exc)))
        return False
    report.append(Check(name, True, detail))
    return True


STORE_STEPS = ("store: write", "store: read", "store: sign", "store: delete")
FIRST_START = "`audiostore serve` creates it on first start"


def _skipped(*names: str) -> list[Check]:
    return [Check(name, None, "skipped: an earlier check failed") for name in names]


async def _check_store(settings: Settings) -> list[Check]:
    report: list[Check] = []
    if settings.store == "local" and not settings.data_dir.is_dir():
        # Probing would create it: a second, empty data folder beside the server's real one.
        return [Check("store: reach", False, f"there is no data folder at "
                      f"{settings.data_dir.resolve()} (from {chosen_by(settings)}); {FIRST_START}"),
                *_skipped(*STORE_STEPS)]
    try:
        store = _primary_store(settings)
    except (AudiostoreError, ValueError) as exc:
        return [Check("store: configure", False, _short(exc))]
    key = f"{PROBE_PREFIX}{secrets.token_hex(8)}.bin"
    payload = secrets.token_bytes(1024)
    label = _store_label(settings)
    try:
        async def reach() -> str:
            try:
                await store.head(key)
            except BlobNotFound:
                pass  # the store answered: the probe key is simply not there yet
            return label

        async def write() -> str:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "probe"
                path.write_bytes(payload)
                await store.put_file(key, path, content_type="application/octet-stream")
            return key

        async def read() -> str:
            got = await store.get_range(key, 0, len(payload))
            if got != payload:
                raise RuntimeError("read back different bytes than were written")
            return f"{len(got)} bytes match"

        async def sign() -> str:
            if not isinstance(store, SignCapableStore):
                return "not needed: this store is served through audiostore's own URLs"
            url = await store.sign_get(key, expires_in=60)
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.get(url, headers={"Range": "bytes=0-15"})
            if r.status_code not in (200, 206) or r.content[:16] != payload[:16]:
                raise RuntimeError(f"the presigned URL answered {r.status_code}")
            return "a presigned GET with Range works"

        async def delete() -> str:
            await store.delete_many([key])
            try:
                await store.head(key)
            except BlobNotFound:
                return "probe blob removed"
            raise RuntimeError("the probe blob is still there after delete")

        reached = await _step(report, "store: reach", _explained(settings, reach))
        wrote = await _step(report, "store: write", _explained(settings, write, writing=True),
                            after=reached)
        await _step(report, "store: read", _explained(settings, read), after=wrote)
        await _step(report, "store: sign", _explained(settings, sign), after=wrote)
        await _step(report, "store: delete", _explained(settings, delete), after=wrote)
    finally:
        await store.close()
    return report


def _explained(
    settings: Settings, fn: Callable[[], Awaitable[str]], *, writing: bool = False
) -> Callable[[], Awaitable[str]]:
    """The step; a store failure that a setting can explain is reported naming the setting."""

    async def run() -> str:
        try:
            return await fn()
        except BlobStoreAccessDenied as exc:
            if settings.s3_access_key_id:
                source = "AUDIOSTORE_S3_ACCESS_KEY_ID / AUDIOSTORE_S3_SECRET_ACCESS_KEY"
            else:
                source = ("the AWS chain (AUDIOSTORE_S3_ACCESS_KEY_ID is unset): AWS_ACCESS_KEY_ID"
                          " / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the role")
            raise BlobStoreAccessDenied(  # the store's own words (a 403) add nothing here
                f"bucket {settings.s3_bucket} refused access with the credentials from {source}"
            ) from exc
        except BlobStoreUnavailable as exc:
            if not (writing and settings.store == "s3" and settings.s3_sse):
                raise
            raise BlobStoreUnavailable(
                f"failed with AUDIOSTORE_S3_SSE={settings.s3_sse}: can the server encrypt? "
                "(SeaweedFS: s3.sse.kek; aws:kms: AUDIOSTORE_S3_SSE_KMS_KEY_ID) "
                f"({exc})") from exc

    return run


def _primary_store(settings: Settings) -> BlobStore:
    """The configured store itself, never a fallback in front of it: the point is to know
    whether the bucket works."""
    if settings.store == "s3":
        from .blobstores.s3 import S3BlobStore

        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(settings.data_dir / "blobs")


async def _check_catalogue(settings: Settings) -> list[Check]:
    from .catalog import Catalog, create_engine, current_revision, head_revision

    report: list[Check] = []
    missing = missing_sqlite_catalogue(settings)  # asked first: opening the file creates it
    if missing:
        return [Check("database: reach", False, f"{missing}; {FIRST_START}"),
                *_skipped("database: migrations")]
    try:
        catalog = Catalog(create_engine(settings.resolved_database_url))
    except Exception as exc:
        return [Check("database: reach", False, _short(exc))]
    try:
        async def reach() -> str:
            await catalog.ping()
            return _database_label(catalog, settings)

        async def migrations() -> str:
            current, head = await current_revision(catalog.engine), head_revision()
            if current is None:
                raise RuntimeError("this database holds no audiostore catalogue: `audiostore db "
                                   f"upgrade --create` makes one ({FIRST_START} too)")
            if current != head:
                raise RuntimeError(
                    f"at revision {current}, latest is {head}: run `audiostore db upgrade`"
                )
            return f"at the latest revision ({head})"

        reached = await _step(report, "database: reach", reach)
        await _step(report, "database: migrations", migrations, after=reached)
    finally:
        await catalog.close()
    return report


def _database_label(catalog: Any, settings: Settings) -> str:
    url = catalog.engine.url
    if catalog.dialect == "sqlite":
        return f"sqlite {url.database}"
    return f"{catalog.dialect} {url.host or 'socket'}/{url.database}"  # never the password
