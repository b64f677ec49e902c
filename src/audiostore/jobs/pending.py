"""Finish or roll back uploads left `pending` by a crash between intent row and blob.

A blob that is there with the row's size and sha256 makes the row `ready` (recording whether
it sits in the primary store or the spool); anything else rolls the upload back (row and any
partial blob go). A store that cannot be reached leaves the row for a later run.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from ..blobstores import BlobNotFound, BlobStore, BlobStoreUnavailable
from ..blobstores.spooling import PRIMARY, SPOOL, primary_of, spool_of
from ..catalog import AudioRow
from ..runtime import Runtime
from .job_metrics import PENDING_RESOLVED

log = logging.getLogger(__name__)


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


async def resolve_stale_pending(rt: Runtime) -> dict[str, int]:
    finished = rolled_back = unreachable = 0
    now = rt.clock()
    rows = await rt.catalog.claims.claim_stale_pending(
        stale_before=now - timedelta(seconds=rt.settings.pending_grace), now=now,
        limit=rt.settings.sweep_batch_size,
    )
    spool, primary = spool_of(rt.store), primary_of(rt.store)
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
        if location is not None and await rt.catalog.finish_pending(row.id, location=location, now=rt.clock()):
            finished += 1
            continue
        # A blob delete the store refuses here is retried by retry_deletes.
        rolled_back += (await rt.deletion.roll_back([row.id])).taken
    PENDING_RESOLVED.labels("finished").inc(finished)
    PENDING_RESOLVED.labels("rolled_back").inc(rolled_back)
    return {"finished": finished, "rolled_back": rolled_back, "unreachable": unreachable}
