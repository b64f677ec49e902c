"""AudioService: every rule about stored audio, once.

Ownership, limits, key layout, expiry, state transitions and signing decisions live here.
The HTTP routes, the CLI's admin commands and the jobs all call these methods.
"""

from __future__ import annotations

import builtins  # `list` is also a method of AudioService; its annotations mean the type
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypedDict, cast

from ..blob_keys import check_name
from ..blobstores import BlobNotFound, BlobStore, BlobStoreUnavailable
from ..blobstores.spooling import SPOOL, primary_of, spooled_path_of
from ..catalog import AudioRow, Catalog, ListQuery
from ..errors import (
    BadRequest,
    NotFound,
    SignatureInvalid,
    StorageUnavailable,
    ValidationFailed,
)
from ..settings import UrlSettings
from ..signing import EXPIRES_PARAM, SIGNATURE_PARAM, UrlSigner, signed_query
from .content_source import BlobAccess, ContentFields, ContentSource
from .expiry_rules import url_lifetime_within_expiry
from .principal import Principal
from .list_cursor import decode_cursor, encode_cursor
from .metadata_field import check_metadata
from .served_rows import ServedRows, visible_row
from .upload_fields import UploadFields
from .visible_audio import visible_or_not_found

log = logging.getLogger(__name__)

MAX_LIST_LIMIT = 1000
MAX_BATCH_URLS = 1000
MAX_TTL_SECONDS = 100 * 365 * 86400  # beyond this an expiry is a typo (and overflows)
MAX_TEXT_CHARS = 100_000  # an upload's `text` (a transcript, the words spoken)
MAX_VOICE_ID_CHARS = 128  # the catalogue column's width


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


class SignedBatch(NamedTuple):
    """`sign_many`'s answer, one entry per id asked, in order: `urls[i]` and `expires_at[i]`
    are None where `ids[i]` is not visible. (Three lists, not a tuple a URL: a batch of 1000
    makes no object per URL beyond its string; `expires_at` mostly holds one datetime.)"""

    ids: Sequence[str]
    urls: Sequence[str | None]
    expires_at: Sequence[datetime | None]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[AudioRow]
    next_cursor: str | None


class DerivedBlobs(Protocol):
    """Renditions and waveforms (service/renditions.py) plug into signed URLs and signed
    content through these calls; AudioService works without them (`derived=None`)."""

    async def open_for_row(self, row: AudioRow, params: Mapping[str, str]) -> ContentSource | None: ...
    def signing_params(self, params: Mapping[str, str]) -> dict[str, str]: ...


