"""Finish or roll back uploads left `pending` by a crash (service/stale_uploads.py)."""

from __future__ import annotations

from ..runtime import Runtime
from ..service.stale_uploads import resolve_stale_uploads
from .job_metrics import PENDING_RESOLVED


async def resolve_stale_pending(rt: Runtime) -> dict[str, int]:
    done = await resolve_stale_uploads(rt.deletion, grace=rt.settings.pending_grace)
    PENDING_RESOLVED.labels("finished").inc(done.finished)
    PENDING_RESOLVED.labels("rolled_back").inc(done.rolled_back)
    return {"finished": done.finished, "rolled_back": done.rolled_back, "unreachable": done.unreachable}
