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
    assert page.is_visible("#empty")

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
