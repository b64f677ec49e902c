"""Resumable uploads (tus 1.0): create, append at the committed offset, finish through the
one ingest, terminate, expire.

The rules, all here:
- The catalogue row holds the committed offset; the part file (service/tus_parts.py) holds
  exactly that many acknowledged bytes. A PATCH must name that offset (else 409) and takes a
  lease first (a conditional UPDATE, service-wide across instances; else 423), renewed while
  it writes. Its bytes are synced to disk before the new offset is committed, with the lease.
- A PATCH with `Upload-Checksum` is all or nothing: a mismatch (460) or a cut body discards
  every byte of it. Without one, a cut body keeps what arrived (the protocol asks servers to
  store as much as they can), so the client resumes from there.
- The PATCH that commits the last byte turns the upload `storing` and, still holding the
  lease, hands the part file to the ingest once (idempotency key `tus:{id}`, so a retry
  after a crash finds the first result instead of storing twice). The ingest's 4xx (not
  audio, too long...) fails the upload for good and removes its part: nothing is stored. A
  5xx (the store is down) leaves it `storing`, and a retried PATCH runs the ingest again.
- A partial upload (concatenation) stops at `complete` when its last byte is in: it is never
  ingested on its own; service/tus_concatenation.py claims it for a final upload.
- A client token's collections are checked at creation; its max_bytes and formats are folded
  into the row's bounds, because the ingest at the end runs without the token.
- An unfinished upload expires `tus_upload_expiry` after its last PATCH (410 from then on);
  the expiry job deletes its row and its part. Termination (DELETE) does the same at once.
- The part's sha256 is carried along in this process as PATCHes arrive (a hashlib state cannot
  be stored, so it lives in memory, keyed by the offset it has hashed up to). If the last
  PATCH finds it at the upload's length, the ingest adopts the part with that sha256 and reads
  it only to sniff and decode; otherwise (a restart, a PATCH on another instance) the ingest
  hashes the part once. Either way the part is adopted by hard link, never copied again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import uuid_utils

from ..blob_keys import check_key_part, check_name
from ..catalog import AudioRow
from ..catalog.tus_uploads import (
    COMPLETE,
    CONCATENATING,
    FAILED,
    FINAL,
    PARTIAL,
    RECEIVING,
    STORED,
    STORING,
    TusUploadCatalog,
    TusUploadRow,
)
from ..errors import (
    AudiostoreError,
    BadRequest,
    ChecksumMismatch,
    Forbidden,
    PayloadTooLarge,
    UnsupportedMediaType,
    UploadGone,
    UploadLocked,
    UploadNotFound,
    UploadOffsetMismatch,
)
from ..settings import ResumableUploadSettings
from .audio import AudioService
from .format_bounds import check_formats
from .ingest import Ingest
from .metadata_field import check_metadata
from .principal import Principal
from .tus_checksum import ExpectedChecksum
from .tus_parts import PartBusy, PartWriter, create_part, part_path, remove_part
from .upload_fields import UploadFields
from .upload_source import FileUploadSource

STORING_LEASE = timedelta(minutes=15)  # an ingest's probe and put; a dead one is retried after
_WRITE_EVERY = 1024 * 1024  # bytes gathered before one hash-and-write in a worker thread
# (small enough that the disk's writeback of one batch overlaps receiving the next)
_RUNNING_HASHES = 1024  # uploads whose whole-file sha256 this process carries between PATCHes


class BodyCut(Exception):
    """The request body ended before its end (the client's connection dropped). The HTTP
    layer raises it from the body it passes in."""


@dataclass(frozen=True, slots=True)
class UploadBounds:
    """Limits a signed upload URL puts on the upload it authorises (none for an API key)."""

    max_bytes: int | None = None
    formats: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes, "formats": list(self.formats)}

    def within_token(self, principal: Principal, server_limit: int) -> UploadBounds:
        """These bounds narrowed by a client token's `max_bytes` and `formats`. They travel
        with the upload's row, so a PATCH that gives a deferred length and the ingest at the
        end (which runs without the token) still apply them."""
        grant = principal.grant
        if grant is None:
            return self
        limit = principal.upload_limit(server_limit)[0]
        max_bytes = min(self.max_bytes, limit) if self.max_bytes else (limit if limit < server_limit else None)
        formats = self.formats
        if grant.formats is not None:
            formats = tuple(sorted(f for f in (self.formats or grant.formats) if f in grant.formats))
            if not formats:
                raise UnsupportedMediaType("No format is allowed by both this upload's bounds and the client token.")
        return UploadBounds(max_bytes=max_bytes, formats=formats)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UploadBounds:
        return cls(max_bytes=data.get("max_bytes"), formats=tuple(data.get("formats") or ()))


@dataclass(frozen=True, slots=True)
class AppendResult:
    upload: TusUploadRow
    stored: AudioRow | None = None  # set once the last byte is in and the ingest stored it


def fields_to_json(fields: UploadFields, filename: str | None) -> dict[str, Any]:
    values = dataclasses.asdict(fields)
    if fields.expires_at is not None:
        values["expires_at"] = fields.expires_at.isoformat()
    return {"fields": values, "filename": filename}


def _fields_from_json(data: dict[str, Any]) -> tuple[UploadFields, str | None]:
    values = dict(data.get("fields") or {})
    if values.get("expires_at"):
        values["expires_at"] = datetime.fromisoformat(values["expires_at"])
    return UploadFields(**values), data.get("filename")


class TusUploads:
    def __init__(
        self, audio: AudioService, catalog: TusUploadCatalog, ingest: Ingest, *,
        settings: ResumableUploadSettings, parts_dir: Path,
    ) -> None:
        self.audio = audio
        self.catalog = catalog
        self.ingest = ingest  # also the size cap and default collection every upload meets
        self.settings = settings
        self.parts_dir = parts_dir
        # upload id -> (offset hashed up to, sha256 of the part's bytes below it)
        self._running: OrderedDict[str, tuple[int, Any]] = OrderedDict()

    def _running_hash(self, upload_id: str, offset: int) -> Any:
        """A sha256 of the part's first `offset` bytes to continue, or None if this process
        does not hold one (a fresh upload starts one)."""
        if offset == 0:
            return hashlib.sha256()
        held = self._running.get(upload_id)
        return held[1].copy() if held is not None and held[0] == offset else None

    def _keep_running_hash(self, upload_id: str, offset: int, hasher: Any) -> None:
        self._running[upload_id] = (offset, hasher)
        self._running.move_to_end(upload_id)
        while len(self._running) > _RUNNING_HASHES:
            self._running.popitem(last=False)

    @property
    def max_size(self) -> int:
        return self.ingest.settings.max_upload_bytes

    def _now(self) -> datetime:
        return self.audio.clock()

    def _expiry_from(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.tus_upload_expiry)

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.tus_lease_seconds)

    def _limit(self, row: TusUploadRow) -> int:
        bound = UploadBounds.from_json(row.bounds).max_bytes
        return min(self.max_size, bound) if bound else self.max_size

    # --- create -----------------------------------------------------------------------
    def check_new(
        self, principal: Principal, *, length: int | None, fields: UploadFields,
        filename: str | None, bounds: UploadBounds,
    ) -> str:
        """The owner of a new upload, once its fields and length pass (400, 413, 422)."""
        owner = principal.owner_for_new(fields.owner)
        check_key_part(owner, what="owner")
        check_key_part(fields.collection or self.ingest.settings.default_collection, what="collection")
        check_name(fields.name or filename or "audio")
        if fields.metadata is not None:
            check_metadata(fields.metadata)
        self.audio.expiry_for(fields, self._now())  # a bad ttl_seconds or expires_at: 422 now
        limit = min(self.max_size, bounds.max_bytes) if bounds.max_bytes else self.max_size
        limit = min(limit, principal.upload_limit(self.max_size)[0])  # a client token's max_bytes
        if length is not None and length > limit:
            raise PayloadTooLarge(
                f"Upload-Length {length} is larger than {limit} bytes"
                + (" (this upload URL's max_bytes)." if limit != self.max_size
                   else " (AUDIOSTORE_MAX_UPLOAD_BYTES).")
            )
        return owner

    async def create(
        self, principal: Principal, *, length: int | None, upload_metadata: str | None,
        fields: UploadFields, filename: str | None, bounds: UploadBounds | None = None,
        concat: str | None = None,
    ) -> TusUploadRow:
        """A new upload at offset 0 (`length` None: deferred). The fields are checked now,
        so a bad name or collection is refused before any byte is sent. `concat` PARTIAL:
        a piece of a later final upload, never ingested on its own."""
        bounds = (bounds or UploadBounds()).within_token(principal, self.max_size)
        owner = self.check_new(principal, length=length, fields=fields, filename=filename, bounds=bounds)
        if concat != PARTIAL:  # a partial is never stored: its collection is the final upload's
            principal.require_collection(fields.collection or self.ingest.settings.default_collection)
        now = self._now()
        upload_id = str(uuid_utils.uuid7())
        create_part(self.parts_dir, upload_id)
        row = TusUploadRow(
            id=upload_id, owner=owner, state=RECEIVING, length=length, offset=0,
            upload_metadata=upload_metadata, fields=fields_to_json(fields, filename),
            bounds=bounds.to_json(), writer=None, lease_until=None, audio_id=None,
            created_at=now, updated_at=now, expires_at=self._expiry_from(now), concat=concat,
        )
        try:
            await self.catalog.insert(row)
        except BaseException:
            remove_part(self.parts_dir, upload_id)
            raise
        return row

    # --- read -------------------------------------------------------------------------
    async def get(self, principal: Principal, upload_id: str) -> TusUploadRow:
        """The upload as HEAD shows it: 404 unknown (or another owner's), 410 expired or failed."""
        row = await self.catalog.get(upload_id)
        if row is None or principal.scope(None) not in (None, row.owner):
            raise UploadNotFound()
        if row.state == FAILED:
            raise UploadGone(f"This upload ended: its file was refused ({row.error_code}: "
                             f"{row.error_message}). Start a new upload.")
        if row.state in (RECEIVING, COMPLETE) and row.expires_at <= self._now():
            raise UploadGone()
        return row

    async def owner_of(self, upload_id: str) -> str | None:
        row = await self.catalog.get(upload_id)
        return row.owner if row else None

    # --- append -----------------------------------------------------------------------
    async def append(
        self, principal: Principal, upload_id: str, *, offset: int, length: int | None,
        checksum: ExpectedChecksum | None, body: AsyncIterator[bytes],
    ) -> AppendResult:
        """Append a PATCH's body at `offset`; the stored object once the last byte is in."""
        row = await self.get(principal, upload_id)
        if row.concat == FINAL:
            raise Forbidden("A final upload is made of its partial uploads; it takes no PATCH.")
        if row.state in (COMPLETE, CONCATENATING):  # a partial upload with every byte in
            if offset != row.offset:
                raise UploadOffsetMismatch(headers={"Upload-Offset": str(row.offset)})
            return AppendResult(row)
        if row.state == STORED:  # the answer to the last PATCH was lost: say it again
            if offset != row.offset:
                raise UploadOffsetMismatch(headers={"Upload-Offset": str(row.offset)})
            stored = await self.audio.catalog.get_visible(row.audio_id or "", owner=None, now=self._now())
            return AppendResult(row, stored)
        if row.state == STORING:
            if offset != row.offset:
                raise UploadOffsetMismatch()
            return await self._retry_ingest(row)
        if offset != row.offset:
            raise UploadOffsetMismatch()
        values: dict[str, Any] = {}
        total = row.length
        if length is not None:
            if total is None:
                if length < offset:
                    raise BadRequest(f"Upload-Length {length} is less than the {offset} bytes already sent.")
                if length > self._limit(row):
                    raise PayloadTooLarge(f"Upload-Length {length} is larger than {self._limit(row)} bytes.")
                total = length
                values["length"] = length
            elif length != total:
                raise BadRequest("Upload-Length was set already and cannot change.")
        writer = str(uuid_utils.uuid7())
        now = self._now()
        if not await self.catalog.take_lease(upload_id, offset=offset, writer=writer, now=now,
                                             until=self._lease_until(now)):
            again = await self.catalog.get(upload_id)
            if again is not None and again.offset != offset:
                raise UploadOffsetMismatch()
            raise UploadLocked()
        file_hash = self._running_hash(upload_id, offset)
        try:
            written = await self._receive(row, writer, offset, total, checksum, body, file_hash)
        except BaseException:
            self._running.pop(upload_id, None)
            await self._give_back(upload_id, writer)
            raise
        new_offset = offset + written
        done = total is not None and new_offset == total
        now = self._now()
        values.update(updated_at=now, expires_at=self._expiry_from(now))
        if done and row.concat == PARTIAL:  # waits, whole, for its final upload
            values.update(state=COMPLETE)
        elif done:  # keep the lease for the ingest
            values.update(state=STORING, writer=writer, lease_until=now + STORING_LEASE)
        if not await self.catalog.commit(upload_id, writer=writer, old_offset=offset,
                                         new_offset=new_offset, values=values):
            raise UploadLocked("This PATCH lost its claim on the upload (it stalled past "
                               "AUDIOSTORE_TUS_LEASE_SECONDS); HEAD for the offset and resume.")
        if file_hash is not None:
            self._keep_running_hash(upload_id, new_offset, file_hash)
        committed = row  # as the catalogue now holds it (no second read)
        committed.offset = new_offset
        for name, value in values.items():
            if name not in ("writer", "lease_until"):
                setattr(committed, name, value)
        if not done or row.concat == PARTIAL:
            return AppendResult(committed)
        return AppendResult(committed, await self.finish(committed, writer))

    async def _give_back(self, upload_id: str, writer: str) -> None:
        with anyio.CancelScope(shield=True):
            await self.catalog.release(upload_id, writer=writer)

    async def _receive(
        self, row: TusUploadRow, writer: str, offset: int, total: int | None,
        checksum: ExpectedChecksum | None, body: AsyncIterator[bytes], file_hash: Any = None,
    ) -> int:
        """Write the body at `offset`; the bytes kept. Raises after discarding what must go.
        `file_hash` (the part's running sha256, if held) takes the bytes too, in the same
        worker thread as the write; the caller drops it if this raises."""
        room = (total if total is not None else self._limit(row)) - offset
        try:
            part = await anyio.to_thread.run_sync(PartWriter, part_path(self.parts_dir, row.id), offset)
        except PartBusy as exc:
            raise UploadLocked() from exc
        except FileNotFoundError as exc:
            raise UploadNotFound() from exc
        hasher = checksum.hasher() if checksum else None
        renew_every = self.settings.tus_lease_seconds / 3
        renewed = time.monotonic()
        batch: list[bytes] = []
        batched = 0

        def absorb(data: bytes) -> None:  # hashlib and the write release the GIL
            if hasher is not None:
                hasher.update(data)
            if file_hash is not None:
                file_hash.update(data)
            part.write(data)

        async def flush() -> None:
            nonlocal batch, batched
            data = b"".join(batch)
            batch, batched = [], 0
            await anyio.to_thread.run_sync(absorb, data)

        try:
            try:
                async for chunk in body:
                    if not chunk:
                        continue
                    if part.written + batched + len(chunk) > room:
                        raise PayloadTooLarge(
                            "The PATCH carries more bytes than the upload's length"
                            if total is not None else
                            f"The upload is larger than {self._limit(row)} bytes."
                        )
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= _WRITE_EVERY:
                        await flush()
                    if time.monotonic() - renewed > renew_every:
                        renewed = time.monotonic()
                        if not await self.catalog.renew_lease(
                            row.id, writer=writer, until=self._lease_until(self._now())
                        ):
                            raise UploadLocked("This PATCH lost its claim on the upload.")
                if batch:
                    await flush()
            except BodyCut as exc:
                # Keep what arrived (unless it was to be checked as a whole), and say so.
                if batch and checksum is None:
                    await flush()
                if checksum is not None:
                    part.discard()
                else:
                    await anyio.to_thread.run_sync(part.sync)
                    await self._commit_partial(row, writer, offset, part.written)
                raise BadRequest(
                    f"The body ended early; {part.written} of its bytes were kept "
                    f"(the upload's offset is now {offset + part.written})."
                ) from exc
            except BaseException:
                part.discard()
                raise
            if hasher is not None and checksum is not None and not checksum.matches(hasher):
                part.discard()
                raise ChecksumMismatch()
            await anyio.to_thread.run_sync(part.sync)
            return part.written
        finally:
            part.close()

    async def _commit_partial(self, row: TusUploadRow, writer: str, offset: int, written: int) -> None:
        """A cut PATCH: record the bytes that reached the disk, so a resume starts after them."""
        if not written:
            return
        now = self._now()
        with anyio.CancelScope(shield=True):
            await self.catalog.commit(
                row.id, writer=writer, old_offset=offset, new_offset=offset + written,
                values={"updated_at": now, "expires_at": self._expiry_from(now)},
            )

    # --- finish -----------------------------------------------------------------------
    async def _retry_ingest(self, row: TusUploadRow) -> AppendResult:
        writer = str(uuid_utils.uuid7())
        now = self._now()
        if not await self.catalog.take_for_ingest(row.id, writer=writer, now=now, until=now + STORING_LEASE):
            raise UploadLocked("The upload is complete and being stored; HEAD again shortly.")
        return AppendResult(row, await self.finish(row, writer))

    async def finish(
        self, row: TusUploadRow, writer: str, idempotency_key: str | None = None,
        principal: Principal | None = None,
    ) -> AudioRow:
        """The last byte is in and `writer` holds the lease: ingest once (a retry with the
        same `idempotency_key`, by default `tus:{id}`, finds the first result), settle, drop
        the part. `principal`: who the ingest checks the file against (a client token's
        collections, formats and size), when the caller still has it; else the row's owner."""
        path = part_path(self.parts_dir, row.id)
        fields, filename = _fields_from_json(row.fields)
        try:
            await anyio.to_thread.run_sync(check_formats, path, UploadBounds.from_json(row.bounds).formats)
            held = self._running.pop(row.id, None)
            sha256 = held[1].hexdigest() if held is not None and held[0] == row.offset else None
            source = FileUploadSource(path, fields=fields, filename=filename or "", complete=True,
                                      sha256=sha256)
            key = idempotency_key or f"tus:{row.id}"
            who = principal or Principal(owner=row.owner)
            stored = (await self.ingest.store(who, source, key)).row
        except AudiostoreError as exc:
            with anyio.CancelScope(shield=True):
                if exc.status >= 500:  # the server's trouble: the bytes stay for a retry
                    await self.catalog.release(row.id, writer=writer)
                else:
                    await self.catalog.settle(row.id, writer=writer, values={
                        "state": FAILED, "error_code": exc.code, "error_status": exc.status,
                        "error_message": exc.message[:1000],
                    })
                    remove_part(self.parts_dir, row.id)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.catalog.release(row.id, writer=writer)
            raise
        with anyio.CancelScope(shield=True):
            await self.catalog.settle(row.id, writer=writer, values={"state": STORED, "audio_id": stored.id})
            remove_part(self.parts_dir, row.id)
        return stored

    # --- terminate and expire ---------------------------------------------------------
    async def terminate(self, principal: Principal, upload_id: str) -> None:
        row = await self.catalog.get(upload_id)
        if row is None or principal.scope(None) not in (None, row.owner):
            raise UploadNotFound()
        if not await self.catalog.delete_unleased(upload_id, now=self._now()):
            if await self.catalog.get(upload_id) is None:
                raise UploadNotFound()
            raise UploadLocked("A PATCH is appending to this upload; terminate it after that ends.")
        remove_part(self.parts_dir, upload_id)

    async def remove_expired(self, *, batch: int = 500) -> dict[str, int]:
        """Delete expired uploads' rows and parts, and parts left without a row (a crash
        between the part and its row). Safe on any number of instances at once."""
        now = self._now()
        removed = 0
        for upload_id in await self.catalog.expired_ids(now=now, limit=batch):
            if await self.catalog.delete_expired(upload_id, now=now):
                remove_part(self.parts_dir, upload_id)
                removed += 1
        orphans = await self._remove_orphan_parts()
        return {"expired": removed, "orphan_parts": orphans}

    async def _remove_orphan_parts(self) -> int:
        if not self.parts_dir.is_dir():
            return 0
        cutoff = time.time() - max(60.0, self.settings.tus_lease_seconds)
        candidates: list[str] = []
        for entry in self.parts_dir.iterdir():
            if entry.suffix == ".part":
                try:
                    if entry.stat().st_mtime < cutoff:
                        candidates.append(entry.stem)
                except FileNotFoundError:
                    continue
        removed = 0
        for start in range(0, len(candidates), 500):
            chunk = candidates[start:start + 500]
            known = await self.catalog.existing_ids(chunk)
            for upload_id in chunk:
                if upload_id not in known:
                    remove_part(self.parts_dir, upload_id)
                    removed += 1
        return removed
