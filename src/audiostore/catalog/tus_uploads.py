"""SQL of resumable (tus) uploads: the committed offset, and the lease of the one ingest
that stores a finished upload, taken and given back with conditional UPDATEs.

Every change is `UPDATE ... WHERE` the state it expects (the offset the client named, no live
lease, the writer's own token), and its row count says whether it happened. A PATCH's claim
on the upload is the part file's lock (service/tus_parts.py), not a row write; its one write
is `advance`, conditional on the offset it started from, so two PATCHes of one upload, on one
instance or on two sharing a PostgreSQL catalogue, can never both commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from ..errors import Conflict
from .affected_rows import affected_rows
from .models import TusUploadRow
from .sessions import Database

__all__ = [
    "COMPLETE", "CONCATENATING", "FAILED", "FINAL", "PARTIAL", "RECEIVING", "STORED", "STORING",
    "TusUploadCatalog", "TusUploadRow",
]

RECEIVING, STORING, STORED, FAILED = "receiving", "storing", "stored", "failed"
# Concatenation: a partial upload with every byte in waits `complete` (it is never ingested on
# its own) until a final upload claims it (`concatenating`, `writer` the final's claim).
COMPLETE, CONCATENATING = "complete", "concatenating"
PARTIAL, FINAL = "partial", "final"


class _ClaimFailed(Exception):
    """Rolls back a claim of partial uploads that did not get every one of them."""


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(TusUploadRow.writer.is_(None), TusUploadRow.lease_until < now)


class TusUploadCatalog:
    """One table, `tus_uploads` (model in models.py, migration 0011)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def insert(self, row: TusUploadRow) -> None:
        try:
            async with self.database.session() as s:
                s.add(row)
        except IntegrityError as exc:
            raise Conflict("An upload with this id already exists.") from exc

    async def get(self, upload_id: str) -> TusUploadRow | None:
        if self.database.reads is not None:  # every PATCH and HEAD asks: the driver's read
            return await self.database.reads.tus_upload(upload_id)
        async with self.database.session() as s:
            return await s.get(TusUploadRow, upload_id)

    async def _update(self, where: Sequence[ColumnElement[bool]], values: dict[str, Any]) -> bool:
        async with self.database.session() as s:
            result = await s.execute(update(TusUploadRow).where(*where).values(**values))
            return affected_rows(result) == 1

    async def advance(
        self, upload_id: str, *, old_offset: int, new_offset: int, now: datetime,
        values: dict[str, Any],
    ) -> bool:
        """A PATCH's one write: the new offset (and any other `values`: the length, the
        expiry; the state and an ingest lease for the last one), if the upload still receives
        at `old_offset` and no live lease is held on it. False otherwise.

        On the driver's connection where there is one (catalog/driver_reads.py: one statement,
        one thread hop), else on a connection of its own rather than a session: every PATCH
        makes this write, and a session's identity map, transaction bookkeeping and thread hops
        cost more CPU than the UPDATE."""
        if self.database.reads is not None:
            return await self.database.reads.advance_tus_upload(
                upload_id, state=RECEIVING, old_offset=old_offset, new_offset=new_offset,
                lease_free_at=now, values=values)
        stmt = update(TusUploadRow).where(
            TusUploadRow.id == upload_id, TusUploadRow.state == RECEIVING,
            TusUploadRow.offset == old_offset, _lease_free(now),
        ).values(offset=new_offset, **values)
        async with self.database.engine.begin() as conn:
            return affected_rows(await conn.execute(stmt)) == 1

    async def delete(self, upload_id: str) -> None:
        """Remove the row (a refused upload), by the caller that holds its part's lock."""
        async with self.database.session() as s:
            await s.execute(delete(TusUploadRow).where(TusUploadRow.id == upload_id))

    async def release(self, upload_id: str, *, writer: str) -> None:
        await self._update(
            [TusUploadRow.id == upload_id, TusUploadRow.writer == writer],
            {"writer": None, "lease_until": None},
        )

    async def settle(self, upload_id: str, *, writer: str, values: dict[str, Any]) -> bool:
        """The outcome of the ingest that `writer` ran (stored, or failed): lease given back."""
        return await self._update(
            [TusUploadRow.id == upload_id, TusUploadRow.writer == writer],
            {"writer": None, "lease_until": None, **values},
        )

    async def take_for_ingest(self, upload_id: str, *, writer: str, now: datetime, until: datetime) -> bool:
        """Take over an upload whose last byte is in but whose ingest never settled (the
        process that ran it died): its lease ran out."""
        return await self._update(
            [TusUploadRow.id == upload_id, TusUploadRow.state == STORING, _lease_free(now)],
            {"writer": writer, "lease_until": until},
        )

    async def delete_unleased(self, upload_id: str, *, now: datetime) -> bool:
        """Delete the row if no PATCH holds it now (termination). False: busy, or gone."""
        async with self.database.session() as s:
            result = await s.execute(
                delete(TusUploadRow).where(TusUploadRow.id == upload_id, _lease_free(now))
            )
            return affected_rows(result) == 1

    async def expired_ids(self, *, now: datetime, limit: int) -> list[str]:
        async with self.database.session() as s:
            stmt = (
                select(TusUploadRow.id)
                .where(TusUploadRow.expires_at < now, _lease_free(now))
                .order_by(TusUploadRow.expires_at)
                .limit(limit)
            )
            return list((await s.execute(stmt)).scalars())

    async def delete_expired(self, upload_id: str, *, now: datetime) -> bool:
        """Delete one expired, unleased row; True for the one caller (of any instance) whose
        DELETE matched it, and so removes its part."""
        async with self.database.session() as s:
            result = await s.execute(
                delete(TusUploadRow).where(
                    TusUploadRow.id == upload_id, TusUploadRow.expires_at < now, _lease_free(now)
                )
            )
            return affected_rows(result) == 1

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        async with self.database.session() as s:
            stmt = select(TusUploadRow.id).where(TusUploadRow.id.in_(list(ids)))
            return set((await s.execute(stmt)).scalars())

    # --- concatenation ----------------------------------------------------------------
    async def claim_partials_for(
        self, final: TusUploadRow, *, now: datetime, until: datetime
    ) -> bool:
        """Claim every partial upload `final` names and insert `final`, in one transaction;
        False (nothing written) unless every one of them was complete, unexpired and free.

        One conditional UPDATE takes them all: on PostgreSQL a second final upload naming
        any of the same partials waits on their row locks, then finds them `concatenating`
        and matches fewer rows, so its transaction is rolled back. A claim whose final
        upload died (its lease ran out) may be taken over."""
        ids = list(final.concat_parts or [])
        claimable = or_(
            (TusUploadRow.state == COMPLETE) & (TusUploadRow.expires_at > now),
            (TusUploadRow.state == CONCATENATING) & (TusUploadRow.lease_until < now),
        )
        try:
            async with self.database.session() as s:
                # Lock them in one order first, so two claims that overlap wait for each
                # other rather than deadlock (FOR UPDATE is a no-op on SQLite, whose writes
                # are serial anyway).
                await s.execute(
                    select(TusUploadRow.id).where(TusUploadRow.id.in_(ids))
                    .order_by(TusUploadRow.id).with_for_update()
                )
                result = await s.execute(
                    update(TusUploadRow)
                    .where(TusUploadRow.id.in_(ids), TusUploadRow.owner == final.owner,
                           TusUploadRow.concat == PARTIAL, claimable)
                    .values(state=CONCATENATING, writer=final.writer, lease_until=until)
                )
                if affected_rows(result) != len(ids):
                    raise _ClaimFailed()
                s.add(final)
        except _ClaimFailed:
            return False
        except IntegrityError as exc:
            raise Conflict("An upload with this id already exists.") from exc
        return True

    async def release_partials(self, ids: Sequence[str], *, writer: str) -> None:
        """Give back partial uploads `writer` claimed (its final upload was not stored)."""
        await self._update_many(
            [TusUploadRow.id.in_(list(ids)), TusUploadRow.writer == writer],
            {"state": COMPLETE, "writer": None, "lease_until": None},
        )

    async def delete_claimed(self, ids: Sequence[str], *, writer: str) -> int:
        """Delete the rows `writer` holds (the partials of a stored final upload, or a final
        upload that never reached the ingest); how many were deleted."""
        async with self.database.session() as s:
            result = await s.execute(
                delete(TusUploadRow).where(TusUploadRow.id.in_(list(ids)), TusUploadRow.writer == writer)
            )
            return affected_rows(result)

    async def delete_row(self, upload_id: str) -> None:
        async with self.database.session() as s:
            await s.execute(delete(TusUploadRow).where(TusUploadRow.id == upload_id))

    async def _update_many(self, where: Sequence[ColumnElement[bool]], values: dict[str, Any]) -> int:
        async with self.database.session() as s:
            return affected_rows(await s.execute(update(TusUploadRow).where(*where).values(**values)))
