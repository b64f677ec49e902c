"""tus-js-client (vendored from npm) with `parallelUploads: 2` in Chromium, from a page on
another origin, with a client token, against a real server: it sends the file as two partial
uploads (`Upload-Concat: partial`) and then the final upload (`Upload-Concat: final;...`),
which is stored once with the final upload's metadata; the sha256 is the file's."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from audio_factory import make_tone
from fixtures_client_server import Served
from test_cors import CHROMIUM, cors_served, page_origin  # noqa: F401  # fixtures
from test_web_page import browser  # noqa: F401  # fixture

from audiostore.client import Client

STATIC = Path(__file__).resolve().parents[2] / "src" / "audiostore" / "http" / "static"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium; .ci/run does this)"),
]

# Runs in the page of the other origin: tus-js-client splits the file in two partial
# uploads sent at once, each in 64 KiB PATCHes, then creates the final upload.
_PARALLEL_UPLOAD = """([endpoint, token, wav]) => new Promise((resolve) => {
  const bytes = Uint8Array.from(atob(wav), c => c.charCodeAt(0));
  const file = new Blob([bytes], {type: "audio/wav"});
  const upload = new tus.Upload(file, {
    endpoint, parallelUploads: 2, chunkSize: 64 * 1024, retryDelays: [],
    headers: {Authorization: "Bearer " + token},
    metadata: {filename: "duet.wav", collection: "takes"},
    onSuccess: () => resolve({ok: true, url: upload.url}),
    onError: (err) => resolve({ok: false, error: String(err)}),
  });
  upload.start();
})"""


def test_parallel_uploads_are_concatenated_and_stored_once(
    browser: Any, cors_served: Served, page_origin: str, tmp_path: Path
) -> None:
    served = cors_served
    wav = make_tone(tmp_path / "duet.wav", "wav", seconds=3.0, channels=2)
    with Client(served.url, api_key=served.admin_key) as c:
        token = c.create_token(["read", "upload"], owner="duet-app", collections=["takes"]).token
    context = browser.new_context()
    page = context.new_page()
    seen: list[tuple[str, str | None]] = []
    page.on("request", lambda r: seen.append((r.method, r.headers.get("upload-concat")))
            if "/v1/uploads" in r.url else None)
    try:
        page.goto(f"{page_origin}/app")
        page.add_script_tag(path=str(STATIC / "tus.min.js"))
        out = page.evaluate(_PARALLEL_UPLOAD, [f"{served.url}/v1/uploads", token,
                                               base64.b64encode(wav.read_bytes()).decode()])
    finally:
        context.close()
    assert out["ok"], out
    creations = [concat for method, concat in seen if method == "POST"]
    assert creations.count("partial") == 2, seen
    (final_concat,) = [c for c in creations if c and c.startswith("final;")]
    assert len(final_concat.removeprefix("final;").split()) == 2
    assert sum(1 for method, _ in seen if method == "PATCH") >= 4  # each partial in chunks

    auth = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    head = httpx.head(out["url"], headers=auth)
    assert head.status_code == 200 and head.headers["upload-concat"].startswith("final;")
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(wav.stat().st_size)
    audio_id = head.headers["audiostore-audio-id"]
    with Client(served.url, api_key=served.admin_key) as c:
        stored = [o for o in c.list(owner="duet-app")]
    assert [o.id for o in stored] == [audio_id]  # once, and the partials were not stored
    assert stored[0].name == "duet.wav" and stored[0].collection == "takes"
    assert stored[0].sha256 == hashlib.sha256(wav.read_bytes()).hexdigest()
    # The partial uploads are gone once the final upload is stored.
    for partial in final_concat.removeprefix("final;").split():
        assert httpx.head(partial, headers=auth).status_code == 404
