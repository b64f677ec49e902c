"""The deletion lifecycle: how an object stops existing, whoever asks.

An object becomes invisible first (its row turns `deleting`, or is row-locked by a sweep),
then every blob it owns goes (original, renditions, waveforms) in as few store calls as the
store allows, then its row. If the store refuses, the row stays `deleting` and `retry_due`
tries again later, backing off; a crash anywhere leaves a row that a later run finishes, and
deleting a blob twice is harmless. The units:

- `delete`: a client's delete (invisible at once; the caller succeeds even if the store is down).
- `sweep_expired`, `clean_up`: the expiry sweep and on-demand cleanup, batch by batch.
- `retry_due`: the `deleting` rows whose retry is due.
- `roll_back`: objects that must go whatever their state (a failed upload, a missing blob).
- `purge`: the one rule all of them end in.

Each returns counts; the jobs (jobs/*.py) only call these and report them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from ..blobstores import BlobStore
from ..catalog import AudioRow, Catalog
from ..catalog.claims import ClaimedBatch, DoomedBatch, DoomedObject, LockedBatch
from ..errors import NotFound
from .principal import Principal

log = logging.getLogger(__name__)

# A row marked `deleting` whose delete never reported back (the process died) is picked up
# after this long; a failed delete is due at once and then backs off.
STALE_DELETING_SECONDS = 300
# While one worker retries a batch, others leave it alone this long.
LEASE_SECONDS = 300
# Sweep batches in flight at once on PostgreSQL (each holds a connection while its blobs go).
# The store's delete calls dominate a sweep, and SeaweedFS works through one DeleteObjects key
# by key, so several side by side go faster (2 cores, a whole sweep: 4 lanes 139-144 us an
# object, 8 lanes 120-129, 12-16 no better). SQLite has one writer: one lane is all that helps.
PARALLEL_BATCHES = 8


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before retry number `attempts + 1`: doubling from `base`, capped at `cap`."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True, slots=True)
class Purged:
    """What one unit took (`taken`: now invisible, ours to delete) and how many of those are
    gone (`deleted`); the rest wait for the delete-retry job."""

    taken: int = 0
    deleted: int = 0

    @property
    def left_for_retry(self) -> int:
        return self.taken - self.deleted

    def __add__(self, other: Purged) -> Purged:
        return Purged(self.taken + other.taken, self.deleted + other.deleted)


Claim = Callable[[int], Awaitable[ClaimedBatch]]
Lock = Callable[[int], AbstractAsyncContextManager[LockedBatch]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Deletion:
    catalog: Catalog
    store: BlobStore
    clock: Callable[[], datetime]
    batch_size: int  # rows a claim or a sweep batch takes (AUDIOSTORE_SWEEP_BATCH_SIZE)
    retry_base: float  # the first wait after a refused delete, doubling (AUDIOSTORE_DELETE_RETRY_BASE)
    retry_max: float  # the longest wait (AUDIOSTORE_DELETE_RETRY_MAX)

    # --- the rule ---------------------------------------------------------------------
    async def purge(self, batch: DoomedBatch) -> int:
        """Every blob of the batch's objects, then their rows. Returns the rows deleted: 0
        when the store refused and the rows went to the delete-retry job."""
        if not batch.objects:
            return 0
        if not await self._delete_blobs_of(batch.objects):
            await batch.hand_to_retry(now=self.clock())
            return 0
        return await batch.delete_rows()

    async def purge_rows(self, rows: Sequence[AudioRow]) -> int:
        """`purge` for rows already marked `deleting`."""
        return await self.purge(ClaimedBatch(self.catalog, [DoomedObject.of(r) for r in rows]))

    async def _delete_blobs_of(self, objects: Sequence[DoomedObject]) -> bool:
        """False (logged) if the store refused: the rows must stay."""
        try:
            keys = [o.key for o in objects]
            keys += [k for o in objects if o.derived_keys is not None for k in o.derived_keys]
            unknown = [o.id for o in objects if o.derived_keys is None]
            keys += await self.catalog.derived_blobs.keys_of(unknown)
            await self.store.delete_many(keys)
        except Exception as exc:  # noqa: BLE001 - any refusal means: keep the rows, retry later
            log.warning("blob delete failed, %d objects stay 'deleting': %s", len(objects), exc)
            return False
        return True

    # --- the units --------------------------------------------------------------------
    async def delete(self, principal: Principal, audio_id: str) -> None:
        """Invisible at once; blob then row. If the store is down the row stays `deleting`
        for the retry job, and the caller still succeeds."""
        if principal.collections is not None:  # a client token: 404 outside its collections
            seen = await self.catalog.get_visible(audio_id, owner=principal.scope(), now=self.clock())
            if seen is None or not principal.sees_collection(seen.collection):
                raise NotFound()
        row = await self.catalog.mark_deleting(audio_id, owner=principal.scope(), now=self.clock())
        if row is None:
            raise NotFound()
        await self.purge_rows([row])

    async def roll_back(self, ids: Sequence[str]) -> Purged:
        """Delete these objects whatever their state but `deleting` (a pending upload that
        never completed, a ready row whose blob is lost)."""
        doomed = await self.catalog.mark_deleting_ids(ids, now=self.clock())
        return Purged(len(doomed), await self.purge_rows(doomed))

    async def retry_due(self) -> Purged:
        """Retry the blob deletes that are due; a batch the store still refuses backs off
        (`backoff`) and ends the run."""
        total = Purged()
        while True:
            now = self.clock()
            rows = await self.catalog.claims.claim_due_deletes(
                now=now, stale_before=now - timedelta(seconds=STALE_DELETING_SECONDS),
                lease_until=now + timedelta(seconds=LEASE_SECONDS), limit=self.batch_size,
            )
            if not rows:
                return total
            gone = await self.purge_rows(rows)
            total += Purged(len(rows), gone)
            if gone < len(rows):
                later = self.clock()
                await self.catalog.schedule_retries({
                    r.id: later + timedelta(seconds=backoff(r.attempts, self.retry_base, self.retry_max))
                    for r in rows
                })
                return total

    async def sweep_expired(self) -> Purged:
        """Delete every object whose `expires_at` has passed."""
        claims = self.catalog.claims
        return await self._sweep(
            lambda n: claims.claim_expired(now=self.clock(), limit=n),
            lambda n: claims.lock_expired(now=self.clock(), limit=n),
        )

    async def clean_up(
        self, *, older_than: float, collection: str | None = None, owner: str | None = None
    ) -> Purged:
        """Delete every object created more than `older_than` seconds ago (optionally in one
        collection or of one owner), expiring or not."""
        claims = self.catalog.claims
        cutoff = self.clock() - timedelta(seconds=older_than)
        return await self._sweep(
            lambda n: claims.claim_created_before(
                cutoff=cutoff, now=self.clock(), limit=n, collection=collection, owner=owner
            ),
            lambda n: claims.lock_created_before(
                cutoff=cutoff, limit=n, collection=collection, owner=owner
            ),
        )

    async def _sweep(self, claim: Claim, lock: Lock) -> Purged:
        """Batches until none is left or the store refuses one. On PostgreSQL each batch is
        row-locked until its rows are deleted (written once, and other machines skip it);
        SQLite claims each batch (its rows turn `deleting`) and then purges it. Either way
        each object is taken by exactly one worker."""
        total = Purged()
        refused = False
        locking = self.catalog.dialect == "postgresql"

        async def one_batch() -> bool:
            """Sweep one batch; False once there is nothing left."""
            nonlocal total, refused
            if locking:
                async with lock(self.batch_size) as locked:
                    done = Purged(len(locked.objects), await self.purge(locked))
            else:
                claimed = await claim(self.batch_size)
                done = Purged(len(claimed.objects), await self.purge(claimed))
            total += done
            if done.left_for_retry:  # the store refused: these rows wait for the retry job
                refused = True
            return done.taken > 0

        async def lane() -> None:
            while not refused and await one_batch():
                pass

        async with anyio.create_task_group() as tg:
            for _ in range(PARALLEL_BATCHES if locking else 1):
                tg.start_soon(lane)
        return total
