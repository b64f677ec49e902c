"""The driver reads (catalog/driver_reads.py) answer exactly what the ORM answers, on SQLite and
PostgreSQL: same rows, same values and types, and the same rows left out (deleted, pending,
expired, another owner's), for every filter a list page takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect as sa_inspect

from audiostore.catalog import AudioRow, Catalog, ListQuery, upgrade
from audiostore.catalog.models import DerivedBlobRow, TtsRequestRow, TusUploadRow
from driver_read_support import both

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def audio(i: int, **kw: Any) -> AudioRow:
    values: dict[str, Any] = dict(
        id=f"01900000-0000-7000-8000-{i:012x}", owner="alice", collection="default",
        name=f"take_{i}%.wav", key=f"alice/default/{i}.wav", state="ready",
        content_type="audio/wav", format="wav", codec="pcm_s16le", duration=1.5,
        sample_rate=48000, channels=2, bitrate=None, size=1000 + i, sha256="ab" * 32,
        meta={"take": i, "nested": {"ok": True}}, text=None, voice_id=None,
        created_at=NOW - timedelta(hours=i), expires_at=None, updated_at=NOW,
        location="primary", attempts=0,
    )
    values.update(kw)
    return AudioRow(**values)


def fields(row: AudioRow | DerivedBlobRow | TtsRequestRow | TusUploadRow) -> dict[str, Any]:
    values = {a.key: getattr(row, a.key) for a in sa_inspect(type(row)).column_attrs}
    return {k: (v, type(v)) for k, v in values.items()}


async def fill(catalog: Catalog) -> list[AudioRow]:
    await upgrade(catalog.engine)
    rows = [
        audio(1),
        audio(2, collection="songs", text="words", voice_id="v"),
        audio(3, expires_at=NOW + timedelta(microseconds=1)),  # still visible at NOW
        audio(4, expires_at=NOW),  # expired exactly at NOW
        audio(5, expires_at=NOW - timedelta(days=1)),
        audio(6, state="deleting"),
        audio(7, state="pending"),
        audio(8, owner="bob", key="bob/default/8.wav"),
        audio(9, key="alice/other/9.wav", bitrate=128000, loudness_lufs=-20.5,
              analysis_due_at=NOW, analysis_error="too_long"),
        audio(10, name="take_10x.wav"),
    ]
    for row in rows:
        await catalog.insert_audio(row)
    derived = catalog.derived_blobs
    for audio_id, variant, kind in [(rows[0].id, "mp3-1", "rendition"), (rows[0].id, "wave", "waveform"),
                                    (rows[1].id, "opus-1", "rendition")]:
        await derived.put(DerivedBlobRow(
            audio_id=audio_id, variant=variant, kind=kind, key=f"{audio_id}.{variant}", format="mp3",
            content_type="audio/mpeg", size=10, sha256="cd" * 32,
            params={"bitrate": 96000, "gain_db": -1.5}, duration=None, created_at=NOW,
        ))
    return rows


async def test_one_object_and_batches_match_the_orm(catalog: Catalog) -> None:
    rows = await fill(catalog)
    ids = [r.id for r in rows] + ["01900000-0000-7000-8000-ffffffffffff"]
    for owner in ("alice", "bob", None):
        for row_id in ids:
            fast, slow = await both(catalog, lambda c: c.get_visible(row_id, owner=owner, now=NOW))
            assert (fields(fast) if fast else None) == (fields(slow) if slow else None), row_id
        fast_many, slow_many = await both(catalog, lambda c: c.get_many_visible(ids, owner=owner, now=NOW))
        assert {k: fields(v) for k, v in fast_many.items()} == {k: fields(v) for k, v in slow_many.items()}
        signable, full = await both(catalog, lambda c: c.get_many_signable(ids, owner=owner, now=NOW))
        assert {k: (v.id, v.key, v.location, v.expires_at) for k, v in signable.items()} == {
            k: (v.id, v.key, v.location, v.expires_at) for k, v in full.items()}
        assert set(signable) == set(slow_many)
    seen = await catalog.get_many_visible(ids, owner="alice", now=NOW)
    # Never served: expired (4, 5), deleting (6), pending (7), another owner's (8).
    assert sorted(seen) == sorted(rows[i].id for i in (0, 1, 2, 8, 9))
    assert await catalog.get_visible(rows[7].id, owner="alice", now=NOW) is None
    assert await catalog.get_many_visible([], owner="alice", now=NOW) == {}


async def test_list_pages_match_the_orm(catalog: Catalog) -> None:
    rows = await fill(catalog)
    queries = [
        ListQuery(owner="alice", limit=51),
        ListQuery(owner=None, limit=51),
        ListQuery(owner="alice", limit=2),
        ListQuery(owner="alice", limit=51, before_id=rows[2].id),
        ListQuery(owner="alice", collection="songs", limit=51),
        ListQuery(owner="alice", name="take_1%.wav", limit=51),
        ListQuery(owner="alice", key_prefix="alice/other/", limit=51),
        ListQuery(owner="alice", key_prefix="alice/default/1", limit=51),
        ListQuery(owner="alice", created_after=NOW - timedelta(hours=2, minutes=30), limit=51),
        ListQuery(owner="alice", created_before=NOW - timedelta(hours=2), limit=51),
        ListQuery(owner="bob", limit=51),
    ]
    for q in queries:
        fast, slow = await both(catalog, lambda c: c.list_visible(q, now=NOW))
        assert [fields(r) for r in fast] == [fields(r) for r in slow], q
    first = await catalog.list_visible(ListQuery(owner="alice", limit=51), now=NOW)
    assert [r.id for r in first] == [rows[i].id for i in (9, 8, 2, 1, 0)]
    # `_` and `%` in a prefix are literal: `take_1%` does not match `take_10x`.
    named = await catalog.list_visible(ListQuery(owner="alice", name="take_1%.wav", limit=51), now=NOW)
    assert [r.id for r in named] == [rows[0].id]


async def test_renditions_and_ping_match_the_orm(catalog: Catalog) -> None:
    rows = await fill(catalog)
    derived = catalog.derived_blobs
    ids = [r.id for r in rows]
    for kind in ("rendition", "waveform", None):
        fast, slow = await both(catalog, lambda c: derived.list_for(ids, kind=kind))
        assert [fields(d) for d in fast] == [fields(d) for d in slow]
        assert fast, kind
    assert await derived.list_for([], kind="rendition") == []
    await catalog.ping()


async def test_a_synthesis_cache_entry_matches_the_orm(catalog: Catalog) -> None:
    rows = await fill(catalog)
    tts = catalog.tts_requests
    segments = [{"audio_id": rows[1].id, "text": "words", "phonemes": "w3:dz"}]
    await tts.put(TtsRequestRow(owner="alice", request_hash="a" * 64, audio_id=rows[0].id,
                                engine="espeak-ng", phonemes="h@loU", segments=segments, created_at=NOW))
    await tts.put(TtsRequestRow(owner="alice", request_hash="b" * 64, audio_id=rows[1].id,
                                engine="espeak-ng", phonemes=None, segments=None, created_at=NOW))
    for owner, request_hash in [("alice", "a" * 64), ("alice", "b" * 64), ("bob", "a" * 64),
                                ("alice", "c" * 64)]:
        fast, slow = await both(catalog, lambda c: c.tts_requests.get(owner, request_hash))
        assert (fields(fast) if fast else None) == (fields(slow) if slow else None), (owner, request_hash)
    found = await tts.get("alice", "a" * 64)
    assert found is not None and found.segments == segments and found.created_at == NOW
    # Another owner's identical request is not theirs.
    assert await tts.get("bob", "a" * 64) is None


async def test_a_write_is_seen_by_the_next_read(catalog: Catalog) -> None:
    rows = await fill(catalog)
    assert await catalog.get_visible(rows[0].id, owner="alice", now=NOW) is not None
    await catalog.update_audio(rows[0].id, {"meta": {"changed": 1}})
    again = await catalog.get_visible(rows[0].id, owner="alice", now=NOW)
    assert again is not None and again.meta == {"changed": 1}
    assert await catalog.mark_deleting(rows[0].id, owner="alice", now=NOW) is not None
    assert await catalog.get_visible(rows[0].id, owner="alice", now=NOW) is None
    assert rows[0].id not in await catalog.get_many_visible([rows[0].id], owner=None, now=NOW)


async def test_a_resumable_upload_row_matches_the_orm(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    tus = catalog.tus_uploads
    plain = TusUploadRow(
        id="01900000-0000-7000-8000-00000000a001", owner="alice", state="receiving", length=None,
        offset=0, upload_metadata="filename dGFrZS53YXY=",
        fields={"fields": {"name": "x"}, "filename": "x"},
        bounds={"max_bytes": 10, "formats": ["wav"]}, writer=None, lease_until=None, audio_id=None,
        created_at=NOW, updated_at=NOW, expires_at=NOW + timedelta(hours=1), concat=None,
    )
    final = TusUploadRow(
        id="01900000-0000-7000-8000-00000000a002", owner="bob", state="storing", length=20,
        offset=20, upload_metadata=None, fields={}, bounds={}, writer="w" * 36,
        lease_until=NOW + timedelta(minutes=15), audio_id=None, created_at=NOW, updated_at=NOW,
        expires_at=NOW, concat="final", concat_parts=["a", "b"],
    )
    for row in (plain, final):
        await tus.insert(row)
    for upload_id in (plain.id, final.id, "01900000-0000-7000-8000-00000000a003"):
        fast, slow = await both(catalog, lambda c: c.tus_uploads.get(upload_id))
        assert (fields(fast) if fast else None) == (fields(slow) if slow else None), upload_id
    # A PATCH's committed offset is what the next PATCH reads.
    assert await tus.advance(plain.id, old_offset=0, new_offset=7, now=NOW, values={"length": 9})
    again = await tus.get(plain.id)
    assert again is not None and (again.offset, again.length) == (7, 9)


async def test_a_patch_offset_write_does_what_the_orm_does(catalog: Catalog) -> None:
    """The driver's conditional offset UPDATE (every PATCH's one write) changes a row exactly
    as the ORM's statement does, and refuses in the same cases: a moved offset, another state,
    a live ingest lease; an expired lease does not hold it back."""
    await upgrade(catalog.engine)
    tus = catalog.tus_uploads
    serial = iter(range(0xB000, 0xC000))

    async def fresh(**kw: Any) -> str:
        values: dict[str, Any] = dict(
            id=f"01900000-0000-7000-8000-{next(serial):012x}", owner="alice", state="receiving",
            length=None, offset=5, upload_metadata=None, fields={}, bounds={}, writer=None,
            lease_until=None, audio_id=None, created_at=NOW, updated_at=NOW,
            expires_at=NOW + timedelta(hours=1), concat=None)
        values.update(kw)
        await tus.insert(TusUploadRow(**values))
        return str(values["id"])

    later = NOW + timedelta(seconds=3, microseconds=7)
    last = {"length": 9, "updated_at": later, "expires_at": later + timedelta(hours=1),
            "state": "storing", "writer": "w" * 36, "lease_until": later + timedelta(minutes=15)}
    cases: list[tuple[dict[str, Any], int, dict[str, Any], bool]] = [
        ({}, 5, {"updated_at": later, "expires_at": later + timedelta(hours=1)}, True),
        ({}, 5, last, True),  # the last PATCH: state and ingest lease in the same write
        ({}, 4, {"length": 9}, False),  # the offset moved meanwhile
        ({"state": "storing"}, 5, {}, False),
        ({"writer": "x" * 36, "lease_until": NOW + timedelta(seconds=1)}, 5, {}, False),
        ({"writer": "x" * 36, "lease_until": NOW - timedelta(seconds=1)}, 5, {}, True),
    ]
    for made, old_offset, values, expected in cases:
        async def advance(c: Catalog) -> tuple[bool, dict[str, Any]]:
            upload_id = await fresh(**made)
            done = await c.tus_uploads.advance(upload_id, old_offset=old_offset, new_offset=9,
                                               now=NOW, values=dict(values))
            row = await c.tus_uploads.get(upload_id)
            assert row is not None
            return done, {k: v for k, v in fields(row).items() if k != "id"}

        fast, slow = await both(catalog, advance)
        assert fast == slow, (made, values)
        assert fast[0] is expected, (made, values)
        assert fast[1]["offset"][0] == (9 if expected else 5)
