"""Reconcile the catalogue with the stores: blobs with no object, objects with no blob.

Blobs are matched to objects by the id every key holds (so renditions count as owned). Only
blobs and rows older than the grace period are judged, so uploads in flight are never
touched; the report counts what the grace left alone. The store is listed and the catalogue
read in batches; the report keeps the keys and ids it found (what a dry run shows), so memory
grows with what is found, never with the size of the bucket.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..blobstores import BlobMeta, BlobNotFound, BlobStore
from ..blobstores.spooling import PRIMARY, SPOOL, primary_of, spool_of
from ..catalog import AudioRow, Catalog
from .blob_ids import audio_id_in_key
from .deletion import Deletion

_BATCH = 1000
_HEAD_CONCURRENCY = 16


@dataclass(frozen=True)
class OrphanBlob:
    """A blob no object owns: its `store` ("primary" or "spool") and `key`."""

    store: str
    key: str


@dataclass(frozen=True)
class BrokenObject:
    """A ready object whose blob is missing from the primary store."""

    id: str
    owner: str
    key: str


@dataclass
class ReconcileReport:
    """What one run found (and with `fix`, repaired). `young_blobs` and `young_rows` are what
    the grace period left alone: blobs no object owns yet and objects not checked, both
    younger than `grace` seconds (an upload may still be on its way)."""

    grace: float = 3600.0
    fixed: bool = False
    orphan_blobs: int = 0
    orphan_blobs_deleted: int = 0
    missing_blobs: int = 0
    broken_rows_removed: int = 0
    blobs_checked: int = 0
    rows_checked: int = 0
    young_blobs: int = 0
    young_rows: int = 0
    orphans: list[OrphanBlob] = field(default_factory=list)
    broken: list[BrokenObject] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNTS}

    @property
    def found(self) -> bool:
        """Anything to repair (or repaired): an orphan blob or an object without its blob."""
        return bool(self.orphan_blobs or self.missing_blobs)

    def to_dict(self) -> dict[str, Any]:
        """The counts, `grace_seconds`, `fixed`, and what was found: `orphan_blob_keys`
        ({store, key}) and `objects_missing_blob` ({id, owner, key})."""
        return {
            **self.counts(), "grace_seconds": self.grace, "fixed": self.fixed,
            "orphan_blob_keys": [asdict(o) for o in self.orphans],
            "objects_missing_blob": [asdict(b) for b in self.broken],
        }


_COUNTS = ("orphan_blobs", "orphan_blobs_deleted", "missing_blobs", "broken_rows_removed",
           "blobs_checked", "rows_checked", "young_blobs", "young_rows")


async def _orphans_in(
    store: BlobStore, store_name: str, catalog: Catalog, cutoff: datetime, report: ReconcileReport
) -> None:
    async def judge(batch: list[BlobMeta]) -> None:
        report.blobs_checked += len(batch)
        ids = {i for i in (audio_id_in_key(m.key) for m in batch) if i}
        live = await catalog.existing_ids(sorted(ids))
        unowned = [m for m in batch if audio_id_in_key(m.key) not in live]
        orphans = [m.key for m in unowned if m.last_modified is None or m.last_modified < cutoff]
        report.young_blobs += len(unowned) - len(orphans)
        report.orphan_blobs += len(orphans)
        report.orphans.extend(OrphanBlob(store_name, k) for k in orphans)
        if report.fixed and orphans:
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


async def _missing_in_batch(store: BlobStore, rows: list[AudioRow]) -> list[AudioRow]:
    primary = primary_of(store)
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


async def reconcile(deletion: Deletion, *, fix: bool = False, grace: float = 3600.0) -> ReconcileReport:
    """Find (and with `fix`, delete) orphan blobs, and rows whose blob is missing. Without
    `fix` nothing is changed: the report lists what a fix would delete."""
    catalog, store = deletion.catalog, deletion.store
    cutoff = deletion.clock() - timedelta(seconds=grace)
    report = ReconcileReport(grace=grace, fixed=fix)
    await _orphans_in(primary_of(store), PRIMARY, catalog, cutoff, report)
    spool = spool_of(store)
    if spool is not None:
        await _orphans_in(spool, SPOOL, catalog, cutoff, report)
    async for rows in catalog.rows_in_order(created_before=cutoff, batch=_BATCH):
        report.rows_checked += len(rows)
        broken = await _missing_in_batch(store, rows)
        report.missing_blobs += len(broken)
        report.broken.extend(BrokenObject(r.id, r.owner, r.key) for r in broken)
        if fix and broken:
            removed = await deletion.roll_back([r.id for r in broken])
            report.broken_rows_removed += removed.deleted
    report.young_rows = await catalog.count_ready_since(cutoff)
    return report
