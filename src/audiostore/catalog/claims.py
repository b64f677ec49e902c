"""Batch claims: how a worker takes rows no other worker takes (the jobs' batches).

A claim is one statement per dialect (`_claimed`):

- PostgreSQL: `UPDATE audio ... WHERE id = ANY(ARRAY(SELECT id FROM audio WHERE <due> LIMIT n
  FOR UPDATE SKIP LOCKED)) AND <due> RETURNING ...`. `ARRAY(SELECT ...)` is an InitPlan, run
  once, that locks the batch (skipping rows other workers hold); the update is then by
  primary key. (`id IN (SELECT ...)` let the planner re-run it per row on fresh tables.)
- SQLite: `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING ...`: SQLite takes its write
  lock (waiting out busy_timeout) before reading and runs the subquery once, atomic under its
  single writer; SQLite mode is single-instance anyway.

A claim moves its rows out of the claimable set (ready -> deleting, or a lease time pushed
into the future), and `<due>` is checked again by the UPDATE, so no row is taken twice and
none is dropped.

Objects about to be deleted (the expiry sweep, cleanup) come as a `DoomedBatch`, shaped for a
purge: each object's id and blob key and, on PostgreSQL, the keys of its derived blobs in the
same statement. Two kinds:

- `ClaimedBatch` (`claim_expired`, `claim_created_before`; SQLite, and anywhere a transaction
  must not stay open): the rows turned `deleting` when claimed.
- `LockedBatch` (`lock_expired`, `lock_created_before`; the sweeps on PostgreSQL):
  `SELECT id, key, (SELECT array_agg(key) FROM derived_blobs ...) FROM audio WHERE <due>
  LIMIT n FOR UPDATE OF audio SKIP LOCKED`, in a transaction that lasts until the rows are
  deleted. Nothing is written twice. This costs PostgreSQL about a tenth of a claim: a
  claim's UPDATE writes a new version of each row and of each of its index entries, only
  for the next statement to delete it. Held locks cost a connection per batch in flight.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .affected_rows import affected_rows
from .audio_rows import AudioRows, ids_in
from .models import AudioRow, DerivedBlobRow
from .row_states import DELETING, PENDING, READY, mark_deleting
from .sessions import Database


@dataclass(frozen=True, slots=True)
class DoomedObject:
    """An object about to be purged: what a purge needs, and no more.

    `derived_keys` are the keys of its renditions and waveforms when the statement fetched
    them (PostgreSQL), or None when the purge has to look them up.
    """

    id: str
    key: str
    derived_keys: tuple[str, ...] | None = None

    @classmethod
    def of(cls, row: AudioRow) -> DoomedObject:
        return cls(row.id, row.key)


class DoomedBatch(Protocol):
    """Objects taken for a purge, and the two ways their rows can end."""

    @property
    def objects(self) -> Sequence[DoomedObject]: ...

    async def delete_rows(self) -> int:
        """Their blobs are gone: delete the rows. Returns how many went."""
        ...

    async def hand_to_retry(self, *, now: datetime) -> None:
        """The store refused: the rows stay `deleting`, due for the delete-retry job."""
        ...


class ClaimedBatch:
    """Rows already `deleting` (committed): a claim, a client's delete, a rolled-back upload."""

    def __init__(self, rows: AudioRows, objects: Sequence[DoomedObject]) -> None:
        self._rows = rows
        self.objects = list(objects)

    async def delete_rows(self) -> int:
        return await self._rows.delete_rows([o.id for o in self.objects])

    async def hand_to_retry(self, *, now: datetime) -> None:
        await self._rows.mark_retry_due([o.id for o in self.objects], now=now)


class LockedBatch:
    """Objects of one sweep batch, row-locked in an open PostgreSQL transaction.

    Nothing is written to the rows until the batch ends, one way or the other. Ending the
    transaction without either (a crash) leaves them `ready` and expired, so still
    invisible, and the next sweep takes them again; deleting a blob twice is harmless.
    """

    def __init__(self, session: AsyncSession, objects: list[DoomedObject]) -> None:
        self._session = session
        self.objects = objects

    async def delete_rows(self) -> int:
        ids = [o.id for o in self.objects]
        stmt = delete(AudioRow).where(ids_in("postgresql", ids))
        return affected_rows(await self._session.execute(stmt.execution_options(synchronize_session=False)))

    async def hand_to_retry(self, *, now: datetime) -> None:
        ids = [o.id for o in self.objects]
        await self._session.execute(mark_deleting(ids_in("postgresql", ids), now=now, retry_at=now))


def _claimed(dialect: str, condition: ColumnElement[bool], limit: int) -> ColumnElement[bool]:
    """The claim: up to `limit` rows matching `condition`, that no other worker holds."""
    chosen = select(AudioRow.id).where(condition).limit(limit)
    if dialect == "postgresql":
        locked = chosen.with_for_update(skip_locked=True).scalar_subquery()
        return AudioRow.id == func.any(func.array(locked))
    return AudioRow.id.in_(chosen.scalar_subquery())


