"""Range, ETag, 304, If-Range, HEAD and caching on GET /v1/audio/{id}/content."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Api


@pytest.fixture
async def stored(api: Api, tones: dict[str, Path]) -> tuple[str, bytes]:
    r = await api.upload(tones["wav"])
    return r.json()["id"], tones["wav"].read_bytes()


async def test_etag_and_if_none_match(api: Api, stored: tuple[str, bytes]) -> None:
    audio_id, data = stored
    r = await api.http.get(f"/v1/audio/{audio_id}/content", headers=api.alice)
    etag = r.headers["etag"]
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["accept-ranges"] == "bytes"
    again = await api.http.get(f"/v1/audio/{audio_id}/content", headers={**api.alice, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    other = await api.http.get(f"/v1/audio/{audio_id}/content", headers={**api.alice, "If-None-Match": '"nope"'})
    assert other.status_code == 200


async def test_if_range_matching_and_stale(api: Api, stored: tuple[str, bytes]) -> None:
    audio_id, data = stored
    etag = (await api.http.head(f"/v1/audio/{audio_id}/content", headers=api.alice)).headers["etag"]
    hit = await api.http.get(
        f"/v1/audio/{audio_id}/content", headers={**api.alice, "Range": "bytes=0-9", "If-Range": etag}
    )
    assert hit.status_code == 206 and hit.content == data[:10]
    stale = await api.http.get(
        f"/v1/audio/{audio_id}/content", headers={**api.alice, "Range": "bytes=0-9", "If-Range": '"old"'}
    )
    assert stale.status_code == 200 and stale.content == data


async def test_head_has_length_and_no_body(api: Api, stored: tuple[str, bytes]) -> None:
    audio_id, data = stored
    r = await api.http.head(f"/v1/audio/{audio_id}/content", headers=api.alice)
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(data))
    assert r.content == b""


@pytest.mark.parametrize(
    ("header", "expect"),
    [("bytes=-100", slice(-100, None)), ("bytes=100-", slice(100, None)), ("bytes=0-0", slice(0, 1))],
)
async def test_range_forms(api: Api, stored: tuple[str, bytes], header: str, expect: slice) -> None:
    audio_id, data = stored
    r = await api.http.get(f"/v1/audio/{audio_id}/content", headers={**api.alice, "Range": header})
    assert r.status_code == 206
    assert r.content == data[expect]


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=5-2", "items=0-1", "bytes=", "bytes=99999999-"])
async def test_bad_ranges_are_416(api: Api, stored: tuple[str, bytes], header: str) -> None:
    audio_id, data = stored
    r = await api.http.get(f"/v1/audio/{audio_id}/content", headers={**api.alice, "Range": header})
    assert r.status_code == 416
    assert r.json()["error"]["code"] == "bad_range"
    assert r.headers["content-range"] == f"bytes */{len(data)}"
