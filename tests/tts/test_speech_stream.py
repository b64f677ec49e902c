"""POST /v1/audio/speech and /v1/tts `stream`: bytes while they are made, the TTS cache, and
what is kept when a client leaves."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Callable

import av
import pytest
from conftest import Api, make_api
from speech_support import GatedEngine, HushEngine, StreamingPost
from tts_support import BrokenEngine, assert_nothing_stored, count_engine, tts_cache_entries

from audiostore import metrics
from audiostore.settings import Settings

TEXT = "The first sentence is short. The second one follows it. A third ends the text."
SPEECH = {"model": "tts-1", "input": TEXT, "voice": "alloy"}
FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
CONTAINERS = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav"}


def decoded(data: bytes) -> tuple[str, int, float]:
    """Container name, sample rate and decoded seconds of `data` (every frame decoded)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return container.format.name, stream.codec_context.sample_rate, samples / stream.codec_context.sample_rate


def stream_outcomes(outcome: str) -> float:
    return sum(
        s.value for m in metrics.TTS_STREAMS.collect() for s in m.samples
        if s.name.endswith("_total") and s.labels["outcome"] == outcome
    )


async def open_speech(api: Api, body: dict[str, object] | None = None, path: str = "/v1/audio/speech") -> StreamingPost:
    post = StreamingPost(api.http._transport.app, path, api.alice, body or SPEECH)  # type: ignore[attr-defined]
    await post.start()
    return post


@pytest.mark.parametrize("fmt", FORMATS)
async def test_every_format_streams_audio_that_decodes_and_is_stored_whole(api: Api, fmt: str) -> None:
    engine = count_engine(api.runtime)
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, "response_format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["x-audiostore-cache"] == "miss" and "content-length" not in r.headers
    assert len(engine.calls) == 3  # one synthesis a sentence
    listed = (await api.http.get("/v1/audio", headers=api.alice)).json()["items"]
    assert len(listed) == 1
    stored = (await api.http.get(f"/v1/audio/{listed[0]['id']}/content", headers=api.alice)).content
    _, stored_rate, stored_seconds = decoded(stored)
    if fmt == "pcm":
        assert r.headers["content-type"] == "audio/pcm"
        assert stored_rate == 24_000 and listed[0]["format"] == "wav"
        assert len(r.content) % 2 == 0 and not r.content.startswith(b"RIFF")
        assert len(r.content) / 2 / 24_000 == pytest.approx(stored_seconds, abs=0.01)
    else:
        name, _, seconds = decoded(r.content)
        assert CONTAINERS[fmt] in name
        assert seconds == pytest.approx(stored_seconds, abs=0.05)
    assert 3.0 < stored_seconds < 15.0


async def test_an_identical_request_streams_the_stored_object(api: Api) -> None:
    engine = count_engine(api.runtime)
    first = await api.http.post("/v1/audio/speech", headers=api.alice, json=SPEECH)
    second = await api.http.post("/v1/audio/speech", headers=api.alice, json=SPEECH)
    assert first.status_code == second.status_code == 200
    assert second.headers["x-audiostore-cache"] == "hit" and len(engine.calls) == 3
    row = (await api.http.get(f"/v1/audio/{second.headers['x-audio-id']}", headers=api.alice)).json()
    assert hashlib.sha256(second.content).hexdigest() == row["sha256"]
    assert decoded(first.content)[2] == pytest.approx(decoded(second.content)[2], abs=0.05)
    assert await api.row_count() == 1 and await tts_cache_entries(api) == 1


async def test_pcm_from_the_cache_is_the_raw_samples_too(api: Api) -> None:
    count_engine(api.runtime)
    body = {**SPEECH, "response_format": "pcm"}
    first = await api.http.post("/v1/audio/speech", headers=api.alice, json=body)
    second = await api.http.post("/v1/audio/speech", headers=api.alice, json=body)
    assert second.headers["x-audiostore-cache"] == "hit"
    assert second.content == first.content


async def test_speech_and_tts_share_engines_and_cache(api: Api) -> None:
    engine = count_engine(api.runtime)
    streamed = await api.http.post("/v1/audio/speech", headers=api.alice, json=SPEECH)
    assert streamed.status_code == 200
    tts = await api.http.post("/v1/tts", headers=api.alice, json={"text": TEXT, "voice": "en-us", "format": "mp3"})
    assert tts.status_code == 200 and tts.json()["cache_hit"] is True and tts.json()["voice_id"] == "en-us"
    assert len(engine.calls) == 3


