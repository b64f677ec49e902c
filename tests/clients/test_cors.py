"""CORS (AUDIOSTORE_CORS_ORIGINS): preflights and exposed headers, on the API and on signed URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import Api, backend_settings_local, make_api
from fixtures_client_server import CORS_ORIGIN, Served

ORIGIN = "https://daw.example.com"
EXPOSED = {"content-range", "accept-ranges", "content-length", "etag"}


@pytest.fixture
async def cors_api(tmp_path: Path) -> AsyncIterator[Api]:
    a, runtime = await make_api(backend_settings_local(tmp_path, cors_origins=[ORIGIN, "http://other.test"]))
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


def _exposed(r: httpx.Response) -> set[str]:
    return {h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")}


async def test_preflight_for_an_idempotent_upload(cors_api: Api) -> None:
    r = await cors_api.http.options("/v1/audio", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
    })
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "idempotency-key" in allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in r.headers


async def test_signed_url_range_read_exposes_headers(cors_api: Api, tones: dict[str, Path]) -> None:
    obj = (await cors_api.upload(tones["wav"])).json()
    pre = await cors_api.http.options(obj["url"], headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range",
    })
    assert pre.status_code == 200 and "range" in pre.headers["access-control-allow-headers"].lower()
    r = await cors_api.http.get(obj["url"], headers={"Origin": ORIGIN, "Range": "bytes=0-9"})
    assert r.status_code == 206
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert EXPOSED <= _exposed(r)
    api_read = await cors_api.http.get(f"/v1/audio/{obj['id']}", headers={**cors_api.alice, "Origin": ORIGIN})
    assert api_read.headers["access-control-allow-origin"] == ORIGIN


async def test_errors_carry_cors_headers_so_browsers_can_read_them(cors_api: Api) -> None:
    r = await cors_api.http.get("/v1/audio", headers={"Origin": ORIGIN, "Authorization": "Bearer as_x_y"})
    assert r.status_code == 401 and r.headers["access-control-allow-origin"] == ORIGIN
    assert r.json()["error"]["code"] == "unauthorized"


async def test_other_origins_get_no_cors(cors_api: Api) -> None:
    r = await cors_api.http.get("/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = await cors_api.http.options("/v1/audio", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 400 and "access-control-allow-origin" not in pre.headers


async def test_no_setting_no_cors_headers(api: Api) -> None:
    r = await api.http.get("/v1/health", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in r.headers


def test_cors_on_the_real_server(served: Served, tones: dict[str, Path]) -> None:
    from audiostore.client import Client

    with Client(served.url, api_key=served.admin_key) as c:
        obj = c.upload(tones["wav"], collection="cors")
        signed = c.sign(obj.id).url
        c_headers = {"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "range"}
        assert httpx.options(signed, headers=c_headers).status_code == 200
        r = httpx.get(signed, headers={"Origin": CORS_ORIGIN, "Range": "bytes=0-99"})
        assert r.status_code == 206 and r.headers["access-control-allow-origin"] == CORS_ORIGIN
        assert EXPOSED <= _exposed(r)
        c.delete(obj.id)


async def test_preflight_max_age_is_a_setting(tmp_path: Path) -> None:
    """Seed 002 caches preflights for an hour: AUDIOSTORE_CORS_MAX_AGE (default 600)."""
    for settings_age, said in ((None, "600"), (3600, "3600")):
        extra = {} if settings_age is None else {"cors_max_age": settings_age}
        a, runtime = await make_api(backend_settings_local(tmp_path / said, cors_origins=[ORIGIN], **extra))
        try:
            r = await a.http.options("/v1/audio", headers={
                "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
            assert r.headers["access-control-max-age"] == said
        finally:
            await a.http.aclose()
            await runtime.close()
