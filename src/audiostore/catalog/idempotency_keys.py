"""SQL for the `idempotency_keys` table: which upload an owner's `Idempotency-Key` made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from ..errors import Conflict
from .affected_rows import affected_rows
from .models import IdempotencyKeyRow
from .sessions import Database


class IdempotencyKeyCatalog:
    """Rows of `idempotency_keys`: one per (owner, key) while it lives."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def claim(self, row: IdempotencyKeyRow, *, now: datetime) -> IdempotencyKeyRow | None:
        """Insert `row` unless a live row holds (owner, key); returns that live row, or None
        when `row` was inserted. An expired row for the same key is replaced."""
        async with self.database.session() as s:
            await s.execute(
                delete(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.owner == row.owner, IdempotencyKeyRow.key == row.key,
                    IdempotencyKeyRow.expires_at <= now,
                )
            )
        if await self.database.add(row):
            return None
        async with self.database.session() as s:
            stmt = select(IdempotencyKeyRow).where(
                IdempotencyKeyRow.owner == row.owner, IdempotencyKeyRow.key == row.key
            )
            existing = (await s.execute(stmt)).scalar_one_or_none()
        if existing is None:  # released between our insert and this read: try once more
            again = IdempotencyKeyRow(**{c: getattr(row, c) for c in (
                "owner", "key", "fingerprint", "audio_id", "created_at", "expires_at", "stored_at")})
            if await self.database.add(again):
                return None
            raise Conflict("A request with this Idempotency-Key is in progress.")
        return existing

    async def mark_stored(self, owner: str, key: str, audio_id: str, *, now: datetime) -> None:
        """The claim's request stored `audio_id` (a claim a retry has taken over is left alone)."""
        async with self.database.session() as s:
            await s.execute(
                update(IdempotencyKeyRow)
                .where(IdempotencyKeyRow.owner == owner, IdempotencyKeyRow.key == key,
                       IdempotencyKeyRow.audio_id == audio_id)
                .values(stored_at=now)
            )

    async def release(
        self, owner: str, key: str, *, fingerprint: str | None = None, audio_id: str | None = None
    ) -> None:
        """Forget a key (its request failed, or its object is gone); with `audio_id`, only the
        claim of the request that stores that object."""
        stmt = delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.owner == owner, IdempotencyKeyRow.key == key
        )
        if fingerprint is not None:
            stmt = stmt.where(IdempotencyKeyRow.fingerprint == fingerprint)
        if audio_id is not None:
            stmt = stmt.where(IdempotencyKeyRow.audio_id == audio_id)
        async with self.database.session() as s:
            await s.execute(stmt)

    async def delete_expired(self, *, now: datetime) -> int:
        """Delete every expired idempotency row; returns how many went."""
        async with self.database.session() as s:
            result = await s.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.expires_at <= now)
            )
            return affected_rows(result)
