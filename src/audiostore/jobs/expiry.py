"""Expiry sweep and on-demand cleanup: claim batches of rows, delete their blobs in one
store call per batch (S3 DeleteObjects, 1000 keys), then their rows in one statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio

from ..catalog import AudioRow
from ..catalog.job_queries import JobCatalog
from ..runtime import Runtime
from .job_metrics import CLEANED_UP, EXPIRED_SWEPT

_PARALLEL_BATCHES = 4


def _lanes(rt: Runtime) -> int:
    """Batches in flight at once. The store's delete calls dominate a sweep, and an S3 server
    deletes several batches in parallel faster than one after another; SQLite has one writer,
    so there one lane is all that helps."""
    return 1 if rt.catalog.dialect == "sqlite" else _PARALLEL_BATCHES


async def _claim_and_purge(
    rt: Runtime, claim: Callable[[int], Awaitable[list[AudioRow]]]
) -> dict[str, int]:
    totals = {"claimed": 0, "deleted": 0}
    refused = False

    async def lane() -> None:
        nonlocal refused
        while not refused:
            rows = await claim(rt.settings.sweep_batch_size)
            if not rows:
                return
            totals["claimed"] += len(rows)
            gone = await rt.audio.purge(rows)
            totals["deleted"] += gone
            if gone < len(rows):  # the store refused: these rows wait for the retry job
                refused = True

    async with anyio.create_task_group() as tg:
        for _ in range(_lanes(rt)):
            tg.start_soon(lane)
    claimed, deleted = totals["claimed"], totals["deleted"]
    return {"claimed": claimed, "deleted": deleted, "left_for_retry": claimed - deleted}


async def sweep_expired(rt: Runtime) -> dict[str, int]:
    """Delete every object whose `expires_at` has passed (blobs, renditions, rows).

    Each row is claimed by exactly one worker (see `JobCatalog`); `expired` counts claims.
    """
    jobs = JobCatalog(rt.catalog)
    counts = await _claim_and_purge(
        rt, lambda n: jobs.claim_expired(now=rt.clock(), limit=n)
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
    counts = await _claim_and_purge(
        rt,
        lambda n: jobs.claim_created_before(
            cutoff=cutoff, now=rt.clock(), limit=n, collection=collection, owner=owner
        ),
    )
    CLEANED_UP.inc(counts["deleted"])
    return {"matched": counts.pop("claimed"), **counts}
