"""tus concatenation: a final upload made of complete partial uploads of the same owner.

The rules, all here:
- A partial upload (`Upload-Concat: partial`) takes PATCHes like any upload, checksums
  included, but its last byte only marks it `complete`: it is never ingested, never becomes
  an object, and expires like any unfinished upload if no final upload claims it.
- A final upload names its partials in order. Each must be the owner's, a partial, complete
  and unexpired, named once; at most AUDIOSTORE_TUS_MAX_CONCAT_PARTS of them, their lengths
  adding up to no more than the upload limit. Anything else is a 4xx and writes nothing.
- One transaction claims every named partial with one conditional UPDATE and inserts the
  final row (`storing`, leased): two final uploads naming the same partials, on one instance
  or on two sharing PostgreSQL, cannot both claim them; the second gets 409.
- The partials' part files are then copied into the final upload's part file by the kernel
  (`copy_file_range`: the bytes never pass through this process, nor are held in memory),
  synced, and that file goes through the one ingest as a plain upload's would, with the
  final upload's `Upload-Metadata`, checked against the creating principal (a client token's
  collections, formats and size bound the final upload, not its pieces). The ingest's
  idempotency key is derived from the partials named, so a final upload retried after a crash
  between the store and its settling finds the object stored the first time instead of
  storing it twice.
- Stored: the partials' rows and parts are deleted at once (nothing else may use them, and
  their bytes now live in the object). The ingest refused the file (4xx): the final upload
  fails for good (HEAD 410) and the partials are deleted too, as a plain upload's part is.
  Any other failure (the store is down, the disk is full): the final row and its file are
  removed and the partials given back, so the same final creation can simply be sent again.
- A final upload's id is derived from its owner and the partials it names, in order, so the
  same final creation sent again (its answer was lost; the protocol lets a client use a
  partial more than once) finds it, although its partials are gone: a stored one answers
  201 again with the same `Location` and audio id (nothing stored twice); a refused one is
  410 naming it, one being stored 409 naming it. Sent again with other `Upload-Metadata`,
  it is 409: the object was stored with the first. A final row whose process died while
  storing (its lease ran out) is removed, and the creation goes on as the first did. This
  holds while the final upload's row lives (its `Upload-Expires`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import uuid
from datetime import timedelta
from dataclasses import dataclass
from pathlib import Path

import anyio
import uuid_utils

from ..catalog.tus_uploads import (
    COMPLETE,
    CONCATENATING,
    FAILED,
    FINAL,
    PARTIAL,
    RECEIVING,
    STORED,
    STORING,
    TusUploadRow,
)
from ..disk_space import full_disk_is_507
from ..errors import (
    AudiostoreError,
    Conflict,
    PayloadTooLarge,
    UploadConcatInvalid,
    UploadGone,
    UploadNotFound,
)
from .principal import Principal
from .tus_parts import part_path, remove_part
from .tus_upload_terms import UploadBounds, fields_to_json
from .tus_uploads import STORING_LEASE, AppendResult, TusUploads
from .upload_fields import UploadFields

_COPY_STEP = 64 * 1024 * 1024  # bytes per copy_file_range call (the kernel may move fewer)


@dataclass(frozen=True, slots=True)
class PartialRef:
    """One partial upload a final upload names: its id, and the URL as the client wrote it
    (for messages)."""

    upload_id: str
    url: str


_FINAL_IDS = uuid.UUID("5c0b6a2e-3f64-4d1c-9a53-8f1f6d1e7a10")  # namespace of final upload ids


def final_upload_id(owner: str, upload_ids: list[str]) -> str:
    """A final upload's id: a name-based UUID of the owner and its partials, in order (as
    unguessable as the partials' ids it is made of)."""
    return str(uuid.uuid5(_FINAL_IDS, "\n".join([owner, *upload_ids])))


