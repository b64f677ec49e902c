"""The deletion lifecycle's units (service/deletion.py) on a real catalogue (SQLite and
PostgreSQL, the `catalog` fixture) and a real local blob store; a store that refuses is an
S3 store nobody listens for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import uuid_utils

from conftest import Clock
from server_process import free_port

from audiostore.blobstores import BlobStore, LocalBlobStore
from audiostore.blobstores.s3 import S3BlobStore
from audiostore.catalog import DELETING, PENDING, READY, AudioRow, Catalog, upgrade
from audiostore.catalog.models import DerivedBlobRow
from audiostore.errors import NotFound
from audiostore.service import Principal
from audiostore.service.deletion import STALE_DELETING_SECONDS, Deletion, Purged

ALICE = Principal(owner="alice")


@dataclass
class World:
    catalog: Catalog
    store: LocalBlobStore
    clock: Clock
    tmp: Path

    def deletion(self, store: BlobStore | None = None) -> Deletion:
        return Deletion(
            catalog=self.catalog, store=store or self.store, clock=self.clock, batch_size=3,
            retry_base=30, retry_max=100,
        )

    def refusing(self) -> Deletion:
        """The same lifecycle over a bucket that cannot be reached."""
        return self.deletion(S3BlobStore(
            bucket="gone", endpoint=f"http://127.0.0.1:{free_port()}", access_key_id="k",
            secret_access_key="s", allow_http=True,
        ))

    async def add(
        self, *, state: str = READY, expires_in: float | None = None, collection: str = "c",
        derived: bool = False,
    ) -> AudioRow:
        """A row, its blob, and (with `derived`) a rendition row and blob."""
        now = self.clock()
        audio_id = str(uuid_utils.uuid7())
        key = f"alice/{collection}/{audio_id}.wav"
        source = self.tmp / f"{audio_id}.wav"
        source.write_bytes(b"RIFF" + audio_id.encode())
        await self.store.put_file(key, source, content_type="audio/wav")
        row = AudioRow(
            id=audio_id, owner="alice", collection=collection, name="a.wav", key=key, state=state,
            content_type="audio/wav", format="wav", codec="pcm_s16le", duration=1.0,
            sample_rate=8000, channels=1, bitrate=None, size=source.stat().st_size, sha256="0" * 64,
            meta={}, created_at=now, updated_at=now,
            expires_at=None if expires_in is None else now + timedelta(seconds=expires_in),
        )
        await self.catalog.insert_audio(row.detached_copy())
        if derived:
            derived_key = f"{key}.r/mp3"
            await self.store.put_file(derived_key, source, content_type="audio/mpeg")
            await self.catalog.derived_blobs.put(DerivedBlobRow(
                audio_id=audio_id, variant="mp3", kind="rendition", key=derived_key, format="mp3",
                content_type="audio/mpeg", size=1, sha256="0" * 64, params={}, created_at=now,
            ))
        return row

    async def blob_keys(self) -> list[str]:
        return sorted([m.key async for m in self.store.list("")])

    async def row(self, audio_id: str) -> AudioRow | None:
        found = await self.catalog.rows_by_keys([f"alice/c/{audio_id}.wav"])
        return next(iter(found.values()), None)


@pytest.fixture
async def world(catalog: Catalog, tmp_path: Path) -> AsyncIterator[World]:
    await upgrade(catalog.engine)
    store = LocalBlobStore(tmp_path / "blobs")
    yield World(catalog, store, Clock(), tmp_path)
    await store.close()


async def test_delete_then_purge_leaves_no_blob_and_no_row(world: World) -> None:
    kept = await world.add()
    doomed = await world.add(derived=True)
    deletion = world.deletion()

    await deletion.delete(ALICE, doomed.id)

    assert await world.catalog.count_rows() == 1
    assert await world.blob_keys() == [kept.key]  # the original and its rendition went
    with pytest.raises(NotFound):  # gone means gone, for a second delete too
        await deletion.delete(ALICE, doomed.id)
    with pytest.raises(NotFound):  # and nobody deletes what is not theirs
        await deletion.delete(Principal(owner="bob"), kept.id)
    assert await world.catalog.count_rows() == 1


async def test_a_failed_store_delete_is_retried_with_backoff(world: World) -> None:
    row = await world.add(derived=True)
    refusing = world.refusing()
    try:
        await refusing.delete(ALICE, row.id)  # the caller succeeds: invisible at once
        assert await world.catalog.get_visible(row.id, owner=None, now=world.clock()) is None
        left = await world.row(row.id)
        assert left is not None and left.state == DELETING
        assert left.next_attempt_at == world.clock()  # due for the retry job now

        assert await refusing.retry_due() == Purged(taken=1, deleted=0)
        again = await world.row(row.id)
        assert again is not None and again.attempts == 1
        assert again.next_attempt_at == world.clock() + timedelta(seconds=30)
        assert await refusing.retry_due() == Purged()  # not due before the backoff has passed
    finally:
        await refusing.store.close()

    world.clock.advance(31)
    assert await world.deletion().retry_due() == Purged(taken=1, deleted=1)
    assert await world.catalog.count_rows() == 0
    assert await world.blob_keys() == []


async def test_sweep_takes_every_expired_object_in_batches(world: World) -> None:
    expired = [await world.add(expires_in=60, derived=i == 0) for i in range(7)]  # 3 batches
    living = await world.add(expires_in=3600)
    world.clock.advance(120)

    done = await world.deletion().sweep_expired()

    assert done == Purged(taken=len(expired), deleted=len(expired))
    assert await world.blob_keys() == [living.key]
    assert await world.deletion().sweep_expired() == Purged()


async def test_a_sweep_the_store_refuses_goes_to_the_retry_job(world: World) -> None:
    rows = [await world.add(expires_in=60) for _ in range(2)]
    world.clock.advance(120)
    refusing = world.refusing()
    try:
        done = await refusing.sweep_expired()
    finally:
        await refusing.store.close()
    assert done.taken == 2 and done.deleted == 0 and done.left_for_retry == 2
    for row in rows:  # locked (PostgreSQL) or claimed (SQLite): either way `deleting`, due now
        left = await world.row(row.id)
        assert left is not None and left.state == DELETING and left.next_attempt_at == world.clock()
    assert await world.deletion().retry_due() == Purged(taken=2, deleted=2)
    assert await world.blob_keys() == []


async def test_a_doomed_claim_that_never_ends_is_taken_again(world: World) -> None:
    """A worker that dies holding a batch: on PostgreSQL its lock goes with its transaction
    and the rows, still `ready` and expired, are swept again; on SQLite the claim made them
    `deleting` and the retry job takes them once they are stale."""
    row = await world.add(expires_in=60, derived=True)
    world.clock.advance(120)
    claims = world.catalog.claims
    if world.catalog.dialect == "postgresql":
        with pytest.raises(RuntimeError):
            async with claims.lock_expired(now=world.clock(), limit=10) as batch:
                assert [o.id for o in batch.objects] == [row.id]
                raise RuntimeError("the worker died")
        left = await world.row(row.id)
        assert left is not None and left.state == READY
        assert await world.deletion().sweep_expired() == Purged(taken=1, deleted=1)
    else:
        claimed = await claims.claim_expired(now=world.clock(), limit=10)
        assert [o.id for o in claimed.objects] == [row.id]  # ... and no purge follows
        assert await world.deletion().retry_due() == Purged()  # it may still be in flight
        world.clock.advance(STALE_DELETING_SECONDS + 1)
        assert await world.deletion().retry_due() == Purged(taken=1, deleted=1)
    assert await world.catalog.count_rows() == 0
    assert await world.blob_keys() == []


async def test_roll_back_takes_any_state_but_deleting(world: World) -> None:
    pending = await world.add(state=PENDING)
    ready = await world.add()
    deletion = world.deletion()

    assert await deletion.roll_back([pending.id, ready.id]) == Purged(taken=2, deleted=2)
    assert await world.catalog.count_rows() == 0 and await world.blob_keys() == []

    already = await world.add()
    refusing = world.refusing()
    try:
        await refusing.delete(ALICE, already.id)
    finally:
        await refusing.store.close()
    # A row on its way out belongs to the retry job: rolling it back again takes nothing.
    assert await deletion.roll_back([already.id]) == Purged()
    assert await world.catalog.count_rows() == 1


async def test_clean_up_takes_only_what_it_names(world: World) -> None:
    old = [await world.add(collection="old") for _ in range(4)]
    other = await world.add(collection="keep")
    world.clock.advance(3600)
    young = await world.add(collection="old")

    done = await world.deletion().clean_up(older_than=60, collection="old")

    assert done == Purged(taken=len(old), deleted=len(old))
    assert await world.blob_keys() == sorted([other.key, young.key])
