"""The expiry sweep and cleanup delete an object's derived blobs (renditions, waveforms) with
it, whether its claim brought their keys (PostgreSQL) or the purge looks them up (SQLite);
objects with none cost no lookup; the spool's delete passes over keys it does not hold."""

from __future__ import annotations

from pathlib import Path

from conftest import Api

from audiostore.blobstores import LocalBlobStore
from audiostore.jobs import run_job


async def test_sweep_deletes_renditions_and_waveforms_of_expired_objects(
    api: Api, tones: dict[str, Path]
) -> None:
    rich = (await api.upload(tones["wav"], ttl_seconds=60)).json()
    plain = (await api.upload(tones["mp3"], ttl_seconds=60)).json()
    live = (await api.upload(tones["flac"], ttl_seconds=3600)).json()
    for obj in (rich, live):
        r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=api.alice)
        assert r.status_code == 200
        r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=opus", headers=api.alice)
        assert r.status_code == 200
        assert (await api.http.get(f"/v1/audio/{obj['id']}/waveform", headers=api.alice)).status_code == 200
    await api.settled()
    before = set(await api.blob_keys())
    live_keys = {k for k in before if live["id"] in k}
    assert len([k for k in before if rich["id"] in k]) >= 3  # original + 2 renditions (+ waveform)
    assert len(live_keys) >= 3

    api.clock.advance(120)
    result = await run_job(api.runtime, "sweep_expired")

    assert result.counts == {"expired": 2, "deleted": 2, "left_for_retry": 0}
    assert set(await api.blob_keys()) == live_keys
    assert await api.row_count() == 1


async def test_a_claim_carries_derived_keys_on_postgresql_only(
    api: Api, tones: dict[str, Path]
) -> None:
    rich = (await api.upload(tones["wav"], ttl_seconds=60)).json()
    plain = (await api.upload(tones["wav"], ttl_seconds=60)).json()
    r = await api.http.get(f"/v1/audio/{rich['id']}/content?format=mp3", headers=api.alice)
    assert r.status_code == 200
    await api.settled()
    api.clock.advance(120)

    claimed = await api.runtime.catalog.claims.claim_expired(now=api.clock(), limit=10)

    by_id = {c.id: c for c in claimed.objects}
    assert set(by_id) == {rich["id"], plain["id"]}
    assert by_id[rich["id"]].key == rich["key"]
    if api.runtime.catalog.dialect == "postgresql":
        assert len(by_id[rich["id"]].derived_keys or ()) == 1
        assert by_id[plain["id"]].derived_keys == ()
    else:
        assert by_id[rich["id"]].derived_keys is None  # the purge looks them up
    # Claimed means `deleting`: a second claim finds nothing.
    again = await api.runtime.catalog.claims.claim_expired(now=api.clock(), limit=10)
    assert again.objects == []
    assert await api.runtime.deletion.purge(claimed) == 2
    assert await api.blob_keys() == []


async def test_spool_delete_removes_what_it_holds_and_skips_the_rest(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "spool")
    blob = tmp_path / "b.wav"
    blob.write_bytes(b"RIFF")
    await store.put_file("a/2026-01-01/x.wav", blob, content_type="audio/wav")
    await store.put_file("a/2026-01-01/y.wav", blob, content_type="audio/wav")
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"keep")

    await store.delete_many(
        ["a/2026-01-01/x.wav", "b/2026-01-02/missing.wav", "../outside.wav", "/etc/hostname"]
    )

    assert [m.key async for m in store.list("")] == ["a/2026-01-01/y.wav"]
    assert outside.read_bytes() == b"keep"  # a traversal is never followed
