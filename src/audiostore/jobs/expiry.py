"""Expiry sweep and on-demand cleanup: claim batches of rows, delete their blobs in one
store call per batch (S3 DeleteObjects, 1000 keys), then their rows in one statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from ..catalog import AudioRow
from ..catalog.job_queries import JobCatalog
from ..runtime import Runtime
from .job_metrics import CLEANED_UP, EXPIRED_SWEPT


async def _claim_and_purge(
    rt: Runtime, claim: Callable[[int], Awaitable[list[AudioRow]]]
) -> dict[str, int]:
    claimed = deleted = 0
    while True:
        rows = await claim(rt.settings.sweep_batch_size)
        if not rows:
            break
        claimed += len(rows)
        gone = await rt.audio.purge(rows)
        deleted += gone
        if gone < len(rows):  # the store refused: these rows wait for the retry job
            break
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
