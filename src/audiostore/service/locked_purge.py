"""Purging one sweep batch whose rows are locked in an open transaction (PostgreSQL).

The rule is `AudioService.purge`'s: every blob first (originals, renditions, waveforms), in
one store call per 1000 keys, then the rows; if the store refuses, the rows turn `deleting`
and the delete-retry job takes them from there, with backoff. The difference is that the
rows are never written before their blobs are gone (see `catalog.doomed_claims.LockedBatch`).
"""

from __future__ import annotations

from ..catalog.doomed_claims import LockedBatch
from .audio import AudioService


async def purge_locked(audio: AudioService, batch: LockedBatch) -> int:
    """Delete the batch's blobs, then its rows (committed when the batch's block exits).
    Returns the rows deleted: 0 when the store refused and the rows went to the retry job."""
    if not batch.objects:
        return 0
    if not await audio.delete_blobs_of(batch.objects):
        await batch.hand_to_retry(now=audio.clock())
        return 0
    return await batch.delete_rows()
