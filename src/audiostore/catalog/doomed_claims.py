"""Taking objects that are about to be deleted (the expiry sweep, cleanup), shaped for a purge.

A sweep takes up to 1000 rows at a time, so it asks for what a purge needs and nothing more:
each object's id and blob key and, on PostgreSQL, the keys of its derived blobs (renditions,
waveforms), in the same statement. Two ways to take a batch:

- `lock_doomed` (the sweeps on PostgreSQL): `SELECT id, key, (SELECT array_agg(key) FROM
  derived_blobs ...) FROM audio WHERE <due> LIMIT n FOR UPDATE OF audio SKIP LOCKED`, in a
  transaction that lasts until the rows are deleted. Nothing is written twice.
- `claim_doomed` (SQLite, and anywhere a transaction must not stay open): the rows turn
  `deleting` in one statement. On PostgreSQL

      UPDATE audio SET state = 'deleting', ...
       WHERE id = ANY(ARRAY(SELECT id FROM audio WHERE <due> LIMIT n FOR UPDATE SKIP LOCKED))
         AND <due>
      RETURNING id, key, (SELECT array_agg(key) FROM derived_blobs WHERE audio_id = audio.id)

  where `ARRAY(SELECT ...)` is an InitPlan: run once, then the update is by primary key.
  (`id IN (SELECT ...)` let the planner re-run it per row on freshly loaded tables.) On
  SQLite it is `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING id, key`, atomic under
  its single writer, and the purge looks the derived blobs up itself.

Either way concurrent workers skip each other's locked rows, so no row is taken twice and
none is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ARRAY, ColumnElement, String, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .models import AudioRow, DerivedBlobRow
from .repository import DELETING, Catalog


@dataclass(frozen=True, slots=True)
class DoomedObject:
    """An object a sweep took (claimed, or locked): what a purge needs, and no more.

    `derived_keys` are the keys of its renditions and waveforms when the statement fetched
    them (PostgreSQL), or None when the purge has to look them up.
    """

    id: str
    key: str
    derived_keys: tuple[str, ...] | None = None


async def claim_doomed(
    catalog: Catalog, condition: ColumnElement[bool], *, now: datetime, limit: int
) -> list[DoomedObject]:
    """Up to `limit` rows matching `condition`, now `deleting` and ours (see module doc)."""
    chosen = select(AudioRow.id).where(condition).limit(limit)
    values = {"state": DELETING, "updated_at": now, "next_attempt_at": None, "attempts": 0}
    if catalog.dialect == "postgresql":
        locked = chosen.with_for_update(skip_locked=True).scalar_subquery()
        with_derived = (
            update(AudioRow)
            .where(AudioRow.id == func.any(func.array(locked)), condition)
            .values(**values)
            .returning(AudioRow.id, AudioRow.key, _derived_keys())
        )
        async with catalog.engine.begin() as conn:
            claimed = (await conn.execute(with_derived)).all()
        return [DoomedObject(i, k, tuple(d or ())) for i, k, d in claimed]
    stmt = (
        update(AudioRow)
        .where(AudioRow.id.in_(chosen.scalar_subquery()), condition)
        .values(**values)
        .returning(AudioRow.id, AudioRow.key)
    )
    async with catalog.engine.begin() as conn:
        rows = (await conn.execute(stmt)).all()
    return [DoomedObject(i, k) for i, k in rows]


def _derived_keys() -> ColumnElement[list[str] | None]:
    """The keys of the current `audio` row's derived blobs, as a PostgreSQL array (or NULL)."""
    return (
        select(func.array_agg(DerivedBlobRow.key))
        .where(DerivedBlobRow.audio_id == AudioRow.id)
        .correlate(AudioRow)
        .scalar_subquery()
    )


def _ids_param(ids: Sequence[str]) -> ColumnElement[bool]:
    return AudioRow.id == func.any(bindparam("ids", list(ids), type_=ARRAY(String)))


class LockedBatch:
    """Objects of one sweep batch, row-locked in an open PostgreSQL transaction.

    Nothing is written to the rows until the batch ends, one way or the other:
    `delete_rows` (their blobs are gone) or `hand_to_retry` (the store refused: the rows
    become `deleting`, due for the delete-retry job now). Ending the transaction without
    either (a crash) leaves them `ready` and expired, so still invisible, and the next sweep
    takes them again; deleting a blob twice is harmless.
    """

    def __init__(self, conn: AsyncConnection, objects: list[DoomedObject]) -> None:
        self._conn = conn
        self.objects = objects

    async def delete_rows(self) -> int:
        ids = [o.id for o in self.objects]
        result = await self._conn.execute(delete(AudioRow).where(_ids_param(ids)))
        return result.rowcount or 0

    async def hand_to_retry(self, *, now: datetime) -> None:
        ids = [o.id for o in self.objects]
        await self._conn.execute(
            update(AudioRow)
            .where(_ids_param(ids))
            .values(state=DELETING, updated_at=now, next_attempt_at=now, attempts=0)
        )


@asynccontextmanager
async def lock_doomed(
    catalog: Catalog, condition: ColumnElement[bool], *, limit: int
) -> AsyncIterator[LockedBatch]:
    """PostgreSQL only: lock up to `limit` rows matching `condition` (skipping rows other
    workers hold) with their derived blobs' keys, in one statement; the transaction commits
    when the block exits normally.

    This costs PostgreSQL about a tenth of a claim (`claim_doomed`): a claim's UPDATE writes
    a new version of each row and of each of its index entries, only for the next statement
    to delete it. Held locks cost a connection per batch in flight, and SQLite has one writer,
    so SQLite sweeps claim instead.
    """
    if catalog.dialect != "postgresql":
        raise NotImplementedError("row locks that skip each other need PostgreSQL")
    stmt = (
        select(AudioRow.id, AudioRow.key, _derived_keys())
        .where(condition)
        .limit(limit)
        .with_for_update(skip_locked=True, of=AudioRow)
    )
    async with catalog.engine.begin() as conn:
        rows = (await conn.execute(stmt)).all()
        yield LockedBatch(conn, [DoomedObject(i, k, tuple(d or ())) for i, k, d in rows])