def concat_idempotency_key(owner: str, upload_ids: list[str]) -> str:
    """The ingest's idempotency key of a final upload: the same partials in the same order
    give the same key, whatever the final upload's own id."""
    digest = hashlib.sha256(("\n".join([owner, *upload_ids])).encode()).hexdigest()
    return f"tus-concat:{digest}"


def assemble_parts(sources: list[tuple[Path, int]], target: Path) -> None:
    """Write the first `length` bytes of each source, in order, into the new file `target`,
    and sync it. The copy runs in the kernel (`copy_file_range`, a reflink on filesystems
    that share extents); where that is not possible (another filesystem, an old kernel) a
    bounded read-write loop does it."""
    with full_disk_is_507("uploads"):
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for path, length in sources:
                src = os.open(path, os.O_RDONLY)
                try:
                    if os.fstat(src).st_size < length:
                        raise OSError(f"the part file {path.name} holds fewer bytes than its upload")
                    _copy_range(src, out, length)
                finally:
                    os.close(src)
            os.fdatasync(out)
        finally:
            os.close(out)


def _copy_range(src: int, out: int, length: int) -> None:
    left = length
    kernel_copy = hasattr(os, "copy_file_range")
    while left > 0:
        if kernel_copy:
            try:
                moved = os.copy_file_range(src, out, min(left, _COPY_STEP))
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                kernel_copy = False
                continue
        else:
            data = os.read(src, min(left, 1024 * 1024))
            moved = os.write(out, data) if data else 0
        if moved <= 0:
            raise OSError("a part file ended before its length")
        left -= moved


