"""`Idempotency-Key` on POST /v1/audio: a retried upload answers the first result."""

from __future__ import annotations

from pathlib import Path

from conftest import Api


async def _post(api: Api, path: Path, key: str | None, headers: dict[str, str] | None = None, **fields: str):
    h = dict(headers or api.alice)
    if key is not None:
        h["Idempotency-Key"] = key
    return await api.upload(path, headers=h, **fields)


async def test_same_key_same_body_answers_first_result(api: Api, tones: dict[str, Path]) -> None:
    first = await _post(api, tones["wav"], "take-1", collection="takes")
    assert first.status_code == 201, first.text
    again = await _post(api, tones["wav"], "take-1", collection="takes")
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json()["url"]
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1


async def test_raw_body_upload_is_idempotent_too(api: Api, wav_bytes: bytes) -> None:
    ids = set()
    for _ in range(2):
        r = await api.http.post(
            "/v1/audio?name=raw.wav", content=wav_bytes,
            headers={**api.alice, "Content-Type": "audio/wav", "Idempotency-Key": "raw-1"},
        )
        assert r.status_code == 201, r.text
        ids.add(r.json()["id"])
    assert len(ids) == 1 and await api.row_count() == 1


async def test_same_key_different_body_is_409_and_writes_nothing(api: Api, tones: dict[str, Path]) -> None:
    assert (await _post(api, tones["wav"], "k")).status_code == 201
    other_file = await _post(api, tones["mp3"], "k")
    assert other_file.status_code == 409
    assert other_file.json()["error"]["code"] == "idempotency_key_reused"
    other_fields = await _post(api, tones["wav"], "k", collection="elsewhere")
    assert other_fields.status_code == 409
    renamed = await api.http.post(
        "/v1/audio", headers={**api.alice, "Idempotency-Key": "k"},
        files={"file": ("other-name.wav", tones["wav"].read_bytes(), "audio/wav")},
    )
    assert renamed.status_code == 409
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1


async def test_keys_are_owner_scoped(api: Api, tones: dict[str, Path]) -> None:
    a = await _post(api, tones["wav"], "shared-key")
    b = await _post(api, tones["wav"], "shared-key", headers=api.bob)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert b.json()["owner"] == "bob"


async def test_key_expires_after_its_ttl(api: Api, tones: dict[str, Path]) -> None:
    first = await _post(api, tones["wav"], "daily")
    api.clock.advance(api.runtime.settings.idempotency_ttl_seconds + 1)
    later = await _post(api, tones["wav"], "daily")
    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    # a different body may reuse an expired key
    api.clock.advance(api.runtime.settings.idempotency_ttl_seconds + 1)
    assert (await _post(api, tones["mp3"], "daily")).status_code == 201


async def test_failed_upload_releases_its_key(api: Api, tmp_path: Path, tones: dict[str, Path]) -> None:
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"this is not audio at all" * 100)
    bad = await _post(api, junk, "retry-me")
    assert bad.status_code == 415
    good = await _post(api, tones["wav"], "retry-me")
    assert good.status_code == 201
    assert await api.row_count() == 1


async def test_deleted_object_frees_its_key(api: Api, tones: dict[str, Path]) -> None:
    first = (await _post(api, tones["wav"], "gone")).json()
    assert (await api.http.delete(f"/v1/audio/{first['id']}", headers=api.alice)).status_code == 204
    again = await _post(api, tones["wav"], "gone")
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert "idempotent-replayed" not in again.headers


async def test_bad_key_is_400_and_writes_nothing(api: Api, tones: dict[str, Path]) -> None:
    for key in ("x" * 256, "has space", "tab\tkey"):
        r = await _post(api, tones["wav"], key)
        assert r.status_code == 400, key
        assert r.json()["error"]["code"] == "bad_request"
    assert await api.row_count() == 0
    assert not list((api.runtime.settings.data_dir / "tmp").iterdir())


async def test_expired_keys_are_purged(api: Api, tones: dict[str, Path]) -> None:
    from audiostore.service.idempotent_upload import purge_expired_idempotency_keys

    await _post(api, tones["wav"], "p1")
    await _post(api, tones["mp3"], "p2")
    assert await purge_expired_idempotency_keys(api.runtime.audio) == 0
    api.clock.advance(api.runtime.settings.idempotency_ttl_seconds + 1)
    assert await purge_expired_idempotency_keys(api.runtime.audio) == 2


async def test_uploads_purge_expired_keys_now_and_then(api: Api, tones: dict[str, Path]) -> None:
    from sqlalchemy import func, select

    from audiostore.catalog import IdempotencyKeyRow

    async def rows() -> int:
        async with api.runtime.catalog.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(IdempotencyKeyRow))).scalar_one())

    await _post(api, tones["wav"], "old-1")
    await _post(api, tones["mp3"], "old-2")
    assert await rows() == 2
    api.clock.advance(api.runtime.settings.idempotency_ttl_seconds + 3600)
    await _post(api, tones["flac"], "new-1")
    assert await rows() == 1


async def test_concurrent_retries_store_once(api: Api, tones: dict[str, Path]) -> None:
    import asyncio

    answers = await asyncio.gather(*[_post(api, tones["wav"], "race") for _ in range(4)])
    statuses = sorted(r.status_code for r in answers)
    assert statuses[0] == 201 and set(statuses) <= {201, 409}
    ids = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(ids) == 1
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_key_in_progress"
    assert await api.row_count() == 1
    assert len(await api.blob_keys()) == 1
    again = await _post(api, tones["wav"], "race")  # once stored, every retry gets it
    assert again.status_code == 201 and again.json()["id"] in ids
