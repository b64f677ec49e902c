"""A 415 `unsupported_format` names what set the formats it enforces: the signed upload URL,
the client token, both, or the server's AUDIOSTORE_ACCEPTED_FORMATS. (Local + SQLite: the
wording does not depend on the backend.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from audiostore.errors import UnsupportedMediaType
from audiostore.service.format_bounds import (
    SET_BY_BOTH,
    SET_BY_CLIENT_TOKEN,
    SET_BY_UPLOAD_URL,
    check_formats,
)
from audiostore.settings import Settings
from conftest import Api, make_api

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


@pytest.fixture(params=["local"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _token(api: Api, formats: list[str]) -> dict[str, str]:
    minted = await api.http.post("/v1/tokens", headers=api.alice, json={"scopes": ["upload"], "formats": formats})
    assert minted.status_code == 201, minted.text
    return {"Authorization": f"Bearer {minted.json()['token']}"}


def _refused(r, *named: str) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 415, r.text
    error = r.json()["error"]
    assert error["code"] == "unsupported_format"
    for words in named:
        assert words in error["message"], error["message"]
    return str(error["message"])


async def _tus(api: Api, url: str, auth: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
    return await api.http.post(url, content=body, headers={
        **auth, **TUS, "Upload-Length": str(len(body)), "Content-Type": CHUNK})


async def test_a_signed_upload_url_is_named(api: Api, wav_bytes: bytes) -> None:
    issued = await api.http.post("/v1/audio/upload-url", headers=api.alice, json={"formats": ["webm"]})
    url = _local(issued.json()["url"])
    message = _refused(await api.http.put(url, content=wav_bytes), "upload URL")
    assert "token" not in message
    message = _refused(await _tus(api, _local(issued.json()["tus_url"]), {}, wav_bytes), "upload URL")
    assert "token" not in message
    assert await api.row_count() == 0


async def test_a_client_token_is_named(api: Api, wav_bytes: bytes) -> None:
    token = await _token(api, ["flac"])
    message = _refused(await _tus(api, "/v1/uploads", token, wav_bytes), "client token")
    assert "upload URL" not in message
    r = await api.http.post("/v1/audio?name=a.wav", content=wav_bytes,
                            headers={**token, "Content-Type": "audio/wav"})
    assert "upload URL" not in _refused(r, "client token")
    assert await api.row_count() == 0


@pytest.fixture
async def flac_only_api(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    a, runtime = await make_api(settings_factory(auth_cache_seconds=0, accepted_formats=["flac", "mp3"]))
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def test_the_server_setting_is_named(flac_only_api: Api, wav_bytes: bytes) -> None:
    api = flac_only_api
    r = await api.http.post("/v1/audio?name=a.wav", content=wav_bytes,
                            headers={**api.alice, "Content-Type": "audio/wav"})
    _refused(r, "AUDIOSTORE_ACCEPTED_FORMATS")
    _refused(await _tus(api, "/v1/uploads", api.alice, wav_bytes), "AUDIOSTORE_ACCEPTED_FORMATS")
    assert await api.row_count() == 0


@pytest.mark.parametrize(("set_by", "named"), [
    (SET_BY_UPLOAD_URL, "allowed by this upload URL ("),
    (SET_BY_CLIENT_TOKEN, "allowed by the client token ("),
    (SET_BY_BOTH, "allowed by this upload URL and the client token ("),
])
def test_the_check_after_the_last_byte_names_what_set_the_formats(
    tones: dict[str, Path], set_by: str, named: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        check_formats(tones["wav"], ("flac",), set_by)
    assert named in str(refused.value.message)
    check_formats(tones["flac"], ("flac",), set_by)  # an allowed format passes