class TusConcatenation:
    """Final uploads of the concatenation extension, on top of the uploads service."""

    def __init__(self, uploads: TusUploads) -> None:
        self.uploads = uploads
        self.catalog = uploads.catalog

    @property
    def max_parts(self) -> int:
        return self.uploads.settings.tus_max_concat_parts

    async def create_final(
        self, principal: Principal, partials: list[PartialRef], *, upload_metadata: str | None,
        fields: UploadFields, filename: str | None,
    ) -> AppendResult:
        """Claim the partials, assemble them, store the result through the ingest."""
        up = self.uploads
        owner = up.check_new(principal, length=None, fields=fields, filename=filename, bounds=UploadBounds())
        principal.require_collection(fields.collection or up.ingest.settings.default_collection)
        final_id = final_upload_id(owner, [ref.upload_id for ref in partials])
        earlier = await self._made_before(final_id, owner, upload_metadata)
        if earlier is not None:
            return earlier
        rows = await self._partial_rows(principal, owner, partials)
        total = sum(row.length or 0 for row in rows)
        limit = min(up.max_size, principal.upload_limit(up.max_size)[0])
        if total > limit:
            raise PayloadTooLarge(f"The partial uploads add up to {total} bytes, more than {limit}.")
        now = up.audio.clock()
        writer = str(uuid_utils.uuid7())
        ids = [row.id for row in rows]
        final = TusUploadRow(
            id=final_id, owner=owner, state=STORING, length=total, offset=total,
            upload_metadata=upload_metadata, fields=fields_to_json(fields, filename),
            bounds=UploadBounds().to_json(), writer=writer, lease_until=now + STORING_LEASE,
            audio_id=None, created_at=now, updated_at=now,
            expires_at=now + timedelta(seconds=up.settings.tus_upload_expiry),
            concat=FINAL, concat_parts=ids,
        )
        if not await self.catalog.claim_partials_for(final, now=now, until=now + STORING_LEASE):
            raise Conflict("Another final upload is using (or has used) these partial uploads.")
        # From here the final row and the claims are written: every way out settles them.
        try:
            sources = [(part_path(up.parts_dir, row.id), row.length or 0) for row in rows]
            await anyio.to_thread.run_sync(assemble_parts, sources, part_path(up.parts_dir, final.id))
            stored = await up.finish(final, writer, concat_idempotency_key(owner, ids), principal)
        except AudiostoreError as exc:
            with anyio.CancelScope(shield=True):
                if exc.status < 500:  # the file was refused for good: so are its pieces
                    await self._drop_partials(ids, writer)
                else:
                    await self._undo(final, writer)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._undo(final, writer)
            raise
        with anyio.CancelScope(shield=True):
            await self._drop_partials(ids, writer)
        final.state, final.audio_id, final.writer, final.lease_until = STORED, stored.id, None, None
        return AppendResult(final, stored)

    async def _made_before(self, final_id: str, owner: str, upload_metadata: str | None) -> AppendResult | None:
        """The answer to a final creation sent again, or None to create it (now)."""
        row = await self.catalog.get(final_id)
        if row is None or row.owner != owner or row.concat != FINAL:
            return None
        now = self.uploads.audio.clock()
        if row.state == STORING and (row.lease_until is None or row.lease_until < now):
            await self.catalog.delete_row(row.id)  # its process died: its partials are free again
            remove_part(self.uploads.parts_dir, row.id)
            return None
        if row.upload_metadata != upload_metadata:
            raise Conflict(f"These partial uploads already make the final upload {row.id}, "
                           "with other Upload-Metadata.")
        if row.state == FAILED:
            raise UploadGone(f"These partial uploads made the final upload {row.id}, whose file was "
                             f"refused ({row.error_code}: {row.error_message}).")
        if row.state != STORED:
            raise Conflict(f"The final upload {row.id} of these partial uploads is being stored; "
                           "HEAD it, or send this again shortly.")
        return AppendResult(row)

    async def _partial_rows(
        self, principal: Principal, owner: str, partials: list[PartialRef]
    ) -> list[TusUploadRow]:
        if not partials:
            raise UploadConcatInvalid("A final upload names at least one partial upload.")
        if len(partials) > self.max_parts:
            raise UploadConcatInvalid(
                f"A final upload names at most {self.max_parts} partial uploads "
                f"(AUDIOSTORE_TUS_MAX_CONCAT_PARTS); this one names {len(partials)}."
            )
        seen: set[str] = set()
        rows: list[TusUploadRow] = []
        now = self.uploads.audio.clock()
        for ref in partials:
            if ref.upload_id in seen:
                raise UploadConcatInvalid(f"{ref.url} is named twice.")
            seen.add(ref.upload_id)
            row = await self.catalog.get(ref.upload_id)
            if row is None or row.owner != owner or principal.scope(None) not in (None, row.owner):
                raise UploadNotFound(f"No partial upload {ref.url} (of owner {owner!r}).")
            if row.concat != PARTIAL:
                raise UploadConcatInvalid(f"{ref.url} is not a partial upload (Upload-Concat: partial).")
            if row.state in (RECEIVING, COMPLETE) and row.expires_at <= now:
                raise UploadGone(f"The partial upload {ref.url} has expired.")
            if row.state == RECEIVING:
                of = f"of {row.length}" if row.length is not None else "(length deferred)"
                have = f"{row.offset} {of}"
                raise UploadConcatInvalid(f"The partial upload {ref.url} is not complete: {have} bytes.")
            if row.state == CONCATENATING and row.lease_until is not None and row.lease_until > now:
                raise Conflict(f"The partial upload {ref.url} is part of another final upload being stored.")
            rows.append(row)
        return rows

    async def _drop_partials(self, ids: list[str], writer: str) -> None:
        await self.catalog.delete_claimed(ids, writer=writer)
        for upload_id in ids:
            remove_part(self.uploads.parts_dir, upload_id)

    async def _undo(self, final: TusUploadRow, writer: str) -> None:
        """Nothing was stored: the final row and its file go, the partials are given back."""
        await self.catalog.release_partials(final.concat_parts or [], writer=writer)
        await self.catalog.delete_row(final.id)
        remove_part(self.uploads.parts_dir, final.id)
