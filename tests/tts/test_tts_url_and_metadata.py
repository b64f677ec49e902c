"""`expires_in` (the signed URLs' lifetime) and `metadata` (stored on the new audio) on
POST /v1/tts, over both backends, with real espeak-ng speech. Neither is part of the cache key."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import Api, make_api
from tts_support import assert_nothing_stored, count_engine

from audiostore.client import AsyncClient
from audiostore.service.metadata_field import MAX_METADATA_BYTES
from audiostore.settings import Settings

BODY = {"text": "How long does my link last?", "voice": "en-us", "format": "mp3"}


async def speak(api: Api, **changes: object) -> dict[str, Any]:
    r = await api.http.post("/v1/tts", headers=api.alice, json={**BODY, **changes})
    assert r.status_code in (200, 201), r.text
    return r.json()  # type: ignore[no-any-return]


def url_expires(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(obj["url_expires_at"])


def assert_lifetime(api: Api, obj: dict[str, Any], seconds: int) -> None:
    """`url_expires_at` is `seconds` from now, and the service URL's signed `expires` says so."""
    assert url_expires(obj) == api.clock() + timedelta(seconds=seconds)
    signed = parse_qs(urlsplit(obj["url"]).query)["expires"]
    assert signed == [str(int(url_expires(obj).timestamp()))]


# --- expires_in -----------------------------------------------------------------------
async def test_expires_in_sets_the_lifetime_of_the_whole_and_every_segment(api: Api) -> None:
    obj = await speak(api, text="One sentence. And another one.", segments=True, expires_in=120)
    assert obj["cache_hit"] is False and len(obj["segments"]) == 2
    assert_lifetime(api, obj, 120)
    for seg in obj["segments"]:
        assert_lifetime(api, seg["audio"], 120)
    assert (await api.http.get(obj["url"])).status_code == 200
    api.clock.advance(121)  # the audio lives 24 h; its URL did not
    assert (await api.http.get(obj["url"])).status_code == 403
    assert (await api.http.get(obj["segments"][0]["audio"]["url"])).status_code == 403
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 200


async def test_without_expires_in_urls_last_the_default_not_the_audio_ttl(api: Api) -> None:
    obj = await speak(api)
    assert_lifetime(api, obj, 3600)  # AUDIOSTORE_URL_DEFAULT_EXPIRY
    assert datetime.fromisoformat(obj["expires_at"]) == api.clock() + timedelta(hours=24)


async def test_a_cache_hit_signs_fresh_urls_of_the_asked_lifetime(api: Api) -> None:
    engine = count_engine(api.runtime)
    first = await speak(api, text="Cached. Twice.", segments=True)
    api.clock.advance(5)
    again = await speak(api, text="Cached. Twice.", segments=True, expires_in=45)
    assert again["cache_hit"] is True and again["id"] == first["id"] and len(engine.calls) == 2
    assert_lifetime(api, again, 45)
    assert all(url_expires(s["audio"]) == api.clock() + timedelta(seconds=45) for s in again["segments"])
    longest = await speak(api, text="Cached. Twice.", segments=True, expires_in=7 * 86400)
    assert longest["cache_hit"] is True
    assert_lifetime(api, longest, 7 * 86400)  # AUDIOSTORE_URL_MAX_EXPIRY itself is allowed


@pytest.mark.parametrize("expires_in", [0, -1, 7 * 86400 + 1, 10**12])
async def test_out_of_range_expires_in_is_422_like_signed_urls_and_stores_nothing(
    api: Api, expires_in: int
) -> None:
    engine = count_engine(api.runtime)
    r = await api.http.post("/v1/tts", headers=api.alice, json={**BODY, "expires_in": expires_in})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    # the very message POST /v1/audio/{id}/url gives
    assert r.json()["error"]["message"] == (
        "expires_in must be between 1 and 604800 seconds (AUDIOSTORE_URL_MAX_EXPIRY)."
    )
    assert engine.calls == []
    await assert_nothing_stored(api)


