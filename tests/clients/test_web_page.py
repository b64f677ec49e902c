"""The web page in a real browser (Playwright + Debian's Chromium) against a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures_client_server import Served

from audiostore.client import Client

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
JS_WAIT_MS = 20_000  # every promise awaited in the page resolves by then, whatever happens
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run does this)"),
]


def wait_for(page: Any, expression: str, timeout: float = 10_000) -> None:
    """Poll `expression` in the page until it is true (bounded by `timeout` ms).

    Not Playwright's `wait_for_function`: that compiles its predicate with eval inside the
    page, which the page's own Content-Security-Policy (script-src 'self') rightly forbids;
    `page.evaluate` goes through the DevTools protocol, so the page keeps its real CSP here.
    """
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout:.0f} ms: {expression}"
        page.wait_for_timeout(50)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.errors = errors
    # The page's Content-Security-Policy must not block any of its own scripts, styles or images.
    refused: list[str] = []
    pg.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield pg
        assert not refused, refused
    finally:
        context.close()


def sign_in(page: Any, served: Served, key: str) -> None:
    page.goto(f"{served.url}/")
    page.fill("#api-key", key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#library", state="visible")


def test_sign_in_rejects_a_bad_key_and_keeps_the_key_per_tab(page: Any, served: Served) -> None:
    page.goto(f"{served.url}/")
    page.fill("#api-key", "as_wrong_wrong")
    page.click("#signin-form button[type=submit]")
    wait_for(page, "document.querySelector('#signin-error').textContent.length > 0")
    assert page.is_visible("#signin") and not page.is_visible("#library")
    key = served.new_key("web-signin")
    sign_in(page, served, key)
    assert page.evaluate("sessionStorage.getItem('audiostore.key')") == key
    page.reload()  # still signed in within the tab
    page.wait_for_selector("#library", state="visible")
    page.click("#sign-out")
    assert page.is_visible("#signin") and page.evaluate("sessionStorage.getItem('audiostore.key')") is None


def test_upload_list_play_seek_copy_delete(page: Any, served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("web-user")
    sign_in(page, served, key)
    # the library shows before its first page has loaded: wait for the empty note
    wait_for(page, "!document.querySelector('#empty').hidden")

    page.set_input_files("#file-input", [str(tones["wav"]), str(tones["mp3"])])
    wait_for(page, "document.querySelectorAll('#uploads li.done').length === 2", timeout=60_000)
    for li in page.query_selector_all("#uploads li"):
        assert li.eval_on_selector("progress", "p => p.value") == 100
        assert li.eval_on_selector(".upload-percent", "e => e.textContent") == "100%"
        # the browser's own upload progress events reached the full body size
        assert int(li.get_attribute("data-progress-events")) >= 1
        assert li.get_attribute("data-sent") == li.get_attribute("data-total")
    page.wait_for_selector("#audio-list tr:has-text('tone.wav')")
    assert page.locator("#audio-list tbody tr").count() == 2

    # play the WAV and seek, by API and by clicking the waveform
    page.click("#audio-list tr:has-text('tone.wav') button.play")
    wait_for(page, "document.querySelector('#player').readyState >= 1 && "
                           "document.querySelector('#player').duration > 1.9")
    assert page.evaluate("document.querySelector('#player').src").startswith(served.url)
    moved = page.evaluate(f"""() => new Promise(resolve => {{
        const a = document.querySelector('#player');
        setTimeout(() => resolve('no seeked event'), {JS_WAIT_MS});
        a.addEventListener('seeked', () => resolve(a.currentTime), {{once: true}});
        a.currentTime = 1.25;
    }})""")
    assert moved == pytest.approx(1.25, abs=0.05)
    wait_for(page, "document.querySelector('#waveform-status').textContent !== 'Loading waveform…'")
    box = page.locator("#waveform").bounding_box()
    page.evaluate(f"""() => {{ window.__seeked = new Promise(resolve => {{
        const a = document.querySelector('#player');
        setTimeout(() => resolve('no seeked event'), {JS_WAIT_MS});
        a.addEventListener('seeked', () => resolve(a.currentTime), {{once: true}});
    }}); }}""")
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    assert page.evaluate("window.__seeked") == pytest.approx(1.0, abs=0.1)
    assert page.evaluate("document.querySelector('#player').error") is None

    # copy a signed URL: it fetches the bytes with no header
    page.click("#audio-list tr:has-text('tone.wav') button.copy")
    wait_for(page, "document.querySelector('#signed-url').value.startsWith('http')")
    signed = page.input_value("#signed-url")
    assert httpx.get(signed).content == tones["wav"].read_bytes()

    # search narrows the list
    page.fill("#search", "tone.mp3")
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 1")
    page.fill("#search", "")
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 2")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-library.png"), full_page=True)

    # delete with confirmation: dismissing keeps it, accepting deletes it
    wav_id = page.get_attribute("#audio-list tr:has-text('tone.wav')", "data-id")
    page.once("dialog", lambda d: d.dismiss())
    page.click("#audio-list tr:has-text('tone.wav') button.delete")
    assert page.locator("#audio-list tbody tr").count() == 2
    messages: list[str] = []
    page.once("dialog", lambda d: (messages.append(d.message), d.accept()))
    page.click("#audio-list tr:has-text('tone.wav') button.delete")
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 1")
    assert "tone.wav" in messages[0]
    with Client(served.url, api_key=key) as c:
        assert [o.name for o in c.list()] == ["tone.mp3"]
        assert wav_id not in [o.id for o in c.list()]
    assert page.errors == []


def test_player_swaps_in_a_fresh_signed_url_before_expiry(page: Any, served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("web-long-listen")
    with Client(served.url, api_key=key) as c:
        c.upload(tones["wav"])
    # URLs living 125 s are refreshed 120 s before they expire: after about 5 s here.
    page.goto(f"{served.url}/?url_lifetime=125")
    page.fill("#api-key", key)
    page.click("#signin-form button[type=submit]")
    page.click("#audio-list tr:has-text('tone.wav') button.play")
    wait_for(page, "document.querySelector('#player').readyState >= 1")
    first = page.evaluate("document.querySelector('#player').src")
    page.evaluate("() => { const a = document.querySelector('#player'); a.pause(); a.currentTime = 1.5; }")
    wait_for(page, f"document.querySelector('#player').src !== {first!r}", timeout=30_000)
    wait_for(page, "document.querySelector('#player').readyState >= 1 && "
                           "Math.abs(document.querySelector('#player').currentTime - 1.5) < 0.05")
    assert page.evaluate("document.querySelector('#player').error") is None
    assert page.errors == []


def test_pagination(page: Any, served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("web-pager")
    with Client(served.url, api_key=key) as c:
        ids = [c.upload(tones["wav"], name=f"take-{i:02d}.wav").id for i in range(23)]
    sign_in(page, served, key)
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 20")
    assert page.is_disabled("#prev") and not page.is_disabled("#next")
    page.click("#next")
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 3")
    shown = [tr.get_attribute("data-id") for tr in page.query_selector_all("#audio-list tbody tr")]
    assert shown == ids[:3][::-1] and page.is_disabled("#next")
    page.click("#prev")
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 20")
    assert page.errors == []


def test_page_is_served_at_root(served: Served) -> None:
    r = httpx.get(f"{served.url}/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert httpx.get(f"{served.url}/static/app.js").status_code == 200
    assert httpx.get(f"{served.url}/static/nope.js").status_code == 404
    assert "/" not in httpx.get(f"{served.url}/openapi.json").json()["paths"]


# --- on a phone and on a desktop ---------------------------------------------------------------
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
         "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}
SIZES = [pytest.param(PHONE, id="390x844"), pytest.param(DESKTOP, id="1280x800")]
LONG_NAME = "interview-with-the-head-of-the-regional-orchestra-take-0001-final-final.wav"
ACCENT, UNPLAYED, DANGER = (59, 111, 216), (200, 211, 230), "rgb(192, 57, 43)"

# Every rendered element whose box reaches past the screen's left or right edge. The width is
# the device's, not innerWidth: a mobile browser widens its layout viewport to fit content
# that overflows (and zooms out), so innerWidth alone would pass a page that overflows.
OFF_SCREEN = """(vw) => {
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const cs = getComputedStyle(el);
        if (cs.display === 'none' || cs.visibility === 'hidden') continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -0.5 || r.right > vw + 0.5)
            out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}: ${r.left}..${r.right} of ${vw}`);
    }
    return {offScreen: out, scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth};
}"""


def assert_nothing_off_screen(page: Any) -> None:
    screen = page.viewport_size["width"]
    layout = page.evaluate(OFF_SCREEN, screen)
    assert layout["offScreen"] == [], layout["offScreen"]
    assert layout["scrollWidth"] <= layout["innerWidth"] == screen


@pytest.fixture
def sized_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a context of the size the test is parametrized with (`indirect`)."""
    context = browser.new_context(**request.param)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    refused: list[str] = []
    pg.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    pg.failed_responses = []
    pg.on("response", lambda r: pg.failed_responses.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.waveform_responses = []
    pg.on("response", lambda r: pg.waveform_responses.append(r) if "/waveform" in r.url else None)
    try:
        yield pg
        assert not refused, refused
    finally:
        context.close()


def play_and_wait_for_waveform(page: Any, name: str) -> None:
    page.click(f"#audio-list tr:has-text('{name}') button.play")
    wait_for(page, "document.querySelector('#player').readyState >= 1")
    wait_for(page, "document.querySelector('#waveform-status').textContent === ''")


def seek_paused(page: Any, seconds: float) -> None:
    moved = page.evaluate(f"""() => new Promise(resolve => {{
        const a = document.querySelector('#player');
        a.pause();
        setTimeout(() => resolve('no seeked event'), {JS_WAIT_MS});
        a.addEventListener('seeked', () => resolve(a.currentTime), {{once: true}});
        a.currentTime = {seconds};
    }})""")
    assert moved == pytest.approx(seconds, abs=0.05)


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_nothing_is_off_screen_on_a_phone_or_a_desktop(
    sized_page: Any, served: Served, tones: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    page = sized_page
    size = request.node.callspec.id
    key = served.new_key(f"web-layout-{size}")
    with Client(served.url, api_key=key) as c:
        c.upload(tones["wav"], name=LONG_NAME, collection="field-recordings-north-sea-2026", ttl_seconds=86_400)
        c.upload(tones["mp3"])
    sign_in(page, served, key)
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 2")
    assert_nothing_off_screen(page)
    # every part of the page in use at once: an upload that worked, one that failed, the
    # player with its waveform, a signed URL to copy
    # (Playwright takes paths or buffers in one call, not both)
    page.set_input_files("#file-input", [{
        "name": "tone.flac", "mimeType": "audio/flac", "buffer": tones["flac"].read_bytes()}, {
        "name": "meeting-notes-that-are-not-audio-at-all.txt", "mimeType": "text/plain",
        "buffer": b"not audio\n" * 50}])
    wait_for(page, "document.querySelectorAll('#uploads li.done, #uploads li.failed').length === 2",
             timeout=60_000)
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 3")
    play_and_wait_for_waveform(page, LONG_NAME)
    seek_paused(page, 0.8)
    page.click(f"#audio-list tr:has-text('{LONG_NAME}') button.copy")
    wait_for(page, "document.querySelector('#signed-url').value.startsWith('http')")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-{size}.png"), full_page=True)
    page.evaluate("scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"web-{size}-first-screen.png"))

    assert_nothing_off_screen(page)
    # the buttons a user needs are on screen and not covered by anything
    for selector in ["#sign-out", f"#audio-list tr:has-text('{LONG_NAME}') button.play",
                     f"#audio-list tr:has-text('{LONG_NAME}') button.delete", "label.button"]:
        el = page.locator(selector)
        el.scroll_into_view_if_needed()
        assert el.is_visible(), selector
        hit = el.evaluate("""(el, screen) => {
            const r = el.getBoundingClientRect();
            const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return r.left >= 0 && r.right <= screen && (top === el || el.contains(top));
        }""", page.viewport_size["width"])
        assert hit, f"{selector} is off screen or covered"
    # the only error answer is the refused upload: no 404 for an icon or an asset
    assert [f for f in page.failed_responses if not f.endswith("/v1/audio")] == []
    assert page.errors == []


def test_a_failed_upload_shows_it_failed_in_red_with_the_error(page: Any, served: Served) -> None:
    key = served.new_key("web-failed-upload")
    sign_in(page, served, key)
    page.set_input_files("#file-input", [{"name": "notes.txt", "mimeType": "text/plain",
                                          "buffer": b"these are not audio\n" * 100}])
    wait_for(page, "document.querySelectorAll('#uploads li.failed').length === 1", timeout=60_000)
    li = page.locator("#uploads li.failed")
    assert li.locator(".upload-percent").text_content() == "failed"
    assert li.locator(".upload-note").text_content().startswith("unsupported_format: ")
    assert li.locator("progress").evaluate("p => getComputedStyle(p).accentColor") == DANGER
    assert li.locator(".upload-note").evaluate("n => getComputedStyle(n).color") == DANGER
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#uploads").screenshot(path=str(ARTIFACTS / "web-failed-upload.png"))
    with Client(served.url, api_key=key) as c:
        assert list(c.list()) == []   # nothing was stored
    assert page.errors == []


@pytest.mark.parametrize("sized_page", SIZES, indirect=True)
def test_the_waveform_asks_for_the_points_its_canvas_draws(
    sized_page: Any, served: Served, tones: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    page = sized_page
    key = served.new_key(f"web-waveform-size-{request.node.callspec.id}")
    with Client(served.url, api_key=key) as c:
        stored = c.upload(tones["wav"])
    sign_in(page, served, key)
    play_and_wait_for_waveform(page, "tone.wav")
    check_waveform_fits_canvas(page, page.waveform_responses[-1], stored.duration * stored.sample_rate)
    assert len(page.waveform_responses) == 1
    if request.node.callspec.id == "390x844":
        # the phone turned sideways: the canvas is now wider than the points, so it asks again
        page.set_viewport_size({"width": 844, "height": 390})
        wait_for(page, "document.querySelector('#waveform').width > 2000")
        deadline = time.monotonic() + 10
        while len(page.waveform_responses) < 2:
            assert time.monotonic() < deadline, "no new waveform request after the canvas grew"
            page.wait_for_timeout(50)
        wait_for(page, "document.querySelector('#waveform-status').textContent === ''")
        check_waveform_fits_canvas(page, page.waveform_responses[-1], stored.duration * stored.sample_rate)
    assert page.errors == []


def check_waveform_fits_canvas(page: Any, response: Any, total_samples: float) -> None:
    """The peaks asked for give at least a point per device pixel of the canvas, not many more."""
    canvas = page.evaluate("""() => { const c = document.querySelector('#waveform');
        return {width: c.width, css: c.clientWidth, ratio: devicePixelRatio}; }""")
    assert canvas["width"] == round(canvas["css"] * canvas["ratio"])
    peaks = response.json()
    assert int(httpx.URL(response.url).params["samples_per_pixel"]) == peaks["samples_per_pixel"]
    # points are asked for in steps of 256 device pixels (a few cached peak files per object);
    # samples_per_pixel is a whole number, so a short file gets a few percent more
    step = -(-canvas["width"] // 256) * 256
    assert peaks["samples_per_pixel"] == max(2, int(total_samples // step))
    assert canvas["width"] <= peaks["length"] <= step * 1.05
    assert peaks["length"] * peaks["samples_per_pixel"] >= total_samples - peaks["samples_per_pixel"]


def test_the_played_part_of_the_waveform_is_shaded(page: Any, served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("web-waveform-played")
    with Client(served.url, api_key=key) as c:
        c.upload(tones["wav"])
    sign_in(page, served, key)
    play_and_wait_for_waveform(page, "tone.wav")
    seek_paused(page, 1.0)   # half of the 2 s tone
    wait_for(page, "Math.abs(document.querySelector('#waveform').dataset.playedPx - "
                   "document.querySelector('#waveform').width / 2) <= 2")
    pixel = """(fraction) => { const c = document.querySelector('#waveform');
        const d = c.getContext('2d').getImageData(Math.floor(c.width * fraction), Math.floor(c.height / 2), 1, 1).data;
        return [d[0], d[1], d[2]]; }"""
    assert tuple(page.evaluate(pixel, 0.25)) == ACCENT     # played: the accent colour
    assert tuple(page.evaluate(pixel, 0.75)) == UNPLAYED   # still to play: grey-blue
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#player-card").screenshot(path=str(ARTIFACTS / "web-waveform-half-played.png"))
    # while it plays, the shading follows
    page.evaluate("() => { const a = document.querySelector('#player'); a.currentTime = 0; a.play(); }")
    wait_for(page, "document.querySelector('#player').currentTime > 0.6", timeout=20_000)
    wait_for(page, "Number(document.querySelector('#waveform').dataset.playedPx) > "
                   "document.querySelector('#waveform').width * 0.25")
    assert tuple(page.evaluate(pixel, 0.1)) == ACCENT
    assert page.errors == []


def test_each_object_shows_when_it_expires(page: Any, served: Served, tones: dict[str, Path]) -> None:
    key = served.new_key("web-expiry")
    with Client(served.url, api_key=key) as c:
        temporary = c.upload(tones["wav"], name="temporary.wav", ttl_seconds=3600)
        c.upload(tones["wav"], name="kept.wav")
    sign_in(page, served, key)
    wait_for(page, "document.querySelectorAll('#audio-list tbody tr').length === 2")
    assert page.locator("#audio-list thead th").nth(6).text_content() == "expires"
    temp = page.locator("#audio-list tr:has-text('temporary.wav') td.expires")
    assert temp.text_content() in ("in 59 min", "in 60 min")
    assert temp.get_attribute("title") == page.evaluate(f"new Date({temporary.expires_at.isoformat()!r}).toLocaleString()")
    assert page.locator("#audio-list tr:has-text('kept.wav') td.expires").text_content() == "never"
    assert page.errors == []


def test_the_favicon_is_served_and_linked(served: Served) -> None:
    icon = httpx.get(f"{served.url}/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.lstrip().startswith("<svg")
    legacy = httpx.get(f"{served.url}/favicon.ico")   # asked for by browsers whatever the page links
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("image/svg+xml")
    assert legacy.content == icon.content
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in httpx.get(f"{served.url}/").text
    assert "/favicon.ico" not in httpx.get(f"{served.url}/openapi.json").json()["paths"]
