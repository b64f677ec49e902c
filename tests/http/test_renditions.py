"""Renditions: every input format to every output format, Range on the first request,
rendered once, signed URLs bound to one rendition, listed, deleted with the object; loudness
measured after the upload and normalisation to the target."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import av

from audio_factory import make_tone
from audiostore.audio.loudness import measure_loudness
import pytest

from audiostore.errors import ConfigurationError
from audiostore.runtime import Runtime
from audiostore.settings import Settings
from conftest import ACCEPTED_FORMATS, Api, make_api

OUTPUTS = {
    "mp3": ("audio/mpeg", "mp3"),
    "opus": ("audio/ogg", "ogg"),
    "aac": ("audio/mp4", "mp4"),
    "wav": ("audio/wav", "wav"),
    "flac": ("audio/flac", "flac"),
}


def decoded_seconds(path: Path, demuxer: str) -> float:
    with av.open(str(path), format=demuxer) as c:
        samples, rate = 0, 0
        for frame in c.decode(c.streams.audio[0]):
            samples += frame.samples
            rate = frame.sample_rate
    return samples / rate


async def test_every_input_to_every_format(api: Api, tones: dict[str, Path], tmp_path: Path) -> None:
    for src_fmt in ACCEPTED_FORMATS:
        obj = (await api.upload(tones[src_fmt])).json()
        for out_fmt, (content_type, demuxer) in OUTPUTS.items():
            url = f"/v1/audio/{obj['id']}/content?format={out_fmt}"
            before = api.runtime.renditions.renders
            first = await api.http.get(url, headers={**api.alice, "Range": "bytes=10-99"})
            assert first.status_code == 206, (src_fmt, out_fmt, first.text)
            assert api.runtime.renditions.renders == before + 1
            assert first.headers["content-type"].startswith(content_type)
            assert first.headers["accept-ranges"] == "bytes"
            full = await api.http.get(url, headers=api.alice)
            assert full.status_code == 200
            assert api.runtime.renditions.renders == before + 1, "second request rendered again"
            assert first.content == full.content[10:100]
            assert int(full.headers["content-length"]) == len(full.content)
            assert full.headers["etag"] == first.headers["etag"]
            out = tmp_path / f"{src_fmt}-to.{out_fmt}"
            out.write_bytes(full.content)
            seconds = decoded_seconds(out, demuxer)
            assert abs(seconds - obj["duration"]) <= 0.05, (src_fmt, out_fmt, seconds, obj["duration"])


async def test_concurrent_first_requests_render_once(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    url = f"/v1/audio/{obj['id']}/content?format=opus&bitrate=64k"
    before = api.runtime.renditions.renders
    results = await asyncio.gather(*[api.http.get(url, headers=api.alice) for _ in range(5)])
    assert {r.status_code for r in results} == {200}
    assert len({r.content for r in results}) == 1
    assert api.runtime.renditions.renders == before + 1


async def test_parameters_key_the_rendition(api: Api, tones: dict[str, Path], tmp_path: Path) -> None:
    obj = (await api.upload(tones["wav"])).json()
    base = f"/v1/audio/{obj['id']}/content?format=mp3"
    a = await api.http.get(base, headers=api.alice)
    b = await api.http.get(base + "&bitrate=64000&channels=1&sample_rate=22050", headers=api.alice)
    assert a.status_code == b.status_code == 200
    assert a.headers["etag"] != b.headers["etag"]
    out = tmp_path / "b.mp3"
    out.write_bytes(b.content)
    with av.open(str(out)) as c:
        s = c.streams.audio[0]
        assert (s.codec_context.sample_rate, s.codec_context.channels) == (22050, 1)
    listed = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    got = sorted((r["format"], r["bitrate"], r["sample_rate"], r["channels"]) for r in listed["renditions"])
    assert got == [("mp3", 64000, 22050, 1), ("mp3", 128000, 44100, 2)]


async def test_a_list_page_names_each_items_renditions(api: Api, tones: dict[str, Path]) -> None:
    rendered = (await api.upload(tones["wav"], name="rendered.wav")).json()
    plain = (await api.upload(tones["wav"], name="plain.wav")).json()
    got = await api.http.get(f"/v1/audio/{rendered['id']}/content?format=opus&bitrate=64k", headers=api.alice)
    assert got.status_code == 200
    items = {i["id"]: i for i in (await api.http.get("/v1/audio", headers=api.alice)).json()["items"]}
    assert [(r["format"], r["bitrate"]) for r in items[rendered["id"]]["renditions"]] == [("opus", 64000)]
    assert items[plain["id"]]["renditions"] == []


async def test_bad_rendition_parameters_are_422_and_write_nothing(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    keys = await api.blob_keys()
    cases = {
        "format=xyz": "unknown_format",
        "format=mp3&bitrate=abc": "validation_failed",
        "format=mp3&bitrate=5": "validation_failed",
        "format=mp3&sample_rate=12345": "validation_failed",
        "format=mp3&channels=7": "validation_failed",
        "format=wav&bitrate=128000": "validation_failed",
        "format=mp3&normalize=maybe": "validation_failed",
        "format=mp3&volume=11": "validation_failed",
        "bitrate=128000": "validation_failed",
    }
    for query, code in cases.items():
        r = await api.http.get(f"/v1/audio/{obj['id']}/content?{query}", headers=api.alice)
        assert r.status_code == 422, query
        assert r.json()["error"]["code"] == code, query
    r = await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice, json={"format": "xyz"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_format"
    assert await api.blob_keys() == keys
    assert api.runtime.renditions.renders == 0


async def test_other_owner_and_missing_objects_get_404(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=api.bob)
    assert r.status_code == 404
    assert api.runtime.renditions.renders == 0


async def test_signed_url_opens_only_its_rendition(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    r = await api.http.post(
        f"/v1/audio/{obj['id']}/url", headers=api.alice,
        json={"expires_in": 120, "format": "mp3", "bitrate": "96k"},
    )
    assert r.status_code == 200
    parts = urlsplit(r.json()["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["format"] == "mp3" and query["bitrate"] == "96000"
    got = await api.http.get(f"{parts.path}?{parts.query}", headers={"Range": "bytes=0-3"})
    assert got.status_code == 206 and got.headers["content-type"].startswith("audio/mpeg")
    assert got.headers["content-disposition"].endswith("tone.mp3")
    for changed in ({"format": "opus"}, {"bitrate": "128000"}, {"channels": "1"}):
        moved = await api.http.get(f"{parts.path}?{urlencode({**query, **changed})}")
        assert moved.status_code == 403, changed
    dropped = {k: v for k, v in query.items() if k != "format" and k != "bitrate"}
    assert (await api.http.get(f"{parts.path}?{urlencode(dropped)}")).status_code == 403
    # A URL for the original does not open a rendition either.
    plain = (await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice, json={})).json()["url"]
    p2 = urlsplit(plain)
    assert (await api.http.get(f"{p2.path}?{p2.query}&format=mp3")).status_code == 403


async def test_renditions_go_with_the_object(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["flac"])).json()
    for fmt in ("mp3", "opus"):
        assert (await api.http.get(f"/v1/audio/{obj['id']}/content?format={fmt}", headers=api.alice)).status_code == 200
    assert (await api.http.get(f"/v1/audio/{obj['id']}/waveform", headers=api.alice)).status_code == 200
    assert len(await api.blob_keys()) == 4
    assert (await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 204
    assert await api.blob_keys() == []
    r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=api.alice)
    assert r.status_code == 404


async def test_expired_object_hides_and_purges_its_renditions(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"], ttl_seconds=60)).json()
    assert (await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=api.alice)).status_code == 200
    api.clock.advance(120)
    assert (await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3", headers=api.alice)).status_code == 404
    # Every purge (service/deletion.py) takes the derived blobs with the original.
    row = await api.runtime.catalog.mark_deleting(obj["id"], owner=None, now=api.clock() - timedelta(seconds=120))
    assert row is not None
    await api.runtime.deletion.purge_rows([row])
    assert await api.blob_keys() == []


async def test_loudness_measured_after_upload_and_normalize(api: Api, tmp_path: Path) -> None:
    quiet = make_tone(tmp_path / "quiet.wav", "wav", seconds=3.0, channels=2, frequency=1000.0, amplitude=0.1)
    created = (await api.upload(quiet)).json()
    # The 201 does not wait for loudness: it says the analysis is pending.
    assert created["analysis"] == "pending" and created["loudness_lufs"] is None
    await api.settled()
    obj = (await api.http.get(f"/v1/audio/{created['id']}", headers=api.alice)).json()
    assert obj["analysis"] == "done"
    assert abs(obj["loudness_lufs"] - -20.0) <= 0.5
    assert abs(obj["true_peak_dbtp"] - -20.0) <= 0.5
    r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=wav&normalize=true", headers=api.alice)
    assert r.status_code == 200
    out = tmp_path / "norm.wav"
    out.write_bytes(r.content)
    measured = measure_loudness(out)
    target = api.runtime.settings.loudness_target_lufs
    assert measured.integrated_lufs is not None and abs(measured.integrated_lufs - target) <= 1.0
    assert measured.true_peak_dbtp is not None and measured.true_peak_dbtp <= api.runtime.settings.loudness_max_true_peak + 0.1

    loud = make_tone(tmp_path / "loud.wav", "wav", seconds=3.0, channels=2, frequency=1000.0, amplitude=0.9)
    obj2 = (await api.upload(loud)).json()
    # Asked for at once, before the analysis after the upload has run: measured first.
    r2 = await api.http.get(f"/v1/audio/{obj2['id']}/content?format=flac&normalize=true", headers=api.alice)
    out2 = tmp_path / "norm.flac"
    out2.write_bytes(r2.content)
    m2 = measure_loudness(out2)
    assert m2.integrated_lufs is not None and abs(m2.integrated_lufs - target) <= 1.0


async def test_ingest_renditions_are_made_at_upload(
    settings_factory: Callable[..., Settings], tones: dict[str, Path]
) -> None:
    api, runtime = await make_api(settings_factory(ingest_renditions=["webm->mp3", "webm->opus:64k"]))
    try:
        webm = (await api.upload(tones["webm"])).json()
        wav = (await api.upload(tones["wav"])).json()
        await api.settled()  # ingest renditions are made after the 201
        listed = (await api.http.get(f"/v1/audio/{webm['id']}", headers=api.alice)).json()["renditions"]
        assert sorted((r["format"], r["bitrate"]) for r in listed) == [("mp3", 128000), ("opus", 64000)]
        assert (await api.http.get(f"/v1/audio/{wav['id']}", headers=api.alice)).json()["renditions"] == []
        renders = runtime.renditions.renders
        r = await api.http.get(f"/v1/audio/{webm['id']}/content?format=opus&bitrate=64000", headers=api.alice)
        assert r.status_code == 200 and runtime.renditions.renders == renders
    finally:
        await api.http.aclose()
        await runtime.close()


def test_bad_ingest_renditions_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="INGEST_RENDITIONS"):
        Runtime.build(Settings(data_dir=tmp_path, ingest_renditions=["webm->ogg-vorbis"]))
