"""SQL for the `derived_blobs` table: renditions and cached waveforms of an object.

Rows go with their object (ON DELETE CASCADE); their blobs go in the deletion lifecycle
(service/deletion.py), which asks `keys_of` for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from .models import DerivedBlobRow
from .sessions import Database


class DerivedBlobCatalog:
    """Rows of `derived_blobs`: one per (audio id, variant)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, audio_id: str, variant: str) -> DerivedBlobRow | None:
        async with self.database.session() as s:
            return await s.get(DerivedBlobRow, (audio_id, variant))

    async def put(self, row: DerivedBlobRow) -> None:
        """Insert, or replace the row for the same (audio id, variant)."""
        try:
            async with self.database.session() as s:
                await s.merge(row)
        except IntegrityError as exc:  # the object was deleted meanwhile (foreign key)
            raise Conflict("The audio was deleted while its rendition was made.") from exc

    async def delete_one(self, audio_id: str, variant: str) -> None:
        async with self.database.session() as s:
            await s.execute(delete(DerivedBlobRow).where(
                DerivedBlobRow.audio_id == audio_id, DerivedBlobRow.variant == variant))

    async def list_for(self, audio_ids: Sequence[str], kind: str | None = None) -> list[DerivedBlobRow]:
        if not audio_ids:
            return []
        if self.database.reads is not None:
            return await self.database.reads.derived_for(audio_ids, kind)
        stmt = select(DerivedBlobRow).where(DerivedBlobRow.audio_id.in_(list(audio_ids)))
        if kind is not None:
            stmt = stmt.where(DerivedBlobRow.kind == kind)
        async with self.database.session() as s:
            return list((await s.execute(stmt.order_by(DerivedBlobRow.created_at))).scalars())

    async def keys_of(self, audio_ids: Sequence[str]) -> list[str]:
        """The blob keys of every derived blob of these objects."""
        if not audio_ids:
            return []
        stmt = select(DerivedBlobRow.key).where(DerivedBlobRow.audio_id.in_(list(audio_ids)))
        async with self.database.session() as s:
            return list((await s.execute(stmt)).scalars())
