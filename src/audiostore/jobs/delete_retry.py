"""Retry blob deletes of rows left `deleting` (the store was down), with backoff."""

from __future__ import annotations

from ..runtime import Runtime
from .job_metrics import DELETES_RETRIED


async def retry_deletes(rt: Runtime) -> dict[str, int]:
    done = await rt.deletion.retry_due()
    DELETES_RETRIED.labels("deleted").inc(done.deleted)
    DELETES_RETRIED.labels("failed").inc(done.left_for_retry)
    return {"retried": done.taken, "deleted": done.deleted, "still_failing": done.left_for_retry}