async def test_tts_streams_on_request_and_keeps_the_object(api: Api) -> None:
    engine = count_engine(api.runtime)
    body = {"text": TEXT, "format": "opus"}
    r = await api.http.post("/v1/tts", headers=api.alice, json={**body, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"
    assert "ogg" in decoded(r.content)[0]
    again = await api.http.post("/v1/tts", headers=api.alice, json=body)
    assert again.status_code == 200 and again.json()["cache_hit"] is True and len(engine.calls) == 3
    streamed_again = await api.http.post("/v1/tts", headers=api.alice, json={**body, "stream": True})
    assert streamed_again.headers["x-audiostore-cache"] == "hit"
    assert streamed_again.headers["x-audio-id"] == again.json()["id"]


async def test_first_bytes_arrive_while_later_sentences_are_not_yet_spoken(api: Api) -> None:
    engine = GatedEngine(free=1)
    api.runtime.tts.registry.register(engine, first=True)
    post = await open_speech(api, {**SPEECH, "response_format": "mp3"})
    assert post.status == 200
    first = await post.next_chunk()
    assert first  # audio of sentence one, while sentence two waits in the engine
    assert engine.spoken == 1 and not post.ended
    assert len(engine.calls) == 2  # the second sentence is already being spoken meanwhile
    assert await api.row_count() == 0  # nothing is stored before the speech is complete
    engine.gate.set()
    rest = await post.read_all()
    assert decoded(first + rest)[2] > 3.0 and engine.spoken == 3
    assert await api.row_count() == 1


async def test_a_client_that_leaves_mid_stream_leaves_nothing(api: Api) -> None:
    engine = GatedEngine(free=1)
    api.runtime.tts.registry.register(engine, first=True)
    abandoned = stream_outcomes("abandoned")
    post = await open_speech(api)
    assert await post.next_chunk()
    await post.hang_up()
    await api.runtime.speech.settled()
    assert stream_outcomes("abandoned") == abandoned + 1
    assert engine.spoken == 1  # the waiting sentence was dropped, nobody spoke the third
    await api.settled()
    await assert_nothing_stored(api)
    assert await tts_cache_entries(api) == 0
    engine.gate.set()  # a new request synthesises the whole text again
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json=SPEECH)
    assert r.status_code == 200 and r.headers["x-audiostore-cache"] == "miss"
    assert await api.row_count() == 1


@pytest.mark.parametrize("leave_after", [1, 2, 4])
async def test_leaving_at_any_point_stores_the_whole_speech_or_nothing(api: Api, leave_after: int) -> None:
    count_engine(api.runtime)
    long_text = " ".join(f"This is sentence number {i} of the long text." for i in range(12))
    post = await open_speech(api, {**SPEECH, "input": long_text, "response_format": "wav"})
    for _ in range(leave_after):
        if not await post.next_chunk():
            break
    await post.hang_up()
    await api.runtime.speech.settled()
    await api.settled()
    rows = (await api.http.get("/v1/audio", headers=api.alice)).json()["items"]
    if rows:  # kept: then it is all of it
        full = await api.http.post("/v1/tts", headers=api.alice, json={"text": long_text, "stream": True, "format": "wav"})
        stored = await api.http.get(f"/v1/audio/{rows[0]['id']}/content", headers=api.alice)
        assert decoded(stored.content)[2] == pytest.approx(decoded(full.content)[2], abs=0.01)
        assert decoded(stored.content)[2] > 20
    else:
        await assert_nothing_stored(api)
        assert await tts_cache_entries(api) == 0


async def test_a_client_that_leaves_after_the_last_sentence_leaves_it_stored_whole(api: Api) -> None:
    count_engine(api.runtime)
    long_text = " ".join(f"This is sentence number {i} of the long text." for i in range(12))
    stored_before = stream_outcomes("stored")
    post = await open_speech(api, {**SPEECH, "input": long_text, "response_format": "wav"})
    assert await post.next_chunk()
    for _ in range(600):  # the synthesis runs on without this slow reader; at most 60 s
        if stream_outcomes("stored") > stored_before:
            break
        await asyncio.sleep(0.1)
    assert not post.task.done()  # the answer is still being sent: most of it unread
    await post.hang_up()
    await api.settled()
    rows = (await api.http.get("/v1/audio", headers=api.alice)).json()["items"]
    assert len(rows) == 1
    stored = await api.http.get(f"/v1/audio/{rows[0]['id']}/content", headers=api.alice)
    again = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, "input": long_text, "response_format": "wav"})
    assert again.headers["x-audiostore-cache"] == "hit" and again.content == stored.content
    assert decoded(stored.content)[2] > 20


async def test_identical_requests_meanwhile_share_one_synthesis(api: Api) -> None:
    engine = GatedEngine(free=1)
    api.runtime.tts.registry.register(engine, first=True)
    one = await open_speech(api)
    two = await open_speech(api)
    assert await one.next_chunk() and await two.next_chunk()
    await one.hang_up()  # one listener leaving does not stop the other's speech
    engine.gate.set()
    rest = await two.read_all()
    assert rest and len(engine.calls) == 3
    await api.runtime.speech.settled()
    assert await api.row_count() == 1


