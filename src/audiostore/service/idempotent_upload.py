"""Idempotent uploads: an `Idempotency-Key` makes a retried upload answer the first result.

The rules, all here:
- A key belongs to the caller's owner; two owners may use the same key independently.
- The request's fingerprint is sha256 over the uploaded bytes' sha256, the multipart file
  name and the upload fields (name, collection, expiry, metadata, text, voice, owner). Same key + same fingerprint ->
  the object the first request stored (no second object, no second blob). Same key + a
  different fingerprint -> 409 `idempotency_key_reused`.
- A claim records the id of the object its request stores, so what a retry meets follows
  that object's row, the one record of how far the first request got:
  - the row is ready: the retry answers it;
  - the row is pending (the first request is still storing it, or crashed while doing so):
    409 `idempotency_key_in_progress`. A crashed upload's row is finished (its blob is whole)
    or rolled back by the stale-pending job (service/stale_uploads.py) after
    `AUDIOSTORE_PENDING_GRACE`; the retry then answers the finished object or stores afresh.
    A claim is never taken over from a pending row, so a live upload (a slow one still
    putting its blob, an early put that heartbeats its row) is never stored twice;
  - no row yet (the first request is still checking the bytes, before its intent row): 409
    until the claim is `ABANDONED_AFTER` old (a crash before the intent row), then the
    retry takes the claim over and stores afresh.
- If the first request failed (any error), its key is released, so a retry stores afresh.
- A client that gave up waiting and retries meets a first request that goes on without it
  (an upload whose client left is not cancelled) and ends within the blob store's deadlines:
  stored (or spooled), and the retry gets that object; or failed, and the retry stores afresh
  (a put that missed its deadline and lands late is removed with its invisible row).
- If the first object is gone (deleted or expired), the key is released and the upload is
  stored again.
- Keys live `idempotency_ttl_seconds` (default a day); after that they are ignored and
  replaced. Expired rows are deleted in bulk by `purge_expired_idempotency_keys`, which
  idempotent uploads also run themselves at most once per `PURGE_EVERY` per process.

`Ingest.store` applies these rules; `IdempotencyKeys` holds the claims.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from ..catalog import PENDING, READY, AudioRow, Catalog, IdempotencyKeyRow
from ..errors import BadRequest, IdempotencyKeyInProgress, IdempotencyKeyReused
from .upload_fields import UploadFields

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
ABANDONED_AFTER = timedelta(minutes=15)
PURGE_EVERY = timedelta(hours=1)


def check_idempotency_key(raw: str) -> str:
    """1 to 255 printable ASCII characters, else 400 `bad_request`."""
    if not 1 <= len(raw) <= MAX_KEY_LENGTH or not all(32 < ord(ch) < 127 for ch in raw):
        raise BadRequest(
            f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters "
            "without spaces."
        )
    return raw


def upload_fingerprint(content_sha256: str, fields: UploadFields, filename: str | None = None) -> str:
    """sha256 over the bytes' hash, the file name and the fields a client sent with them."""
    described = json.dumps(
        {"content": content_sha256, "filename": filename, "fields": dataclasses.asdict(fields)},
        sort_keys=True, default=str, separators=(",", ":"),
    )
    return hashlib.sha256(described.encode()).hexdigest()


class IdempotencyKeys:
    """The claims of one catalogue: taken before an upload is stored, completed or released
    after it."""

    def __init__(self, catalog: Catalog, *, clock: Callable[[], datetime], ttl_seconds: float) -> None:
        self.catalog = catalog
        self.clock = clock
        self.ttl = timedelta(seconds=ttl_seconds)
        self._last_purge: datetime | None = None

    async def claim(self, owner: str, key: str, fingerprint: str, audio_id: str) -> AudioRow | None:
        """Claim the key for this request, which stores `audio_id` (None), or return the
        object an earlier request stored."""
        for _ in range(3):
            now = self.clock()
            claim = IdempotencyKeyRow(
                owner=owner, key=key, fingerprint=fingerprint, audio_id=audio_id,
                created_at=now, expires_at=now + self.ttl,
            )
            held = await self.catalog.idempotency_keys.claim(claim, now=now)
            if held is None:
                return None
            if held.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            stored = await self._stored_object(held, now)
            if stored is not None:
                return stored
            # Abandoned before its intent row, or its object is gone: forget it, claim afresh.
            await self.catalog.idempotency_keys.release(owner, key, fingerprint=fingerprint,
                                                        audio_id=held.audio_id)
        raise IdempotencyKeyInProgress()

    async def _stored_object(self, held: IdempotencyKeyRow, now: datetime) -> AudioRow | None:
        """The object a held claim's request stored, None if the claim is to be taken over;
        409 `idempotency_key_in_progress` while that request may still be storing it."""
        row = None
        if held.audio_id is not None and held.stored_at is None:
            row = await self.catalog.get_any(held.audio_id)  # how far the request got
            if row is not None and row.state == PENDING:
                raise IdempotencyKeyInProgress()  # being stored, or a crash the job resolves
        if held.stored_at is None and row is None and now - held.created_at < ABANDONED_AFTER:
            raise IdempotencyKeyInProgress()  # still checking the bytes, before its intent row
        if held.audio_id is None or (row is not None and row.state != READY):
            return None  # abandoned before its intent row, or rolled back
        # Stored (or a crashed upload the stale-pending job finished): answered while visible.
        return await self.catalog.get_visible(held.audio_id, owner=None, now=now)

    async def release(self, owner: str, key: str, fingerprint: str, audio_id: str) -> None:
        """The request that stores `audio_id` failed: a retry with the same key stores afresh
        (a claim a retry has since taken over stays)."""
        await self.catalog.idempotency_keys.release(owner, key, fingerprint=fingerprint, audio_id=audio_id)

    async def complete(self, owner: str, key: str, audio_id: str) -> None:
        """The request stored `audio_id`: the key answers it from now on."""
        now = self.clock()
        await self.catalog.idempotency_keys.mark_stored(owner, key, audio_id, now=now)
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await purge_expired_idempotency_keys(self, now=now)


class _HoldsCatalog(Protocol):
    catalog: Catalog
    clock: Callable[[], datetime]


async def purge_expired_idempotency_keys(holder: _HoldsCatalog, *, now: datetime | None = None) -> int:
    """Delete expired idempotency keys; returns how many. Safe to run any time, anywhere."""
    return await holder.catalog.idempotency_keys.delete_expired(now=now or holder.clock())
