"""SQL for per-owner client-token revocations (`token_revocations`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from .affected_rows import affected_rows
from .models import TokenRevocationRow
from .sessions import Database


class TokenRevocationCatalog:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def raise_not_before(self, owner: str, before: datetime, *, now: datetime) -> datetime:
        """Refuse `owner`'s tokens issued before `before`; a later moment already set stays.
        Returns the moment now in force."""
        # A concurrent first revocation of the same owner may insert the row between any two
        # of these statements: then the next pass updates it.
        for _ in range(5):
            async with self.database.session() as s:
                result = await s.execute(
                    update(TokenRevocationRow)
                    .where(TokenRevocationRow.owner == owner, TokenRevocationRow.not_before < before)
                    .values(not_before=before, updated_at=now)
                )
                if affected_rows(result):
                    return before
                current = (await s.execute(
                    select(TokenRevocationRow.not_before).where(TokenRevocationRow.owner == owner)
                )).scalar_one_or_none()
            if current is not None:
                if current >= before:
                    return current
                continue  # it appeared after the UPDATE looked: update it now
            try:
                async with self.database.session() as s:
                    s.add(TokenRevocationRow(owner=owner, not_before=before, updated_at=now))
                return before
            except IntegrityError:
                continue
        raise Conflict("The revocation changed concurrently; try again.")

    async def not_before(self, owner: str) -> datetime | None:
        async with self.database.session() as s:
            return (await s.execute(
                select(TokenRevocationRow.not_before).where(TokenRevocationRow.owner == owner)
            )).scalar_one_or_none()

    async def since(self, moment: datetime) -> dict[str, datetime]:
        """Every owner whose `not_before` is later than `moment` (older ones revoke nothing)."""
        async with self.database.session() as s:
            rows = await s.execute(
                select(TokenRevocationRow.owner, TokenRevocationRow.not_before)
                .where(TokenRevocationRow.not_before > moment)
            )
            return {owner: at for owner, at in rows}
