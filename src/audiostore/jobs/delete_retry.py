"""Retry blob deletes of rows left `deleting` (the store was down), with backoff."""

from __future__ import annotations

from datetime import timedelta

from ..catalog.job_queries import JobCatalog
from ..runtime import Runtime
from .job_metrics import DELETES_RETRIED

# A row marked `deleting` whose delete never reported back (the process died) is picked up
# after this long; a failed delete is due at once and then backs off.
STALE_DELETING_SECONDS = 300
# While one worker retries a batch, others leave it alone this long.
LEASE_SECONDS = 300


async def retry_deletes(rt: Runtime) -> dict[str, int]:
    jobs = JobCatalog(rt.catalog)
    retried = deleted = 0
    while True:
        now = rt.clock()
        rows = await jobs.claim_due_deletes(
            now=now, stale_before=now - timedelta(seconds=STALE_DELETING_SECONDS),
            lease_until=now + timedelta(seconds=LEASE_SECONDS), limit=rt.settings.sweep_batch_size,
        )
        if not rows:
            break
        retried += len(rows)
        gone = await rt.audio.purge(rows)
        deleted += gone
        if gone < len(rows):
            await jobs.reschedule(
                rows, now=rt.clock(), base=rt.settings.delete_retry_base,
                cap=rt.settings.delete_retry_max,
            )
            break
    DELETES_RETRIED.labels("deleted").inc(deleted)
    DELETES_RETRIED.labels("failed").inc(retried - deleted)
    return {"retried": retried, "deleted": deleted, "still_failing": retried - deleted}
