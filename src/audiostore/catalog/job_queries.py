"""SQL of the maintenance jobs: batch claims, delete-retry backoff, lookups by blob key.

On PostgreSQL a claim is one statement, `UPDATE ... WHERE id = ANY(ARRAY(SELECT id ... LIMIT n
FOR UPDATE SKIP LOCKED)) RETURNING ...`: concurrent workers skip each other's locked rows, so
no row is claimed twice and none is dropped. The expiry sweep and cleanup claim through
`doomed_claims`, which returns only what a purge needs. A claim moves its rows out of
the claimable set (ready -> deleting, or a lease time pushed into the future). On SQLite a
claim is one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING ...`, atomic under its
single writer; SQLite mode is single-instance anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from .affected_rows import affected_rows
from .doomed_claims import DoomedObject, LockedBatch, claim_doomed, lock_doomed
from .models import AudioRow
from .repository import DELETING, PENDING, READY, Catalog

PRIMARY, SPOOL = "primary", "spool"


class JobCatalog:
    """The jobs' queries, on the `Catalog`'s engine and sessions."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def _claim(
        self, condition: ColumnElement[bool], values: dict[str, Any], limit: int
    ) -> list[AudioRow]:
        chosen = select(AudioRow.id).where(condition).limit(limit)
        async with self._catalog._session() as s:
            if self._catalog.dialect == "sqlite":
                # One statement: SQLite takes its write lock (waiting out busy_timeout) before
                # reading, and runs the uncorrelated subquery once.
                target: ColumnElement[bool] = AudioRow.id.in_(chosen.scalar_subquery())
            else:
                # One statement too: `ARRAY(SELECT ...)` is an InitPlan, run once, that locks
                # the batch (skipping rows other workers hold); the update is then by primary
                # key. (`IN (SELECT ...)` let PostgreSQL re-run the subquery per row on fresh
                # tables: quadratic.)
                locked = chosen.with_for_update(skip_locked=True).scalar_subquery()
                target = AudioRow.id == func.any(func.array(locked))
            stmt = (
                update(AudioRow)
                .where(target, condition)  # re-checked: nobody else changed them meanwhile
                .values(**values)
                .returning(AudioRow)
                .execution_options(synchronize_session=False)
            )
            return list((await s.execute(stmt)).scalars())

    # --- claims -----------------------------------------------------------------------
    async def claim_expired(self, *, now: datetime, limit: int) -> list[DoomedObject]:
        """Up to `limit` ready objects whose `expires_at` has passed, now `deleting` and ours."""
        return await claim_doomed(self._catalog, _expired(now), now=now, limit=limit)

    def lock_expired(self, *, now: datetime, limit: int) -> AbstractAsyncContextManager[LockedBatch]:
        """PostgreSQL: up to `limit` expired objects, row-locked for one sweep batch."""
        return lock_doomed(self._catalog, _expired(now), limit=limit)

    async def claim_created_before(
        self, *, cutoff: datetime, now: datetime, limit: int, collection: str | None = None,
        owner: str | None = None,
    ) -> list[DoomedObject]:
        """Up to `limit` ready objects created before `cutoff` (cleanup), now `deleting`."""
        condition = _created_before(cutoff, collection, owner)
        return await claim_doomed(self._catalog, condition, now=now, limit=limit)

    def lock_created_before(
        self, *, cutoff: datetime, limit: int, collection: str | None = None,
        owner: str | None = None,
    ) -> AbstractAsyncContextManager[LockedBatch]:
        """PostgreSQL: up to `limit` objects created before `cutoff`, row-locked for one batch."""
        return lock_doomed(self._catalog, _created_before(cutoff, collection, owner), limit=limit)

    async def claim_due_deletes(
        self, *, now: datetime, stale_before: datetime, lease_until: datetime, limit: int
    ) -> list[AudioRow]:
        """`deleting` rows whose retry is due (or that a crash left unscheduled before
        `stale_before`); their attempt count goes up and they are leased until `lease_until`."""
        condition = and_(
            AudioRow.state == DELETING,
            or_(
                AudioRow.next_attempt_at <= now,
                and_(AudioRow.next_attempt_at.is_(None), AudioRow.updated_at <= stale_before),
            ),
        )
        values = {"attempts": AudioRow.attempts + 1, "next_attempt_at": lease_until}
        return await self._claim(condition, values, limit)

    async def claim_stale_pending(
        self, *, stale_before: datetime, now: datetime, limit: int
    ) -> list[AudioRow]:
        """`pending` rows untouched since `stale_before` (a crash between intent and blob);
        leased by touching `updated_at`."""
        condition = and_(AudioRow.state == PENDING, AudioRow.updated_at <= stale_before)
        return await self._claim(condition, {"updated_at": now}, limit)

    async def claim_analysis_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[AudioRow]:
        """Ready rows whose loudness is still to measure and whose lease has run out; leased
        again until `lease_until` (the analysis clears it when done)."""
        condition = and_(AudioRow.state == READY, AudioRow.analysis_due_at <= now)
        return await self._claim(condition, {"analysis_due_at": lease_until}, limit)

    # --- delete retries ---------------------------------------------------------------
    async def mark_retry_due(self, ids: Sequence[str], *, now: datetime) -> None:
        """A blob delete failed: make unscheduled `deleting` rows due for the retry job now."""
        if not ids:
            return
        async with self._catalog._session() as s:
            await s.execute(
                update(AudioRow)
                .where(
                    AudioRow.id.in_(list(ids)), AudioRow.state == DELETING,
                    AudioRow.next_attempt_at.is_(None),
                )
                .values(next_attempt_at=now)
            )

    async def reschedule(self, rows: Sequence[AudioRow], *, now: datetime, base: float,
                         cap: float) -> None:
        """Back off: the next attempt of each row waits `base * 2**(attempts-1)` s, at most `cap`."""
        if not rows:
            return
        params = [
            {"id": r.id, "next_attempt_at": now + timedelta(seconds=backoff(r.attempts, base, cap))}
            for r in rows
        ]
        async with self._catalog._session() as s:
            await s.execute(update(AudioRow), params)

    # --- lookups ----------------------------------------------------------------------
    async def rows_by_keys(self, keys: Sequence[str]) -> dict[str, AudioRow]:
        if not keys:
            return {}
        async with self._catalog._session() as s:
            stmt = select(AudioRow).where(AudioRow.key.in_(list(keys)))
            return {r.key: r for r in (await s.execute(stmt)).scalars()}

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        async with self._catalog._session() as s:
            stmt = select(AudioRow.id).where(AudioRow.id.in_(list(ids)))
            return set((await s.execute(stmt)).scalars())

    async def move_location(self, key: str, *, source: str, target: str, now: datetime) -> bool:
        """Point a live row at its blob's new home; False if the row is gone or deleting."""
        async with self._catalog._session() as s:
            result = await s.execute(
                update(AudioRow)
                .where(
                    AudioRow.key == key, AudioRow.location == source,
                    AudioRow.state.in_([READY, PENDING]),
                )
                .values(location=target, updated_at=now)
            )
            return bool(affected_rows(result))

    async def finish_pending(self, audio_id: str, *, location: str, now: datetime) -> bool:
        async with self._catalog._session() as s:
            result = await s.execute(
                update(AudioRow)
                .where(AudioRow.id == audio_id, AudioRow.state == PENDING)
                .values(state=READY, location=location, updated_at=now)
            )
            return bool(affected_rows(result))

    async def mark_deleting(self, ids: Sequence[str], *, now: datetime) -> list[AudioRow]:
        """Rows (any state but deleting) turned `deleting`, for the caller to purge."""
        if not ids:
            return []
        stmt = (
            update(AudioRow)
            .where(AudioRow.id.in_(list(ids)), AudioRow.state != DELETING)
            .values(**_deleting(now))
            .returning(AudioRow)
            .execution_options(synchronize_session=False)
        )
        async with self._catalog._session() as s:
            return list((await s.execute(stmt)).scalars())

    async def rows_in_order(
        self, *, created_before: datetime, batch: int = 1000
    ) -> AsyncIterator[list[AudioRow]]:
        """Every ready row created before a time, in id order, `batch` at a time."""
        after = ""
        while True:
            stmt = (
                select(AudioRow)
                .where(AudioRow.state == READY, AudioRow.created_at < created_before,
                       AudioRow.id > after)
                .order_by(AudioRow.id)
                .limit(batch)
            )
            async with self._catalog._session() as s:
                rows = list((await s.execute(stmt)).scalars())
            if not rows:
                return
            yield rows
            after = rows[-1].id

    async def count_ready_since(self, since: datetime) -> int:
        """Ready rows created at or after `since` (those reconcile leaves to their grace)."""
        async with self._catalog._session() as s:
            stmt = select(func.count()).select_from(AudioRow).where(
                AudioRow.state == READY, AudioRow.created_at >= since
            )
            return int((await s.execute(stmt)).scalar_one())

    async def count_location(self, location: str) -> int:
        async with self._catalog._session() as s:
            stmt = select(func.count()).select_from(AudioRow).where(AudioRow.location == location)
            return int((await s.execute(stmt)).scalar_one())

    async def count_state(self, state: str) -> int:
        async with self._catalog._session() as s:
            stmt = select(func.count()).select_from(AudioRow).where(AudioRow.state == state)
            return int((await s.execute(stmt)).scalar_one())


def _expired(now: datetime) -> ColumnElement[bool]:
    return and_(AudioRow.state == READY, AudioRow.expires_at.is_not(None), AudioRow.expires_at <= now)


def _created_before(
    cutoff: datetime, collection: str | None, owner: str | None
) -> ColumnElement[bool]:
    condition = and_(AudioRow.state == READY, AudioRow.created_at < cutoff)
    if collection is not None:
        condition = and_(condition, AudioRow.collection == collection)
    if owner is not None:
        condition = and_(condition, AudioRow.owner == owner)
    return condition


def _deleting(now: datetime) -> dict[str, Any]:
    return {"state": DELETING, "updated_at": now, "next_attempt_at": None, "attempts": 0}


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before retry number `attempts + 1`: doubling from `base`, capped at `cap`."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))
