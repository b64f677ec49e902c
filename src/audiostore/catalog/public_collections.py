"""SQL for the collections made public over the API (`public_collections`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from .affected_rows import affected_rows
from .models import PublicCollectionRow


class PublicCollectionCatalog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def add(self, owner: str, collection: str, *, now: datetime) -> bool:
        """Make the collection public; False if it already was."""
        try:
            async with self._sessions() as s, s.begin():
                s.add(PublicCollectionRow(owner=owner, collection=collection, created_at=now))
        except IntegrityError:
            return False
        return True

    async def remove(self, owner: str, collection: str) -> bool:
        """Make it private again; False if it was not public."""
        async with self._sessions() as s, s.begin():
            result = await s.execute(
                delete(PublicCollectionRow).where(
                    PublicCollectionRow.owner == owner, PublicCollectionRow.collection == collection
                )
            )
            return bool(affected_rows(result))

    async def is_public(self, owner: str, collection: str) -> bool:
        async with self._sessions() as s:
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
        async with self._sessions() as s:
            return list((await s.execute(stmt)).scalars())
