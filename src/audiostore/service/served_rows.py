"""Catalogue rows of recently served objects, remembered briefly in-process.

Serving bytes from local disk is a hot path: a player seeking through one file sends many
small Range requests, and the catalogue SELECT behind each one (SQLAlchemy + aiosqlite, several
thread round trips) cost more than reading the bytes (see BENCHMARKS.md, "Serving and signing").
So the content routes keep the row they looked up for `AUDIOSTORE_CONTENT_CACHE_SECONDS`.

What keeps this safe:
- every hit re-checks visibility at the current clock: state `ready`, not expired, owner;
- any UPDATE or DELETE this process runs on its catalogue (delete, PATCH, jobs, whatever module
  issues it) clears the whole cache at once, through an engine event, so changes made here are
  seen by the very next request;
- it is used only with the local blob store, where a blob deleted by another process is noticed
  by the `stat` before any byte is sent (404). A change made by another process (another worker,
  `audiostore worker`) to a row's name or expiry is seen within the cache time at worst.
"""

from __future__ import annotations

import time
from datetime import datetime

from ..catalog import READY, AudioRow, Catalog
from ..catalog.row_changes import on_row_changes

MAX_ENTRIES = 10_000


class ServedRows:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.generation = 0  # bumped by every clear: a lookup that raced a write is not kept
        self._rows: dict[str, tuple[AudioRow, float]] = {}

    @classmethod
    def watching(cls, catalog: Catalog, seconds: float) -> ServedRows:
        """A cache cleared by every row-changing statement `catalog`'s engine runs."""
        cache = cls(seconds)
        on_row_changes(catalog.engine, cache.clear)
        return cache

    def get(self, audio_id: str, *, owner: str | None, now: datetime) -> AudioRow | None:
        """The remembered row if it is still fresh and visible to `owner` (None: any owner)."""
        hit = self._rows.get(audio_id)
        if hit is None:
            return None
        row, until = hit
        if until <= time.monotonic():
            del self._rows[audio_id]
            return None
        if row.state != READY or (row.expires_at is not None and row.expires_at <= now):
            return None
        if owner is not None and row.owner != owner:
            return None
        return row

    def put(self, row: AudioRow, generation: int) -> None:
        """Remember `row`, read when `generation` was current, unless a write came since."""
        if generation != self.generation:
            return
        if len(self._rows) >= MAX_ENTRIES:
            self._rows.clear()
        self._rows[row.id] = (row, time.monotonic() + self.seconds)

    def clear(self) -> None:
        self.generation += 1
        self._rows.clear()

    @classmethod
    def for_store(cls, store: str, cache_seconds: float, catalog: Catalog) -> ServedRows | None:
        """The cache the settings ask for (`AUDIOSTORE_STORE`, `AUDIOSTORE_CONTENT_CACHE_SECONDS`):
        local blob store and a positive cache time only."""
        if store != "local" or cache_seconds <= 0:
            return None
        return cls.watching(catalog, cache_seconds)


async def visible_row(
    cache: ServedRows | None, catalog: Catalog, audio_id: str, *, owner: str | None, now: datetime
) -> AudioRow | None:
    """`catalog.get_visible`, answered from `cache` when it holds a fresh, visible row."""
    if cache is None:
        return await catalog.get_visible(audio_id, owner=owner, now=now)
    row = cache.get(audio_id, owner=owner, now=now)
    if row is not None:
        return row
    generation = cache.generation
    row = await catalog.get_visible(audio_id, owner=owner, now=now)
    if row is not None:
        cache.put(row, generation)
    return row
