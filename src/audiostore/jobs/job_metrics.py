"""Prometheus metrics of the maintenance jobs (exported at `GET /metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from ..metrics import REGISTRY

EXPIRED_SWEPT = Counter(
    "audiostore_expired_swept", "Expired objects whose blobs and rows the sweeper deleted.",
    registry=REGISTRY,
)
CLEANED_UP = Counter(
    "audiostore_cleaned_up", "Objects removed by `cleanup --older-than`.", registry=REGISTRY,
)
DELETES_RETRIED = Counter(
    "audiostore_deletes_retried", "Blob deletes retried for objects left `deleting`.",
    ["outcome"], registry=REGISTRY,
)
PENDING_RESOLVED = Counter(
    "audiostore_pending_resolved", "Stale pending uploads finished or rolled back.",
    ["outcome"], registry=REGISTRY,
)
SPOOL_DEPTH = Gauge(
    "audiostore_spool_depth", "Blobs waiting in this machine's fallback spool.", registry=REGISTRY,
)
SPOOL_DRAINED = Counter(
    "audiostore_spool_drained", "Blobs moved from the fallback spool to the primary store.",
    registry=REGISTRY,
)
ORPHANS_FOUND = Counter(
    "audiostore_orphans_found", "Reconcile findings: blobs with no row, rows with no blob.",
    ["kind"], registry=REGISTRY,
)
TEMP_FILES_REMOVED = Counter(
    "audiostore_temp_files_removed", "Abandoned upload temp files removed.", registry=REGISTRY,
)
ANALYSED = Counter(
    "audiostore_analysed_by_job", "Uploads whose loudness the analysis job measured (the "
    "in-process analysis after an upload is not counted here).", registry=REGISTRY,
)
JOB_RUNS = Counter(
    "audiostore_job_runs", "Maintenance job runs by job and outcome.", ["job", "outcome"],
    registry=REGISTRY,
)
