"""Many expired and some live objects at once, for sweep tests: rows inserted in bulk and
tiny blobs put concurrently in the primary store (fast setup, real state)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import uuid_utils
from sqlalchemy import insert

from audiostore.blobstores.spooling import primary_of
from audiostore.catalog import AudioRow
from audiostore.runtime import Runtime
from audiostore.settings import Settings


async def seed_expired(
    settings: Settings, tmp_path: Path, *, expired: int, live: int, owner: str
) -> tuple[list[str], list[str]]:
    """In a migrated catalogue: `expired` objects that expired an hour ago and `live` ones
    that expire tomorrow, all of `owner`, created two days ago; returns their blob keys
    (expired, live)."""
    rt = Runtime.build(settings)
    await rt.migrate()
    try:
        return await _seed(rt, tmp_path, expired=expired, live=live, owner=owner)
    finally:
        await rt.close()


async def _seed(
    rt: Runtime, tmp_path: Path, *, expired: int, live: int, owner: str
) -> tuple[list[str], list[str]]:
    now = datetime.now(UTC)
    blob = tmp_path / "tiny.wav"
    blob.write_bytes(b"RIFF0000WAVE" + b"\0" * 64)
    rows, expired_keys, live_keys = [], [], []
    for i in range(expired + live):
        audio_id = str(uuid_utils.uuid7())
        key = f"{owner}/tts/{now:%Y-%m-%d}/{audio_id}.wav"
        dead = i < expired
        (expired_keys if dead else live_keys).append(key)
        rows.append(dict(
            id=audio_id, owner=owner, collection="tts", name="t.wav", key=key, state="ready",
            content_type="audio/wav", format="wav", codec="pcm_s16le", duration=0.1,
            sample_rate=8000, channels=1, bitrate=None, size=76, sha256="0" * 64, meta={},
            text=None, voice_id=None, created_at=now - timedelta(days=2),
            expires_at=now - timedelta(hours=1) if dead else now + timedelta(days=1),
            updated_at=now, location="primary", attempts=0,
        ))
    async with rt.catalog.engine.begin() as conn:
        await conn.execute(insert(AudioRow), rows)
    store = primary_of(rt.store)
    gate = asyncio.Semaphore(32)

    async def put(key: str) -> None:
        async with gate:
            await store.put_file(key, blob, content_type="audio/wav")

    await asyncio.gather(*(put(k) for k in expired_keys + live_keys))
    return expired_keys, live_keys
