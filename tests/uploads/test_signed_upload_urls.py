"""Signed upload URLs: issued with an API key, used with no header (PUT raw bytes or POST a
form), bound to their terms, used once; and as the authority of a tus creation. Every
refusal also checks that nothing was stored."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import Api

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


@pytest.fixture(params=["local"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def issue(api: Api, **terms: object) -> dict[str, object]:
    r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json=terms)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_put_with_no_header_stores_under_the_terms(api: Api, wav_bytes: bytes) -> None:
    issued = await issue(api, collection="recordings", name="take-1.wav", ttl_seconds=3600)
    assert issued["method"] == "PUT" and issued["expires_at"]
    r = await api.http.put(local(str(issued["url"])), content=wav_bytes)  # no Content-Type either
    assert r.status_code == 201, r.text
    obj = r.json()
    assert (obj["owner"], obj["collection"], obj["name"]) == ("alice", "recordings", "take-1.wav")
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest() and obj["expires_at"]
    again = await api.http.put(local(str(issued["url"])), content=wav_bytes)
    assert again.status_code == 410 and again.json()["error"]["code"] == "upload_url_used"
    assert await api.row_count() == 1 and len(await api.blob_keys()) == 1


async def test_post_multipart_works_and_form_fields_are_refused(api: Api, tones: dict[str, Path]) -> None:
    issued = await issue(api, collection="takes")
    with tones["mp3"].open("rb") as f:
        bad = await api.http.post(local(str(issued["url"])), files={"file": ("a.mp3", f)},
                                  data={"collection": "elsewhere"})
    assert bad.status_code == 422
    assert await api.row_count() == 0
    with tones["mp3"].open("rb") as f:  # refused uses do not spend the URL
        ok = await api.http.post(local(str(issued["url"])), files={"file": ("a.mp3", f)})
    assert ok.status_code == 201, ok.text
    assert ok.json()["collection"] == "takes" and ok.json()["name"] == "a.mp3"


async def test_bounds_size_and_format(api: Api, wav_bytes: bytes, tones: dict[str, Path]) -> None:
    small = await issue(api, max_bytes=1000)
    r = await api.http.put(local(str(small["url"])), content=wav_bytes)
    assert r.status_code == 413
    only_webm = await issue(api, formats=["webm"])
    r = await api.http.put(local(str(only_webm["url"])), content=wav_bytes)
    assert r.status_code == 415
    r = await api.http.put(local(str(only_webm["url"])), content=tones["webm"].read_bytes())
    assert r.status_code == 201, r.text
    assert await api.row_count() == 1


async def test_tampered_expired_and_unsigned_are_refused(api: Api, wav_bytes: bytes) -> None:
    issued = await issue(api, collection="mine", expires_in=60)
    url = local(str(issued["url"]))
    tampered = url.replace("collection=mine", "collection=theirs")
    assert (await api.http.put(tampered, content=wav_bytes)).status_code == 403
    assert (await api.http.put("/v1/signed-upload", content=wav_bytes)).status_code == 403
    api.clock.advance(61)
    r = await api.http.put(url, content=wav_bytes)
    assert r.status_code == 403 and r.json()["error"]["code"] == "signature_expired"
    assert await api.row_count() == 0 and await api.blob_keys() == []


async def test_issuing_checks_its_terms(api: Api) -> None:
    for terms in ({"max_bytes": api.runtime.settings.max_upload_bytes + 1}, {"formats": ["exe"]},
                  {"expires_in": 10**9}, {"collection": "../up"}):
        r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json=terms)
        assert r.status_code in (400, 422), (terms, r.text)
    assert (await api.http.post("/v1/audio/upload-url", json={})).status_code == 401
    r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json={"owner": "bob"})
    assert r.status_code == 403


async def test_a_signed_url_authorises_a_tus_upload(api: Api, wav_bytes: bytes) -> None:
    issued = await issue(api, collection="phone", name="memo.wav", formats=["wav"])
    tus_url = local(str(issued["tus_url"]))
    made = await api.http.post(tus_url, headers={**TUS, "Upload-Length": str(len(wav_bytes)),
        "Upload-Metadata": f"filename {base64.b64encode(b'x.wav').decode()}"})
    assert made.status_code == 201, made.text
    loc = made.headers["location"]
    assert "signature=" in loc  # the upload's own capability: no key needed from here on
    head = await api.http.head(loc, headers=TUS)
    assert head.status_code == 200 and head.headers["upload-offset"] == "0"
    half = len(wav_bytes) // 2
    for offset, data in ((0, wav_bytes[:half]), (half, wav_bytes[half:])):
        r = await api.http.patch(loc, content=data, headers={**TUS, "Content-Type": CHUNK, "Upload-Offset": str(offset)})
        assert r.status_code == 204, r.text
    obj = (await api.http.get(f"/v1/audio/{r.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert (obj["collection"], obj["name"]) == ("phone", "memo.wav")
    # The creation URL is used up; the signature of one upload opens no other.
    assert (await api.http.post(tus_url, headers={**TUS, "Upload-Length": "10"})).status_code == 410
    other = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Length": "10"})
    forged = other.headers["location"] + "?" + loc.split("?", 1)[1]
    assert (await api.http.head(forged, headers=TUS)).status_code == 403


async def test_a_signed_tus_upload_keeps_the_bounds(api: Api, wav_bytes: bytes) -> None:
    issued = await issue(api, max_bytes=1000)
    r = await api.http.post(local(str(issued["tus_url"])), headers={**TUS, "Upload-Length": str(len(wav_bytes))})
    assert r.status_code == 413
    webm_only = await issue(api, formats=["webm"])
    made = await api.http.post(local(str(webm_only["tus_url"])), headers={**TUS, "Upload-Length": str(len(wav_bytes))})
    r = await api.http.patch(made.headers["location"], content=wav_bytes,
                             headers={**TUS, "Content-Type": CHUNK, "Upload-Offset": "0"})
    assert r.status_code == 415
    fixed = await issue(api, collection="a")
    meta = f"collection {base64.b64encode(b'b').decode()}"
    r = await api.http.post(local(str(fixed["tus_url"])), headers={**TUS, "Upload-Length": "10", "Upload-Metadata": meta})
    assert r.status_code == 403
    assert await api.row_count() == 0 and await api.blob_keys() == []
