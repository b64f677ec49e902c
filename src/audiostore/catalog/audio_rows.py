"""SQL for the `audio` table: one row per stored object (see `row_states` for its states).

Database errors are translated at this edge: callers see `Conflict`, never a driver exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, String, bindparam, delete, func, select, update

from ..errors import Conflict
from .affected_rows import affected_rows
from .driver_reads import SignableRow, VisibleQuery
from .models import AudioRow
from .row_states import DELETING, PENDING, READY, mark_deleting
from .sessions import Database
from .key_prefix import KEY_COLLATION, key_prefix_range
from .text_search import text_search_clause

# What ingest learns once the whole upload is in (the rest of a row is set when it is made).
_INGEST_FACTS = (
    "owner", "collection", "name", "key", "content_type", "format", "codec", "duration",
    "sample_rate", "channels", "bitrate", "size", "sha256", "meta", "text", "voice_id",
    "expires_at", "updated_at", "analysis_due_at",
)


@dataclass(frozen=True, slots=True)
class ListQuery:
    owner: str | None
    collection: str | None = None
    collections: tuple[str, ...] | None = None  # a client token's limit: any of these
    key_prefix: str | None = None
    name: str | None = None
    text_query: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 50
    before_id: str | None = None


def visible(now: datetime) -> ColumnElement[bool]:
    """Rows a client may see: ready and not expired."""
    return (AudioRow.state == READY) & (
        (AudioRow.expires_at.is_(None)) | (AudioRow.expires_at > now)
    )


def ids_in(dialect: str, ids: Sequence[str]) -> ColumnElement[bool]:
    """`audio.id` is one of `ids`: on PostgreSQL one array parameter rather than one per id
    (a sweep names 1000 rows a statement)."""
    if dialect == "postgresql":
        return AudioRow.id == func.any(bindparam("ids", list(ids), type_=ARRAY(String)))
    return AudioRow.id.in_(list(ids))


class AudioRows:
    """The statements on `audio` rows, one transaction each."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @property
    def dialect(self) -> str:
        return self.database.dialect

    # --- ingest -----------------------------------------------------------------------
    async def insert_audio(self, row: AudioRow) -> None:
        if not await self.database.add(row):
            raise Conflict("An object with this id already exists.")

    async def set_state(self, audio_id: str, state: str, *, now: datetime) -> None:
        async with self.database.session() as s:
            await s.execute(
                update(AudioRow).where(AudioRow.id == audio_id).values(state=state, updated_at=now)
            )

    async def fill_pending(self, row: AudioRow) -> bool:
        """Give an early put's intent row its facts (it stays `pending`). False if it is gone."""
        values = {name: getattr(row, name) for name in _INGEST_FACTS}
        async with self.database.session() as s:
            result = await s.execute(
                update(AudioRow).where(AudioRow.id == row.id, AudioRow.state == PENDING)
                .values(**values)
            )
            return bool(affected_rows(result))

    async def delete_pending(self, audio_id: str) -> None:
        """Remove an intent row whose upload failed (a row that became ready stays)."""
        async with self.database.session() as s:
            await s.execute(delete(AudioRow).where(AudioRow.id == audio_id, AudioRow.state == PENDING))

    async def touch_pending(self, audio_id: str, *, now: datetime) -> None:
        """An upload still arriving: keep its intent row from looking abandoned."""
        async with self.database.session() as s:
            await s.execute(
                update(AudioRow).where(AudioRow.id == audio_id, AudioRow.state == PENDING)
                .values(updated_at=now)
            )

    async def finish_pending(self, audio_id: str, *, location: str, now: datetime) -> bool:
        """A pending row whose blob turned out whole: ready, at `location`. False if gone."""
        async with self.database.session() as s:
            result = await s.execute(
                update(AudioRow)
                .where(AudioRow.id == audio_id, AudioRow.state == PENDING)
                .values(state=READY, location=location, updated_at=now)
            )
            return bool(affected_rows(result))

    # --- read -------------------------------------------------------------------------
    async def get_visible(self, audio_id: str, *, owner: str | None, now: datetime) -> AudioRow | None:
        if self.database.reads is not None:
            return await self.database.reads.get_visible(audio_id, owner=owner, now=now)
        stmt = select(AudioRow).where(AudioRow.id == audio_id, visible(now))
        if owner is not None:
            stmt = stmt.where(AudioRow.owner == owner)
        async with self.database.session() as s:
            return (await s.execute(stmt)).scalar_one_or_none()

    async def get_any(self, audio_id: str) -> AudioRow | None:
        """The row in whatever state (pending, ready, deleting), for the ingest's own records."""
        async with self.database.session() as s:
            return await s.get(AudioRow, audio_id)

    async def get_many_visible(
        self, ids: Sequence[str], *, owner: str | None, now: datetime
    ) -> dict[str, AudioRow]:
        if self.database.reads is not None:
            return await self.database.reads.get_many_visible(ids, owner=owner, now=now)
        stmt = select(AudioRow).where(AudioRow.id.in_(list(ids)), visible(now))
        if owner is not None:
            stmt = stmt.where(AudioRow.owner == owner)
        async with self.database.session() as s:
            return {row.id: row for row in (await s.execute(stmt)).scalars()}

    async def get_many_signable(
        self, ids: Sequence[str], *, owner: str | None, now: datetime
    ) -> dict[str, SignableRow] | dict[str, AudioRow]:
        """`get_many_visible`, reading only what signing needs where the driver reads can."""
        if self.database.reads is not None:
            return await self.database.reads.get_many_signable(ids, owner=owner, now=now)
        return await self.get_many_visible(ids, owner=owner, now=now)

    async def list_visible(self, query: ListQuery, *, now: datetime) -> list[AudioRow]:
        # Searches take text_search.py's SQL, and a client token's collection list the ORM's.
        if self.database.reads is not None and not query.text_query and query.collections is None:
            return await self.database.reads.list_visible(VisibleQuery(
                owner=query.owner, collection=query.collection, name=query.name,
                key_prefix=query.key_prefix, created_after=query.created_after,
                created_before=query.created_before, before_id=query.before_id, limit=query.limit,
            ), now=now)
        stmt = select(AudioRow).where(visible(now))
        # As in driver_reads.list_visible: on PostgreSQL the owner as a range keeps it in the
        # sort key, so an (owner, ...) index serves the page instead of audio_pkey.
        owner_range = (query.owner is not None and self.dialect == "postgresql"
                       and not query.text_query)
        if owner_range:
            stmt = stmt.where(AudioRow.owner >= query.owner, AudioRow.owner <= query.owner)
        elif query.owner is not None:
            stmt = stmt.where(AudioRow.owner == query.owner)
        if query.collection is not None:
            stmt = stmt.where(AudioRow.collection == query.collection)
        if query.collections is not None:
            stmt = stmt.where(AudioRow.collection.in_(query.collections))
        if query.name is not None:
            stmt = stmt.where(AudioRow.name == query.name)
        if query.key_prefix:  # as in driver_reads.list_visible: a byte-wise range
            low, high = key_prefix_range(query.key_prefix)
            postgres = self.dialect == "postgresql"
            key = AudioRow.key.collate(KEY_COLLATION) if postgres else AudioRow.key
            stmt = stmt.where(key >= low)
            if high is not None:
                stmt = stmt.where(key < high)
        if query.created_after is not None:
            stmt = stmt.where(AudioRow.created_at > query.created_after)
        if query.created_before is not None:
            stmt = stmt.where(AudioRow.created_at < query.created_before)
        if query.before_id is not None:
            stmt = stmt.where(AudioRow.id < query.before_id)
        if owner_range:
            stmt = stmt.order_by(AudioRow.owner.desc())
        stmt = stmt.order_by(AudioRow.id.desc()).limit(query.limit)
        async with self.database.session() as s:
            if query.text_query:  # index-backed per dialect (migration 0002)
                stmt = stmt.where(await text_search_clause(s, self.dialect, query.text_query))
            return list((await s.execute(stmt)).scalars())

    async def rows_by_keys(self, keys: Sequence[str]) -> dict[str, AudioRow]:
        if not keys:
            return {}
        async with self.database.session() as s:
            stmt = select(AudioRow).where(AudioRow.key.in_(list(keys)))
            return {r.key: r for r in (await s.execute(stmt)).scalars()}

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        async with self.database.session() as s:
            stmt = select(AudioRow.id).where(AudioRow.id.in_(list(ids)))
            return set((await s.execute(stmt)).scalars())

    async def rows_in_order(
        self, *, created_before: datetime, batch: int = 1000
    ) -> AsyncIterator[list[AudioRow]]:
        """Every ready row created before a time, in id order, `batch` at a time."""
        after = ""
        while True:
            stmt = (
                select(AudioRow)
                .where(AudioRow.state == READY, AudioRow.created_at < created_before,
                       AudioRow.id > after)
                .order_by(AudioRow.id)
                .limit(batch)
            )
            async with self.database.session() as s:
                rows = list((await s.execute(stmt)).scalars())
            if not rows:
                return
            yield rows
            after = rows[-1].id

    async def count_rows(self) -> int:
        async with self.database.session() as s:
            return int((await s.execute(select(func.count()).select_from(AudioRow))).scalar_one())

    async def count_ready_since(self, since: datetime) -> int:
        """Ready rows created at or after `since` (those reconcile leaves to their grace)."""
        async with self.database.session() as s:
            stmt = select(func.count()).select_from(AudioRow).where(
                AudioRow.state == READY, AudioRow.created_at >= since
            )
            return int((await s.execute(stmt)).scalar_one())

    async def count_location(self, location: str) -> int:
        async with self.database.session() as s:
            stmt = select(func.count()).select_from(AudioRow).where(AudioRow.location == location)
            return int((await s.execute(stmt)).scalar_one())

    async def count_state(self, state: str) -> int:
        async with self.database.session() as s:
            stmt = select(func.count()).select_from(AudioRow).where(AudioRow.state == state)
            return int((await s.execute(stmt)).scalar_one())

    # --- change -----------------------------------------------------------------------
    async def update_audio(self, audio_id: str, values: dict[str, Any]) -> None:
        async with self.database.session() as s:
            await s.execute(update(AudioRow).where(AudioRow.id == audio_id).values(**values))

    async def move_location(self, key: str, *, source: str, target: str, now: datetime) -> bool:
        """Point a live row at its blob's new home; False if the row is gone or deleting."""
        async with self.database.session() as s:
            result = await s.execute(
                update(AudioRow)
                .where(
                    AudioRow.key == key, AudioRow.location == source,
                    AudioRow.state.in_([READY, PENDING]),
                )
                .values(location=target, updated_at=now)
            )
            return bool(affected_rows(result))

    # --- delete -----------------------------------------------------------------------
    async def mark_deleting(self, audio_id: str, *, owner: str | None, now: datetime) -> AudioRow | None:
        """Make a visible object invisible at once; returns it, or None if not visible."""
        # One conditional UPDATE ... RETURNING: of concurrent deletes exactly one gets the row
        # (SQLite ignores FOR UPDATE, so a select-then-update let two "win" and one fail).
        where = (AudioRow.id == audio_id) & visible(now)
        if owner is not None:
            where = where & (AudioRow.owner == owner)
        async with self.database.session() as s:
            result = await s.execute(mark_deleting(where, now=now).returning(AudioRow))
            return result.scalar_one_or_none()

    async def mark_deleting_ids(self, ids: Sequence[str], *, now: datetime) -> list[AudioRow]:
        """Rows (any state but deleting) turned `deleting`, for the caller to purge."""
        if not ids:
            return []
        where = AudioRow.id.in_(list(ids)) & (AudioRow.state != DELETING)
        async with self.database.session() as s:
            return list((await s.execute(mark_deleting(where, now=now).returning(AudioRow))).scalars())

    async def mark_retry_due(self, ids: Sequence[str], *, now: datetime) -> None:
        """A blob delete failed: make unscheduled `deleting` rows due for the retry job now."""
        if not ids:
            return
        async with self.database.session() as s:
            await s.execute(
                update(AudioRow)
                .where(
                    AudioRow.id.in_(list(ids)), AudioRow.state == DELETING,
                    AudioRow.next_attempt_at.is_(None),
                )
                .values(next_attempt_at=now)
            )

    async def schedule_retries(self, next_attempts: Mapping[str, datetime]) -> None:
        """Set each row's next delete attempt (the backoff is the service's rule)."""
        if not next_attempts:
            return
        params = [{"id": i, "next_attempt_at": at} for i, at in next_attempts.items()]
        async with self.database.session() as s:
            await s.execute(update(AudioRow), params)

    async def delete_rows(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        stmt = delete(AudioRow).where(ids_in(self.dialect, ids))
        async with self.database.session() as s:
            result = await s.execute(stmt.execution_options(synchronize_session=False))
            return affected_rows(result)
