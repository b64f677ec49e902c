"""Finish or roll back uploads left `pending` by a crash between intent row and blob.

A blob that is there with the row's size and sha256 makes the row `ready` (recording whether
it sits in the primary store or the spool); anything else rolls the upload back through the
deletion lifecycle (row and any partial blob go). A store that cannot be reached leaves the
row for a later run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from ..blobstores import BlobNotFound, BlobStore, BlobStoreUnavailable
from ..blobstores.spooling import PRIMARY, SPOOL, primary_of, spool_of
from ..catalog import AudioRow
from .deletion import Deletion

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resolved:
    finished: int = 0
    rolled_back: int = 0
    unreachable: int = 0


async def _intact_in(store: BlobStore, row: AudioRow) -> bool:
    """The blob is there, whole: same size and sha256 as the row says."""
    try:
        meta = await store.head(row.key)
    except BlobNotFound:
        return False
    if meta.size != row.size:
        return False
    digest = hashlib.sha256()
    async for chunk in store.get_stream(row.key):
        digest.update(chunk)
    return digest.hexdigest() == row.sha256


async def resolve_stale_uploads(deletion: Deletion, *, grace: float) -> Resolved:
    """One batch of `pending` rows untouched for `grace` seconds, each finished or rolled back."""
    catalog, clock = deletion.catalog, deletion.clock
    finished = rolled_back = unreachable = 0
    now = clock()
    rows = await catalog.claims.claim_stale_pending(
        stale_before=now - timedelta(seconds=grace), now=now, limit=deletion.batch_size,
    )
    spool, primary = spool_of(deletion.store), primary_of(deletion.store)
    for row in rows:
        try:
            if spool is not None and await _intact_in(spool, row):
                location = SPOOL
            elif await _intact_in(primary, row):
                location = PRIMARY
            else:
                location = None
        except BlobStoreUnavailable as exc:
            log.warning("pending %s: store unreachable, trying later: %s", row.id, exc)
            unreachable += 1
            continue
        if location is not None and await catalog.finish_pending(row.id, location=location, now=clock()):
            finished += 1
            continue
        # A blob delete the store refuses here is retried by the delete-retry job.
        rolled_back += (await deletion.roll_back([row.id])).taken
    return Resolved(finished, rolled_back, unreachable)
