"""Reconcile the catalogue with the stores: blobs with no object, objects with no blob.

Blobs are matched to objects by the id every key holds (so renditions count as owned). Only
blobs and rows older than the grace period are judged, so uploads in flight are never
touched. Memory stays flat: the store is listed and the catalogue read in batches.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..blobstores import BlobMeta, BlobNotFound, BlobStore
from ..blobstores.spooling import SPOOL, primary_of, spool_of
from ..catalog import AudioRow
from ..catalog.job_queries import JobCatalog
from ..runtime import Runtime
from .blob_ids import audio_id_in_key
from .job_metrics import ORPHANS_FOUND

_BATCH = 1000
_HEAD_CONCURRENCY = 16


@dataclass
class ReconcileReport:
    orphan_blobs: int = 0
    orphan_blobs_deleted: int = 0
    missing_blobs: int = 0
    broken_rows_removed: int = 0
    blobs_checked: int = 0
    rows_checked: int = 0

    def counts(self) -> dict[str, int]:
        return dict(self.__dict__)


async def _orphans_in(
    store: BlobStore, jobs: JobCatalog, cutoff: datetime, report: ReconcileReport, fix: bool
) -> None:
    async def judge(batch: list[BlobMeta]) -> None:
        report.blobs_checked += len(batch)
        ids = {i for i in (audio_id_in_key(m.key) for m in batch) if i}
        live = await jobs.existing_ids(sorted(ids))
        orphans = [
            m.key for m in batch
            if audio_id_in_key(m.key) not in live
            and (m.last_modified is None or m.last_modified < cutoff)
        ]
        report.orphan_blobs += len(orphans)
        if fix and orphans:
            await store.delete_many(orphans)
            report.orphan_blobs_deleted += len(orphans)

    batch: list[BlobMeta] = []
    async for meta in store.list(""):
        batch.append(meta)
        if len(batch) >= _BATCH:
            await judge(batch)
            batch = []
    if batch:
        await judge(batch)


async def _missing_in_batch(rt: Runtime, rows: list[AudioRow]) -> list[AudioRow]:
    primary = primary_of(rt.store)
    gate = asyncio.Semaphore(_HEAD_CONCURRENCY)

    async def missing(row: AudioRow) -> bool:
        if row.location == SPOOL:
            # Spooled blobs may sit on another instance's disk; the drain job owns them.
            return False
        async with gate:
            try:
                await primary.head(row.key)
            except BlobNotFound:
                return True
        return False

    flags = await asyncio.gather(*(missing(r) for r in rows))
    return [r for r, gone in zip(rows, flags, strict=True) if gone]


async def reconcile(rt: Runtime, *, fix: bool = False, grace: float = 3600.0) -> ReconcileReport:
    """Count (and with `fix`, delete) orphan blobs, and rows whose blob is missing."""
    jobs = JobCatalog(rt.catalog)
    cutoff = rt.clock() - timedelta(seconds=grace)
    report = ReconcileReport()
    await _orphans_in(primary_of(rt.store), jobs, cutoff, report, fix)
    spool = spool_of(rt.store)
    if spool is not None:
        await _orphans_in(spool, jobs, cutoff, report, fix)
    async for rows in jobs.rows_in_order(created_before=cutoff, batch=_BATCH):
        report.rows_checked += len(rows)
        broken = await _missing_in_batch(rt, rows)
        report.missing_blobs += len(broken)
        if fix and broken:
            doomed = await jobs.mark_deleting([r.id for r in broken], now=rt.clock())
            report.broken_rows_removed += await rt.audio.purge(doomed)
    ORPHANS_FOUND.labels("blob_without_row").inc(report.orphan_blobs)
    ORPHANS_FOUND.labels("row_without_blob").inc(report.missing_blobs)
    return report
