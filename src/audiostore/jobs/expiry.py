"""Expiry sweep and on-demand cleanup: take batches of rows, delete their blobs in one store
call per batch (S3 DeleteObjects, 1000 keys), then their rows in one statement.

On PostgreSQL a batch is row-locked (`FOR UPDATE SKIP LOCKED`) in a transaction that lasts
until its rows are deleted, so workers on other machines skip it and the rows are written
once (deleted), not twice (claimed, then deleted). SQLite claims each batch instead (the rows
turn `deleting`), then purges it. Either way each object is taken by exactly one worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

import anyio

from ..catalog.doomed_claims import DoomedObject, LockedBatch
from ..catalog.job_queries import JobCatalog
from ..runtime import Runtime
from ..service.locked_purge import purge_locked
from .job_metrics import CLEANED_UP, EXPIRED_SWEPT

# Batches in flight at once on PostgreSQL (each holds a connection while its blobs go). The
# store's delete calls dominate a sweep, and SeaweedFS works through one DeleteObjects key by
# key, so several side by side go faster (2 cores, a whole sweep: 4 lanes 139-144 us an
# object, 8 lanes 120-129, 12-16 no better). SQLite has one writer: one lane is all that helps.
_PARALLEL_BATCHES = 8

Claim = Callable[[int], Awaitable[list[DoomedObject]]]
Lock = Callable[[int], AbstractAsyncContextManager[LockedBatch]]


async def _sweep_in_batches(rt: Runtime, claim: Claim, lock: Lock) -> dict[str, int]:
    totals = {"claimed": 0, "deleted": 0}
    refused = False
    size = rt.settings.sweep_batch_size
    locking = rt.catalog.dialect == "postgresql"

    async def one_batch() -> bool:
        """Sweep one batch; False once there is nothing left."""
        nonlocal refused
        if locking:
            async with lock(size) as batch:
                taken = len(batch.objects)
                gone = await purge_locked(rt.audio, batch)
        else:
            rows = await claim(size)
            taken = len(rows)
            gone = await rt.audio.purge(rows)
        totals["claimed"] += taken
        totals["deleted"] += gone
        if gone < taken:  # the store refused: these rows wait for the retry job
            refused = True
        return taken > 0

    async def lane() -> None:
        while not refused and await one_batch():
            pass

    async with anyio.create_task_group() as tg:
        for _ in range(_PARALLEL_BATCHES if locking else 1):
            tg.start_soon(lane)
    claimed, deleted = totals["claimed"], totals["deleted"]
    return {"claimed": claimed, "deleted": deleted, "left_for_retry": claimed - deleted}


async def sweep_expired(rt: Runtime) -> dict[str, int]:
    """Delete every object whose `expires_at` has passed (blobs, renditions, rows).

    Each row is claimed by exactly one worker (see `JobCatalog`); `expired` counts claims.
    """
    jobs = JobCatalog(rt.catalog)
    counts = await _sweep_in_batches(
        rt,
        lambda n: jobs.claim_expired(now=rt.clock(), limit=n),
        lambda n: jobs.lock_expired(now=rt.clock(), limit=n),
    )
    EXPIRED_SWEPT.inc(counts["deleted"])
    return {"expired": counts.pop("claimed"), **counts}


async def cleanup_older_than(
    rt: Runtime, *, older_than: float, collection: str | None = None, owner: str | None = None
) -> dict[str, int]:
    """Delete every object created more than `older_than` seconds ago (optionally in one
    collection or of one owner), expiring or not."""
    jobs = JobCatalog(rt.catalog)
    cutoff = rt.clock() - timedelta(seconds=older_than)
    counts = await _sweep_in_batches(
        rt,
        lambda n: jobs.claim_created_before(
            cutoff=cutoff, now=rt.clock(), limit=n, collection=collection, owner=owner
        ),
        lambda n: jobs.lock_created_before(
            cutoff=cutoff, limit=n, collection=collection, owner=owner
        ),
    )
    CLEANED_UP.inc(counts["deleted"])
    return {"matched": counts.pop("claimed"), **counts}
