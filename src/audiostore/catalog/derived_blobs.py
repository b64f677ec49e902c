"""SQL for derived blobs (renditions, cached waveforms) and queues: the catalogue's issue-5
tables, kept beside `repository.py` so each module holds one idea.

Both classes reuse the `Catalog`'s engine and sessions; database errors are translated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from .affected_rows import affected_rows
from .models import DerivedBlobRow, QueueRow
from .repository import Catalog


class DerivedBlobCatalog:
    """Rows of `derived_blobs`: one per (audio id, variant)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def get(self, audio_id: str, variant: str) -> DerivedBlobRow | None:
        async with self._catalog._session() as s:
            return await s.get(DerivedBlobRow, (audio_id, variant))

    async def put(self, row: DerivedBlobRow) -> None:
        """Insert, or replace the row for the same (audio id, variant)."""
        try:
            async with self._catalog._session() as s:
                await s.merge(row)
        except IntegrityError as exc:  # the object was deleted meanwhile (foreign key)
            raise Conflict("The audio was deleted while its rendition was made.") from exc

    async def delete_one(self, audio_id: str, variant: str) -> None:
        async with self._catalog._session() as s:
            await s.execute(delete(DerivedBlobRow).where(
                DerivedBlobRow.audio_id == audio_id, DerivedBlobRow.variant == variant))

    async def list_for(self, audio_ids: Sequence[str], kind: str | None = None) -> list[DerivedBlobRow]:
        if not audio_ids:
            return []
        if self._catalog.reads is not None:
            return await self._catalog.reads.derived_for(audio_ids, kind)
        stmt = select(DerivedBlobRow).where(DerivedBlobRow.audio_id.in_(list(audio_ids)))
        if kind is not None:
            stmt = stmt.where(DerivedBlobRow.kind == kind)
        async with self._catalog._session() as s:
            return list((await s.execute(stmt.order_by(DerivedBlobRow.created_at))).scalars())


class QueueCatalog:
    """Rows of `queues`: unique by (owner, name)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def get(self, owner: str, name: str) -> QueueRow | None:
        stmt = select(QueueRow).where(QueueRow.owner == owner, QueueRow.name == name)
        async with self._catalog._session() as s:
            return (await s.execute(stmt)).scalar_one_or_none()

    async def upsert(self, row: QueueRow, *, now: datetime) -> QueueRow:
        """Create the queue, or replace the ids of the existing one with the same name."""
        for _ in range(2):  # a concurrent create of the same name: the second pass updates
            async with self._catalog._session() as s:
                result = await s.execute(
                    update(QueueRow)
                    .where(QueueRow.owner == row.owner, QueueRow.name == row.name)
                    .values(audio_ids=row.audio_ids, updated_at=now)
                )
            if affected_rows(result):
                found = await self.get(row.owner, row.name)
                if found is not None:
                    return found
            try:
                async with self._catalog._session() as s:
                    s.add(row)
                return row
            except IntegrityError:
                continue
        raise Conflict("The queue changed concurrently; try again.")

    async def delete(self, owner: str, name: str) -> bool:
        async with self._catalog._session() as s:
            result = await s.execute(
                delete(QueueRow).where(QueueRow.owner == owner, QueueRow.name == name)
            )
            return bool(affected_rows(result))
