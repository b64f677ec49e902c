"""The content routes' hot path on local disk: the in-process row cache (service/served_rows.py)
never serves what the catalogue no longer allows, and small ranges (http/small_range.py)
answer exactly what FileResponse would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from conftest import Api, backend_settings_local, make_api
from sqlalchemy import text


@pytest.fixture
async def local_api(tmp_path: Path) -> AsyncIterator[Api]:
    a, runtime = await make_api(backend_settings_local(tmp_path, auth_cache_seconds=0))
    assert runtime.audio.served_rows is not None  # the cache is on by default on local disk
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def _stored(api: Api, path: Path, **fields: object) -> tuple[str, str]:
    r = await api.upload(path, **fields)
    assert r.status_code == 201, r.text
    audio_id = r.json()["id"]
    url = (await api.http.post(f"/v1/audio/{audio_id}/url", headers=api.alice, json={})).json()[
        "url"
    ]
    return audio_id, url


async def _both(api: Api, audio_id: str, url: str) -> tuple[int, int]:
    by_key = await api.http.get(f"/v1/audio/{audio_id}/content", headers=api.alice)
    async with httpx.AsyncClient(transport=api.http._transport) as plain:  # no Authorization
        signed = await plain.get(url)
    return by_key.status_code, signed.status_code


async def test_delete_is_seen_at_once(local_api: Api, tones: dict[str, Path]) -> None:
    audio_id, url = await _stored(local_api, tones["wav"])
    assert await _both(local_api, audio_id, url) == (200, 200)  # rows now cached
    assert (
        await local_api.http.delete(f"/v1/audio/{audio_id}", headers=local_api.alice)
    ).status_code == 204
    assert await _both(local_api, audio_id, url) == (404, 404)


async def test_patch_is_seen_by_the_next_fetch(local_api: Api, tones: dict[str, Path]) -> None:
    audio_id, _ = await _stored(local_api, tones["wav"])
    first = await local_api.http.get(f"/v1/audio/{audio_id}/content", headers=local_api.alice)
    assert "tone.wav" in first.headers["content-disposition"]
    r = await local_api.http.patch(
        f"/v1/audio/{audio_id}", headers=local_api.alice, json={"name": "renamed.wav"}
    )
    assert r.status_code == 200, r.text
    again = await local_api.http.get(f"/v1/audio/{audio_id}/content", headers=local_api.alice)
    assert "renamed.wav" in again.headers["content-disposition"]


async def test_expiry_is_checked_on_every_hit(local_api: Api, tones: dict[str, Path]) -> None:
    audio_id, url = await _stored(local_api, tones["wav"], ttl_seconds=60)
    assert await _both(local_api, audio_id, url) == (200, 200)
    local_api.clock.advance(61)
    assert await _both(local_api, audio_id, url) == (404, 404)


async def test_another_owner_gets_404_from_a_cached_row(
    local_api: Api, tones: dict[str, Path]
) -> None:
    audio_id, _ = await _stored(local_api, tones["wav"])
    assert (
        await local_api.http.get(f"/v1/audio/{audio_id}/content", headers=local_api.alice)
    ).status_code == 200
    assert (
        await local_api.http.get(f"/v1/audio/{audio_id}/content", headers=local_api.bob)
    ).status_code == 404
    assert (
        await local_api.http.get(f"/v1/audio/{audio_id}/content", headers=local_api.admin)
    ).status_code == 200


async def test_any_write_through_the_catalogue_clears_the_cache(
    local_api: Api, tones: dict[str, Path]
) -> None:
    """A module that updates rows with its own SQL (a job, say) is seen at once too."""
    audio_id, url = await _stored(local_api, tones["wav"])
    assert await _both(local_api, audio_id, url) == (200, 200)
    async with local_api.runtime.catalog.engine.begin() as conn:
        await conn.execute(
            text("UPDATE audio SET state = 'deleting' WHERE id = :id"), {"id": audio_id}
        )
    assert await _both(local_api, audio_id, url) == (404, 404)


async def test_blob_removed_behind_the_cache_is_404(local_api: Api, tones: dict[str, Path]) -> None:
    """Another process deleting the object removes its file: a cached row cannot serve it."""
    audio_id, url = await _stored(local_api, tones["wav"])
    assert await _both(local_api, audio_id, url) == (200, 200)
    next(local_api.runtime.settings.data_dir.joinpath("blobs").rglob(f"{audio_id}.*")).unlink()
    assert await _both(local_api, audio_id, url) == (404, 404)


@pytest.mark.parametrize(
    "header", ["bytes=0-0", "bytes=100-65635", "bytes=-100", "bytes=1000-", "bytes=5-1048580"]
)
async def test_small_ranges_match_the_file(
    local_api: Api, tones: dict[str, Path], header: str
) -> None:
    audio_id, _url = await _stored(local_api, tones["wav"])
    data = tones["wav"].read_bytes()
    first, _, last = header.removeprefix("bytes=").partition("-")
    if first == "":
        start, end = len(data) - int(last), len(data)
    else:
        start, end = int(first), min(len(data), int(last) + 1 if last else len(data))
    r = await local_api.http.get(
        f"/v1/audio/{audio_id}/content", headers={**local_api.alice, "Range": header}
    )
    assert r.status_code == 206
    assert r.content == data[start:end]
    assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{len(data)}"
    assert r.headers["content-length"] == str(end - start)
    assert r.headers["content-type"] == "audio/wav"
    assert (
        r.headers["etag"]
        and r.headers["last-modified"]
        and "immutable" in r.headers["cache-control"]
    )
    head = await local_api.http.head(
        f"/v1/audio/{audio_id}/content", headers={**local_api.alice, "Range": header}
    )
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-range"] == r.headers["content-range"]
