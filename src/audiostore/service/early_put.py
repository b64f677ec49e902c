"""An upload's bytes on their way to the blob store while they still arrive.

For a large upload to S3, receiving the body and then putting the file would take the sum of
both. Instead, once the first bytes have arrived and name the format, `Ingest` writes
the intent row (`pending`, facts still unknown) and opens a multipart upload at the object's
final key; every chunk goes both to the staging file (which the full decode, the fallback
spool and the analysis read) and to the store. Nothing is visible in the bucket until
`complete()`, which `Ingest` calls only after the full decode has accepted the file; any
failure before that aborts the multipart upload and removes the intent row, so bad input
still writes nothing.

A crash mid-upload leaves a `pending` row with no size or hash: the stale-pending job finds
no intact blob for it and rolls it back. The multipart upload itself stays invisible; a
bucket lifecycle rule (`AbortIncompleteMultipartUpload`) reclaims its parts.

If the store fails while the body is still arriving, the early put is dropped and the upload
goes on as if it never started: `Ingest` puts the staging file (to the spool if need be).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from .. import metrics
from ..audio import Sniffed
from ..blobstores import BlobWriter
from ..catalog import Catalog

log = logging.getLogger(__name__)

# Bodies declared at most this long are stored after they arrive: one PUT of a small file
# costs less than a multipart upload and a second catalogue write.
EARLY_PUT_MIN_BYTES = 8 * 1024 * 1024


def likely_format(sniffed: Sniffed, head: bytes) -> str:
    """The format (and key extension) the full probe will most likely find: Ogg whose first
    packet is an Opus header is `opus`. If the probe says otherwise, the early put is
    abandoned and the file put under the right key."""
    if sniffed.format == "ogg" and b"OpusHead" in head[:128]:
        return "opus"
    return sniffed.format


class EarlyPut:
    """One upload's pipelined put; created by `Ingest.begin_early_put`."""

    def __init__(
        self, *, writer: BlobWriter, catalog: Catalog, audio_id: str, created_at: datetime,
        heartbeat_seconds: float, clock: Callable[[], datetime],
    ) -> None:
        self.writer = writer
        self.catalog = catalog
        self.audio_id = audio_id
        self.created_at = created_at
        self.failed = False  # the store refused midway: ingest falls back to put_file
        self.settled = False  # completed or aborted: nothing left to clean up
        self._heartbeat = heartbeat_seconds
        self._clock = clock
        self._last_touch = time.monotonic()

    @property
    def key(self) -> str:
        return self.writer.key

    async def send(self, data: bytes) -> None:
        """Pass bytes on to the store; a store error drops the early put, never the upload."""
        if self.failed or self.settled:
            return
        try:
            await self.writer.write(data)
        except Exception as exc:  # noqa: BLE001 - the staging file still has every byte
            log.warning("early put of %s dropped, the upload goes on: %s", self.key, exc)
            await self._drop_writer()
            return
        if time.monotonic() - self._last_touch > self._heartbeat:
            # A long upload must not look like a crashed one to the stale-pending job.
            self._last_touch = time.monotonic()
            await self.catalog.touch_pending(self.audio_id, now=self._clock())

    async def complete(self) -> bool:
        """Make the blob visible. False if the early put failed (the caller puts the file)."""
        if self.failed or self.settled:
            return False
        try:
            await self.writer.complete()
        except Exception as exc:  # noqa: BLE001 - see docstring
            log.warning("early put of %s could not complete, putting the file: %s", self.key, exc)
            await self._drop_writer()
            return False
        self.settled = True
        metrics.EARLY_PUTS.labels("completed").inc()
        return True

    async def abandon_blob(self) -> None:
        """Abort the multipart upload but keep the intent row: ingest goes on without the
        early put and owns the row from here."""
        await self._settle("abandoned")

    async def abort(self) -> None:
        """The upload failed: abort the multipart upload and remove the intent row."""
        if await self._settle("aborted"):
            await self.catalog.delete_pending(self.audio_id)

    async def _settle(self, outcome: str) -> bool:
        """Abort the store write once; False if it was already settled."""
        if self.settled:
            return False
        if not self.failed:
            await self._drop_writer()
        self.settled = True
        metrics.EARLY_PUTS.labels(outcome).inc()
        return True

    async def _drop_writer(self) -> None:
        self.failed = True
        try:
            await self.writer.abort()
        except Exception as exc:  # noqa: BLE001 - the parts stay invisible; lifecycle rules reclaim them
            log.warning("could not abort the multipart upload of %s: %s", self.key, exc)
