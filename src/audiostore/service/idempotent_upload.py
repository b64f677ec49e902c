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
- If the first object is gone (deleted or expired), the key is released and the upload is
  stored again.
- Keys live `idempotency_ttl_seconds` (default a day); after that they are ignored and
  replaced. Expired rows are deleted in bulk by `purge_expired_idempotency_keys`, which
  idempotent uploads also run themselves at most once per `PURGE_EVERY` per process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..catalog import AudioRow, IdempotencyKeyRow
from ..errors import BadRequest, IdempotencyKeyInProgress, IdempotencyKeyReused
from .audio import AudioService, UploadFields
from .principal import Principal
from .staging import StagedUpload

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
ABANDONED_AFTER = timedelta(minutes=15)
PURGE_EVERY = timedelta(hours=1)
_last_purge: weakref.WeakKeyDictionary[AudioService, datetime] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """The stored object, and whether it is the answer to an earlier request (a replay)."""

    row: AudioRow
    replayed: bool = False


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


async def ingest_once(
    audio: AudioService,
    staged: StagedUpload,
    principal: Principal,
    fields: UploadFields,
    *,
    idempotency_key: str | None,
) -> UploadOutcome:
    """`AudioService.ingest`, made idempotent by `idempotency_key` when one is given."""
    if idempotency_key is None:
        return UploadOutcome(await audio.ingest(staged, principal, fields))
    try:
        key = check_idempotency_key(idempotency_key)
        fingerprint = upload_fingerprint(staged.sha256, fields, staged.filename)
        earlier = await _claim(audio, principal.owner, key, fingerprint)
    except BaseException:
        await staged.close()
        raise
    if earlier is not None:
        await staged.close()  # an early put of this body is aborted: the first one stands
        return UploadOutcome(earlier, replayed=True)
    try:
        row = await audio.ingest(staged, principal, fields)
    except BaseException:
        await audio.catalog.idempotency_keys.release(principal.owner, key, fingerprint=fingerprint)
        raise
    await audio.catalog.idempotency_keys.complete(principal.owner, key, row.id)
    await _purge_now_and_then(audio)
    return UploadOutcome(row)


async def _claim(audio: AudioService, owner: str, key: str, fingerprint: str) -> AudioRow | None:
    """Claim the key for this request (None), or return the object an earlier one stored."""
    ttl = timedelta(seconds=audio.settings.idempotency_ttl_seconds)
    for _ in range(3):
        now = audio.clock()
        claim = IdempotencyKeyRow(
            owner=owner, key=key, fingerprint=fingerprint, audio_id=None,
            created_at=now, expires_at=now + ttl,
        )
        held = await audio.catalog.idempotency_keys.claim(claim, now=now)
        if held is None:
            return None
        if held.fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        if held.audio_id is None:
            if now - held.created_at < ABANDONED_AFTER:
                raise IdempotencyKeyInProgress()
        else:
            row = await audio.catalog.get_visible(held.audio_id, owner=None, now=now)
            if row is not None:
                return row
        # Abandoned, or its object is gone: forget it and claim afresh.
        await audio.catalog.idempotency_keys.release(owner, key, fingerprint=fingerprint)
    raise IdempotencyKeyInProgress()


async def purge_expired_idempotency_keys(audio: AudioService, *, now: datetime | None = None) -> int:
    """Delete expired idempotency keys; returns how many. Safe to run any time, anywhere."""
    return await audio.catalog.idempotency_keys.delete_expired(now=now or audio.clock())


async def _purge_now_and_then(audio: AudioService) -> None:
    now = audio.clock()
    last = _last_purge.get(audio)
    if last is not None and now - last < PURGE_EVERY:
        return
    _last_purge[audio] = now
    await purge_expired_idempotency_keys(audio, now=now)
