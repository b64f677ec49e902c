"""HLS for stored audio: a master playlist of two bit rates, VOD media playlists whose
segments decode to the right part of the source (a clock signal), made once and kept,
every URL signed for its one path (a segment URL of one object never opens another's),
a signed master URL a player opens with no header, and segments deleted with their object."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import numpy as np
import pytest

from clock_signal import position_of, write_clock_wav
from conftest import Api, backend_settings_local, served_api


@pytest.fixture(scope="module")
def clock_minute(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clock_wav(tmp_path_factory.mktemp("hls") / "clock-61s.wav", 61.5)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with served_api(backend_settings_local(tmp_path, auth_cache_seconds=0)) as a:
        yield a


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def uris(playlist: str) -> list[str]:
    return [local(line) for line in playlist.splitlines() if line and not line.startswith("#")]


def decoded_ts(data: bytes) -> tuple[float, np.ndarray, int]:
    """First timestamp (s), stereo samples and rate of one MPEG-TS segment."""
    with av.open(io.BytesIO(data), format="mpegts") as c:
        frames = list(c.decode(c.streams.audio[0]))
    samples = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    return float(frames[0].time or 0.0), samples, frames[0].sample_rate


async def test_playlists_and_segments_play_the_audio_in_order(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    master = await api.http.get(f"/v1/audio/{obj['id']}/hls/index.m3u8", headers=api.alice)
    assert master.status_code == 200
    assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert master.headers["cache-control"] == "no-store"
    bandwidths = [int(b) for b in re.findall(r"BANDWIDTH=(\d+)", master.text)]
    assert len(bandwidths) == 2 and bandwidths[0] < bandwidths[1]
    variants = uris(master.text)
    media = await api.http.get(variants[0])  # signed: no header needed
    assert media.status_code == 200
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in media.text and media.text.rstrip().endswith("#EXT-X-ENDLIST")
    lengths = [float(x) for x in re.findall(r"#EXTINF:([0-9.]+),", media.text)]
    assert len(lengths) == 11 and abs(sum(lengths) - obj["duration"]) < 0.01
    segments = uris(media.text)
    for n in (0, 4, 10):
        before = api.runtime.renditions.renders
        got = await api.http.get(segments[n])
        assert got.status_code == 200, got.text
        assert got.headers["content-type"] == "video/mp2t"
        assert api.runtime.renditions.renders == before + 1
        first, samples, rate = decoded_ts(got.content)
        assert abs(first - 6.0 * n) < 0.2  # on the source's clock: segments line up
        assert abs(position_of(samples[:, int(1.0 * rate) : int(1.25 * rate)], rate) - (6.0 * n + 1.0)) < 0.5
        again = await api.http.get(segments[n])
        assert again.content == got.content and again.headers["etag"] == got.headers["etag"]
        assert api.runtime.renditions.renders == before + 1, "a segment was made twice"
    # Segments are not renditions: the object lists none.
    listed = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert listed["renditions"] == []


async def test_a_signature_opens_its_own_path_only(api: Api, clock_minute: Path) -> None:
    a = (await api.upload(clock_minute)).json()
    b = (await api.upload(clock_minute)).json()
    master = await api.http.get(f"/v1/audio/{a['id']}/hls/index.m3u8", headers=api.alice)
    media = await api.http.get(uris(master.text)[0])
    segment = uris(media.text)[2]
    assert (await api.http.get(segment)).status_code == 200
    forged = [
        segment.replace(a["id"], b["id"]),  # another object, same path and signature
        segment.replace("/2.ts", "/3.ts"),  # another segment of the same object
        segment.replace("/64k/", "/128k/"),  # another variant
        uris(master.text)[0].replace("64k/index.m3u8", "index.m3u8"),  # the master, by a variant's signature
        segment.replace("expires=", "expires=1"),
        segment + "&format=mp3",
    ]
    for url in forged:
        r = await api.http.get(url)
        assert r.status_code == 403, (url, r.status_code)
    # A playlist signature does not open the object's bytes either.
    path, query = uris(master.text)[0].split("?")
    assert (await api.http.get(f"/v1/audio/{a['id']}/content?{query}")).status_code == 403
    # Another owner's key sees nothing.
    assert (await api.http.get(f"/v1/audio/{a['id']}/hls/index.m3u8", headers=api.bob)).status_code == 404


async def test_a_signed_master_url_needs_no_header_and_expires(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    r = await api.http.post(f"/v1/audio/{obj['id']}/url", headers=api.alice, json={"hls": True, "expires_in": 60})
    assert r.status_code == 200, r.text
    master = await api.http.get(local(r.json()["url"]))
    assert master.status_code == 200 and len(uris(master.text)) == 2
    expires = re.search(r"expires=(\d+)", r.json()["url"])
    assert expires is not None
    # What it lists ends when it does.
    assert all(f"expires={expires.group(1)}" in u for u in uris(master.text))
    api.clock.advance(61)
    assert (await api.http.get(local(r.json()["url"]))).status_code == 403
    bad = await api.http.post(
        f"/v1/audio/{obj['id']}/url", headers=api.alice, json={"hls": True, "format": "mp3"}
    )
    assert bad.status_code == 422


async def test_unknown_variants_and_segments_are_404(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    base = f"/v1/audio/{obj['id']}/hls"
    for path in ("/96k/index.m3u8", "/64k/11.ts", "/64k/-1.ts", "/64k/01.ts", "/64k/x.ts", "/64k/1.mp3"):
        r = await api.http.get(base + path, headers=api.alice)
        assert r.status_code == 404, (path, r.status_code)
    assert api.runtime.renditions.renders == 0


async def test_segments_go_with_their_object(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    master = await api.http.get(f"/v1/audio/{obj['id']}/hls/index.m3u8", headers=api.alice)
    for variant in uris(master.text):
        media = await api.http.get(variant)
        for segment in uris(media.text)[:2]:
            assert (await api.http.get(segment)).status_code == 200
    assert len([k for k in await api.blob_keys() if k.endswith(".ts")]) == 4
    assert (await api.http.delete(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 204
    assert await api.blob_keys() == []
    assert (await api.http.get(segment)).status_code == 404


async def queue_of(api: Api, tmp_path: Path, clock_minute: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    a = (await api.upload(clock_minute)).json()
    b = (await api.upload(write_clock_wav(tmp_path / "clock-20s.wav", 20))).json()
    r = await api.http.put("/v1/queues/story", headers=api.alice, json={"audio_ids": [a["id"], b["id"]]})
    assert r.status_code == 200, r.text
    return a, b


async def test_a_sequential_queue_is_a_vod_playlist_of_its_items(
    api: Api, clock_minute: Path, tmp_path: Path
) -> None:
    a, b = await queue_of(api, tmp_path, clock_minute)
    r = await api.http.get("/v1/queues/story/hls/index.m3u8", headers=api.alice)
    assert r.status_code == 200, r.text
    text = r.text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST")
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    segments = uris(text)
    assert len(segments) == 11 + 4
    assert all(f"/audio/{a['id']}/" in s for s in segments[:11])
    assert all(f"/audio/{b['id']}/" in s for s in segments[11:])
    got = await api.http.get(segments[12])  # item b's second segment, by its signed URL
    assert got.status_code == 200
    _, samples, rate = decoded_ts(got.content)
    assert abs(position_of(samples[:, rate : rate + rate // 4], rate) - 7.0) < 0.5


async def test_a_looping_queue_is_a_live_playlist_that_slides_with_the_clock(
    api: Api, clock_minute: Path, tmp_path: Path
) -> None:
    _, b = await queue_of(api, tmp_path, clock_minute)

    async def window() -> tuple[int, int, list[str]]:
        r = await api.http.get("/v1/queues/story/hls/index.m3u8?mode=loop", headers=api.alice)
        assert r.status_code == 200, r.text
        assert "#EXT-X-ENDLIST" not in r.text and "PLAYLIST-TYPE" not in r.text
        seq = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", r.text)
        disc = re.search(r"#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)", r.text)
        assert seq and disc
        return int(seq.group(1)), int(disc.group(1)), uris(r.text)

    seq0, disc0, first = await window()
    assert (seq0, disc0) == (0, 0) and len(first) == 1
    api.clock.advance(63.0)  # into item b's first segment (item a has 11, the last 1.5 s)
    seq1, disc1, second = await window()
    assert len(second) == 6 and seq1 == 11 - 5 and disc1 == 0
    assert second[-1].startswith(f"/v1/audio/{b['id']}/hls/128k/0.ts?")
    api.clock.advance(81.5 * 3)  # three rounds later: the same place in the loop
    seq2, disc2, third = await window()
    assert seq2 == seq1 + 3 * 15 and disc2 == disc1 + 3 * 2
    assert [u.split("?")[0] for u in third] == [u.split("?")[0] for u in second]


async def test_a_signed_queue_playlist_needs_no_header_and_holds_its_mode(
    api: Api, clock_minute: Path, tmp_path: Path
) -> None:
    await queue_of(api, tmp_path, clock_minute)
    r = await api.http.post("/v1/queues/story/url", headers=api.alice, json={"mode": "endless-shuffle", "hls": True})
    assert r.status_code == 200, r.text
    url = local(r.json()["url"])
    got = await api.http.get(url)
    assert got.status_code == 200 and "#EXT-X-ENDLIST" not in got.text
    assert (await api.http.get(url.replace("mode=endless-shuffle", "mode=sequential"))).status_code == 403
    assert (await api.http.get(url.replace("owner=alice", "owner=bob"))).status_code == 403
    # The MP3 stream's signature does not open the playlist, nor the other way round.
    mp3 = await api.http.post("/v1/queues/story/url", headers=api.alice, json={"mode": "endless-shuffle"})
    query = urlsplit(mp3.json()["url"]).query
    assert (await api.http.get(f"/v1/queues/story/hls/index.m3u8?{query}")).status_code == 403
