"""AudioService: every rule about stored audio, once.

Ownership, limits, key layout, expiry, state transitions and signing decisions live here.
The HTTP routes, the CLI's admin commands and the jobs all call these methods.
"""

from __future__ import annotations

import builtins  # `list` is also a method of AudioService; its annotations mean the type
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypedDict

import anyio
import uuid_utils

from .. import metrics
from ..audio import HEAD_BYTES, TAIL_BYTES, AudioFacts, AudioLimits, content_type_for, probe, sniff
from ..blob_keys import build_blob_key, check_key_part, check_name
from ..blobstores import (
    BlobNotFound,
    BlobStore,
    BlobStoreUnavailable,
    LocalPathStore,
    SignCapableStore,
    StreamingPutStore,
)
from ..blobstores.base import can_sign
from ..blobstores.spooling import PRIMARY, SPOOL, primary_of, spooled_path_of
from ..catalog import PENDING, READY, AudioRow, Catalog, ListQuery
from ..catalog.doomed_claims import DoomedObject
from ..catalog.job_queries import JobCatalog
from ..disk_space import is_out_of_space
from ..errors import (
    AudiostoreError,
    BadRequest,
    InsufficientStorage,
    NotFound,
    SignatureInvalid,
    StorageUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..settings import Settings
from ..signing import UrlSigner, signed_query
from .expiry_rules import collection_default_expiry, url_lifetime_within_expiry
from .principal import Principal
from .analysis import ANALYSIS_LEASE, UploadAnalysis
from .list_cursor import decode_cursor, encode_cursor
from .metadata_field import check_metadata
from .early_put import EARLY_PUT_MIN_BYTES, EarlyPut, likely_format
from .served_rows import ServedRows, visible_row
from .staging import StagedUpload
from .text_field import check_text

log = logging.getLogger(__name__)

MAX_LIST_LIMIT = 1000
MAX_BATCH_URLS = 1000
MAX_TTL_SECONDS = 100 * 365 * 86400  # beyond this an expiry is a typo (and overflows)
MAX_TEXT_CHARS = 100_000  # an upload's `text` (a transcript, the words spoken)
MAX_VOICE_ID_CHARS = 128  # the catalogue column's width


@dataclass(frozen=True, slots=True)
class UploadFields:
    """What a client may say about an upload besides its bytes."""

    name: str | None = None
    collection: str | None = None
    ttl_seconds: int | None = None
    expires_at: datetime | None = None
    metadata: dict[str, Any] | None = None
    text: str | None = None
    voice_id: str | None = None
    owner: str | None = None  # admins only


def check_aware(moment: datetime, field: str) -> None:
    """A time from a client must say its timezone: the catalogue keeps UTC, and guessing the
    zone of a naive time would move it by hours."""
    if moment.tzinfo is None:
        raise ValidationFailed(f"{field} needs a timezone (e.g. 2026-01-01T00:00:00Z).")


class Signable(Protocol):
    """What a URL is signed from: a catalogue row, or the part of one a batch reads."""

    @property
    def id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...


class SignedUrl(NamedTuple):
    """A signed URL and when it ends. (A tuple: a frozen dataclass costs 4 us to make, most
    of a batch URL's time.)"""

    audio_id: str
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Page:
    items: list[AudioRow]
    next_cursor: str | None


class ContentFields(TypedDict):
    """The fields of a `ContentSource` that do not depend on where the bytes are read from."""

    row: AudioRow
    content_type: str
    size: int
    etag: str
    key: str


@dataclass(frozen=True, slots=True)
class ContentSource:
    """Where to read an object's bytes from; exactly one of `path`/`redirect_url`/`key` is used."""

    row: AudioRow
    content_type: str
    size: int
    etag: str
    key: str
    path: Path | None = None
    redirect_url: str | None = None
    store: BlobStore | None = field(default=None, repr=False)


class DerivedBlobs(Protocol):
    """Renditions and waveforms (service/renditions.py) plug into ingest, delete and signed
    URLs through these calls; AudioService works without them (`derived = None`)."""

    async def keys_of(self, rows: Sequence[AudioRow | DoomedObject]) -> list[str]: ...
    async def open_for_row(self, row: AudioRow, params: Mapping[str, str]) -> ContentSource | None: ...
    def signing_params(self, params: Mapping[str, str]) -> dict[str, str]: ...


class AudioService:
    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        store: BlobStore,
        signer: UrlSigner,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.signer = signer
        self.clock = clock
        self.tmp_dir = settings.data_dir / "tmp"
        self.audio_limits = AudioLimits(
            max_duration=settings.max_duration_seconds,
            min_sample_rate=settings.min_sample_rate,
            max_sample_rate=settings.max_sample_rate,
        )
        self.served_rows = ServedRows.for_settings(settings, catalog)
        self.derived: DerivedBlobs | None = None
        self.analysis: UploadAnalysis | None = None

    # --- ingest -----------------------------------------------------------------------
    def stage(self) -> StagedUpload:
        """A fresh staging file for an upload's bytes, with the size limit applied."""
        return StagedUpload(self.tmp_dir, self.settings.max_upload_bytes)

    def _expiry(self, fields_: UploadFields | Mapping[str, Any], now: datetime) -> datetime | None:
        ttl = fields_.ttl_seconds if isinstance(fields_, UploadFields) else fields_.get("ttl_seconds")
        at = fields_.expires_at if isinstance(fields_, UploadFields) else fields_.get("expires_at")
        if ttl is not None and at is not None:
            raise ValidationFailed("Give ttl_seconds or expires_at, not both.")
        if ttl is not None:
            if not 0 < ttl <= MAX_TTL_SECONDS:
                raise ValidationFailed(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}.")
            return now + timedelta(seconds=ttl)
        if at is not None:
            check_aware(at, "expires_at")
            if at <= now:
                raise ValidationFailed("expires_at must be in the future.")
            if at - now > timedelta(seconds=MAX_TTL_SECONDS):
                raise ValidationFailed("expires_at may be at most 100 years ahead.")
            return at.astimezone(UTC)
        return None

    async def ingest(self, staged: StagedUpload, principal: Principal, fields_: UploadFields) -> AudioRow:
        """Turn a staged upload into a ready object, or raise and leave nothing behind."""
        try:
            row = await self._ingest(staged, principal, fields_)
        except BaseException as exc:
            await staged.close()  # aborts an early put and its intent row
            if isinstance(exc, AudiostoreError):
                metrics.UPLOADS.labels(exc.code).inc()
            raise
        metrics.UPLOADS.labels("stored").inc()
        metrics.BYTES_IN.inc(row.size)
        if self.analysis is not None:
            self.analysis.submit(row, staged)  # loudness and ingest renditions, after the 201
        else:
            staged.discard()  # the row stays due: the analysis job measures it from the store
        return row

    def _placement(self, principal: Principal, f: UploadFields, filename: str | None) -> tuple[str, str, str]:
        """Owner, collection and name of a new object: the parts of its blob key."""
        owner = check_key_part(principal.owner_for_new(f.owner), what="owner")
        collection = check_key_part(f.collection or self.settings.default_collection, what="collection")
        return owner, collection, check_name(f.name or filename or "audio")

    def wants_early_put(self, content_length: str | None) -> bool:
        """Whether an upload of this declared length should go to the store while it arrives
        (a store that can stream, and a body of more than one part or of unknown length)."""
        if not isinstance(primary_of(self.store), StreamingPutStore):
            return False
        try:
            return content_length is None or int(content_length) > EARLY_PUT_MIN_BYTES
        except ValueError:
            return False

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
            self.settings.key_template, owner=owner, collection=collection, audio_id=audio_id,
            ext=fmt, created_at=now, name=name,
        )
        if not isinstance(self.store, StreamingPutStore):  # wants_early_put saw to this
            return None
        try:
            writer = self.store.open_writer(key, content_type=content_type_for(fmt))
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
            heartbeat_seconds=self.settings.pending_grace / 4, clock=self.clock,
        )

    async def _ingest(self, staged: StagedUpload, principal: Principal, f: UploadFields) -> AudioRow:
        staged.finish()
        early = staged.early
        now = early.created_at if early is not None else self.clock()
        owner, collection, name = self._placement(principal, f, staged.filename)
        expires_at = self._expiry(f, now) or collection_default_expiry(self.settings, collection, now)
        metadata = check_metadata(f.metadata) if f.metadata is not None else {}
        if f.text is not None:
            check_text(f.text, "text", max_chars=MAX_TEXT_CHARS)
        if f.voice_id is not None:
            check_text(f.voice_id, "voice_id", max_chars=MAX_VOICE_ID_CHARS)

        facts = await self._understand(staged)
        audio_id = early.audio_id if early is not None else str(uuid_utils.uuid7())
        key = build_blob_key(
            self.settings.key_template, owner=owner, collection=collection, audio_id=audio_id,
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
                placed = await self.store.put_file(key, staged.path, content_type=facts.content_type)
        except Exception as exc:
            await self._take_back(audio_id, None)
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

    async def _take_back(self, audio_id: str, key: str | None) -> None:
        """Undo an upload that failed after its intent row: its blob (if it was put), then the
        row. Blob first: a row the catalogue cannot delete now (its disk is full too) then has
        no blob, so the stale-pending job rolls it back rather than finishing an upload whose
        client was told it failed. (A blob the store will not delete now is an orphan that
        `reconcile` finds.)"""
        if key is not None:
            try:
                await self.store.delete_many([key])
            except Exception as exc:  # noqa: BLE001 - see docstring
                log.warning("could not remove the blob %s of a failed upload: %s", key, exc)
        try:
            await self.catalog.delete_rows([audio_id])
        except Exception as exc:  # noqa: BLE001 - the pending row's job rolls it back later
            log.warning("could not remove the intent row of %s; a job rolls it back: %s", audio_id, exc)

    async def _understand(self, staged: StagedUpload) -> AudioFacts:
        if staged.size == 0:
            raise UnsupportedMediaType("The upload is empty.")
        head, tail = staged.read_head_tail(HEAD_BYTES, TAIL_BYTES)
        id3_head = None
        if head[:3] == b"ID3" and len(head) >= 10:
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            id3_head = staged.read_at(10 + size, 64)
        sniffed = sniff(head, tail, id3_skipped_head=id3_head)
        accepted = self.settings.accepted_formats
        if sniffed.format not in accepted and not (sniffed.format == "ogg" and "opus" in accepted):
            raise UnsupportedMediaType(
                f"{sniffed.format} uploads are not accepted here (AUDIOSTORE_ACCEPTED_FORMATS)."
            )
        facts = await anyio.to_thread.run_sync(
            functools.partial(probe, staged.path, sniffed, limits=self.audio_limits)
        )
        if facts.format not in accepted:
            raise UnsupportedMediaType(
                f"{facts.format} uploads are not accepted here (AUDIOSTORE_ACCEPTED_FORMATS)."
            )
        return facts

    # --- read -------------------------------------------------------------------------
    async def get(self, principal: Principal, audio_id: str) -> AudioRow:
        row = await self.catalog.get_visible(audio_id, owner=principal.scope(), now=self.clock())
        if row is None:
            raise NotFound()
        return row

    async def list(
        self,
        principal: Principal,
        *,
        collection: str | None = None,
        prefix: str | None = None,
        name: str | None = None,
        q: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
        owner: str | None = None,
    ) -> Page:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValidationFailed(f"limit must be between 1 and {MAX_LIST_LIMIT}.")
        for moment, field_name in ((created_after, "created_after"), (created_before, "created_before")):
            if moment is not None:
                check_aware(moment, field_name)
        query = ListQuery(
            owner=principal.scope(owner), collection=collection, key_prefix=prefix, name=name,
            text_query=q or None, created_after=created_after, created_before=created_before,
            limit=limit + 1, before_id=decode_cursor(cursor) if cursor else None,
        )
        rows = await self.catalog.list_visible(query, now=self.clock())
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(items=rows, next_cursor=encode_cursor(rows[-1].id) if more and rows else None)

    async def update(self, principal: Principal, audio_id: str, changes: Mapping[str, Any]) -> AudioRow:
        row = await self.get(principal, audio_id)
        now = self.clock()
        values: dict[str, Any] = {}
        if "name" in changes and changes["name"] is not None:
            values["name"] = check_name(changes["name"])
        if "metadata" in changes and changes["metadata"] is not None:
            values["meta"] = check_metadata(changes["metadata"])
        if changes.get("clear_expiry"):
            values["expires_at"] = None
        elif changes.get("ttl_seconds") is not None or changes.get("expires_at") is not None:
            values["expires_at"] = self._expiry(changes, now)
        if not values:
            return row
        values["updated_at"] = now
        await self.catalog.update_audio(audio_id, values)
        for k, v in values.items():
            setattr(row, k, v)
        return row

    # --- delete -----------------------------------------------------------------------
    async def delete(self, principal: Principal, audio_id: str) -> None:
        """Invisible at once; blob then row. If the store is down the row stays `deleting`
        for a job to retry, and the caller still succeeds."""
        row = await self.catalog.mark_deleting(audio_id, owner=principal.scope(), now=self.clock())
        if row is None:
            raise NotFound()
        await self.purge([row])

    async def purge(self, rows: Sequence[AudioRow | DoomedObject]) -> int:
        """Delete blobs, then rows, of objects already marked `deleting`. Returns rows gone."""
        if not rows:
            return 0
        if not await self.delete_blobs_of(rows):
            # The retry job takes them from here, with backoff (jobs/delete_retry.py).
            await JobCatalog(self.catalog).mark_retry_due([r.id for r in rows], now=self.clock())
            return 0
        return await self.catalog.delete_rows([row.id for row in rows])

    async def delete_blobs_of(self, rows: Sequence[AudioRow | DoomedObject]) -> bool:
        """Delete every blob of `rows` (originals, renditions, waveforms) in as few store
        calls as it allows. False (logged) if the store refused: the rows must stay."""
        try:
            keys = [k for row in rows for k in self.blob_keys_of(row)]
            if self.derived is not None:
                keys += await self.derived.keys_of(rows)
            await self.store.delete_many(keys)
        except Exception as exc:  # noqa: BLE001 - any refusal means: keep the rows, retry later
            log.warning("blob delete failed, %d objects stay 'deleting': %s", len(rows), exc)
            return False
        return True

    def blob_keys_of(self, row: AudioRow | DoomedObject) -> builtins.list[str]:
        """Every blob an object owns (original; renditions join here)."""
        return [row.key]

    # --- signed URLs ------------------------------------------------------------------
    def check_expires_in(self, expires_in: int | None) -> int:
        """The lifetime of a URL to sign, in seconds: the default, or `expires_in` within the cap."""
        value = self.settings.url_default_expiry if expires_in is None else expires_in
        if not 1 <= value <= self.settings.url_max_expiry:
            raise ValidationFailed(
                f"expires_in must be between 1 and {self.settings.url_max_expiry} seconds "
                "(AUDIOSTORE_URL_MAX_EXPIRY)."
            )
        return value

    async def sign(
        self, principal: Principal, audio_id: str, *, expires_in: int | None = None,
        params: Mapping[str, str] | None = None,
    ) -> SignedUrl:
        row = await self.get(principal, audio_id)
        canonical = dict(params or {})
        if canonical and self.derived is not None:
            canonical = self.derived.signing_params(canonical)
        return await self._sign_row(row, self.check_expires_in(expires_in), canonical)

    async def sign_many(
        self, principal: Principal, ids: Sequence[str], *, expires_in: int | None = None
    ) -> builtins.list[SignedUrl | str]:
        """One URL per id, in order; an id that is not visible comes back as the bare id."""
        if not ids or len(ids) > MAX_BATCH_URLS:
            raise ValidationFailed(f"ids must hold 1 to {MAX_BATCH_URLS} ids.")
        seconds = self.check_expires_in(expires_in)
        rows = await self.catalog.get_many_signable(ids, owner=principal.scope(), now=self.clock())
        found = [rows[audio_id] for audio_id in ids if audio_id in rows]
        signed = iter(await self._sign_plain(found, seconds))
        return [next(signed) if audio_id in rows else audio_id for audio_id in ids]

    async def sign_rows(self, rows: Sequence[AudioRow], *, expires_in: int | None = None) -> builtins.list[SignedUrl]:
        """A URL for each of `rows`, in order: rows the caller has just been shown (a list page)."""
        return await self._sign_plain(rows, self.check_expires_in(expires_in))

    async def _sign_plain(self, rows: Sequence[Signable], seconds: int) -> builtins.list[SignedUrl]:
        """`_sign_row` without rendition parameters for many rows, the same URLs, with the
        per-URL work cut to the signature: one clock reading, one expiry, one base URL, and
        in direct mode one store call per distinct lifetime."""
        now = self.clock()
        out: builtins.list[SignedUrl | None] = [None] * len(rows)
        if can_sign(self.store) and self.settings.signed_urls == "direct":
            by_lifetime: dict[int, builtins.list[int]] = {}
            for i, row in enumerate(rows):
                if row.location != SPOOL:  # a spooled blob is not in the bucket yet
                    # A presigned URL cannot be revoked: it must end when the object does.
                    lifetime = url_lifetime_within_expiry(row, seconds, now)
                    by_lifetime.setdefault(lifetime, []).append(i)
            for lifetime, indexes in by_lifetime.items():
                urls = await self.store.sign_get_many([rows[i].key for i in indexes], expires_in=lifetime)
                at = now + timedelta(seconds=lifetime)
                for i, url in zip(indexes, urls, strict=True):
                    out[i] = SignedUrl(rows[i].id, url, at)
        expires_at = now + timedelta(seconds=seconds)
        expires = int(expires_at.timestamp())
        base = f"{self.settings.resolved_public_url}/v1/audio/"
        signatures = iter(self.signer.sign_each([r.id for r, done in zip(rows, out) if done is None], expires))
        return [
            done or SignedUrl(
                row.id, f"{base}{row.id}/content?{signed_query({}, expires, next(signatures))}", expires_at
            )
            for row, done in zip(rows, out, strict=True)
        ]

    async def _sign_row(self, row: AudioRow, seconds: int, params: dict[str, str]) -> SignedUrl:
        now = self.clock()
        expires_at = now + timedelta(seconds=seconds)
        if (
            can_sign(self.store)
            and self.settings.signed_urls == "direct"
            and not params
            and row.location != SPOOL  # a spooled blob is not in the bucket yet
        ):
            # A presigned URL cannot be revoked: it must end when the object does. (Service
            # URLs check the object on every request, so they need no such cap.)
            seconds = url_lifetime_within_expiry(row, seconds, now)
            expires_at = now + timedelta(seconds=seconds)
            url = await self.store.sign_get(row.key, expires_in=seconds, filename=row.name)
            return SignedUrl(row.id, url, expires_at)
        expires = int(expires_at.timestamp())
        signature = self.signer.sign(row.id, expires, params)
        query = signed_query(params, expires, signature)
        url = f"{self.settings.resolved_public_url}/v1/audio/{row.id}/content?{query}"
        return SignedUrl(row.id, url, expires_at)

    # --- content ----------------------------------------------------------------------
    async def open_content(self, principal: Principal, audio_id: str) -> ContentSource:
        row = await visible_row(
            self.served_rows, self.catalog, audio_id, owner=principal.scope(), now=self.clock()
        )
        if row is None:
            raise NotFound()
        return await self._content(row, allow_redirect=True)

    async def open_signed_content(
        self, audio_id: str, *, expires: str, signature: str, params: Mapping[str, str]
    ) -> ContentSource:
        try:
            expires_int = int(expires)
        except ValueError as exc:
            raise BadRequest("expires must be an integer.") from exc
        now = self.clock()
        self.signer.verify(audio_id, expires_int, params, signature, now=now.timestamp())
        if params and (self.derived is None or self.derived.signing_params(params) != dict(params)):
            # Only a canonical rendition request is ever signed; anything else that verifies
            # means two readings of one query, and the original must not be the fallback.
            raise SignatureInvalid()
        row = await visible_row(self.served_rows, self.catalog, audio_id, owner=None, now=now)
        if row is None:
            raise NotFound()
        if params and self.derived is not None:
            rendition = await self.derived.open_for_row(row, params)
            if rendition is not None:
                return rendition
        return await self._content(row, allow_redirect=False)

    async def _content(self, row: AudioRow, *, allow_redirect: bool) -> ContentSource:
        common: ContentFields = {
            "row": row, "content_type": row.content_type, "size": row.size,
            "etag": f'"{row.sha256}"', "key": row.key,
        }
        spooled = spooled_path_of(self.store, row.location, row.key)
        if spooled is not None:
            return ContentSource(**common, path=spooled)
        if row.location == SPOOL and not await self._in_primary(row.key):
            raise StorageUnavailable(
                "This audio is still in the fallback spool of the instance that stored it while "
                "the bucket was down; it can be read here once that instance has moved it to "
                "the bucket. Try again later."
            )
        if isinstance(self.store, LocalPathStore):
            return ContentSource(**common, path=self.store.local_path(row.key))
        if allow_redirect and isinstance(self.store, SignCapableStore) and self.settings.signed_urls == "direct":
            url = await self.store.sign_get(row.key, expires_in=300, filename=row.name)
            return ContentSource(**common, redirect_url=url)
        return ContentSource(**common, store=self.store)

    async def _in_primary(self, key: str) -> bool:
        """Whether the primary store holds `key` (a spooled object another instance drained)."""
        try:
            await primary_of(self.store).head(key)
        except (BlobNotFound, BlobStoreUnavailable):
            return False
        return True

    async def blob_exists(self, row: AudioRow) -> bool:
        try:
            await self.store.head(row.key)
        except BlobNotFound:
            return False
        return True