class AudioService:
    def __init__(
        self,
        *,
        settings: UrlSettings,
        public_url: str,
        tmp_dir: Path,
        catalog: Catalog,
        store: BlobStore,
        signer: UrlSigner,
        access: BlobAccess,
        served_rows: ServedRows | None = None,
        derived: DerivedBlobs | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.public_url = public_url  # where signed URLs point (`HttpSettings.resolved_public_url`)
        self.catalog = catalog
        self.store = store
        self.signer = signer
        self.access = access
        self.clock = clock
        self.tmp_dir = tmp_dir
        self.served_rows = served_rows  # None: every content request reads the catalogue
        self.derived = derived

    # --- expiry -----------------------------------------------------------------------
    def expiry_for(self, fields_: UploadFields | Mapping[str, Any], now: datetime) -> datetime | None:
        """When an object asked to live `ttl_seconds`, or until `expires_at`, expires (None:
        no expiry asked for)."""
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

    # --- read -------------------------------------------------------------------------
    async def get(self, principal: Principal, audio_id: str) -> AudioRow:
        return await visible_or_not_found(self.catalog, principal, audio_id, now=self.clock())

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
        if collection is not None:
            principal.require_collection(collection)
        limited = principal.collections
        query = ListQuery(
            owner=principal.scope(owner), collection=collection,
            collections=tuple(sorted(limited)) if limited is not None else None,
            key_prefix=prefix, name=name,
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
            values["expires_at"] = self.expiry_for(changes, now)
        if not values:
            return row
        values["updated_at"] = now
        await self.catalog.update_audio(audio_id, values)
        for k, v in values.items():
            setattr(row, k, v)
        return row

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
    ) -> SignedBatch:
        """One URL per id, in order; an id that is not visible gets none."""
        if not ids or len(ids) > MAX_BATCH_URLS:
            raise ValidationFailed(f"ids must hold 1 to {MAX_BATCH_URLS} ids.")
        seconds = self.check_expires_in(expires_in)
        rows: Mapping[str, Signable]
        if principal.collections is not None:  # a client token: only its collections
            full = await self.catalog.get_many_visible(ids, owner=principal.scope(), now=self.clock())
            rows = {i: r for i, r in full.items() if principal.sees_collection(r.collection)}
        else:  # only what signing needs
            rows = await self.catalog.get_many_signable(ids, owner=principal.scope(), now=self.clock())
        found = [rows[audio_id] for audio_id in ids if audio_id in rows]
        signed_urls, signed_until = await self._sign_plain(found, seconds)
        if len(found) == len(ids):
            return SignedBatch(ids, signed_urls, signed_until)
        urls: builtins.list[str | None] = []
        until: builtins.list[datetime | None] = []
        n = 0
        for audio_id in ids:
            if audio_id in rows:
                urls.append(signed_urls[n])
                until.append(signed_until[n])
                n += 1
            else:
                urls.append(None)
                until.append(None)
        return SignedBatch(ids, urls, until)

    async def sign_rows(self, rows: Sequence[AudioRow], *, expires_in: int | None = None) -> builtins.list[SignedUrl]:
        """A URL for each of `rows`, in order: rows the caller has just been shown (a list page)."""
        urls, until = await self._sign_plain(rows, self.check_expires_in(expires_in))
        return [SignedUrl(row.id, url, at) for row, url, at in zip(rows, urls, until, strict=True)]

    async def _sign_plain(
        self, rows: Sequence[Signable], seconds: int
    ) -> tuple[builtins.list[str], builtins.list[datetime]]:
        """`_sign_row` without rendition parameters for many rows, the same URLs, with the
        per-URL work cut to the signature: one clock reading, one expiry, one base URL, and
        in direct mode one store call per distinct lifetime. Returns each row's URL and end."""
        now = self.clock()
        expires_at = now + timedelta(seconds=seconds)
        urls: builtins.list[str | None] = [None] * len(rows)
        until: builtins.list[datetime] = [expires_at] * len(rows)
        if self.access.direct:
            by_lifetime: dict[int, builtins.list[int]] = {}
            for i, row in enumerate(rows):
                if self.access.presigns(row.location):
                    # A presigned URL cannot be revoked: it must end when the object does.
                    lifetime = url_lifetime_within_expiry(row, seconds, now)
                    by_lifetime.setdefault(lifetime, []).append(i)
            for lifetime, indexes in by_lifetime.items():
                presigned = await self.access.presigned_urls([rows[i].key for i in indexes], seconds=lifetime)
                at = now + timedelta(seconds=lifetime)
                for i, url in zip(indexes, presigned, strict=True):
                    urls[i], until[i] = url, at
        rest = [i for i, url in enumerate(urls) if url is None] if self.access.direct else range(len(rows))
        if rest:
            expires = int(expires_at.timestamp())
            base = f"{self.public_url}/v1/audio/"
            # `signed_query({}, expires, signature)`, spelled out: a signature is URL-safe
            # base64, which the query carries unescaped.
            query = f"/content?{EXPIRES_PARAM}={expires}&{SIGNATURE_PARAM}="
            ids = [rows[i].id for i in rest]
            for i, audio_id, signature in zip(rest, ids, self.signer.sign_each(ids, expires), strict=True):
                urls[i] = f"{base}{audio_id}{query}{signature}"
        return cast(builtins.list[str], urls), until  # every entry is set by now

    async def sign_row(self, row: AudioRow, seconds: int) -> SignedUrl:
        """A URL for `row`, which the caller has just stored or been shown; `seconds` is
        checked already (`check_expires_in`)."""
        return await self._sign_row(row, seconds, {})

    async def _sign_row(self, row: AudioRow, seconds: int, params: dict[str, str]) -> SignedUrl:
        now = self.clock()
        expires_at = now + timedelta(seconds=seconds)
        if not params and self.access.presigns(row.location):
            # A presigned URL cannot be revoked: it must end when the object does. (Service
            # URLs check the object on every request, so they need no such cap.)
            seconds = url_lifetime_within_expiry(row, seconds, now)
            expires_at = now + timedelta(seconds=seconds)
            url = await self.access.presigned_url(row.key, seconds=seconds, filename=row.name)
            return SignedUrl(row.id, url, expires_at)
        expires = int(expires_at.timestamp())
        signature = self.signer.sign(row.id, expires, params)
        query = signed_query(params, expires, signature)
        url = f"{self.public_url}/v1/audio/{row.id}/content?{query}"
        return SignedUrl(row.id, url, expires_at)

    # --- content ----------------------------------------------------------------------
    async def open_content(self, principal: Principal, audio_id: str) -> ContentSource:
        row = await visible_row(
            self.served_rows, self.catalog, audio_id, owner=principal.scope(), now=self.clock()
        )
        if row is None or not principal.sees_collection(row.collection):
            raise NotFound()
        return await self._content(row, allow_redirect=True)

    async def open_signed_content(
        self, audio_id: str, *, expires: str, signature: str, params: Mapping[str, str]
    ) -> ContentSource:
        row = await self.signed_row(audio_id, expires=expires, signature=signature, params=params)
        return await self.open_keyless(row, params)

    async def signed_row(
        self, audio_id: str, *, expires: str, signature: str, params: Mapping[str, str]
    ) -> AudioRow:
        """The visible object a signed URL opens, once its signature and parameters hold."""
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
        return row

    async def open_keyless(self, row: AudioRow, params: Mapping[str, str]) -> ContentSource:
        """The bytes (or the rendition `params` name) of a row opened with no key: by a
        verified signed URL, or in a public collection. Always streamed by the service (no
        redirect), so the answer's caching is the service's to decide."""
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
        if spooled is None and row.location == SPOOL and not await self._in_primary(row.key):
            raise StorageUnavailable(
                "This audio is still in the fallback spool of the instance that stored it while "
                "the bucket was down; it can be read here once that instance has moved it to "
                "the bucket. Try again later."
            )
        return await self.access.source(common, allow_redirect=allow_redirect, local_path=spooled)

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