def _derived_keys() -> ColumnElement[list[str] | None]:
    """The keys of the current `audio` row's derived blobs, as a PostgreSQL array (or NULL)."""
    return (
        select(func.array_agg(DerivedBlobRow.key))
        .where(DerivedBlobRow.audio_id == AudioRow.id)
        .correlate(AudioRow)
        .scalar_subquery()
    )


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


class Claims:
    """The jobs' claims, on the catalogue's database."""

    def __init__(self, database: Database, rows: AudioRows) -> None:
        self.database = database
        self._rows = rows

    async def _lease(
        self, condition: ColumnElement[bool], values: dict[str, Any], limit: int
    ) -> list[AudioRow]:
        stmt = (
            update(AudioRow)
            .where(_claimed(self.database.dialect, condition, limit), condition)
            .values(**values)
            .returning(AudioRow)
            .execution_options(synchronize_session=False)
        )
        async with self.database.session() as s:
            return list((await s.execute(stmt)).scalars())

    # --- doomed batches ---------------------------------------------------------------
    async def _claim_doomed(
        self, condition: ColumnElement[bool], *, now: datetime, limit: int
    ) -> ClaimedBatch:
        """Up to `limit` rows matching `condition`, now `deleting` and ours."""
        dialect = self.database.dialect
        stmt = mark_deleting(and_(_claimed(dialect, condition, limit), condition), now=now)
        async with self.database.session() as s:
            if dialect == "postgresql":
                with_derived = stmt.returning(AudioRow.id, AudioRow.key, _derived_keys())
                objects = [DoomedObject(i, k, tuple(d or ())) for i, k, d in await s.execute(with_derived)]
            else:  # SQLite has no array_agg: the purge looks the derived blobs up itself
                plain = stmt.returning(AudioRow.id, AudioRow.key)
                objects = [DoomedObject(i, k) for i, k in await s.execute(plain)]
        return ClaimedBatch(self._rows, objects)

    @asynccontextmanager
    async def _lock_doomed(
        self, condition: ColumnElement[bool], *, limit: int
    ) -> AsyncIterator[LockedBatch]:
        """PostgreSQL only: lock up to `limit` rows matching `condition` (skipping rows other
        workers hold) with their derived blobs' keys, in one statement; the transaction
        commits when the block exits normally. SQLite has one writer, so it claims instead."""
        if self.database.dialect != "postgresql":
            raise NotImplementedError("row locks that skip each other need PostgreSQL")
        stmt = (
            select(AudioRow.id, AudioRow.key, _derived_keys())
            .where(condition)
            .limit(limit)
            .with_for_update(skip_locked=True, of=AudioRow)
        )
        async with self.database.session() as s:
            rows = (await s.execute(stmt)).all()
            yield LockedBatch(s, [DoomedObject(i, k, tuple(d or ())) for i, k, d in rows])

    async def claim_expired(self, *, now: datetime, limit: int) -> ClaimedBatch:
        """Up to `limit` ready objects whose `expires_at` has passed, now `deleting` and ours."""
        return await self._claim_doomed(_expired(now), now=now, limit=limit)

    def lock_expired(self, *, now: datetime, limit: int) -> AbstractAsyncContextManager[LockedBatch]:
        """PostgreSQL: up to `limit` expired objects, row-locked for one sweep batch."""
        return self._lock_doomed(_expired(now), limit=limit)

    async def claim_created_before(
        self, *, cutoff: datetime, now: datetime, limit: int, collection: str | None = None,
        owner: str | None = None,
    ) -> ClaimedBatch:
        """Up to `limit` ready objects created before `cutoff` (cleanup), now `deleting`."""
        condition = _created_before(cutoff, collection, owner)
        return await self._claim_doomed(condition, now=now, limit=limit)

    def lock_created_before(
        self, *, cutoff: datetime, limit: int, collection: str | None = None,
        owner: str | None = None,
    ) -> AbstractAsyncContextManager[LockedBatch]:
        """PostgreSQL: up to `limit` objects created before `cutoff`, row-locked for one batch."""
        return self._lock_doomed(_created_before(cutoff, collection, owner), limit=limit)

    # --- leases -----------------------------------------------------------------------
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
        return await self._lease(condition, values, limit)

    async def claim_stale_pending(
        self, *, stale_before: datetime, now: datetime, limit: int
    ) -> list[AudioRow]:
        """`pending` rows untouched since `stale_before` (a crash between intent and blob);
        leased by touching `updated_at`."""
        condition = and_(AudioRow.state == PENDING, AudioRow.updated_at <= stale_before)
        return await self._lease(condition, {"updated_at": now}, limit)

    async def claim_analysis_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[AudioRow]:
        """Ready rows whose loudness is still to measure and whose lease has run out; leased
        again until `lease_until` (the analysis clears it when done)."""
        condition = and_(AudioRow.state == READY, AudioRow.analysis_due_at <= now)
        return await self._lease(condition, {"analysis_due_at": lease_until}, limit)
