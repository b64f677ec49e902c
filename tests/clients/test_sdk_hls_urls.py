"""HLS URLs through the SDK (`hls_url`, sync and async) and the CLI (`audiostore url --hls`),
against a real `audiostore serve`: the URL opens the master playlist with no header, its
variant's media playlist lists signed segments, one of which is MPEG-TS; with `start`/`end`
the playlists are the clip's. Players opening these playlists (hls.js, ffmpeg, mpv) are
tested on the service's side (tests/clients/test_hls_js.py, tests/http/test_hls*.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from audio_factory import make_tone
from fixtures_client_server import Served

from audiostore.client import AsyncClient, Client, RejectedInputError


@pytest.fixture(scope="module")
def fourteen_seconds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three segments of HLS: 6 + 6 + 2 seconds."""
    return make_tone(tmp_path_factory.mktemp("hls-sdk") / "fourteen.wav", "wav", seconds=14.0, channels=2)


def listed(playlist: httpx.Response) -> list[str]:
    """The absolute URLs a playlist lists."""
    lines = playlist.text.splitlines()
    return [urljoin(str(playlist.url), line) for line in lines if line and not line.startswith("#")]


def segment_lengths(master_url: str) -> list[float]:
    """Fetch, with no header, the master playlist, its first variant's media playlist and that
    variant's first segment; the segments' lengths (s) from the media playlist."""
    master = httpx.get(master_url, timeout=30)
    assert master.status_code == 200, master.text
    assert master.headers["content-type"].startswith(("application/vnd.apple.mpegurl", "application/x-mpegurl"))
    assert master.text.startswith("#EXTM3U") and "#EXT-X-STREAM-INF:" in master.text
    media = httpx.get(listed(master)[0], timeout=30)
    assert media.status_code == 200, media.text
    assert "#EXT-X-ENDLIST" in media.text
    segment = httpx.get(listed(media)[0], timeout=60)
    assert segment.status_code == 200, segment.text
    assert segment.content[:1] == b"\x47" and segment.content[188:189] == b"\x47"  # MPEG-TS packets
    return [float(x) for x in re.findall(r"#EXTINF:([0-9.]+),", media.text)]


def test_the_sdk_gets_an_hls_url_of_the_whole_and_of_a_clip(served: Served, fourteen_seconds: Path) -> None:
    with Client(served.url, api_key=served.new_key("hls-sdk")) as c:
        obj = c.upload(fourteen_seconds)
        whole = c.hls_url(obj.id, expires_in=600)
        clip = c.hls_url(obj.id, start=6, end=9.5, expires_in=600)
        assert c.hls_url(obj.id, expires_in=600) is whole  # cached, one entry per clip
        assert c.hls_url(obj.id, start=6, end=9.5, expires_in=600) is clip
        assert c.sign(obj.id, expires_in=600).url != whole.url  # the bytes' URL is another
        with pytest.raises(RejectedInputError) as backwards:
            c.hls_url(obj.id, start=9, end=3, cached=False)
        assert backwards.value.status == 422 and backwards.value.code == "validation_failed"
    assert whole.id == obj.id and urlsplit(whole.url).path == f"/v1/audio/{obj.id}/hls/index.m3u8"
    assert segment_lengths(whole.url) == [6.0, 6.0, 2.0]
    assert parse_qs(urlsplit(clip.url).query)["start"] == ["6"]  # the clip is under the signature
    assert segment_lengths(clip.url) == [3.5]


async def test_the_async_client_gets_an_hls_url_with_the_same_flow(served: Served, fourteen_seconds: Path) -> None:
    async with AsyncClient(served.url, api_key=served.new_key("hls-async")) as c:
        obj = await c.upload(fourteen_seconds)
        clip = await c.hls_url(obj.id, start=8)
    assert segment_lengths(clip.url) == [6.0]


def test_the_cli_prints_an_hls_url(served: Served, fourteen_seconds: Path) -> None:
    key = served.new_key("hls-cli")
    with Client(served.url, api_key=key) as c:
        audio_id = c.upload(fourteen_seconds).id
    plain = served.cli("url", audio_id, "--hls", key=key)
    assert plain.returncode == 0, plain.stderr
    assert segment_lengths(plain.stdout.strip()) == [6.0, 6.0, 2.0]
    clipped = served.cli("url", audio_id, "--hls", "--start", "2", "--end", "4", "--json", key=key)
    assert clipped.returncode == 0, clipped.stderr
    answer = json.loads(clipped.stdout)
    assert answer["id"] == audio_id and answer["expires_at"]
    assert segment_lengths(answer["url"]) == [2.0]

    no_hls = served.cli("url", audio_id, "--start", "2", key=key)
    assert no_hls.returncode == 2 and "--start and --end need --hls" in no_hls.stderr
    mixed = served.cli("url", audio_id, "--hls", "--format", "mp3", key=key)
    assert mixed.returncode == 2 and "--hls takes no rendition options" in mixed.stderr


def test_a_queues_hls_url_from_the_sdk_and_the_cli(served: Served, fourteen_seconds: Path) -> None:
    key = served.new_key("hls-queue")
    with Client(served.url, api_key=key) as c:
        audio_id = c.upload(fourteen_seconds).id
        c.put_queue("hls-story", [audio_id, audio_id])
        vod = c.queue_url("hls-story", hls=True, expires_in=600)
        mp3 = c.queue_url("hls-story", expires_in=600)
    assert urlsplit(vod.url).path == "/v1/queues/hls-story/hls/index.m3u8" and vod.mode == "sequential"
    assert urlsplit(mp3.url).path.endswith("/stream.mp3")  # without hls: the MP3 stream as before
    playlist = httpx.get(vod.url, timeout=30)
    assert playlist.status_code == 200, playlist.text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist.text and playlist.text.count("#EXT-X-DISCONTINUITY\n") == 1
    segments = listed(playlist)
    assert len(segments) == 6 and all(f"/v1/audio/{audio_id}/hls/" in s for s in segments)
    assert httpx.get(segments[4], timeout=60).content[:1] == b"\x47"

    live = served.cli("queue", "url", "hls-story", "--mode", "loop", "--hls", "--json", key=key)
    assert live.returncode == 0, live.stderr
    answer = json.loads(live.stdout)
    assert answer["mode"] == "loop" and "/hls/index.m3u8?" in answer["url"]
    looped = httpx.get(answer["url"], timeout=30)
    assert looped.status_code == 200 and "#EXT-X-MEDIA-SEQUENCE:" in looped.text
    assert "#EXT-X-ENDLIST" not in looped.text  # live: it never ends
