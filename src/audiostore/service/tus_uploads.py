"""Resumable uploads (tus 1.0): create, append at the committed offset, finish through the
one ingest, terminate, expire.

The rules, all here:
- The catalogue row holds the committed offset; the part file (service/tus_parts.py) holds
  the acknowledged bytes. A PATCH claims the upload by locking its part (`flock`, shared by
  every instance that shares the parts folder, and dropped by the kernel if the process dies:
  a second PATCH meanwhile is 423), then reads the row, so the offset it checks (else 409)
  cannot move under it. It makes one catalogue write: the new offset, conditional on the old
  one. Termination and the expiry job take the same lock, so they never remove an upload a
  PATCH is writing.
- Durability of acknowledged bytes. A PATCH's offset is committed without waiting for the
  disk: a crash of the process keeps its bytes (the page cache outlives it; test_tus_crash.py
  SIGKILLs a server mid-PATCH). A power loss takes the file's tail (ext4 `data=ordered`, XFS,
  btrfs never leave a length with unwritten data behind it), so the next PATCH and HEAD trust
  min(committed offset, part length) and the client resends the rest. A flush per PATCH
  halved throughput; AUDIOSTORE_TUS_SYNC_EACH_PATCH brings it back for filesystems without
  that ordering. The last PATCH syncs the part before the upload turns `storing`.
- A PATCH with `Upload-Checksum` is all or nothing: a mismatch (460) or a cut body discards
  every byte of it. Without one, a cut body keeps what arrived (the protocol asks servers to
  store as much as they can), so the client resumes from there.
- The first bytes are sniffed as soon as they are in (service/tus_head_check.py): a file that
  is not audio, or not a format the upload may have, is 415 at its first PATCH and the
  upload (row and part) is gone, rather than after its last byte.
- The PATCH that commits the last byte turns the upload `storing` with an ingest lease in the
  same write, and hands the part file to the ingest once (idempotency key `tus:{id}`, so a
  retry after a crash finds the first result instead of storing twice). The ingest's 4xx (not
  audio, too long...) fails the upload for good and removes its part: nothing is stored. A
  5xx (the store is down) leaves it `storing`, and a retried PATCH runs the ingest again.
- A partial upload (concatenation) stops at `complete`, never ingested on its own: a final
  upload claims it (service/tus_concatenation.py), and that one's ingest checks the format.
- A client token's collections are checked at creation; its max_bytes and formats are folded
  into the row's bounds, because the ingest at the end runs without the token.
- An unfinished upload expires `tus_upload_expiry` after its last PATCH (410 from then on;
  the expiry job deletes its row and part); termination (DELETE) does the same at once.
- The part's sha256 is carried along in this process as PATCHes arrive (a hashlib state cannot
  be stored, so it lives in memory, keyed by the offset it has hashed up to). If the last
  PATCH finds it at the upload's length, the ingest adopts the part with that sha256 and reads
  it only to sniff and decode; otherwise (a restart, a PATCH on another instance) the ingest
  hashes the part once. Either way the part is adopted by hard link, never copied again.
  A PATCH with its own sha256 (or sha1, md5) `Upload-Checksum` needs a second digest of the
  same bytes (a running hash of the whole file cannot give the digest of one PATCH); the two
  run on two worker threads at once (hashlib lets go of the GIL), so on two cores they cost
  the time of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import uuid_utils

from ..audio import HEAD_BYTES
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
from .audio import MAX_TEXT_CHARS, MAX_VOICE_ID_CHARS, AudioService
from .format_bounds import check_formats, set_by_name
from .ingest import Ingest
from .metadata_field import check_metadata
from .principal import Principal
from .text_field import check_text
from .tus_checksum import ExpectedChecksum
from .tus_head_check import bytes_needed, check_head
from .tus_parts import PartBusy, PartWriter, create_part, lock_idle_part, part_path, remove_part
from .tus_upload_terms import UploadBounds, fields_from_json, fields_to_json
from .upload_fields import UploadFields
from .upload_source import FileUploadSource

log = logging.getLogger(__name__)

STORING_LEASE = timedelta(minutes=15)  # an ingest's probe and put; a dead one is retried after
# Bytes gathered before one hash-and-write in a worker thread: small enough that the disk's
# writeback of one batch overlaps receiving the next. The batch is the body's own pieces
# (written with writev, never joined). 4 MiB batches saved the event loop ~1.5 ms of CPU per
# 8 MiB PATCH (6 hops fewer) but cost the kernel ~3 ms more (the body's buffers are held
# four times longer before they go back to the allocator), so 1 MiB it stays.
_WRITE_EVERY = 1 << 20
_RUNNING_HASHES = 1024  # uploads whose whole-file sha256 this process carries between PATCHes


class BodyCut(Exception):
    """The request body ended before its end (the client's connection dropped). The HTTP
    layer raises it from the body it passes in."""


@dataclass(frozen=True, slots=True)
class AppendResult:
    upload: TusUploadRow
    stored: AudioRow | None = None  # set once the last byte is in and the ingest stored it


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
        # As the ingest would after the last byte, but before the client sends the file:
        if fields.text is not None:
            check_text(fields.text, "text", max_chars=MAX_TEXT_CHARS)
        if fields.voice_id is not None:
            check_text(fields.voice_id, "voice_id", max_chars=MAX_VOICE_ID_CHARS)
        self.audio.expiry_for(fields, self._now())  # a bad ttl_seconds or expires_at: 422 now
        limit, source = principal.upload_limit(self.max_size)  # the server's or a token's
        if bounds.max_bytes and bounds.max_bytes < limit:
            limit, source = bounds.max_bytes, "this upload URL's max_bytes"
        if length is not None and length > limit:
            raise PayloadTooLarge(f"Upload-Length {length} is larger than {limit} bytes ({source}).")
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

    async def describe(self, principal: Principal, upload_id: str) -> TusUploadRow:
        """The upload as HEAD shows it: its offset is never more than its part holds (after a
        power loss the disk may have kept less than was acknowledged; resume from there)."""
        row = await self.get(principal, upload_id)
        if row.state == RECEIVING and row.offset:
            try:
                size = (await anyio.to_thread.run_sync(part_path(self.parts_dir, upload_id).stat)).st_size
            except FileNotFoundError:
                raise UploadNotFound() from None
            row.offset = min(row.offset, size)
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
        try:  # the claim first, so that the row read next cannot be overtaken by another PATCH
            part: PartWriter | None = await anyio.to_thread.run_sync(  # with the head (for
                PartWriter, part_path(self.parts_dir, upload_id), HEAD_BYTES)  # `_head_needed`)
        except PartBusy as exc:
            await self.get(principal, upload_id)  # 404 / 410 before saying it is busy
            raise UploadLocked() from exc
        except FileNotFoundError:
            part = None  # stored (or refused, terminated): the row says which
        try:
            return await self._append_claimed(principal, upload_id, part, offset=offset,
                                              length=length, checksum=checksum, body=body)
        finally:
            if part is not None:
                part.close()

    async def _append_claimed(
        self, principal: Principal, upload_id: str, part: PartWriter | None, *, offset: int,
        length: int | None, checksum: ExpectedChecksum | None, body: AsyncIterator[bytes],
    ) -> AppendResult:
        row = await self.get(principal, upload_id)
        if row.state != RECEIVING and part is not None:
            part.close()  # a finished upload's part is the ingest's (its lease is the row's)
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
        if part is None:
            raise UploadNotFound()  # terminated or swept between the two reads
        if part.size_found < row.offset:
            await self._fall_back_to_disk(row, part.size_found)
        if offset != row.offset:
            raise UploadOffsetMismatch(headers={"Upload-Offset": str(row.offset)})
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
        part.begin(offset)  # the cut back to the offset comes with the first write's hop
        needed = self._head_needed(part, offset)
        file_hash = self._running_hash(upload_id, offset)
        try:
            written = await self._receive(row, part, offset, needed, total, checksum, body,
                                          file_hash)
        except BaseException:
            self._running.pop(upload_id, None)
            raise
        new_offset = offset + written
        done = total is not None and new_offset == total
        now = self._now()
        values.update(updated_at=now, expires_at=self._expiry_from(now))
        writer = None
        if done:  # a stored object's bytes are on the disk
            await anyio.to_thread.run_sync(part.sync)
        if done and row.concat == PARTIAL:  # waits, whole, for its final upload
            values.update(state=COMPLETE)
        elif done:  # the ingest's lease, taken in the same write
            writer = str(uuid_utils.uuid7())
            values.update(state=STORING, writer=writer, lease_until=now + STORING_LEASE)
        if not await self.catalog.advance(upload_id, old_offset=offset, new_offset=new_offset,
                                          now=now, values=values):
            self._running.pop(upload_id, None)
            raise UploadLocked("The upload changed under this PATCH (terminated, or being "
                               "stored); HEAD for its state.")
        if file_hash is not None:
            self._keep_running_hash(upload_id, new_offset, file_hash)
        committed = row  # as the catalogue now holds it (no second read)
        committed.offset = new_offset
        for name, value in values.items():
            if name not in ("writer", "lease_until"):
                setattr(committed, name, value)
        if writer is None:
            return AppendResult(committed)
        part.close()  # the part's lock is not needed by the ingest (its lease is the row's)
        return AppendResult(committed, await self.finish(committed, writer))

    async def _fall_back_to_disk(self, row: TusUploadRow, on_disk: int) -> None:
        """The part is shorter than the committed offset: the machine lost power before the
        kernel wrote the last PATCHes out. The offset becomes what the disk kept, and the
        client (told by a 409 or a HEAD) sends the rest again."""
        log.warning("tus upload %s: %d bytes acknowledged, %d on disk; resuming from the disk",
                    row.id, row.offset, on_disk)
        await self.catalog.advance(row.id, old_offset=row.offset, new_offset=on_disk,
                                   now=self._now(), values={})
        row.offset = on_disk
        self._running.pop(row.id, None)

    def _accepted_formats(self, row: TusUploadRow) -> tuple[list[str], str]:
        """The formats this upload may have, and what set them (for a 415's message)."""
        server = list(self.ingest.settings.accepted_formats)
        bounds = UploadBounds.from_json(row.bounds)
        if not bounds.formats:
            return server, "AUDIOSTORE_ACCEPTED_FORMATS"
        return [f for f in server if f in bounds.formats], f"the formats of {set_by_name(bounds.formats_set_by)}"

    async def _refuse_head(self, row: TusUploadRow, exc: UnsupportedMediaType) -> None:
        """The first bytes are not an accepted format: the upload ends now, leaving nothing
        (its part's lock is held, so no PATCH writes meanwhile)."""
        with anyio.CancelScope(shield=True):
            await self.catalog.delete(row.id)
            remove_part(self.parts_dir, row.id)
        self._running.pop(row.id, None)
        raise exc

    async def _receive(
        self, row: TusUploadRow, part: PartWriter, offset: int, needed: int, total: int | None,
        checksum: ExpectedChecksum | None, body: AsyncIterator[bytes], file_hash: Any = None,
    ) -> int:
        """Write the body at `offset` (`needed`: what `_head_needed` said the format check
        needs of the head); the bytes kept. Raises after discarding what must go.
        `file_hash` (the part's running sha256, if held) takes the bytes too, in a worker
        thread beside the write; the caller drops it if this raises."""
        room = (total if total is not None else self._limit(row)) - offset
        hasher = checksum.hasher() if checksum else None
        batch: list[bytes] = []
        batched = 0
        # The head is sniffed once enough of it is in (this PATCH or a later one): `head_at`
        # is the offset that must be reached first, None once decided (or not this PATCH's).
        head_at: int | None = needed if offset < needed and row.concat != PARTIAL else None
        accepted, why = self._accepted_formats(row)

        # Each batch is written as the pieces the body arrived in (`writev`): never joined
        # into one copy on the event loop, which cost a memcpy of every byte of the upload.
        def digest(digester: Any, pieces: list[bytes]) -> None:
            for piece in pieces:
                digester.update(piece)

        def absorb(pieces: list[bytes], digesters: tuple[Any, ...]) -> None:
            for digester in digesters:  # hashlib and the write release the GIL
                digest(digester, pieces)
            part.write(pieces)

        async def flush() -> None:
            nonlocal batch, batched, head_at
            pieces = batch
            batch, batched = [], 0
            if hasher is not None and file_hash is not None:
                # Two digests of the same bytes: on two threads, so two cores share them.
                async with anyio.create_task_group() as tg:
                    tg.start_soon(anyio.to_thread.run_sync, digest, hasher, pieces)
                    await anyio.to_thread.run_sync(absorb, pieces, (file_hash,))
            else:  # one hop for the write and the one digest (if any)
                digesters = tuple(d for d in (hasher, file_hash) if d is not None)
                await anyio.to_thread.run_sync(absorb, pieces, digesters)
            end = offset + part.written
            if head_at is not None and end >= head_at:
                decided = check_head(part.read_at, end, accepted, why)
                head_at = None if decided else bytes_needed(part.read_at(0, HEAD_BYTES))

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
                if batched >= _WRITE_EVERY or (
                    head_at is not None and offset + part.written + batched >= head_at
                ):
                    await flush()
            if batch:
                await flush()
        except UnsupportedMediaType as exc:
            await self._refuse_head(row, exc)
        except BodyCut as exc:
            # Keep what arrived (unless it was to be checked as a whole), and say so.
            if batch and checksum is None:
                try:
                    await flush()
                except UnsupportedMediaType as refused:
                    await self._refuse_head(row, refused)
            if checksum is not None:
                part.discard()
            else:
                await self._commit_partial(row, part, offset)
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
        if self.settings.tus_sync_each_patch:
            await anyio.to_thread.run_sync(part.sync)
        return part.written

    @staticmethod
    def _head_needed(part: PartWriter, offset: int) -> int:
        """How many first bytes the format check needs before a PATCH at `offset` (0 if it
        starts past them). From the head the claim read: a committed offset past HEAD_BYTES
        (and within the part: else it is a 409 by now) leaves the head as it was."""
        if offset < HEAD_BYTES:
            return HEAD_BYTES
        return bytes_needed(part.head)

    async def _commit_partial(self, row: TusUploadRow, part: PartWriter, offset: int) -> None:
        """A cut PATCH: record the bytes that arrived, so a resume starts after them."""
        if not part.written:
            return
        if self.settings.tus_sync_each_patch:
            await anyio.to_thread.run_sync(part.sync)
        now = self._now()
        with anyio.CancelScope(shield=True):
            await self.catalog.advance(
                row.id, old_offset=offset, new_offset=offset + part.written, now=now,
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
        fields, filename = fields_from_json(row.fields)
        try:
            bounds = UploadBounds.from_json(row.bounds)
            await anyio.to_thread.run_sync(check_formats, path, bounds.formats, bounds.formats_set_by)
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
        async with self._idle_part(upload_id) as idle:
            if not idle:
                raise UploadLocked("A PATCH is appending to this upload; terminate it after that ends.")
            if not await self.catalog.delete_unleased(upload_id, now=self._now()):
                if await self.catalog.get(upload_id) is None:
                    raise UploadNotFound()
                raise UploadLocked("The upload is being stored; terminate it after that ends.")
            remove_part(self.parts_dir, upload_id)

    @contextlib.asynccontextmanager
    async def _idle_part(self, upload_id: str) -> AsyncIterator[bool]:
        """Holds the part's lock (if it has a part) while the body runs; yields False if a
        PATCH holds it, so the upload must not be removed now."""
        try:
            lock = await anyio.to_thread.run_sync(lock_idle_part, part_path(self.parts_dir, upload_id))
        except PartBusy:
            yield False
            return
        try:
            yield True
        finally:
            if lock is not None:
                lock.close()

    async def remove_expired(self, *, batch: int = 500) -> dict[str, int]:
        """Delete expired uploads' rows and parts, and parts left without a row (a crash
        between the part and its row). Safe on any number of instances at once; an upload a
        PATCH is writing right now (its part locked) is left for a later run."""
        now = self._now()
        removed = 0
        for upload_id in await self.catalog.expired_ids(now=now, limit=batch):
            async with self._idle_part(upload_id) as idle:
                if idle and await self.catalog.delete_expired(upload_id, now=now):
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
