"""Ingest: the one way bytes become a stored object.

`Ingest.store(principal, source, idempotency_key)` runs the whole upload lifecycle, in order:

1. stage the source's chunks in a temp file (hashed and size-checked as they arrive), or adopt
   a complete local file (a resumable upload's part) by hard link instead of copying it;
2. once the first bytes have arrived, decide whether they also go to the store while the rest
   arrives (`EarlyPut`: a large body to S3), writing the intent row if so;
3. with every byte in: the fields, then the idempotency claim (a replay answers the first
   object and stores nothing);
4. validate (sniff, then the full decode), write the intent row, put the blob, mark it ready;
5. hand the staging file to the analysis after the upload (loudness, ingest renditions);
6. sign a URL for the answer.

Any failure before the end leaves nothing behind: the early put is aborted, the intent row
and a put blob are taken back, an idempotency claim is released. Every source (HTTP bodies,
speech, resumable uploads) comes through here as an `UploadSource`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio
import uuid_utils

from .. import metrics
from ..audio import HEAD_BYTES, TAIL_BYTES, AudioFacts, AudioLimits, content_type_for, probe, sniff
from ..blob_keys import build_blob_key, check_key_part, check_name
from ..blobstores import BlobStore, BlobStoreUnavailable, StoreDeadlineExceeded, StreamingPutStore
from ..blobstores.base import has_local_paths
from ..blobstores.spooling import PRIMARY, SPOOL, primary_of
from ..catalog import PENDING, READY, AudioRow, Catalog
from ..disk_space import is_out_of_space
from ..errors import AudiostoreError, InsufficientStorage, StorageUnavailable, UnsupportedMediaType
from ..settings import IngestSettings
from .analysis import ANALYSIS_LEASE, UploadAnalysis
from .audio import MAX_TEXT_CHARS, MAX_VOICE_ID_CHARS, AudioService, SignedUrl
from .early_put import EARLY_PUT_MIN_BYTES, EarlyPut, likely_format
from .expiry_rules import collection_default_expiry
from .idempotent_upload import IdempotencyKeys, check_idempotency_key, upload_fingerprint
from .metadata_field import check_metadata
from .principal import Principal
from .staging import StagedUpload
from .text_field import check_text
from .upload_fields import UploadFields
from .upload_source import FileUploadSource, UploadSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """The stored object, a signed URL for it, and whether it answers an earlier request."""

    row: AudioRow
    signed: SignedUrl
    replayed: bool = False


class Ingest:
    def __init__(
        self, *, settings: IngestSettings, key_template: str, pending_grace: float, tmp_dir: Path,
        catalog: Catalog, store: BlobStore, audio: AudioService, analysis: UploadAnalysis | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.key_template = key_template  # where a new blob goes
        self.pending_grace = pending_grace  # a pending row older than this is a crashed upload
        self.catalog = catalog
        self.blobs = store  # `store` is the entry point's name
        self.audio = audio
        self.analysis = analysis
        self.clock = clock
        self.tmp_dir = tmp_dir
        self.keys = IdempotencyKeys(catalog, clock=clock, ttl_seconds=settings.idempotency_ttl_seconds)
        self.audio_limits = AudioLimits(
            max_duration=settings.max_duration_seconds,
            min_sample_rate=settings.min_sample_rate,
            max_sample_rate=settings.max_sample_rate,
        )

    async def store(
        self, principal: Principal, source: UploadSource, idempotency_key: str | None = None,
        *, expires_in: int | None = None,
    ) -> StoredUpload:
        """Store `source` as a new object (or answer the one an earlier request with the same
        `idempotency_key` stored); `expires_in` is the signed URL's lifetime."""
        seconds = self.audio.check_expires_in(expires_in)
        limit, limit_source = principal.upload_limit(self.settings.max_upload_bytes)
        adopted = isinstance(source, FileUploadSource) and source.complete
        if isinstance(source, FileUploadSource) and source.complete:  # no second copy of it
            staged = await anyio.to_thread.run_sync(functools.partial(
                StagedUpload.adopt, self.tmp_dir, source.path, limit, sha256=source.sha256,
                limit_source=limit_source,
            ))
        else:
            staged = StagedUpload(
                self.tmp_dir, limit, pumped=True, limit_source=limit_source,
                writeback=has_local_paths(self.blobs),
            )
        try:
            if not adopted:
                await self._receive(staged, principal, source)
            fields = source.fields()
            # The id is chosen now so that an idempotency claim can name it (an early put has
            # written its intent row already).
            audio_id = staged.early.audio_id if staged.early is not None else str(uuid_utils.uuid7())
            claim = None
            if idempotency_key is not None:
                key = check_idempotency_key(idempotency_key)
                fingerprint = upload_fingerprint(staged.sha256, fields, source.filename)
                earlier = await self.keys.claim(principal.owner, key, fingerprint, audio_id)
                if earlier is not None:
                    await staged.close()  # an early put of this body is aborted: the first one stands
                    return StoredUpload(earlier, await self.audio.sign_row(earlier, seconds), replayed=True)
                claim = (key, fingerprint)
        except BaseException:
            await staged.close()
            raise
        try:
            row = await self._ingest(staged, principal, fields, source.filename, audio_id)
        except BaseException:
            if claim is not None:
                await self.keys.release(principal.owner, *claim, audio_id)
            raise
        if claim is not None:
            await self.keys.complete(principal.owner, claim[0], row.id)
        return StoredUpload(row, await self.audio.sign_row(row, seconds))

    # --- receiving --------------------------------------------------------------------
    async def _receive(self, staged: StagedUpload, principal: Principal, source: UploadSource) -> None:
        """Stage every chunk; start the early put once the head has arrived, if it pays."""
        deciding = self.wants_early_put(source.declared_length)
        chunks = source.chunks()
        try:
            async for chunk in chunks:
                staged.write(chunk)
                if deciding and staged.size >= HEAD_BYTES:
                    deciding = False
                    await self._maybe_forward(staged, principal, source)
                await staged.pump()
        finally:
            if isinstance(chunks, AsyncGenerator):  # stopped early (a refusal): close it now
                await chunks.aclose()
        if deciding and staged.size:
            await self._maybe_forward(staged, principal, source)
        await staged.pump(final=True)

    async def _maybe_forward(self, staged: StagedUpload, principal: Principal, source: UploadSource) -> None:
        known = source.head_fields()
        if known is None:
            return  # reported once the whole body is in
        early = await self.begin_early_put(principal, known, source.filename, staged.head)
        if early is not None:
            staged.forward_to(early)

    def wants_early_put(self, declared_length: int | None) -> bool:
        """Whether an upload of this declared length should go to the store while it arrives
        (a store that can stream, and a body of more than one part or of unknown length)."""
        if not isinstance(primary_of(self.blobs), StreamingPutStore):
            return False
        return declared_length is None or declared_length > EARLY_PUT_MIN_BYTES

    async def begin_early_put(
        self, principal: Principal, f: UploadFields, filename: str | None, head: bytes
    ) -> EarlyPut | None:
        """Write the intent row and open the store write of an upload whose first bytes have
        arrived; None (the upload is stored once it has arrived) when anything is unclear."""
        try:
            sniffed = sniff(head, b"")
            owner, collection, name = self._placement(principal, f, filename)
        except AudiostoreError:
            return None  # the checks after the body say what is wrong
        fmt = likely_format(sniffed, head)
        now, audio_id = self.clock(), str(uuid_utils.uuid7())
        key = build_blob_key(
            self.key_template, owner=owner, collection=collection, audio_id=audio_id,
            ext=fmt, created_at=now, name=name,
        )
        if not isinstance(self.blobs, StreamingPutStore):  # wants_early_put saw to this
            return None
        try:
            writer = self.blobs.open_writer(key, content_type=content_type_for(fmt))
        except BlobStoreUnavailable:
            return None
        await self.catalog.insert_audio(AudioRow(
            id=audio_id, owner=owner, collection=collection, name=name, key=key, state=PENDING,
            content_type=content_type_for(fmt), format=fmt, codec="", duration=0.0,
            sample_rate=0, channels=0, bitrate=None, size=0, sha256="", meta={},
            created_at=now, updated_at=now,
        ))
        return EarlyPut(
            writer=writer, catalog=self.catalog, audio_id=audio_id, created_at=now,
            heartbeat_seconds=self.pending_grace / 4, clock=self.clock,
        )

    # --- storing ----------------------------------------------------------------------
    async def _ingest(
        self, staged: StagedUpload, principal: Principal, fields_: UploadFields, filename: str | None,
        audio_id: str,
    ) -> AudioRow:
        """Turn a staged upload into a ready object `audio_id`, or raise and leave nothing behind."""
        try:
            row = await self._stored(staged, principal, fields_, filename, audio_id)
        except BaseException as exc:
            await staged.close()  # aborts an early put and its intent row
            if isinstance(exc, AudiostoreError):
                metrics.UPLOADS.labels(exc.code).inc()
            raise
        metrics.UPLOADS.labels("stored").inc()
        metrics.BYTES_IN.inc(row.size)
        if self.analysis is not None:
            self.analysis.submit(row, staged)  # loudness and ingest renditions, after the answer
        else:
            staged.discard()  # the row stays due: the analysis job measures it from the store
        return row

    def _placement(self, principal: Principal, f: UploadFields, filename: str | None) -> tuple[str, str, str]:
        """Owner, collection and name of a new object: the parts of its blob key."""
        owner = check_key_part(principal.owner_for_new(f.owner), what="owner")
        collection = check_key_part(f.collection or self.settings.default_collection, what="collection")
        principal.require_collection(collection)  # a client token's collections
        return owner, collection, check_name(f.name or filename or "audio")

    async def _stored(
        self, staged: StagedUpload, principal: Principal, f: UploadFields, filename: str | None,
        audio_id: str,
    ) -> AudioRow:
        staged.finish()
        early = staged.early
        now = early.created_at if early is not None else self.clock()
        owner, collection, name = self._placement(principal, f, filename)
        expires_at = self.audio.expiry_for(f, now) or collection_default_expiry(self.settings, collection, now)
        metadata = check_metadata(f.metadata) if f.metadata is not None else {}
        if f.text is not None:
            check_text(f.text, "text", max_chars=MAX_TEXT_CHARS)
        if f.voice_id is not None:
            check_text(f.voice_id, "voice_id", max_chars=MAX_VOICE_ID_CHARS)

        facts = await self._understand(staged, principal)
        key = build_blob_key(
            self.key_template, owner=owner, collection=collection, audio_id=audio_id,
            ext=facts.ext, created_at=now, name=name,
        )
        row = AudioRow(
            id=audio_id, owner=owner, collection=collection, name=name, key=key, state=PENDING,
            content_type=facts.content_type, format=facts.format, codec=facts.codec,
            duration=facts.duration, sample_rate=facts.sample_rate, channels=facts.channels,
            bitrate=facts.bitrate, size=staged.size, sha256=staged.sha256, meta=metadata,
            text=f.text, voice_id=f.voice_id, created_at=now, expires_at=expires_at,
            updated_at=now, analysis_due_at=now + ANALYSIS_LEASE,
        )
        # Intent first: a crash from here on leaves a pending row that a job resolves.
        if early is None:
            await self.catalog.insert_audio(row)
        elif not await self.catalog.fill_pending(row):
            raise StorageUnavailable("The upload's intent row was rolled back while it arrived.")
        try:
            placed = None
            if early is not None:
                if early.key == key and await early.complete():
                    placed = PRIMARY
                else:  # the fields after the file changed the key, or the store failed midway
                    await early.abandon_blob()
            if placed is None:
                placed = await self.blobs.put_file(key, staged.path, content_type=facts.content_type)
        except Exception as exc:
            await self._put_failed(audio_id, exc)
            log.warning("blob put failed for %s: %s", key, exc)
            if is_out_of_space(exc):  # the local store or the spool: a full disk
                raise InsufficientStorage(
                    "The server's disk is full (blob store); nothing was stored. Try again later."
                ) from exc
            raise StorageUnavailable(f"The blob store refused the upload: {exc}") from exc
        try:
            if placed == SPOOL:  # the primary store was down: the blob waits in the local spool
                row.location = SPOOL
                await self.catalog.update_audio(audio_id, {"location": SPOOL})
            await self.catalog.set_state(audio_id, READY, now=now)
        except Exception:  # the catalogue's disk filled up meanwhile: the upload did not happen
            await self._take_back(audio_id, key)
            raise
        row.state = READY
        return row

    async def _put_failed(self, audio_id: str, exc: Exception) -> None:
        """Undo an upload whose put failed. A put the store did not answer in time may still
        land there (its bytes were on their way): its row turns `deleting` (invisible, and the
        upload's Idempotency-Key is free again) and the delete-retry job removes whatever the
        store holds under the key, then the row, once the store answers. A refused put (or a
        full local disk) left no blob: the row goes now."""
        if not isinstance(exc, StoreDeadlineExceeded):
            await self._take_back(audio_id, None)
            return
        try:
            await self.catalog.mark_deleting_ids([audio_id], now=self.clock())
            await self.catalog.mark_retry_due([audio_id], now=self.clock())
        except Exception as failure:  # noqa: BLE001 - the pending row's job rolls it back later
            log.warning("could not hand %s to the delete retry job: %s", audio_id, failure)

    async def _take_back(self, audio_id: str, key: str | None) -> None:
        """Undo an upload that failed after its intent row: its blob (if it was put), then the
        row. Blob first: a row the catalogue cannot delete now (its disk is full too) then has
        no blob, so the stale-pending job rolls it back rather than finishing an upload whose
        client was told it failed. (A blob the store will not delete now is an orphan that
        `reconcile` finds.)"""
        if key is not None:
            try:
                await self.blobs.delete_many([key])
            except Exception as exc:  # noqa: BLE001 - see docstring
                log.warning("could not remove the blob %s of a failed upload: %s", key, exc)
        try:
            await self.catalog.delete_rows([audio_id])
        except Exception as exc:  # noqa: BLE001 - the pending row's job rolls it back later
            log.warning("could not remove the intent row of %s; a job rolls it back: %s", audio_id, exc)

    async def _understand(self, staged: StagedUpload, principal: Principal) -> AudioFacts:
        if staged.size == 0:
            raise UnsupportedMediaType("The upload is empty.")
        head, tail = staged.read_head_tail(HEAD_BYTES, TAIL_BYTES)
        id3_head = None
        if head[:3] == b"ID3" and len(head) >= 10:
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            id3_head = staged.read_at(10 + size, 64)
        sniffed = sniff(head, tail, id3_skipped_head=id3_head)
        accepted = principal.accepted_formats(self.settings.accepted_formats)
        source = principal.formats_source()
        if sniffed.format not in accepted and not (sniffed.format == "ogg" and "opus" in accepted):
            raise UnsupportedMediaType(f"{sniffed.format} uploads are not accepted here ({source}).")
        facts = await anyio.to_thread.run_sync(
            functools.partial(probe, staged.path, sniffed, limits=self.audio_limits)
        )
        if facts.format not in accepted:
            raise UnsupportedMediaType(f"{facts.format} uploads are not accepted here ({source}).")
        return facts
