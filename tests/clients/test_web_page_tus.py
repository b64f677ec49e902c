"""The web page uploads a large file by tus with tus-js-client (vendored from npm) in
Chromium against a real server: progress as the chunks go, a reload in the middle of the
upload, the same file chosen again resumes from the service's offset, one object stored."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from audio_factory import make_tone
from fixtures_client_server import Served
from test_web_page import CHROMIUM, browser, page, sign_in, wait_for  # noqa: F401  # fixtures

from audiostore.client import Client

MiB = 1024 * 1024
CHUNK = 4 * MiB  # app.js TUS_CHUNK_BYTES
STATIC = Path(__file__).resolve().parents[2] / "src" / "audiostore" / "http" / "static"
WEBCLIENT = Path(__file__).resolve().parents[2] / "webclient"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run does this)"),
]


@pytest.fixture(scope="module")
def big_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Over the page's 8 MiB threshold: three PATCHes of 4 MiB."""
    return make_tone(tmp_path_factory.mktemp("tus-web") / "lesson.wav", "wav", seconds=55.0, channels=2)


def tus_entries(page: Any) -> list[dict[str, Any]]:
    raw = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('tus::'))"
                        ".map(k => localStorage.getItem(k))")
    return [json.loads(v) for v in raw]


def settled_offset(location: str, auth: dict[str, str]) -> int:
    """The upload's offset once a PATCH cut by the reload has ended on the service."""
    seen: list[int] = []
    for _ in range(50):  # 10 s at most
        got = httpx.head(location, headers=auth)
        assert got.status_code == 200
        seen.append(int(got.headers["upload-offset"]))
        if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]:
            return seen[-1]
        time.sleep(0.2)
    raise AssertionError(f"the offset did not settle: {seen}")


def test_a_large_upload_resumes_after_a_reload(page: Any, served: Served, big_wav: Path) -> None:
    key = served.new_key("web-tus")
    size = big_wav.stat().st_size
    sign_in(page, served, key)
    wait_for(page, "!document.querySelector('#empty').hidden")

    # Let the first PATCH through, hold the second: the page is reloaded while it hangs (as
    # the route is dropped, Chromium may send part of it; the service keeps what arrived).
    held: list[Any] = []
    patches: list[int] = []

    def hold_second_patch(route: Any) -> None:
        if route.request.method == "PATCH":
            patches.append(int(route.request.headers["upload-offset"]))
            if len(patches) >= 2:
                held.append(route)
                return
        route.continue_()

    page.route(re.compile(r".*/v1/uploads/.*"), hold_second_patch)
    page.set_input_files("#file-input", str(big_wav))
    wait_for(page, "document.querySelector('#uploads li')?.dataset.via === 'tus'")
    wait_for(page, f"Number(document.querySelector('#uploads li')?.dataset.sent) >= {CHUNK}", timeout=30_000)
    assert page.evaluate("document.querySelector('#uploads li progress').value") > 0
    deadline = time.monotonic() + 30
    while not held:  # the first PATCH's answer, then the second PATCH reaches the handler
        assert time.monotonic() < deadline, f"no second PATCH: {patches}"
        page.wait_for_timeout(50)
    assert len(held) == 1 and patches == [0, CHUNK]
    (entry,) = tus_entries(page)
    assert entry["size"] == size and "Authorization" not in json.dumps(entry) and key not in json.dumps(entry)
    location = entry["uploadUrl"]
    auth = {"Authorization": f"Bearer {key}", "Tus-Resumable": "1.0.0"}
    assert httpx.head(location, headers=auth).headers["upload-offset"] == str(CHUNK)

    page.unroute(re.compile(r".*/v1/uploads/.*"))
    page.reload()
    page.wait_for_selector("#library", state="visible")
    for route in held:  # the reload ended the request; its route has nothing left to do
        try:
            route.abort()
        except Exception:  # noqa: BLE001  # already gone with the old page
            pass
    wait_for(page, "!document.querySelector('#unfinished').hidden")
    assert "lesson.wav" in page.inner_text("#unfinished")
    kept = settled_offset(location, auth)
    assert CHUNK <= kept < size  # what was acknowledged stays (and what the cut PATCH brought)

    requests: list[Any] = []
    page.on("request", lambda r: requests.append(r) if "/v1/uploads" in r.url else None)
    page.set_input_files("#file-input", str(big_wav))
    wait_for(page, "document.querySelector('#uploads li.done, #uploads li.failed') !== null", timeout=60_000)
    li = page.query_selector("#uploads li")
    assert li.get_attribute("class") == "upload done", li.inner_text()
    assert li.get_attribute("data-resumed") == "true"
    assert li.get_attribute("data-sent") == li.get_attribute("data-total") == str(size)
    # the headers as sent on the wire (Content-Length of a Blob body is set by the network stack)
    sent = [(r.method, (h := r.all_headers()).get("upload-offset"), int(h.get("content-length") or 0))
            for r in requests]
    methods = [m for m, _, _ in sent]
    assert "POST" not in methods and "HEAD" in methods  # no new upload: asked the offset
    offsets = [int(o) for m, o, _ in sent if m == "PATCH" and o is not None]
    assert offsets[0] == kept  # resumed from the service's offset
    assert sum(n for m, _, n in sent if m == "PATCH") == size - kept  # only what was missing
    assert tus_entries(page) == []  # stored: forgotten
    assert page.is_hidden("#unfinished")
    page.wait_for_selector("#audio-list tr:has-text('lesson.wav')")

    with Client(served.url, api_key=key) as c:
        (obj,) = list(c.list())
    assert obj.name == "lesson.wav" and obj.sha256 == hashlib.sha256(big_wav.read_bytes()).hexdigest()
    assert page.errors == []


def test_tus_js_client_is_vendored_with_its_licences_and_lock() -> None:
    lock = json.loads((WEBCLIENT / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/tus-js-client"]["version"]
    bundle = (STATIC / "tus.min.js").read_text()
    assert bundle.startswith(f"/*! tus-js-client {version} ")
    assert "sourceMappingURL" not in bundle and "eval(" not in bundle
    licences = (STATIC / "tus.min.js.LICENSE.txt").read_text()
    for name in ("tus-js-client", "js-base64", "url-parse", "querystringify", "requires-port"):
        assert f"{name} {lock['packages'][f'node_modules/{name}']['version']} (" in licences
    # shipped in the wheel: the package data glob covers it (no Node at pip install)
    pyproject = (STATIC.parents[2].parent / "pyproject.toml").read_text()
    assert '"http/static/*"' in pyproject