@pytest.mark.parametrize("expires_in", ["soon", 1.5, [60]])
async def test_expires_in_that_is_not_an_integer_is_422(api: Api, expires_in: object) -> None:
    r = await api.http.post("/v1/tts", headers=api.alice, json={**BODY, "expires_in": expires_in})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert "expires_in" in r.json()["error"]["message"]
    await assert_nothing_stored(api)


async def test_bad_expires_in_is_422_even_when_the_cache_would_answer(api: Api) -> None:
    engine = count_engine(api.runtime)
    await speak(api)
    r = await api.http.post("/v1/tts", headers=api.alice, json={**BODY, "expires_in": 0})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert len(engine.calls) == 1 and await api.row_count() == 1


async def test_a_service_url_longer_than_the_audio_answers_404_once_the_audio_expired(api: Api) -> None:
    obj = await speak(api, ttl_seconds=60, expires_in=600)
    assert_lifetime(api, obj, 600)  # service URLs are checked on every request, so not cut
    assert (await api.http.get(obj["url"])).status_code == 200
    api.clock.advance(61)
    r = await api.http.get(obj["url"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_a_presigned_url_never_outlives_its_speech(
    settings_factory: Callable[..., Settings], backend: str
) -> None:
    """Direct S3 signing: as with POST /v1/audio/{id}/url, the URL ends when the object does."""
    if backend == "local":
        pytest.skip(reason="local disk hands out service URLs only; they 404 once the audio expired")
    api, runtime = await make_api(settings_factory(auth_cache_seconds=0, signed_urls="direct"))
    try:
        obj = await speak(api, ttl_seconds=90, expires_in=3600)
        assert "X-Amz-Expires=90" in obj["url"]
        assert url_expires(obj) <= datetime.fromisoformat(obj["expires_at"])
        long_lived = await speak(api, text="This one lives a day.", expires_in=600)
        assert "X-Amz-Expires=600" in long_lived["url"]
    finally:
        await api.http.aclose()
        await runtime.close()


# --- metadata -------------------------------------------------------------------------
META = {"order": 7, "tags": ["intro", "en"], "who": {"name": "Zoë", "score": 1.5}, "ok": True}


async def test_metadata_is_stored_on_the_whole_and_every_segment(api: Api) -> None:
    obj = await speak(api, text="First part. Second part.", segments=True, metadata=META)
    tts_facts = {"engine": "espeak", "format": "mp3", "speed": 1.0}
    assert obj["metadata"] == {**META, "tts": tts_facts}
    for i, seg in enumerate(obj["segments"]):
        assert seg["audio"]["metadata"] == {**META, "tts": {**tts_facts, "segment": i}}
    fetched = (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()
    assert fetched["metadata"] == obj["metadata"]
    seg_id = obj["segments"][1]["audio"]["id"]
    assert (await api.http.get(f"/v1/audio/{seg_id}", headers=api.alice)).json()["metadata"]["order"] == 7


async def test_without_metadata_only_the_tts_facts_are_stored(api: Api) -> None:
    obj = await speak(api)
    assert obj["metadata"] == {"tts": {"engine": "espeak", "format": "mp3", "speed": 1.0}}


NESTED: dict[str, Any] = {}
_inner = NESTED
for _ in range(32):  # 33 levels with the outermost
    _inner["d"] = {}
    _inner = _inner["d"]


@pytest.mark.parametrize(
    ("metadata", "code", "says"),
    [
        ([1, 2], "invalid_metadata", "JSON object"),
        ("a string", "invalid_metadata", "JSON object"),
        (5, "invalid_metadata", "JSON object"),
        ({"tts": "mine"}, "invalid_metadata", "reserved"),
        (NESTED, "invalid_metadata", "32 levels"),
        ({"big": "x" * MAX_METADATA_BYTES}, "invalid_metadata", "16384 bytes"),
        ({"bad": "nul\u0000byte"}, "validation_failed", "NUL"),
    ],
)
async def test_bad_metadata_is_422_and_stores_nothing(api: Api, metadata: object, code: str, says: str) -> None:
    engine = count_engine(api.runtime)
    r = await api.http.post("/v1/tts", headers=api.alice, json={**BODY, "metadata": metadata})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert says in r.json()["error"]["message"]
    assert engine.calls == []
    await assert_nothing_stored(api)


@pytest.mark.parametrize(
    ("raw", "code", "says"),
    [
        ('{"n": NaN}', "invalid_metadata", "finite"),
        ('{"n": Infinity}', "invalid_metadata", "finite"),
        ('{"n": 1e999}', "invalid_metadata", "finite"),
        ('{"s": "lone \\ud800"}', "validation_failed", "lone surrogate"),
    ],
)
async def test_metadata_numbers_must_be_finite_and_strings_storable(api: Api, raw: str, code: str, says: str) -> None:
    body = json.dumps({**BODY}).rstrip("}") + f', "metadata": {raw}}}'
    r = await api.http.post("/v1/tts", headers={**api.alice, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code and says in r.json()["error"]["message"]
    await assert_nothing_stored(api)


async def test_metadata_that_fits_alone_but_not_with_the_tts_facts_is_422(api: Api) -> None:
    engine = count_engine(api.runtime)
    metadata = {"big": "x" * (MAX_METADATA_BYTES - 20)}  # 16,375 bytes of JSON: fits an upload
    assert len(json.dumps(metadata)) <= MAX_METADATA_BYTES
    r = await api.http.post("/v1/tts", headers=api.alice, json={**BODY, "metadata": metadata, "segments": True})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_metadata"
    assert "`tts` facts" in r.json()["error"]["message"]
    assert engine.calls == []
    await assert_nothing_stored(api)


async def test_a_cache_hit_keeps_the_metadata_of_the_request_that_made_the_audio(api: Api) -> None:
    """Documented rule: metadata is not in the cache key, and a cache hit changes nothing stored."""
    engine = count_engine(api.runtime)
    first = await speak(api, text="Shared words. Said once.", segments=True, metadata={"order": 1})
    for later in ({"order": 2, "extra": "x"}, None):
        hit = await speak(api, text="Shared words. Said once.", segments=True,
                          **({"metadata": later} if later is not None else {}))
        assert hit["cache_hit"] is True and hit["id"] == first["id"]
        assert hit["metadata"] == first["metadata"] and hit["metadata"]["order"] == 1
        assert [s["audio"]["metadata"] for s in hit["segments"]] == [s["audio"]["metadata"] for s in first["segments"]]
    stored = (await api.http.get(f"/v1/audio/{first['id']}", headers=api.alice)).json()
    assert stored["metadata"]["order"] == 1 and "extra" not in stored["metadata"]
    assert len(engine.calls) == 2 and await api.row_count() == 3
    # bad metadata is refused even though the cache would have answered
    r = await api.http.post("/v1/tts", headers=api.alice,
                            json={**BODY, "text": "Shared words. Said once.", "segments": True, "metadata": [1]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_metadata"
    assert await api.row_count() == 3


async def test_metadata_can_be_changed_afterwards_with_patch(api: Api) -> None:
    obj = await speak(api, metadata={"order": 1})
    r = await api.http.patch(f"/v1/audio/{obj['id']}", headers=api.alice, json={"metadata": {"order": 2}})
    assert r.status_code == 200 and r.json()["metadata"] == {"order": 2}
    hit = await speak(api, metadata={"order": 3})
    assert hit["cache_hit"] is True and hit["metadata"] == {"order": 2}


# --- SDK ------------------------------------------------------------------------------
async def test_async_sdk_passes_expires_in_and_metadata(api: Api) -> None:
    async with AsyncClient("http://testserver", api_key=api.alice_key, transport=api.http._transport) as c:
        obj = await c.tts("Through the SDK.", voice="en-us", expires_in=90, metadata={"from": "sdk"})
        assert obj["metadata"]["from"] == "sdk" and obj["cache_hit"] is False
        assert_lifetime(api, obj, 90)
        hit = await c.tts("Through the SDK.", voice="en-us", expires_in=30, metadata={"from": "other"})
        assert hit["cache_hit"] is True and hit["metadata"]["from"] == "sdk"
        assert_lifetime(api, hit, 30)
