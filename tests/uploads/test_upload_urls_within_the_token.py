"""A signed upload URL minted with a client token never allows more than the token: its
formats, max_bytes and collection stay within the token's and it ends when the token does, so
the URL (used with no header, so without the token) cannot carry an upload the token would
refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import Api


@pytest.fixture(params=["local"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _token(api: Api, **bounds: Any) -> dict[str, str]:
    r = await api.http.post("/v1/tokens", headers=api.alice, json={"scopes": ["upload"], **bounds})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_the_urls_formats_default_to_and_stay_within_the_tokens(api: Api, tones: dict[str, Path]) -> None:
    wav_only = await _token(api, formats=["wav"])
    issued = await api.http.post("/v1/audio/upload-url", headers=wav_only, json={})
    assert issued.status_code == 200, issued.text
    assert issued.json()["formats"] == ["wav"]
    refused = await api.http.put(_local(issued.json()["url"]), content=tones["mp3"].read_bytes())
    assert refused.status_code == 415, refused.text
    assert await api.row_count() == 0
    wider = await api.http.post("/v1/audio/upload-url", headers=wav_only, json={"formats": ["mp3"]})
    assert wider.status_code == 422, wider.text
    assert "client token" in wider.json()["error"]["message"]
    stored = await api.http.put(_local(issued.json()["url"]), content=tones["wav"].read_bytes())
    assert stored.status_code == 201, stored.text


async def test_the_urls_size_and_collection_stay_within_the_tokens(api: Api, tones: dict[str, Path]) -> None:
    size = tones["wav"].stat().st_size
    small = await _token(api, max_bytes=size - 1, collections=["takes"])
    issued = await api.http.post("/v1/audio/upload-url", headers=small, json={"collection": "takes"})
    assert issued.status_code == 200, issued.text
    assert issued.json()["max_bytes"] == size - 1
    too_big = await api.http.put(_local(issued.json()["url"]), content=tones["wav"].read_bytes())
    assert too_big.status_code == 413, too_big.text
    larger = await api.http.post("/v1/audio/upload-url", headers=small,
                                 json={"collection": "takes", "max_bytes": size})
    assert larger.status_code == 422 and "client token" in larger.json()["error"]["message"]
    elsewhere = await api.http.post("/v1/audio/upload-url", headers=small, json={"collection": "private"})
    assert elsewhere.status_code == 403 and elsewhere.json()["error"]["code"] == "scope_denied"
    assert await api.row_count() == 0


async def test_the_url_ends_when_the_token_does(api: Api, tones: dict[str, Path]) -> None:
    brief = await _token(api, lifetime_seconds=60)
    issued = await api.http.post("/v1/audio/upload-url", headers=brief, json={"expires_in": 3600})
    assert issued.status_code == 200, issued.text
    api.clock.advance(61)  # the token's end, long before the hour asked for
    late = await api.http.put(_local(issued.json()["url"]), content=tones["wav"].read_bytes())
    assert late.status_code == 403 and late.json()["error"]["code"] == "signature_expired", late.text
    assert await api.row_count() == 0 and await api.blob_keys() == []
