"""SQL for the collections made public over the API (`public_collections`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from .affected_rows import affected_rows
from .models import PublicCollectionRow
from .sessions import Database


class PublicCollectionCatalog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, owner: str, collection: str, *, now: datetime) -> bool:
        """Make the collection public; False if it already was."""
        try:
            async with self.database.session() as s:
                s.add(PublicCollectionRow(owner=owner, collection=collection, created_at=now))
        except IntegrityError:
            return False
        return True

    async def remove(self, owner: str, collection: str) -> bool:
        """Make it private again; False if it was not public."""
        async with self.database.session() as s:
            result = await s.execute(
                delete(PublicCollectionRow).where(
                    PublicCollectionRow.owner == owner, PublicCollectionRow.collection == collection
                )
            )
            return bool(affected_rows(result))

    async def is_public(self, owner: str, collection: str) -> bool:
        async with self.database.session() as s:
            found = await s.execute(
                select(PublicCollectionRow.owner).where(
                    PublicCollectionRow.owner == owner, PublicCollectionRow.collection == collection
                )
            )
            return found.first() is not None

    async def of_owner(self, owner: str | None) -> list[PublicCollectionRow]:
        stmt = select(PublicCollectionRow).order_by(
            PublicCollectionRow.owner, PublicCollectionRow.collection
        )
        if owner is not None:
            stmt = stmt.where(PublicCollectionRow.owner == owner)
        async with self.database.session() as s:
            return list((await s.execute(stmt)).scalars())
