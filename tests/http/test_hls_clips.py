"""Clips on HLS: `start`/`end` on an object's playlists give just that part (its segments
decode to exactly that span of a clock signal, on the source's clock), validated as for a
rendition's clip, and carried by every URL a clipped playlist lists, under its signature: a
clipped URL with its bounds altered, dropped or moved to another object is 403. A queue's
playlist takes no clip."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import av
import numpy as np
import pytest

from clock_signal import position_of, write_clock_wav
from conftest import Api, backend_settings_local, served_api
from test_hls import local, uris


@pytest.fixture(scope="module")
def clock_minute(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clock_wav(tmp_path_factory.mktemp("hls-clips") / "clock-61s.wav", 61.5)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with served_api(backend_settings_local(tmp_path, auth_cache_seconds=0)) as a:
        yield a


def decoded(ts: bytes) -> tuple[float, float, np.ndarray, int]:
    """The first timestamp and the last frame's end (s), the stereo samples and the rate of
    MPEG-TS bytes (segments one after the other)."""
    with av.open(io.BytesIO(ts), format="mpegts") as c:
        frames = list(c.decode(c.streams.audio[0]))
    samples = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    rate = frames[0].sample_rate
    last = frames[-1]
    return float(frames[0].time or 0.0), float(last.time or 0.0) + last.samples / rate, samples, rate


def clip_in(url: str) -> tuple[str | None, str | None]:
    query = parse_qs(urlsplit(url).query)
    return (query.get("start") or [None])[0], (query.get("end") or [None])[0]


async def played(api: Api, master_text: str, variant: int = 0) -> tuple[str, bytes]:
    """A variant's media playlist and all its segments' bytes in order."""
    media = await api.http.get(uris(master_text)[variant])
    assert media.status_code == 200, media.text
    body = b""
    for segment in uris(media.text):
        got = await api.http.get(segment)
        assert got.status_code == 200, (segment, got.text)
        body += got.content
    return media.text, body


async def test_a_clipped_playlist_plays_just_that_part(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    master = await api.http.get(
        f"/v1/audio/{obj['id']}/hls/index.m3u8?start=12.5&end=31", headers=api.alice
    )
    assert master.status_code == 200, master.text
    # Every URL it lists carries the clip, in its one spelling.
    for url in uris(master.text):
        query = parse_qs(urlsplit(url).query)
        assert query["start"] == ["12.5"] and query["end"] == ["31"], url
    media, body = await played(api, master.text)
    lengths = [float(x) for x in re.findall(r"#EXTINF:([0-9.]+),", media)]
    assert lengths == [6.0, 6.0, 6.0, 0.5]  # 18.5 s, cut from the clip's start
    assert all(clip_in(u) == ("12.5", "31") for u in uris(media))
    # On the source's clock, from 12.5 to 31 s: each segment is its own encode, so it starts
    # an AAC frame early (the encoder's priming, 1024 samples) and ends on a frame.
    first, last, samples, rate = decoded(body)
    assert abs(first - 12.5) < 0.2 and abs(last - 31) < 0.2, (first, last)
    assert abs(position_of(samples[:, int(0.2 * rate) : int(0.45 * rate)], rate) - 12.8) < 0.5
    assert abs(position_of(samples[:, -int(0.4 * rate) : -int(0.15 * rate)], rate) - 30.7) < 0.5


async def test_a_clip_from_the_start_or_to_past_the_end_reads_one_way(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    base = f"/v1/audio/{obj['id']}/hls/index.m3u8"
    whole = await api.http.get(base, headers=api.alice)
    # start=0 and an end past the audio's end are the whole object: the same URLs.
    same = await api.http.get(f"{base}?start=0&end=999", headers=api.alice)
    assert same.status_code == 200
    assert [u.split("?")[0] for u in uris(same.text)] == [u.split("?")[0] for u in uris(whole.text)]
    assert all("start=" not in u and "end=" not in u for u in uris(same.text))
    # start alone runs to the end; it is spelt one way (12.50 -> 12.5).
    tail = await api.http.get(f"{base}?start=48.50", headers=api.alice)
    assert tail.status_code == 200
    media, body = await played(api, tail.text, variant=1)
    assert [float(x) for x in re.findall(r"#EXTINF:([0-9.]+),", media)] == [6.0, 6.0, 1.0]
    assert all(clip_in(u) == ("48.5", None) for u in uris(media))
    first, last, _, _ = decoded(body)
    assert abs(first - 48.5) < 0.2 and abs(last - 61.5) < 0.2, (first, last)


async def test_a_clip_on_the_grid_shares_the_whole_objects_segments(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    whole = await api.http.get(f"/v1/audio/{obj['id']}/hls/64k/index.m3u8", headers=api.alice)
    assert (await api.http.get(uris(whole.text)[2])).status_code == 200  # seconds 12-18
    renders = api.runtime.renditions.renders
    clip = await api.http.get(f"/v1/audio/{obj['id']}/hls/64k/index.m3u8?start=12&end=24", headers=api.alice)
    assert (await api.http.get(uris(clip.text)[0])).status_code == 200
    assert api.runtime.renditions.renders == renders, "the same 6 s were encoded twice"


@pytest.mark.parametrize(
    "query",
    ["start=abc", "end=x", "start=-1", "start=nan", "end=inf", "start=20&end=20", "start=20&end=10",
     "end=0", "start=61.5", "start=100"],
)
async def test_bad_clips_are_422_as_for_a_rendition(api: Api, clock_minute: Path, query: str) -> None:
    obj = (await api.upload(clock_minute)).json()
    rendition = await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3&{query}", headers=api.alice)
    for path in ("index.m3u8", "64k/index.m3u8", "64k/0.ts"):
        r = await api.http.get(f"/v1/audio/{obj['id']}/hls/{path}?{query}", headers=api.alice)
        assert r.status_code == 422, (path, query, r.status_code)
        assert r.json()["error"]["code"] == rendition.json()["error"]["code"] == "validation_failed"
    signed = await api.http.post(
        f"/v1/audio/{obj['id']}/url", headers=api.alice,
        json={"hls": True, **{k: v[0] for k, v in parse_qs(query).items()}},
    )
    assert signed.status_code == 422, (query, signed.text)
    assert api.runtime.renditions.renders == 0


async def test_segments_past_a_clips_end_are_404(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    base = f"/v1/audio/{obj['id']}/hls/64k"
    assert (await api.http.get(f"{base}/1.ts?start=12&end=20", headers=api.alice)).status_code == 200
    assert (await api.http.get(f"{base}/2.ts?start=12&end=20", headers=api.alice)).status_code == 404


async def test_a_signed_clip_url_holds_its_bounds(api: Api, clock_minute: Path) -> None:
    a = (await api.upload(clock_minute)).json()
    b = (await api.upload(clock_minute)).json()
    r = await api.http.post(
        f"/v1/audio/{a['id']}/url", headers=api.alice, json={"hls": True, "start": 12.5, "end": 31}
    )
    assert r.status_code == 200, r.text
    url = local(r.json()["url"])
    assert clip_in(url) == ("12.5", "31") and "end=31&start=12.5&" in url
    master = await api.http.get(url)  # no header
    assert master.status_code == 200
    variant = uris(master.text)[0]
    media = await api.http.get(variant)
    assert media.status_code == 200 and len(uris(media.text)) == 4
    segment = uris(media.text)[1]
    assert (await api.http.get(segment)).status_code == 200
    forged = []
    for signed_url in (url, variant, segment):
        forged += [
            signed_url.replace("start=12.5", "start=0.5"),  # another span
            signed_url.replace("end=31", "end=61"),
            signed_url.replace("start=12.5&", ""),  # a bound dropped
            signed_url.replace("end=31&", ""),
            signed_url.replace("end=31&start=12.5&", ""),  # the clip dropped: the whole object
            signed_url.replace("start=12.5", "start=12.50"),  # the same span, spelt another way
            signed_url.replace(a["id"], b["id"]),  # another object
        ]
    forged.append(segment.replace("/1.ts", "/2.ts"))
    for bad in forged:
        got = await api.http.get(bad)
        assert got.status_code == 403, (bad, got.status_code)
        assert got.json()["error"]["code"] == "signature_invalid"
    # An unclipped playlist's signature does not open a clip either.
    whole = await api.http.post(f"/v1/audio/{a['id']}/url", headers=api.alice, json={"hls": True})
    whole_url = local(whole.json()["url"])
    path, query = whole_url.split("?")
    assert (await api.http.get(f"{path}?end=31&start=12.5&{query}")).status_code == 403
    # A clip's signed URL takes no other rendition parameter.
    bad = await api.http.post(
        f"/v1/audio/{a['id']}/url", headers=api.alice, json={"hls": True, "start": 1, "format": "mp3"}
    )
    assert bad.status_code == 422 and "format" in bad.json()["error"]["message"]


async def test_a_queue_playlist_takes_no_clip(api: Api, clock_minute: Path) -> None:
    obj = (await api.upload(clock_minute)).json()
    put = await api.http.put("/v1/queues/story", headers=api.alice, json={"audio_ids": [obj["id"]]})
    assert put.status_code == 200, put.text
    for query in ("start=10", "end=20", "mode=loop&start=1&end=2"):
        r = await api.http.get(f"/v1/queues/story/hls/index.m3u8?{query}", headers=api.alice)
        assert r.status_code == 422, (query, r.status_code)
        assert r.json()["error"]["code"] == "validation_failed" and "item" in r.json()["error"]["message"]
    signed = await api.http.post("/v1/queues/story/url", headers=api.alice, json={"hls": True})
    url = local(signed.json()["url"])
    assert (await api.http.get(url)).status_code == 200
    assert (await api.http.get(url + "&start=10")).status_code == 422
    assert (await api.http.post(
        "/v1/queues/story/url", headers=api.alice, json={"hls": True, "start": 10}
    )).status_code == 422
