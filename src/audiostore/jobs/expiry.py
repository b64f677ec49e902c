"""Expiry sweep and on-demand cleanup: batches of objects deleted by the deletion lifecycle
(service/deletion.py), one store call per batch for their blobs, one statement for their rows.

Each row is taken by exactly one worker, on one machine or many (PostgreSQL).
"""

from __future__ import annotations

from ..runtime import Runtime
from ..service.deletion import Purged
from .job_metrics import CLEANED_UP, EXPIRED_SWEPT


def _counts(taken_as: str, done: Purged) -> dict[str, int]:
    return {taken_as: done.taken, "deleted": done.deleted, "left_for_retry": done.left_for_retry}


async def sweep_expired(rt: Runtime) -> dict[str, int]:
    """Delete every object whose `expires_at` has passed (blobs, renditions, rows);
    `expired` counts the objects taken."""
    done = await rt.deletion.sweep_expired()
    EXPIRED_SWEPT.inc(done.deleted)
    return _counts("expired", done)


async def cleanup_older_than(
    rt: Runtime, *, older_than: float, collection: str | None = None, owner: str | None = None
) -> dict[str, int]:
    """Delete every object created more than `older_than` seconds ago (optionally in one
    collection or of one owner), expiring or not."""
    done = await rt.deletion.clean_up(older_than=older_than, collection=collection, owner=owner)
    CLEANED_UP.inc(done.deleted)
    return _counts("matched", done)
