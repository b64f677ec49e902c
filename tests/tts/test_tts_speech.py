"""Real espeak-ng speech in every format, stored like an upload and fetched by its signed URL."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from conftest import Api, make_api
from tts_support import decode, rms

SENTENCE = "The quick brown fox jumps over the lazy dog."


async def fetch_signed(api: Api, obj: dict[str, Any]) -> bytes:
    r = await api.http.get(obj["url"])  # no Authorization header: the signature is enough
    assert r.status_code == 200, r.text
    return r.content


@pytest.mark.parametrize(("fmt", "codec"), [("wav", "pcm_s16le"), ("mp3", "mp3"), ("opus", "opus"), ("ogg", "opus")])
async def test_speech_in_each_format_decodes_with_matching_duration(api: Api, fmt: str, codec: str) -> None:
    r = await api.http.post("/v1/tts", headers=api.alice, json={"text": SENTENCE, "voice": "en-us", "format": fmt})
    assert r.status_code == 201, r.text
    obj = r.json()
    assert obj["engine"] == "espeak" and obj["cache_hit"] is False
    assert obj["collection"] == "tts" and obj["text"] == SENTENCE and obj["voice_id"] == "en-us"
    assert obj["codec"].startswith(codec)
    assert obj["format"] == fmt or (fmt in ("opus", "ogg") and obj["format"] in ("opus", "ogg"))
    assert obj["url"] and obj["url_expires_at"]
    assert obj["phonemes"] and "ð" in obj["phonemes"]  # IPA from espeak-ng ("the")

    data = await fetch_signed(api, obj)
    assert len(data) == obj["size"]
    samples, rate = decode(data)
    assert samples.size / rate == pytest.approx(obj["duration"], abs=0.03)
    assert 1.5 < obj["duration"] < 6.0  # a sentence of speech, not a blip
    full_scale = 32768.0 if np.abs(samples).max() > 2.0 else 1.0  # int16 or float planes
    assert rms(samples, full_scale) > 0.02, "stored speech is (nearly) silent"


async def test_default_ttl_is_24_hours_and_text_is_searchable(api: Api) -> None:
    r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "Find me later."})
    obj = r.json()
    assert r.status_code == 201 and obj["format"] == "mp3"  # AUDIOSTORE_TTS_DEFAULT_FORMAT
    assert obj["voice_id"] == "en-us"  # AUDIOSTORE_TTS_DEFAULT_VOICE
    from datetime import datetime

    created = datetime.fromisoformat(obj["created_at"])
    expires = datetime.fromisoformat(obj["expires_at"])
    assert (expires - created).total_seconds() == 86400
    listed = await api.http.get("/v1/audio", headers=api.alice, params={"q": "find me"})
    assert [o["id"] for o in listed.json()["items"]] == [obj["id"]]


async def test_segments_are_stored_in_order_with_text_and_phonemes(api: Api) -> None:
    text = "First sentence here. Then a question? And the end!"
    r = await api.http.post(
        "/v1/tts", headers=api.alice, json={"text": text, "voice": "en-us", "format": "wav", "segments": True}
    )
    assert r.status_code == 201, r.text
    obj = r.json()
    segs = obj["segments"]
    assert [s["index"] for s in segs] == [0, 1, 2]
    assert [s["text"] for s in segs] == ["First sentence here.", "Then a question?", "And the end!"]
    assert all(s["phonemes"] for s in segs)
    assert [s["audio"]["text"] for s in segs] == [s["text"] for s in segs]
    ids = {obj["id"], *(s["audio"]["id"] for s in segs)}
    assert len(ids) == 4 and await api.row_count() == 4
    # The whole is the sentences back to back.
    assert obj["duration"] == pytest.approx(sum(s["audio"]["duration"] for s in segs), abs=0.01)
    for s in segs:
        samples, rate = decode(await fetch_signed(api, s["audio"]))
        assert samples.size / rate == pytest.approx(s["audio"]["duration"], abs=0.01)
        assert rms(samples, 32768.0) > 0.02


async def test_speed_changes_duration(api: Api) -> None:
    slow = await api.http.post("/v1/tts", headers=api.alice, json={"text": SENTENCE, "speed": 0.6, "format": "wav"})
    fast = await api.http.post("/v1/tts", headers=api.alice, json={"text": SENTENCE, "speed": 1.8, "format": "wav"})
    assert slow.status_code == fast.status_code == 201
    assert slow.json()["duration"] > fast.json()["duration"] * 1.5


async def test_voices_lists_every_espeak_voice(api: Api) -> None:
    r = await api.http.get("/v1/tts/voices", headers=api.alice)
    assert r.status_code == 200
    body = r.json()
    assert body["engines"] == ["espeak"]  # Piper and Polly are off without their settings
    ids = {v["id"] for v in body["voices"]}
    assert {"en-us", "en-gb", "de", "fr-fr"} <= ids and len(ids) > 100
    en_us = next(v for v in body["voices"] if v["id"] == "en-us")
    assert en_us == {"id": "en-us", "engine": "espeak", "language": "en-us", "name": "English (America)"}
    assert (await api.http.get("/v1/tts/voices")).status_code == 401


async def test_other_language_voice_and_explicit_engine_prefix(api: Api) -> None:
    r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "Guten Tag.", "voice": "espeak:de", "format": "wav"})
    assert r.status_code == 201, r.text
    assert r.json()["voice_id"] == "de"


async def test_seed_000_layout_is_settings(settings_factory: Any) -> None:
    settings = settings_factory(
        key_template="{collection}/{date}/{id}.{ext}", tts_collection="temp-audio", tts_default_format="wav",
    )
    api, runtime = await make_api(settings)
    try:
        r = await api.http.post("/v1/tts", headers=api.alice, json={"text": "Temporary audio.", "voice": "en-us"})
        obj = r.json()
        assert re.fullmatch(rf"temp-audio/\d{{4}}-\d{{2}}-\d{{2}}/{obj['id']}\.wav", obj["key"])
        assert obj["key"] in await api.blob_keys()
    finally:
        await api.http.aclose()
        await runtime.close()


async def test_metrics_count_syntheses_and_cache_hits(api: Api) -> None:
    body = {"text": "Count me.", "voice": "en-us", "format": "wav"}
    await api.http.post("/v1/tts", headers=api.alice, json=body)
    await api.http.post("/v1/tts", headers=api.alice, json=body)
    text = (await api.http.get("/metrics")).text
    assert 'audiostore_tts_syntheses_total{engine="espeak",outcome="ok"}' in text
    assert 'audiostore_tts_synthesis_seconds_count{engine="espeak"}' in text
    assert 'audiostore_tts_cache_hits_total{engine="espeak"}' in text
