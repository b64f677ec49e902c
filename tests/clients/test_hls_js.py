"""hls.js (from npm, `tests/js`; the built file vendored with its licence) in Chromium plays a
signed HLS master URL of a real `audiostore serve`, with no header, and seeks in it; a clipped
one plays as just its span; queues play as VOD and live playlists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clock_signal import write_clock_wav
from server_process import ServerProcess
from test_web_page import CHROMIUM, CHROMIUM_ARGS, wait_for

HLS_JS = Path(__file__).resolve().parents[1] / "js" / "vendor" / "hls.min.js"
PLAYER = """<!doctype html><html><body><audio id="a"></audio>
<script src="/player/hls.min.js"></script>
<script>
window.events = [];
const audio = document.getElementById("a");
const hls = new Hls({ maxBufferLength: 12 });
hls.on(Hls.Events.ERROR, (_, d) => window.events.push("error:" + d.details + (d.fatal ? ":fatal" : "")));
hls.on(Hls.Events.FRAG_LOADED, (_, d) => window.events.push("frag:" + d.frag.level + ":" + d.frag.sn));
hls.on(Hls.Events.LEVEL_LOADED, (_, d) => { window.live = d.details.live; });
hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => { window.levels = d.levels.length; audio.play(); });
hls.loadSource(new URLSearchParams(location.search).get("src"));
hls.attachMedia(audio);
</script></body></html>"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run does this)"),
]


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Signed URLs: `master` (a 3-minute clock), `clip` (its seconds 100-130), `vod` and
    `live` (a queue of it and a 20 s one)."""
    where = tmp_path_factory.mktemp("hls-js")
    proc = ServerProcess(where / "data").start()
    try:
        key = (where / "data" / "admin.key").read_text().strip()
        auth = {"Authorization": f"Bearer {key}"}
        ids = []
        for seconds in (180, 20):
            source = write_clock_wav(where / f"clock-{seconds}.wav", seconds, rate=16000)
            with source.open("rb") as f:
                up = httpx.post(f"{proc.url}/v1/audio", headers=auth,
                                files={"file": (source.name, f, "audio/wav")}, timeout=60)
            assert up.status_code == 201, up.text
            ids.append(up.json()["id"])
        out = {}
        signed = httpx.post(f"{proc.url}/v1/audio/{ids[0]}/url", headers=auth, json={"hls": True})
        assert signed.status_code == 200, signed.text
        out["master"] = signed.json()["url"]
        clip = httpx.post(f"{proc.url}/v1/audio/{ids[0]}/url", headers=auth,
                          json={"hls": True, "start": 100, "end": 130})
        assert clip.status_code == 200, clip.text
        out["clip"] = clip.json()["url"]
        assert httpx.put(f"{proc.url}/v1/queues/kids", headers=auth, json={"audio_ids": ids}).status_code == 200
        for name, mode in (("vod", "sequential"), ("live", "loop")):
            q = httpx.post(f"{proc.url}/v1/queues/kids/url", headers=auth, json={"mode": mode, "hls": True})
            assert q.status_code == 200, q.text
            out[name] = q.json()["url"]
        yield out
    finally:
        proc.stop()


@pytest.fixture
def master_url(urls: dict[str, str]) -> str:
    return urls["master"]


@pytest.fixture
def page(urls: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    origin = urls["master"].split("/v1/")[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            pg = browser.new_page()
            # The player page and hls.js come from the test, on the server's origin.
            pg.route(f"{origin}/player/index.html*", lambda r: r.fulfill(body=PLAYER, content_type="text/html"))
            pg.route(f"{origin}/player/hls.min.js", lambda r: r.fulfill(path=str(HLS_JS), content_type="text/javascript"))
            yield pg
        finally:
            browser.close()


def test_hls_js_plays_and_seeks_a_signed_playlist(page: Any, master_url: str) -> None:
    from urllib.parse import quote

    origin = master_url.split("/v1/")[0]
    page.goto(f"{origin}/player/index.html?src={quote(master_url, safe='')}")
    wait_for(page, "window.levels === 2", 30_000)
    wait_for(page, "document.getElementById('a').currentTime > 2", 60_000)
    page.evaluate("document.getElementById('a').currentTime = 100")
    wait_for(page, "document.getElementById('a').currentTime > 101.5", 60_000)
    events: list[str] = page.evaluate("window.events")
    assert not [e for e in events if e.endswith(":fatal")], events
    # The seek loaded the segment holding second 100 (6-second segments: number 16).
    assert any(e.startswith("frag:") and e.endswith(":16") for e in events), events
    assert not page.evaluate("document.getElementById('a').error")


def _play(page: Any, url: str) -> None:
    from urllib.parse import quote

    origin = url.split("/v1/")[0]
    page.goto(f"{origin}/player/index.html?src={quote(url, safe='')}")


def test_hls_js_plays_a_queue_across_its_items_and_seeks_into_the_second(
    page: Any, urls: dict[str, str]
) -> None:
    _play(page, urls["vod"])
    wait_for(page, "document.getElementById('a').currentTime > 1", 60_000)
    duration = page.evaluate("document.getElementById('a').duration")
    assert abs(duration - 200) < 2, duration  # both items, one after the other
    assert page.evaluate("window.live") is False
    page.evaluate("document.getElementById('a').currentTime = 185")  # 5 s into the second item
    wait_for(page, "document.getElementById('a').currentTime > 186.5", 60_000)
    events: list[str] = page.evaluate("window.events")
    assert not [e for e in events if e.endswith(":fatal")], events
    assert any(e.startswith("frag:") and e.endswith(":30") for e in events), events  # item 2's first


def test_hls_js_plays_a_looping_queue_as_a_live_stream(page: Any, urls: dict[str, str]) -> None:
    _play(page, urls["live"])
    wait_for(page, "document.getElementById('a').currentTime > 0 && !document.getElementById('a').paused", 60_000)
    start = page.evaluate("document.getElementById('a').currentTime")
    wait_for(page, f"document.getElementById('a').currentTime > {start} + 2", 60_000)
    assert page.evaluate("window.live") is True  # hls.js took it for a live playlist
    events: list[str] = page.evaluate("window.events")
    assert not [e for e in events if e.endswith(":fatal")], events


def test_hls_js_plays_a_clipped_playlist_as_just_that_part(page: Any, urls: dict[str, str]) -> None:
    _play(page, urls["clip"])
    wait_for(page, "window.levels === 2", 30_000)
    wait_for(page, "document.getElementById('a').currentTime > 2", 60_000)
    duration = page.evaluate("document.getElementById('a').duration")
    assert abs(duration - 30) < 1, duration  # seconds 100-130 of the source, nothing else
    page.evaluate("document.getElementById('a').currentTime = 26")  # near the clip's end
    wait_for(page, "document.getElementById('a').currentTime > 27", 60_000)
    events: list[str] = page.evaluate("window.events")
    assert not [e for e in events if e.endswith(":fatal")], events
    assert any(e.startswith("frag:") and e.endswith(":4") for e in events), events  # its 5th (24-30 s)
    assert not page.evaluate("document.getElementById('a').error")
