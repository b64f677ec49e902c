"""Reconcile the catalogue with the stores, on demand (service/reconcile.py)."""

from __future__ import annotations

from ..runtime import Runtime
from ..service.reconcile import ReconcileReport
from ..service.reconcile import reconcile as reconcile_stores
from .job_metrics import ORPHANS_FOUND


async def reconcile(rt: Runtime, *, fix: bool = False, grace: float = 3600.0) -> ReconcileReport:
    """Find (and with `fix`, delete) orphan blobs, and rows whose blob is missing. Without
    `fix` nothing is changed: the report lists what a fix would delete."""
    report = await reconcile_stores(rt.deletion, fix=fix, grace=grace)
    ORPHANS_FOUND.labels("blob_without_row").inc(report.orphan_blobs)
    ORPHANS_FOUND.labels("row_without_blob").inc(report.missing_blobs)
    return report
