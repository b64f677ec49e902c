"""Purging one sweep batch whose rows are locked in an open transaction (PostgreSQL).

The rule is `AudioService.purge`'s: every blob first (originals, renditions, waveforms), in
one store call per 1000 keys, then the rows; if the store refuses, the rows turn `deleting`
and the delete-retry job takes them from there, with backoff. The difference is that the
rows are never written before their blobs are gone (see `catalog.doomed_claims.LockedBatch`).
"""

from __future__ import annotations

import logging

from ..catalog.doomed_claims import LockedBatch
from .audio import AudioService

log = logging.getLogger(__name__)


async def purge_locked(audio: AudioService, batch: LockedBatch) -> int:
    """Delete the batch's blobs, then its rows (committed when the batch's block exits).
    Returns the rows deleted: 0 when the store refused and the rows went to the retry job."""
    objects = batch.objects
    if not objects:
        return 0
    try:
        keys = [k for o in objects for k in audio.blob_keys_of(o)]
        if audio.derived is not None:
            keys += await audio.derived.keys_of(objects)
        await audio.store.delete_many(keys)
    except Exception as exc:
        log.warning("blob delete failed, %d objects stay 'deleting': %s", len(objects), exc)
        await batch.hand_to_retry(now=audio.clock())
        return 0
    return await batch.delete_rows()
