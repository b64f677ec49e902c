"""The maintenance jobs, in the order one run performs them, and a runner that logs counts.

Each job is an idempotent `async (Runtime) -> dict[str, int]`: running it twice, or on two
machines at once (PostgreSQL), does no work twice and loses none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..runtime import Runtime
from .analysis import analyse_due
from .delete_retry import retry_deletes
from .expiry import sweep_expired
from .job_metrics import JOB_RUNS
from .pending import resolve_stale_pending
from .spool_drain import drain_spool
from .temp_files import remove_stale_temp_files
from .tus_expiry import remove_expired_uploads

log = logging.getLogger("audiostore.jobs")

Job = Callable[[Runtime], Awaitable[dict[str, int]]]

JOBS: dict[str, Job] = {
    "resolve_stale_pending": resolve_stale_pending,
    "drain_spool": drain_spool,
    "retry_deletes": retry_deletes,
    "sweep_expired": sweep_expired,
    "remove_stale_temp_files": remove_stale_temp_files,
    "analyse_due": analyse_due,
    "remove_expired_uploads": remove_expired_uploads,
}
"""Every periodic job by name. (`reconcile` and `cleanup` run on demand only.)"""


@dataclass
class JobResult:
    job: str
    counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"job": self.job, "counts": self.counts, "error": self.error,
                "seconds": round(self.seconds, 3)}


async def run_job(rt: Runtime, name: str) -> JobResult:
    """Run one job; a failure is logged and reported, never raised (the loop goes on)."""
    started = time.perf_counter()
    try:
        counts = await JOBS[name](rt)
    except Exception as exc:
        log.exception("job %s failed", name)
        JOB_RUNS.labels(name, "error").inc()
        return JobResult(name, error=f"{type(exc).__name__}: {exc}",
                         seconds=time.perf_counter() - started)
    JOB_RUNS.labels(name, "ok").inc()
    result = JobResult(name, counts, seconds=time.perf_counter() - started)
    if any(counts.values()):
        log.info("job %s: %s", name, " ".join(f"{k}={v}" for k, v in counts.items()))
    return result


async def run_jobs_once(rt: Runtime) -> list[JobResult]:
    """Every periodic job once, in order."""
    return [await run_job(rt, name) for name in JOBS]
