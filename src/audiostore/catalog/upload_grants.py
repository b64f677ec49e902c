"""SQL of signed upload URLs' single use: one row per nonce used, its primary key the lock.

A use inserts the nonce; a second insert of the same nonce fails on every instance that shares
the catalogue (SQLite or PostgreSQL alike), so a URL stores at most one object. A use that
fails (a bad file) deletes its row again: the client may retry with a good one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from .affected_rows import affected_rows
from .models import UploadGrantUseRow
from .sessions import Database

__all__ = ["UploadGrantCatalog", "UploadGrantUseRow"]


class UploadGrantCatalog:
    """One table, `upload_grant_uses` (model in models.py, migration 0011)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim(self, row: UploadGrantUseRow) -> UploadGrantUseRow | None:
        """Record the use; None if it is the first, else the earlier use's row."""
        try:
            async with self.database.session() as s:
                s.add(row)
            return None
        except IntegrityError:
            async with self.database.session() as s:
                earlier = await s.get(UploadGrantUseRow, row.nonce)
            return earlier or row  # deleted meanwhile by a failed first use: still refused now

    async def complete(self, nonce: str, *, audio_id: str | None = None, tus_upload_id: str | None = None) -> None:
        async with self.database.session() as s:
            await s.execute(
                update(UploadGrantUseRow).where(UploadGrantUseRow.nonce == nonce)
                .values(audio_id=audio_id, tus_upload_id=tus_upload_id)
            )

    async def release(self, nonce: str) -> None:
        async with self.database.session() as s:
            await s.execute(delete(UploadGrantUseRow).where(UploadGrantUseRow.nonce == nonce))

    async def get(self, nonce: str) -> UploadGrantUseRow | None:
        async with self.database.session() as s:
            return (await s.execute(
                select(UploadGrantUseRow).where(UploadGrantUseRow.nonce == nonce)
            )).scalar_one_or_none()

    async def delete_expired(self, *, now: datetime) -> int:
        """Forget uses of URLs that have expired anyway (they are refused by their expiry)."""
        async with self.database.session() as s:
            result = await s.execute(delete(UploadGrantUseRow).where(UploadGrantUseRow.expires_at < now))
            return affected_rows(result)
