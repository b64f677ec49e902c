"""Maintenance jobs: idempotent units that return counts, one registry, one timer.

- `sweep_expired`: delete expired objects in batches (blobs, renditions, rows).
- `retry_deletes`: retry blob deletes of `deleting` rows, with backoff.
- `resolve_stale_pending`: finish or roll back uploads a crash left `pending`.
- `drain_spool`: move fallback-spooled blobs to the primary store.
- `remove_stale_temp_files`: remove temp files of dead uploads.
- `analyse_due`: measure loudness (and make ingest renditions) of uploads whose analysis
  after the upload did not run.
- `remove_expired_uploads`: delete abandoned tus uploads and their parts.
- on demand: `cleanup_older_than`, `reconcile`.

They run inside `audiostore serve` on a timer, alone in `audiostore worker`, or once from
`audiostore sweep`.
"""

from ..service.reconcile import ReconcileReport
from .expiry import cleanup_older_than, sweep_expired
from .loop import MaintenanceLoop, maintenance_loop, next_daily_run
from .reconcile import reconcile
from .registry import JOBS, JobResult, run_job, run_jobs_once

__all__ = [
    "JOBS",
    "JobResult",
    "MaintenanceLoop",
    "ReconcileReport",
    "cleanup_older_than",
    "maintenance_loop",
    "next_daily_run",
    "reconcile",
    "run_job",
    "run_jobs_once",
    "sweep_expired",
]
