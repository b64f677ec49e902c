"""Bad TTS requests get a 422 with the catalogue's code; a failing engine a 502. Nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Api, make_api
from tts_support import BrokenEngine, assert_nothing_stored, count_engine


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"text": ""}, "validation_failed", "empty"),
        ({"text": "   \n\t "}, "validation_failed", "empty"),
        ({"voice": "en-us"}, "validation_failed", "text"),
        ({"text": "hi", "voice": "xx-nowhere"}, "unknown_voice", "xx-nowhere"),
        ({"text": "hi", "voice": "nosuchengine:en-us"}, "unknown_voice", "nosuchengine"),
        ({"text": "hi", "format": "pcm"}, "unknown_format", "pcm"),
        ({"text": "hi", "format": "aiff"}, "unknown_format", "aiff"),
        ({"text": "hi", "speed": 0}, "validation_failed", "speed"),
        ({"text": "hi", "speed": 7.5}, "validation_failed", "speed"),
        ({"text": "hi", "pitch": 50}, "validation_failed", "pitch"),
        ({"text": "hi", "ttl_seconds": 0}, "validation_failed", "ttl_seconds"),
        ({"text": "hi", "ttl_seconds": -5}, "validation_failed", "ttl_seconds"),
        ({"text": 5}, "validation_failed", "text"),
        ({"text": "nul\u0000byte"}, "validation_failed", "NUL"),
    ],
)
async def test_bad_requests_are_422_and_store_nothing(api: Api, body: dict[str, Any], code: str, says: str) -> None:
    engine = count_engine(api.runtime)
    r = await api.http.post("/v1/tts", headers=api.alice, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == code
    assert says in r.json()["error"]["message"]
    assert engine.calls == []
    await assert_nothing_stored(api)


async def test_piper_voice_without_the_setting_names_it(api: Api) -> None:
    for voice in ("en_US-lessac-medium", "piper:en_US-lessac-medium"):
        r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "hi", "voice": voice})
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "unknown_voice"
        assert "AUDIOSTORE_PIPER_VOICES" in r.json()["error"]["message"]
    r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "hi", "voice": "polly:Joanna"})
    assert r.status_code == 422 and "AUDIOSTORE_POLLY_REGION" in r.json()["error"]["message"]
    await assert_nothing_stored(api)


async def test_text_longer_than_the_limit_is_422(settings_factory: Any) -> None:
    api, runtime = await make_api(settings_factory(tts_max_text_chars=20))
    try:
        r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "x" * 21})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
        assert "AUDIOSTORE_TTS_MAX_TEXT_CHARS" in r.json()["error"]["message"]
        ok = await api.http.post("/v1/tts", headers=api.alice, json={"text": "Twenty chars or less"})
        assert ok.status_code == 201
    finally:
        await api.http.aclose()
        await runtime.close()


async def test_engine_failure_is_502_and_stores_nothing(api: Api) -> None:
    api.runtime.tts.registry.register(BrokenEngine())
    for body in ({"text": "This will fail."}, {"text": "One. Two.", "segments": True}):
        r = await api.http.post("/v1/tts", headers=api.alice, json={**body, "voice": "broken-voice"})
        assert r.status_code == 502, r.text
        assert r.json()["error"]["code"] == "engine_failed"
        assert "broken" in r.json()["error"]["message"] and "always fails" in r.json()["error"]["message"]
    await assert_nothing_stored(api)
    # A failure is not cached: the same request with a working voice is synthesised.
    assert (await api.http.post("/v1/tts", headers=api.alice, json={"text": "This will fail."})).status_code == 201


async def test_lone_surrogate_in_text_is_422(api: Api) -> None:
    raw = b'{"text": "lone \\ud800 surrogate"}'  # valid JSON, but not encodable text
    r = await api.http.post("/v1/tts", headers={**api.alice, "Content-Type": "application/json"}, content=raw)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    await assert_nothing_stored(api)


async def test_text_with_nothing_to_speak_is_422(api: Api) -> None:
    for text in ("...", " - "):
        r = await api.http.post("/v1/tts", headers=api.alice, json={"text": text, "segments": True})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_failed" and "nothing to speak" in r.json()["error"]["message"]
    await assert_nothing_stored(api)


async def test_needs_an_api_key(api: Api) -> None:
    r = await api.http.post("/v1/tts", json={"text": "hi"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    await assert_nothing_stored(api)
