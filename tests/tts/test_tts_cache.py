"""The request cache: identical requests answered from stored audio while it lives."""

from __future__ import annotations

import asyncio

from conftest import Api
from tts_support import count_engine

from audiostore.runtime import Runtime
from audiostore.service import Principal
from audiostore.service.tts import TtsRequest

BODY = {"text": "Cache me if you can.", "voice": "en-us", "format": "mp3"}


async def speak(api: Api, headers: dict[str, str] | None = None, **changes: object) -> dict:
    r = await api.http.post("/v1/tts", headers=headers or api.alice, json={**BODY, **changes})
    assert r.status_code in (200, 201), r.text
    assert r.status_code == (200 if r.json()["cache_hit"] else 201)
    return r.json()


async def test_identical_request_is_answered_from_storage_with_a_fresh_url(api: Api) -> None:
    engine = count_engine(api.runtime)
    first = await speak(api)
    api.clock.advance(5)
    second = await speak(api)
    assert len(engine.calls) == 1
    assert first["cache_hit"] is False and second["cache_hit"] is True
    assert second["id"] == first["id"] and second["sha256"] == first["sha256"]
    assert second["url"] != first["url"] and second["url_expires_at"] > first["url_expires_at"]
    assert (await api.http.get(second["url"])).status_code == 200
    assert await api.row_count() == 1


async def test_different_voice_text_format_or_speed_synthesise_again(api: Api) -> None:
    engine = count_engine(api.runtime)
    ids = {
        (await speak(api))["id"],
        (await speak(api, voice="en-gb"))["id"],
        (await speak(api, text="Something else entirely."))["id"],
        (await speak(api, format="wav"))["id"],
        (await speak(api, speed=1.5))["id"],
    }
    assert len(ids) == 5 and len(engine.calls) == 5


async def test_cache_is_per_owner(api: Api) -> None:
    engine = count_engine(api.runtime)
    mine = await speak(api)
    theirs = await speak(api, headers=api.bob)
    assert theirs["id"] != mine["id"] and theirs["owner"] == "bob" and theirs["cache_hit"] is False
    assert len(engine.calls) == 2


async def test_after_expiry_a_new_synthesis_happens(api: Api) -> None:
    engine = count_engine(api.runtime)
    first = await speak(api, ttl_seconds=60)
    api.clock.advance(61)
    assert (await api.http.get(f"/v1/audio/{first['id']}", headers=api.alice)).status_code == 404
    again = await speak(api, ttl_seconds=60)
    assert again["cache_hit"] is False and again["id"] != first["id"]
    assert len(engine.calls) == 2
    assert (await speak(api, ttl_seconds=60))["id"] == again["id"]  # and that one is cached


async def test_after_delete_a_new_synthesis_happens(api: Api) -> None:
    engine = count_engine(api.runtime)
    first = await speak(api)
    assert (await api.http.delete(f"/v1/audio/{first['id']}", headers=api.alice)).status_code == 204
    again = await speak(api)
    assert again["cache_hit"] is False and again["id"] != first["id"] and len(engine.calls) == 2


async def test_segments_are_cached_together(api: Api) -> None:
    engine = count_engine(api.runtime)
    body = {"text": "One. Two. Three.", "segments": True}
    first = await speak(api, **body)
    assert len(engine.calls) == 3  # one synthesis a sentence; the whole is joined from them
    second = await speak(api, **body)
    assert second["cache_hit"] is True and len(engine.calls) == 3
    assert [s["audio"]["id"] for s in second["segments"]] == [s["audio"]["id"] for s in first["segments"]]
    assert [s["phonemes"] for s in second["segments"]] == [s["phonemes"] for s in first["segments"]]
    # Deleting one segment invalidates the cached request as a whole.
    await api.http.delete(f"/v1/audio/{first['segments'][1]['audio']['id']}", headers=api.alice)
    third = await speak(api, **body)
    assert third["cache_hit"] is False and len(engine.calls) == 6


async def test_concurrent_identical_requests_synthesise_once(api: Api) -> None:
    engine = count_engine(api.runtime)
    results = await asyncio.gather(*(speak(api) for _ in range(6)))
    assert len(engine.calls) == 1
    assert len({r["id"] for r in results}) == 1
    assert sorted(r["cache_hit"] for r in results) == [False] + [True] * 5
    assert await api.row_count() == 1


async def test_cache_survives_a_restart(api: Api) -> None:
    first = await speak(api)
    restarted = Runtime.build(api.runtime.settings, clock=api.clock)
    try:
        engine = count_engine(restarted)
        result = await restarted.tts.speak(Principal("alice"), TtsRequest(**BODY))  # type: ignore[arg-type]
        assert result.cache_hit is True and result.whole.row.id == first["id"]
        assert engine.calls == []
    finally:
        await restarted.close()


async def test_prune_forgets_requests_whose_audio_is_gone(api: Api) -> None:
    kept = await speak(api)
    gone = await speak(api, text="I will be deleted.")
    await api.http.delete(f"/v1/audio/{gone['id']}", headers=api.alice)
    assert await api.runtime.tts.prune_cache() == {"tts_requests_pruned": 1}
    assert await api.runtime.tts.prune_cache() == {"tts_requests_pruned": 0}
    assert (await speak(api))["id"] == kept["id"]
