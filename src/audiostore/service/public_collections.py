"""Public collections: objects, renditions and queue streams that play with no key, for ever.

A collection is public when AUDIOSTORE_PUBLIC_COLLECTIONS names it (`owner/collection`) or it
was made public over the API (stored in the catalogue). Its objects play at
`/v1/public/{owner}/{collection}/{id or name}` with no signature and no expiry, so a link
programmed once into a player keeps working. Only reading is public: listing, upload and
delete still need a key or a client token.

Whether a pair is public is remembered per server for AUDIOSTORE_PUBLIC_CACHE_SECONDS (a
change made on this server at once): a collection made private stops playing on every server
within that bound. A public request reads as a principal limited to reading that one
collection, so the ownership and collection rules of every other read apply unchanged: another
owner's object, an object of another collection, or a queue's items outside the collection
answer 404 (or drop out of the stream).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..blob_keys import check_key_part
from ..catalog import AudioRow
from ..catalog.public_collections import PublicCollectionCatalog
from ..errors import AudiostoreError, ConfigurationError, Conflict, NotFound
from ..settings import ClientAccessSettings
from .audio import AudioService
from .content_source import ContentSource
from .principal import READ, Principal, TokenGrant
from .queues import QueueService, QueueStream
from .served_rows import visible_row

MAX_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class PublicCollection:
    owner: str
    collection: str
    source: str  # "setting" | "api"
    created_at: datetime | None = None


def parse_public_setting(pairs: list[str]) -> frozenset[tuple[str, str]]:
    """AUDIOSTORE_PUBLIC_COLLECTIONS as (owner, collection) pairs; a bad entry stops the start."""
    found = set()
    for pair in pairs:
        owner, slash, collection = pair.partition("/")
        try:
            if not slash:
                raise ValueError
            found.add((check_key_part(owner, what="owner"), check_key_part(collection, what="collection")))
        except (AudiostoreError, ValueError) as exc:
            raise ConfigurationError(
                f"AUDIOSTORE_PUBLIC_COLLECTIONS: {pair!r} is not `owner/collection`."
            ) from exc
    return frozenset(found)


def _looks_like_id(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return len(ref) == 36


class PublicCollections:
    def __init__(
        self, audio: AudioService, queues: QueueService, catalog: PublicCollectionCatalog, *,
        settings: ClientAccessSettings, monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audio = audio
        self.queues = queues
        self.catalog = catalog
        self.settings = settings
        self.from_setting = parse_public_setting(self.settings.public_collections)
        self.cache_seconds = self.settings.public_cache_seconds
        self.monotonic = monotonic
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    # --- which collections ----------------------------------------------------------------
    async def is_public(self, owner: str, collection: str) -> bool:
        pair = (owner, collection)
        if pair in self.from_setting:
            return True
        if self.cache_seconds > 0:
            hit = self._known.get(pair)
            if hit is not None and self.monotonic() - hit[1] < self.cache_seconds:
                return hit[0]
        started = self.monotonic()
        public = await self.catalog.is_public(owner, collection)
        if self.cache_seconds > 0:
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            self._known[pair] = (public, started)
        return public

    async def publish(self, principal: Principal, owner: str, collection: str) -> PublicCollection:
        owner, collection = self._pair(principal, owner, collection)
        if (owner, collection) in self.from_setting:
            return PublicCollection(owner, collection, "setting")
        now = self.audio.clock()
        await self.catalog.add(owner, collection, now=now)  # already public: stays as it was
        self._known.pop((owner, collection), None)
        return PublicCollection(owner, collection, "api", now)

    async def unpublish(self, principal: Principal, owner: str, collection: str) -> None:
        owner, collection = self._pair(principal, owner, collection)
        if (owner, collection) in self.from_setting:
            raise Conflict(
                "This collection is public by AUDIOSTORE_PUBLIC_COLLECTIONS; remove it there."
            )
        removed = await self.catalog.remove(owner, collection)
        self._known.pop((owner, collection), None)
        if not removed:
            raise NotFound("That collection is not public.")

    async def listed(self, principal: Principal, owner: str | None) -> list[PublicCollection]:
        """The public collections of `owner` (admins: of anyone when None)."""
        scope = principal.scope(owner)
        rows = await self.catalog.of_owner(scope)
        out = [PublicCollection(o, c, "setting") for o, c in sorted(self.from_setting)
               if scope is None or o == scope]
        out += [PublicCollection(r.owner, r.collection, "api", r.created_at) for r in rows
                if (r.owner, r.collection) not in self.from_setting]
        return out

    def _pair(self, principal: Principal, owner: str, collection: str) -> tuple[str, str]:
        owner = check_key_part(principal.owner_for_new(owner), what="owner")
        return owner, check_key_part(collection, what="collection")

    # --- reading ----------------------------------------------------------------------------
    def reader(self, owner: str, collection: str) -> Principal:
        """Who a public request reads as: that owner, reading that one collection only."""
        grant = TokenGrant(
            token_id="public", scopes=frozenset({READ}), expires_at=datetime.max.replace(tzinfo=UTC),
            collections=frozenset({collection}),
        )
        return Principal(owner=owner, grant=grant)

    async def _check(self, owner: str, collection: str) -> None:
        try:
            check_key_part(owner, what="owner")
            check_key_part(collection, what="collection")
        except AudiostoreError as exc:
            raise NotFound() from exc
        if not await self.is_public(owner, collection):
            raise NotFound()  # private or unknown: nothing to tell apart

    async def find(self, owner: str, collection: str, ref: str) -> AudioRow:
        """The object `ref` names in a public collection: its id, or else the newest object of
        that name (so re-uploading a name moves its link to the new file)."""
        await self._check(owner, collection)
        now = self.audio.clock()
        if _looks_like_id(ref):
            row = await visible_row(
                self.audio.served_rows, self.audio.catalog, ref, owner=owner, now=now
            )
            if row is not None and row.collection == collection:
                return row
        page = await self.audio.list(self.reader(owner, collection), collection=collection, name=ref, limit=1)
        if not page.items:
            raise NotFound()
        return page.items[0]

    async def open_content(
        self, owner: str, collection: str, ref: str, params: Mapping[str, str]
    ) -> ContentSource:
        return await self.audio.open_keyless(await self.find(owner, collection, ref), params)

    def cache_control(self, source: ContentSource) -> str:
        """`public`, for AUDIOSTORE_PUBLIC_MAX_AGE at most and never past the object's expiry:
        the bound on how long a shared cache may play it after the collection is private."""
        seconds = self.settings.public_max_age
        expires_at = source.row.expires_at
        if expires_at is not None:
            left = expires_at - self.audio.clock()
            seconds = min(seconds, max(0, int(left / timedelta(seconds=1))))
        return f"public, max-age={seconds}"

    async def open_stream(
        self, owner: str, collection: str, name: str, *, mode: str, icy: bool
    ) -> QueueStream:
        """The owner's queue `name`, playing only its items in this public collection; it ends
        at the next item once the collection is private."""
        await self._check(owner, collection)

        async def still_public() -> bool:
            return await self.is_public(owner, collection)

        try:
            return await self.queues.open_stream(
                self.reader(owner, collection), name, mode=mode, icy=icy, gate=still_public
            )
        except Conflict as exc:  # nothing of it in this collection: as if there were no queue
            raise NotFound("No such queue in this public collection.") from exc
