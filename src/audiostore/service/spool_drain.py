"""Move blobs from this machine's fallback spool to the primary store once it answers.

Order per blob: put to the primary, point the row at it, then remove the spool copy; a crash
at any step leaves a state the next run finishes (puts are idempotent). A spooled blob whose
object is gone is removed. The spool is per machine (`{data_dir}/spool`): each instance
drains its own.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..blobstores import BlobMeta, BlobStore
from ..blobstores.spooling import PRIMARY, SPOOL, SpoolingBlobStore
from ..catalog import Catalog
from .blob_ids import audio_id_in_key

log = logging.getLogger(__name__)

MAX_PER_RUN = 10_000
_BATCH = 500


@dataclass(frozen=True, slots=True)
class Drained:
    moved: int = 0  # now in the primary store
    dropped: int = 0  # spooled blobs of objects deleted meanwhile, removed
    waiting: int = 0  # still in the spool (the primary store did not answer)


async def drain_spool(store: BlobStore, catalog: Catalog, clock: Callable[[], datetime]) -> Drained | None:
    """Up to `MAX_PER_RUN` spooled blobs moved; None without a spool."""
    if not isinstance(store, SpoolingBlobStore):
        return None
    metas: list[BlobMeta] = []
    async for meta in store.spool.list(""):
        metas.append(meta)
        if len(metas) >= MAX_PER_RUN:
            break
    moved = dropped = 0
    primary_down = False
    for i in range(0, len(metas), _BATCH):
        batch = metas[i : i + _BATCH]
        ids = {k for k in (audio_id_in_key(m.key) for m in batch) if k}
        live = await catalog.existing_ids(sorted(ids))
        rows = await catalog.rows_by_keys([m.key for m in batch])
        gone_keys: list[str] = []
        for meta in batch:
            key = meta.key
            if audio_id_in_key(key) not in live:
                gone_keys.append(key)  # its object was deleted while the primary was down
                continue
            row = rows.get(key)
            content_type = row.content_type if row else (
                mimetypes.guess_type(key)[0] or "application/octet-stream"
            )
            try:
                await store.primary.put_file(key, store.spool.local_path(key), content_type=content_type)
            except FileNotFoundError:
                continue  # deleted meanwhile
            except Exception as exc:
                log.info("spool drain: primary store still unreachable: %s", exc)
                primary_down = True
                break
            store.primary_answered()
            if row is not None and row.location == SPOOL:
                if not await catalog.move_location(key, source=SPOOL, target=PRIMARY, now=clock()):
                    # Deleted while we copied: do not leave the copy in the bucket.
                    await store.primary.delete_many([key])
            gone_keys.append(key)
            moved += 1
        await store.spool.delete_many(gone_keys)
        dropped += len(gone_keys)
        if primary_down:
            break
    dropped -= moved
    depth = len(metas) - moved - dropped
    return Drained(moved, dropped, depth)
