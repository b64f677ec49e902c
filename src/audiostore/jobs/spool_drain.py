"""Move blobs from this machine's fallback spool to the primary store (service/spool_drain.py)."""

from __future__ import annotations

from ..runtime import Runtime
from ..service.spool_drain import drain_spool as drain
from .job_metrics import SPOOL_DEPTH, SPOOL_DRAINED


async def drain_spool(rt: Runtime) -> dict[str, int]:
    done = await drain(rt.store, rt.catalog, rt.clock)
    if done is None:
        return {}
    SPOOL_DRAINED.inc(done.moved)
    SPOOL_DEPTH.set(done.waiting)
    return {"moved": done.moved, "dropped": done.dropped, "waiting": done.waiting}
