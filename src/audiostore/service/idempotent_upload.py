"""Idempotent uploads: an `Idempotency-Key` makes a retried upload answer the first result.

The rules, all here:
- A key belongs to the caller's owner; two owners may use the same key independently.
- The request's fingerprint is sha256 over the uploaded bytes' sha256, the multipart file
  name and the upload fields (name, collection, expiry, metadata, text, voice, owner). Same key + same fingerprint ->
  the object the first request stored (no second object, no second blob). Same key + a
  different fingerprint -> 409 `idempotency_key_reused`.
- While the first request is still being stored, a second one with the same key gets 409
  `idempotency_key_in_progress` (the client retries later). A claim left behind by a crash
  counts as abandoned after `ABANDONED_AFTER` and is taken over.
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

from ..catalog import AudioRow, Catalog, IdempotencyKeyRow
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

    async def claim(self, owner: str, key: str, fingerprint: str) -> AudioRow | None:
        """Claim the key for this request (None), or return the object an earlier one stored."""
        for _ in range(3):
            now = self.clock()
            claim = IdempotencyKeyRow(
                owner=owner, key=key, fingerprint=fingerprint, audio_id=None,
                created_at=now, expires_at=now + self.ttl,
            )
            held = await self.catalog.claim_idempotency_key(claim, now=now)
            if held is None:
                return None
            if held.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            if held.audio_id is None:
                if now - held.created_at < ABANDONED_AFTER:
                    raise IdempotencyKeyInProgress()
            else:
                row = await self.catalog.get_visible(held.audio_id, owner=None, now=now)
                if row is not None:
                    return row
            # Abandoned, or its object is gone: forget it and claim afresh.
            await self.catalog.release_idempotency_key(owner, key, fingerprint=fingerprint)
        raise IdempotencyKeyInProgress()

    async def release(self, owner: str, key: str, fingerprint: str) -> None:
        """The request failed: a retry with the same key stores afresh."""
        await self.catalog.release_idempotency_key(owner, key, fingerprint=fingerprint)

    async def complete(self, owner: str, key: str, audio_id: str) -> None:
        """The request stored `audio_id`: the key answers it from now on."""
        await self.catalog.complete_idempotency_key(owner, key, audio_id)
        now = self.clock()
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            await purge_expired_idempotency_keys(self, now=now)


class _HoldsCatalog(Protocol):
    catalog: Catalog
    clock: Callable[[], datetime]


async def purge_expired_idempotency_keys(holder: _HoldsCatalog, *, now: datetime | None = None) -> int:
    """Delete expired idempotency keys; returns how many. Safe to run any time, anywhere."""
    return await holder.catalog.delete_expired_idempotency_keys(now=now or holder.clock())
