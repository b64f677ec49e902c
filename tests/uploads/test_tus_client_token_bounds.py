"""A client token's collections, formats and max_bytes bound a tus upload made with it, as
they bound `POST /v1/audio`: checked at creation where they can be, and carried with the
upload so that a deferred length and the ingest at the end (which runs after the token's
request) still apply them. Each refusal leaves no audio row, blob, tus row or part."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import Api
from audiostore.catalog.models import TusUploadRow

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


@pytest.fixture(params=["local"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def token(api: Api, **body: object) -> dict[str, str]:
    r = await api.http.post("/v1/tokens", headers=api.alice, json={"scopes": ["upload"], **body})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}", **TUS}


async def nothing_left(api: Api) -> None:
    assert await api.row_count() == 0 and await api.blob_keys() == []
    async with api.runtime.catalog.database.session() as s:
        assert (await s.execute(select(func.count()).select_from(TusUploadRow))).scalar_one() == 0
    d: Path = api.runtime.tus_uploads.parts_dir
    assert not d.is_dir() or list(d.glob("*.part")) == []


async def test_a_collection_outside_the_token_is_403_at_creation(api: Api, wav_bytes: bytes) -> None:
    auth = await token(api, collections=["takes"])
    r = await api.http.post("/v1/uploads", headers={
        **auth, "Upload-Length": str(len(wav_bytes)), "Upload-Metadata": meta(collection="other")})
    assert r.status_code == 403 and r.json()["error"]["code"] == "scope_denied", r.text
    default = await api.http.post("/v1/uploads", headers={**auth, "Upload-Length": str(len(wav_bytes))})
    assert default.status_code == 403  # the default collection is outside it too
    await nothing_left(api)
    ok = await api.http.post("/v1/uploads", content=wav_bytes, headers={
        **auth, "Upload-Length": str(len(wav_bytes)), "Content-Type": CHUNK,
        "Upload-Metadata": meta(collection="takes")})
    assert ok.status_code == 201 and ok.headers["audiostore-audio-id"], ok.text


async def test_a_format_outside_the_token_is_415_at_the_end(api: Api, wav_bytes: bytes) -> None:
    auth = await token(api, formats=["flac"])
    r = await api.http.post("/v1/uploads", content=wav_bytes, headers={
        **auth, "Upload-Length": str(len(wav_bytes)), "Content-Type": CHUNK})
    assert r.status_code == 415, r.text
    assert await api.row_count() == 0 and await api.blob_keys() == []
    wav_ok = await token(api, formats=["wav"])
    ok = await api.http.post("/v1/uploads", content=wav_bytes, headers={
        **wav_ok, "Upload-Length": str(len(wav_bytes)), "Content-Type": CHUNK})
    assert ok.status_code == 201 and ok.headers["audiostore-audio-id"], ok.text


async def test_the_token_max_bytes_bounds_a_deferred_length(api: Api, wav_bytes: bytes) -> None:
    auth = await token(api, max_bytes=1000)
    made = await api.http.post("/v1/uploads", headers={**auth, "Upload-Defer-Length": "1"})
    assert made.status_code == 201, made.text
    loc = made.headers["location"]
    r = await api.http.patch(loc, content=wav_bytes[:2000], headers={
        **auth, "Content-Type": CHUNK, "Upload-Offset": "0"})
    assert r.status_code == 413, r.text
    late = await api.http.patch(loc, content=b"", headers={
        **auth, "Content-Type": CHUNK, "Upload-Offset": "0", "Upload-Length": "5000"})
    assert late.status_code == 413, late.text
    assert await api.row_count() == 0 and await api.blob_keys() == []


async def test_a_413_at_creation_names_what_set_the_limit(api: Api) -> None:
    """A token's max_bytes is named as the token's, not as an upload URL's or the server's."""
    auth = await token(api, max_bytes=1000)
    r = await api.http.post("/v1/uploads", headers={**auth, "Upload-Length": "5000"})
    assert r.status_code == 413, r.text
    assert "the client token's max_bytes" in r.json()["error"]["message"]
    await nothing_left(api)
