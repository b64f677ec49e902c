"""SQL for the `api_keys` table: keys stored as the SHA-256 of their secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update

from ..errors import Conflict
from .affected_rows import affected_rows
from .models import ApiKeyRow
from .sessions import Database


class ApiKeyCatalog:
    """Rows of `api_keys`: unique by id and by prefix."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, row: ApiKeyRow) -> None:
        if not await self.database.add(row):
            raise Conflict("API key prefix collision; try again.")

    async def by_prefix(self, prefix: str) -> ApiKeyRow | None:
        async with self.database.session() as s:
            stmt = select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)
            return (await s.execute(stmt)).scalar_one_or_none()

    async def list(self, owner: str | None = None) -> list[ApiKeyRow]:
        stmt = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if owner is not None:
            stmt = stmt.where(ApiKeyRow.owner == owner)
        async with self.database.session() as s:
            return list((await s.execute(stmt)).scalars())

    async def revoke(self, key_id_or_prefix: str, *, now: datetime) -> bool:
        async with self.database.session() as s:
            result = await s.execute(
                update(ApiKeyRow)
                .where(
                    or_(ApiKeyRow.id == key_id_or_prefix, ApiKeyRow.prefix == key_id_or_prefix),
                    ApiKeyRow.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
            return bool(affected_rows(result))

    async def count(self) -> int:
        async with self.database.session() as s:
            return int((await s.execute(select(func.count()).select_from(ApiKeyRow))).scalar_one())
