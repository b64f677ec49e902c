"""Headers every answer carries: `X-Content-Type-Options: nosniff` on bytes (originals,
renditions, waveforms, signed URLs, queue streams, static files) and JSON alike, so a browser
never renders uploaded bytes as a page; a Content-Security-Policy and no framing on the page."""

from __future__ import annotations

from pathlib import Path

import httpx

from asgi_stream import read_stream
from audiostore.http import create_app
from conftest import Api
from fixtures_client_server import Served


async def test_every_answer_says_nosniff(api: Api, tones: dict[str, Path]) -> None:
    obj = (await api.upload(tones["wav"])).json()
    oid = obj["id"]
    content = f"/v1/audio/{oid}/content"
    etag = (await api.http.head(content, headers=api.alice)).headers["etag"]
    rendition_url = (await api.http.post(f"/v1/audio/{oid}/url", headers=api.alice,
                                         json={"format": "mp3"})).json()["url"]
    answers = {
        "original": await api.http.get(content, headers=api.alice),
        "range": await api.http.get(content, headers={**api.alice, "Range": "bytes=0-9"}),
        "head": await api.http.head(content, headers=api.alice),
        "304": await api.http.get(content, headers={**api.alice, "If-None-Match": etag}),
        "rendition": await api.http.get(f"{content}?format=opus", headers=api.alice),
        "waveform": await api.http.get(f"/v1/audio/{oid}/waveform", headers=api.alice),
        "signed URL": await api.http.get(obj["url"].removeprefix("http://testserver")),
        "signed rendition": await api.http.get(rendition_url.removeprefix("http://testserver")),
        "static file": await api.http.get("/static/app.js"),
        "page": await api.http.get("/"),
        "JSON": await api.http.get(f"/v1/audio/{oid}", headers=api.alice),
        "401": await api.http.get(content),
        "404": await api.http.get("/v1/nothing"),
        "405": await api.http.put("/v1/audio", headers=api.alice),
        "openapi": await api.http.get("/openapi.json"),
        "metrics": await api.http.get("/metrics"),
    }
    for what, r in answers.items():
        assert r.status_code < 500, (what, r.status_code)
        assert r.headers.get("x-content-type-options") == "nosniff", what

    await api.http.put("/v1/queues/q", headers=api.alice, json={"audio_ids": [oid]})
    stream = await read_stream(create_app(api.runtime), "/v1/queues/q/stream.mp3", api.alice, max_bytes=1000)
    assert stream.status == 200 and stream.headers.get("x-content-type-options") == "nosniff"


async def test_the_page_has_a_content_security_policy_and_may_not_be_framed(api: Api) -> None:
    r = await api.http.get("/")
    assert r.status_code == 200
    csp = {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in r.headers["content-security-policy"].split(";"))}
    assert csp["default-src"] == "'none'" and csp["script-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY"


def test_nosniff_on_the_real_server_file_path(served: Served, tones: dict[str, Path]) -> None:
    """On granian the local file goes out by `http.response.pathsend`: still with the header."""
    auth = {"Authorization": f"Bearer {served.admin_key}"}
    obj = httpx.post(f"{served.url}/v1/audio", headers=auth, files={"file": ("a.wav", tones["wav"].read_bytes())}).json()
    for r in (httpx.get(obj["url"]), httpx.get(f"{served.url}/v1/audio/{obj['id']}/content", headers=auth)):
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    httpx.delete(f"{served.url}/v1/audio/{obj['id']}", headers=auth)
