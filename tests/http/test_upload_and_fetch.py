"""Upload every accepted format, probe it, fetch it whole and in ranges, sign it, delete it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ACCEPTED_FORMATS, Api


@pytest.mark.parametrize("fmt", ACCEPTED_FORMATS)
async def test_each_format_round_trips(api: Api, tones: dict[str, Path], fmt: str) -> None:
    path = tones[fmt]
    data = path.read_bytes()
    r = await api.upload(path, collection="takes")
    assert r.status_code == 201, r.text
    obj = r.json()
    assert abs(obj["duration"] - 2.0) <= 0.05
    assert obj["channels"] == 2
    assert obj["sample_rate"] == (48000 if fmt in ("opus", "webm") else 44100)
    assert obj["size"] == len(data)
    assert obj["name"] == path.name
    assert obj["collection"] == "takes"
    assert obj["owner"] == "alice"
    assert obj["key"].startswith(f"alice/takes/{obj['created_at'][:10]}/{obj['id']}.")

    full = await api.http.get(f"/v1/audio/{obj['id']}/content", headers=api.alice)
    assert full.status_code == 200
    assert full.content == data
    assert full.headers["content-type"].startswith(obj["content_type"])

    part = await api.http.get(
        f"/v1/audio/{obj['id']}/content", headers={**api.alice, "Range": "bytes=10-99"}
    )
    assert part.status_code == 206
    assert part.content == data[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(data)}"

    # The URL handed out at upload works with no Authorization header.
    signed = await api.http.get(obj["url"].removeprefix("http://testserver"))
    assert signed.status_code == 200
    assert signed.content == data

    assert (await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 204
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 404
    assert (await api.http.get(obj["url"].removeprefix("http://testserver"))).status_code == 404
    assert await api.blob_keys() == []
    assert await api.row_count() == 0


async def test_raw_body_upload_with_query_fields(api: Api, wav_bytes: bytes) -> None:
    r = await api.http.post(
        "/v1/audio?name=take.wav&collection=raw&metadata=%7B%22bpm%22%3A%20120%7D&text=hello",
        content=wav_bytes, headers={**api.alice, "Content-Type": "audio/wav"},
    )
    assert r.status_code == 201, r.text
    obj = r.json()
    assert (obj["name"], obj["collection"], obj["metadata"], obj["text"]) == ("take.wav", "raw", {"bpm": 120}, "hello")
    assert obj["format"] == "wav"


async def test_declared_type_is_only_a_hint(api: Api, tones: dict[str, Path]) -> None:
    """An MP3 sent as audio/wav named .wav is stored as what it really is."""
    r = await api.http.post(
        "/v1/audio?name=liar.wav", content=tones["mp3"].read_bytes(),
        headers={**api.alice, "Content-Type": "audio/wav"},
    )
    assert r.status_code == 201
    assert r.json()["format"] == "mp3"
    assert r.json()["content_type"] == "audio/mpeg"
    assert r.json()["key"].endswith(".mp3")


async def test_multipart_fields_and_ttl(api: Api, tones: dict[str, Path]) -> None:
    r = await api.upload(
        tones["flac"], name="Lesson 1", metadata=json.dumps({"lesson": 1}), ttl_seconds=3600,
        text="the quick brown fox", voice_id="en-us",
    )
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["name"] == "Lesson 1"
    assert obj["metadata"] == {"lesson": 1}
    assert obj["text"] == "the quick brown fox"
    assert obj["voice_id"] == "en-us"
    assert obj["expires_at"] is not None
    assert len(obj["sha256"]) == 64


async def test_patch_changes_name_metadata_and_expiry(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    r = await api.http.patch(
        f"/v1/audio/{obj['id']}", headers=api.alice,
        json={"name": "renamed", "metadata": {"a": 1}, "ttl_seconds": 60},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "renamed"
    assert r.json()["metadata"] == {"a": 1}
    assert r.json()["expires_at"] is not None
    r = await api.http.patch(f"/v1/audio/{obj['id']}", headers=api.alice, json={"clear_expiry": True})
    assert r.json()["expires_at"] is None
    got = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert got["name"] == "renamed"


async def test_expired_object_is_gone_everywhere_before_any_sweep(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"], ttl_seconds=1)).json()
    url = obj["url"].removeprefix("http://testserver")
    assert (await api.http.get(url)).status_code == 200
    api.clock.advance(2)
    for path in (f"/v1/audio/{obj['id']}", f"/v1/audio/{obj['id']}/content"):
        assert (await api.http.get(path, headers=api.alice)).status_code == 404
    listed = (await api.http.get("/v1/audio", headers=api.alice)).json()["items"]
    assert listed == []
    r = await api.http.get(url)
    assert r.status_code == 404  # a still-valid signature opens nothing once the object expired
    assert (await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice, json={})).status_code == 404