async def test_a_sentence_with_nothing_to_say_is_left_out_and_a_text_of_nothing_is_a_422(api: Api) -> None:
    api.runtime.tts.registry.register(HushEngine(), first=True)
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json={
        **SPEECH, "input": "Hush. The words that follow. Hush. And the last ones.", "response_format": "wav"})
    assert r.status_code == 200 and decoded(r.content)[2] > 1.5
    await api.runtime.speech.settled()
    assert await api.row_count() == 1
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, "input": "Hush. Hush, again."})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    await api.runtime.speech.settled()
    assert await api.row_count() == 1


async def test_a_stored_answer_asked_for_during_the_stream_waits_for_it(api: Api) -> None:
    engine = GatedEngine(free=1)
    api.runtime.tts.registry.register(engine, first=True)
    post = await open_speech(api, {**SPEECH, "response_format": "mp3"})
    assert await post.next_chunk()
    stored = asyncio.create_task(api.http.post(
        "/v1/tts", headers=api.alice, json={"text": TEXT, "voice": "en-us", "format": "mp3"}))
    await asyncio.sleep(0.2)  # let it reach the cache check while the stream still speaks
    engine.gate.set()
    await post.read_all()
    r = await stored
    assert r.status_code == 200 and r.json()["cache_hit"] is True
    assert len(engine.calls) == 3  # it waited for the stream's synthesis: no fourth call


async def test_an_engine_failure_before_any_audio_is_a_502(api: Api) -> None:
    api.runtime.tts.registry.register(BrokenEngine())
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, "voice": "broken:broken-voice"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "engine_failed"
    await api.runtime.speech.settled()
    await assert_nothing_stored(api)


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"model": "tts-9"}, 422, "unknown_model"),
    ({"voice": "no-such-voice"}, 422, "unknown_voice"),
    ({"response_format": "ogg"}, 422, "validation_failed"),
    ({"speed": 3.0}, 422, "validation_failed"),
    ({"input": ""}, 422, "validation_failed"),
    ({"stream_format": "sse"}, 422, "validation_failed"),
    ({"colour": "blue"}, 422, "validation_failed"),
])
async def test_bad_requests_are_refused_and_store_nothing(api: Api, change: dict[str, object], status: int, code: str) -> None:
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, **change})
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    await assert_nothing_stored(api)


async def test_a_key_is_needed_and_is_sent_as_bearer(api: Api) -> None:
    r = await api.http.post("/v1/audio/speech", json=SPEECH)
    assert r.status_code == 401
    r = await api.http.post("/v1/audio/speech", headers={"Authorization": "Bearer wrong"}, json=SPEECH)
    assert r.status_code == 401
    await assert_nothing_stored(api)


async def test_streaming_with_segments_is_refused(api: Api) -> None:
    r = await api.http.post("/v1/tts", headers=api.alice, json={"text": TEXT, "stream": True, "segments": True})
    assert r.status_code == 422 and "segments" in r.json()["error"]["message"]
    await assert_nothing_stored(api)


async def test_openai_voice_names_map_through_the_table(api: Api) -> None:
    voices = {}
    for name, voice in [("alloy", "alloy"), ("nova", "nova"), ("custom", {"id": "en-gb"}), ("direct", "espeak:en-gb-scotland")]:
        r = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, "input": f"Voice {name}.", "voice": voice})
        assert r.status_code == 200, r.text
        await api.runtime.speech.settled()
        items = (await api.http.get("/v1/audio", headers=api.alice, params={"q": f"Voice {name}."})).json()["items"]
        voices[name] = items[0]["voice_id"]
    assert voices == {"alloy": "en-us", "nova": "en-029", "custom": "en-gb", "direct": "en-gb-scotland"}


@pytest.fixture
async def mapped_api(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    settings = settings_factory(
        auth_cache_seconds=0, speech_voices="alloy=en-gb-x-rp, shimmer=espeak:en-us-nyc",
        speech_models='{"my-model": "espeak"}',
    )
    a, runtime = await make_api(settings)
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def test_the_tables_are_settings(mapped_api: Api) -> None:
    api = mapped_api
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json={**SPEECH, "model": "my-model"})
    assert r.status_code == 200
    await api.runtime.speech.settled()
    assert (await api.http.get("/v1/audio", headers=api.alice)).json()["items"][0]["voice_id"] == "en-gb-x-rp"
    r = await api.http.post("/v1/audio/speech", headers=api.alice, json=SPEECH)  # tts-1: not in this table
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_model"


async def test_the_speech_path_allows_post_only(api: Api) -> None:
    r = await api.http.request("OPTIONS", "/v1/audio/speech", headers=api.alice)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
