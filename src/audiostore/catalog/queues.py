"""SQL for the `queues` table: named, ordered lists of audio ids, per owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from ..errors import Conflict
from .affected_rows import affected_rows
from .models import QueueRow
from .sessions import Database


class QueueCatalog:
    """Rows of `queues`: unique by (owner, name)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, owner: str, name: str) -> QueueRow | None:
        stmt = select(QueueRow).where(QueueRow.owner == owner, QueueRow.name == name)
        async with self.database.session() as s:
            return (await s.execute(stmt)).scalar_one_or_none()

    async def upsert(self, row: QueueRow, *, now: datetime) -> QueueRow:
        """Create the queue, or replace the ids of the existing one with the same name."""
        for _ in range(2):  # a concurrent create of the same name: the second pass updates
            async with self.database.session() as s:
                result = await s.execute(
                    update(QueueRow)
                    .where(QueueRow.owner == row.owner, QueueRow.name == row.name)
                    .values(audio_ids=row.audio_ids, updated_at=now)
                )
            if affected_rows(result):
                found = await self.get(row.owner, row.name)
                if found is not None:
                    return found
            if await self.database.add(row):
                return row
        raise Conflict("The queue changed concurrently; try again.")

    async def delete(self, owner: str, name: str) -> bool:
        async with self.database.session() as s:
            result = await s.execute(
                delete(QueueRow).where(QueueRow.owner == owner, QueueRow.name == name)
            )
            return bool(affected_rows(result))
