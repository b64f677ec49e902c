"""The catalogue: every SQL statement audiostore runs lives here.

Database errors are translated at this edge: callers see `NotFound`/`Conflict`, never a
driver exception.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..errors import Conflict
from .affected_rows import affected_rows
from .driver_reads import DriverReads, SignableRow, VisibleQuery
from .models import ApiKeyRow, AudioRow, IdempotencyKeyRow
from .text_search import text_search_clause

READY, PENDING, DELETING = "ready", "pending", "deleting"
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
    key_prefix: str | None = None
    name: str | None = None
    text_query: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = 50
    before_id: str | None = None


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Catalog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # The hot routes' reads, without a session (driver_reads.py); None: all on the ORM.
        self.reads = DriverReads.for_engine(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        if self.reads is not None:
            await self.reads.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        if self.reads is not None:
            return await self.reads.ping()
        async with self._session() as s:
            await s.execute(select(1))

    # --- audio ------------------------------------------------------------------------
    async def insert_audio(self, row: AudioRow) -> None:
        try:
            async with self._session() as s:
                s.add(row)
        except IntegrityError as exc:
            raise Conflict("An object with this id already exists.") from exc

    async def set_state(self, audio_id: str, state: str, *, now: datetime) -> None:
        async with self._session() as s:
            await s.execute(
                update(AudioRow).where(AudioRow.id == audio_id).values(state=state, updated_at=now)
            )

    def _visible(self, now: datetime) -> Any:
        return (AudioRow.state == READY) & (
            (AudioRow.expires_at.is_(None)) | (AudioRow.expires_at > now)
        )

    async def get_visible(self, audio_id: str, *, owner: str | None, now: datetime) -> AudioRow | None:
        if self.reads is not None:
            return await self.reads.get_visible(audio_id, owner=owner, now=now)
        stmt = select(AudioRow).where(AudioRow.id == audio_id, self._visible(now))
        if owner is not None:
            stmt = stmt.where(AudioRow.owner == owner)
        async with self._session() as s:
            return (await s.execute(stmt)).scalar_one_or_none()

    async def get_many_visible(
        self, ids: Sequence[str], *, owner: str | None, now: datetime
    ) -> dict[str, AudioRow]:
        if self.reads is not None:
            return await self.reads.get_many_visible(ids, owner=owner, now=now)
        stmt = select(AudioRow).where(AudioRow.id.in_(list(ids)), self._visible(now))
        if owner is not None:
            stmt = stmt.where(AudioRow.owner == owner)
        async with self._session() as s:
            return {row.id: row for row in (await s.execute(stmt)).scalars()}

    async def get_many_signable(
        self, ids: Sequence[str], *, owner: str | None, now: datetime
    ) -> dict[str, SignableRow] | dict[str, AudioRow]:
        """`get_many_visible`, reading only what signing needs where the driver reads can."""
        if self.reads is not None:
            return await self.reads.get_many_signable(ids, owner=owner, now=now)
        return await self.get_many_visible(ids, owner=owner, now=now)

    async def list_visible(self, query: ListQuery, *, now: datetime) -> list[AudioRow]:
        if self.reads is not None and not query.text_query:  # searches: text_search.py's SQL
            return await self.reads.list_visible(VisibleQuery(
                owner=query.owner, collection=query.collection, name=query.name,
                key_prefix=query.key_prefix, created_after=query.created_after,
                created_before=query.created_before, before_id=query.before_id, limit=query.limit,
            ), now=now)
        stmt = select(AudioRow).where(self._visible(now))
        if query.owner is not None:
            stmt = stmt.where(AudioRow.owner == query.owner)
        if query.collection is not None:
            stmt = stmt.where(AudioRow.collection == query.collection)
        if query.name is not None:
            stmt = stmt.where(AudioRow.name == query.name)
        if query.key_prefix:
            stmt = stmt.where(AudioRow.key.like(_like_escape(query.key_prefix) + "%", escape="\\"))
        if query.created_after is not None:
            stmt = stmt.where(AudioRow.created_at > query.created_after)
        if query.created_before is not None:
            stmt = stmt.where(AudioRow.created_at < query.created_before)
        if query.before_id is not None:
            stmt = stmt.where(AudioRow.id < query.before_id)
        stmt = stmt.order_by(AudioRow.id.desc()).limit(query.limit)
        async with self._session() as s:
            if query.text_query:  # index-backed per dialect (migration 0002)
                stmt = stmt.where(await text_search_clause(s, self.dialect, query.text_query))
            return list((await s.execute(stmt)).scalars())

    async def update_audio(self, audio_id: str, values: dict[str, Any]) -> None:
        async with self._session() as s:
            await s.execute(update(AudioRow).where(AudioRow.id == audio_id).values(**values))

    async def mark_deleting(self, audio_id: str, *, owner: str | None, now: datetime) -> AudioRow | None:
        """Make a visible object invisible at once; returns it, or None if not visible."""
        # One conditional UPDATE ... RETURNING: of concurrent deletes exactly one gets the row
        # (SQLite ignores FOR UPDATE, so a select-then-update let two "win" and one fail).
        stmt = update(AudioRow).where(AudioRow.id == audio_id, self._visible(now))
        if owner is not None:
            stmt = stmt.where(AudioRow.owner == owner)
        stmt = stmt.values(state=DELETING, updated_at=now).returning(AudioRow)
        async with self._session() as s:
            result = await s.execute(stmt.execution_options(synchronize_session=False))
            return result.scalar_one_or_none()

    async def delete_rows(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        if self.dialect == "postgresql":
            # One array parameter rather than one per id: a sweep deletes 1000 rows a call.
            target = AudioRow.id == func.any(bindparam("ids", list(ids), type_=ARRAY(String)))
        else:
            target = AudioRow.id.in_(list(ids))
        stmt = delete(AudioRow).where(target).execution_options(synchronize_session=False)
        async with self._session() as s:
            result = await s.execute(stmt)
            return affected_rows(result)

    async def fill_pending(self, row: AudioRow) -> bool:
        """Give an early put's intent row its facts (it stays `pending`). False if it is gone."""
        values = {name: getattr(row, name) for name in _INGEST_FACTS}
        async with self._session() as s:
            result = await s.execute(
                update(AudioRow).where(AudioRow.id == row.id, AudioRow.state == PENDING)
                .values(**values)
            )
            return bool(affected_rows(result))

    async def delete_pending(self, audio_id: str) -> None:
        """Remove an intent row whose upload failed (a row that became ready stays)."""
        async with self._session() as s:
            await s.execute(delete(AudioRow).where(AudioRow.id == audio_id, AudioRow.state == PENDING))

    async def touch_pending(self, audio_id: str, *, now: datetime) -> None:
        """An upload still arriving: keep its intent row from looking abandoned."""
        async with self._session() as s:
            await s.execute(
                update(AudioRow).where(AudioRow.id == audio_id, AudioRow.state == PENDING)
                .values(updated_at=now)
            )

    async def count_rows(self) -> int:
        async with self._session() as s:
            return int((await s.execute(select(func.count()).select_from(AudioRow))).scalar_one())

    # --- api keys ---------------------------------------------------------------------
    async def insert_api_key(self, row: ApiKeyRow) -> None:
        try:
            async with self._session() as s:
                s.add(row)
        except IntegrityError as exc:
            raise Conflict("API key prefix collision; try again.") from exc

    async def api_key_by_prefix(self, prefix: str) -> ApiKeyRow | None:
        async with self._session() as s:
            stmt = select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def list_api_keys(self, owner: str | None = None) -> list[ApiKeyRow]:
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if owner is not None:
            stmt = stmt.where(ApiKeyRow.owner == owner)
        async with self._session() as s:
            return list((await s.execute(stmt)).scalars())

    async def revoke_api_key(self, key_id_or_prefix: str, *, now: datetime) -> bool:
        async with self._session() as s:
            result = await s.execute(
                update(ApiKeyRow)
                .where(
                    or_(ApiKeyRow.id == key_id_or_prefix, ApiKeyRow.prefix == key_id_or_prefix),
                    ApiKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            return bool(affected_rows(result))

    async def count_api_keys(self) -> int:
        async with self._session() as s:
            return int((await s.execute(select(func.count()).select_from(ApiKeyRow))).scalar_one())

    # --- idempotency keys (issue 7) ---------------------------------------------------
    async def claim_idempotency_key(self, row: IdempotencyKeyRow, *, now: datetime) -> IdempotencyKeyRow | None:
        """Insert `row` unless a live row holds (owner, key); returns that live row, or None
        when `row` was inserted. An expired row for the same key is replaced."""
        async with self._session() as s:
            await s.execute(
                delete(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.owner == row.owner, IdempotencyKeyRow.key == row.key,
                    IdempotencyKeyRow.expires_at <= now,
                )
            )
        try:
            async with self._session() as s:
                s.add(row)
            return None
        except IntegrityError:
            pass
        async with self._session() as s:
            stmt = select(IdempotencyKeyRow).where(
                IdempotencyKeyRow.owner == row.owner, IdempotencyKeyRow.key == row.key
            )
            existing = (await s.execute(stmt)).scalar_one_or_none()
        if existing is None:  # released between our insert and this read: try once more
            try:
                async with self._session() as s:
                    s.add(IdempotencyKeyRow(**{c: getattr(row, c) for c in (
                        "owner", "key", "fingerprint", "audio_id", "created_at", "expires_at")}))
                return None
            except IntegrityError as exc:
                raise Conflict("A request with this Idempotency-Key is in progress.") from exc
        return existing

    async def complete_idempotency_key(self, owner: str, key: str, audio_id: str) -> None:
        async with self._session() as s:
            await s.execute(
                update(IdempotencyKeyRow)
                .where(IdempotencyKeyRow.owner == owner, IdempotencyKeyRow.key == key)
                .values(audio_id=audio_id)
            )

    async def release_idempotency_key(self, owner: str, key: str, *, fingerprint: str | None = None) -> None:
        """Forget a key (its request failed, or its object is gone)."""
        stmt = delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.owner == owner, IdempotencyKeyRow.key == key
        )
        if fingerprint is not None:
            stmt = stmt.where(IdempotencyKeyRow.fingerprint == fingerprint)
        async with self._session() as s:
            await s.execute(stmt)

    async def delete_expired_idempotency_keys(self, *, now: datetime) -> int:
        """Delete every expired idempotency row; returns how many went."""
        async with self._session() as s:
            result = await s.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
            )
            return affected_rows(result)
