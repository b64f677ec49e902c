"""The official `openai` package against a real `audiostore serve`: POST /v1/audio/speech
streamed to files that ffprobe (or, without it, PyAV) reads, the cache, a client that leaves."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from fixtures_client_server import Served

FFPROBE = shutil.which("ffprobe")
FORMATS = ["mp3", "opus", "aac", "flac", "wav", "pcm"]
CONTAINER = {"mp3": "mp3", "opus": "ogg", "aac": "aac", "flac": "flac", "wav": "wav", "pcm": "s16le"}


@pytest.fixture(scope="module")
def key(served: Served) -> str:
    return served.new_key("openai-speaker")


@pytest.fixture
def client(served: Served, key: str) -> Iterator[OpenAI]:
    with OpenAI(api_key=key, base_url=f"{served.url}/v1", max_retries=0, timeout=120) as c:
        yield c


def probe(path: Path, fmt: str) -> tuple[str, float]:
    """Container name and duration of `path`: ffprobe's when it is installed, else PyAV's
    (FFmpeg's own demuxers either way). Raw pcm is read as 24 kHz 16-bit mono."""
    if FFPROBE:
        raw = ["-f", "s16le", "-ar", "24000", "-ac", "1"] if fmt == "pcm" else []
        # Counting decoded packets gives a duration for streams whose header has none (FLAC
        # sent before its total was known).
        out = subprocess.run(
            [FFPROBE, "-v", "error", *raw, "-count_packets", "-show_entries",
             "format=format_name:stream=codec_name,sample_rate,nb_read_packets", "-of", "json", str(path)],
            capture_output=True, text=True, timeout=60, check=True,
        ).stdout
        assert '"codec_name"' in out, out
    options = {"sample_rate": "24000", "channels": "1"} if fmt == "pcm" else {}
    with av.open(str(path), format="s16le" if fmt == "pcm" else None, options=options) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return container.format.name, samples / stream.codec_context.sample_rate


def counter(served: Served, name: str, **labels: str) -> float:
    text = httpx.get(f"{served.url}/metrics", timeout=10).text
    return sum(
        s.value for family in text_string_to_metric_families(text) for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def syntheses(served: Served) -> float:
    return counter(served, "audiostore_tts_syntheses_total", outcome="ok")


def stored_for(served: Served, key: str, text: str) -> list[dict[str, object]]:
    r = httpx.get(f"{served.url}/v1/audio", params={"q": text}, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    return [item for item in r.json()["items"] if item["text"] == text]


def long_text(tag: str, sentences: int) -> str:
    return " ".join(f"Sentence {i} of run {tag} goes on a little." for i in range(sentences))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_streams_to_a_file_that_probes(client: OpenAI, tmp_path: Path, fmt: str) -> None:
    text = f"Hello from audiostore, format {fmt}. This is run {uuid.uuid4().hex[:6]}. Goodbye."
    path = tmp_path / f"speech.{fmt}"
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format=fmt,  # type: ignore[arg-type]
    ) as response:
        assert response.headers["x-audiostore-cache"] == "miss"
        response.stream_to_file(path)
    name, seconds = probe(path, fmt)
    assert CONTAINER[fmt] in name
    assert 2.0 < seconds < 20.0


def test_first_bytes_come_before_the_synthesis_ends(served: Served, key: str, client: OpenAI) -> None:
    sentences = 60
    text = long_text(uuid.uuid4().hex[:6], sentences)
    before = syntheses(served)
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=text, response_format="mp3",
    ) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        spoken_at_first_byte = syntheses(served) - before
        stored_at_first_byte = stored_for(served, key, text)
        rest = b"".join(chunks)
    assert first and rest
    assert spoken_at_first_byte < sentences and stored_at_first_byte == []
    assert syntheses(served) - before == sentences  # and then it went on to the end
    assert len(stored_for(served, key, text)) == 1


def test_a_second_identical_request_streams_from_storage(served: Served, key: str, client: OpenAI, tmp_path: Path) -> None:
    text = f"Cache me once, run {uuid.uuid4().hex[:6]}. Then stream me twice."
    paths = [tmp_path / "one.opus", tmp_path / "two.opus"]
    before = syntheses(served)
    caches = []
    for path in paths:
        with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="nova", input=text, response_format="opus",
        ) as response:
            caches.append(response.headers["x-audiostore-cache"])
            response.stream_to_file(path)
    assert caches == ["miss", "hit"]
    assert syntheses(served) - before == 2  # two sentences, spoken once
    assert len(stored_for(served, key, text)) == 1
    assert probe(paths[0], "opus")[1] == pytest.approx(probe(paths[1], "opus")[1], abs=0.05)


def test_a_client_leaving_mid_stream_leaves_the_whole_speech_or_none(
    served: Served, key: str, client: OpenAI, tmp_path: Path,
) -> None:
    text = long_text(uuid.uuid4().hex[:6], 60)
    ends = ("abandoned", "stored", "failed", "store_failed")
    settled_before = sum(counter(served, "audiostore_tts_streams_total", outcome=o) for o in ends)
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input=text, response_format="wav",
    ) as response:
        assert next(response.iter_bytes())
    # The connection is closed here with most of the answer unread.
    deadline = time.monotonic() + 120
    while sum(counter(served, "audiostore_tts_streams_total", outcome=o) for o in ends) == settled_before:
        assert time.monotonic() < deadline, "the synthesis neither stopped nor was stored"
        time.sleep(0.2)
    kept = stored_for(served, key, text)
    full = tmp_path / "full.wav"
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input=text, response_format="wav",
    ) as response:
        response.stream_to_file(full)
    if kept:
        assert len(kept) == 1
        stored = tmp_path / "stored.wav"
        content = httpx.get(f"{served.url}/v1/audio/{kept[0]['id']}/content",
                            headers={"Authorization": f"Bearer {key}"}, timeout=30)
        stored.write_bytes(content.content)
        assert probe(stored, "wav")[1] == pytest.approx(probe(full, "wav")[1], abs=0.01)
    assert probe(full, "wav")[1] > 60  # the request after it has the whole speech either way


def test_errors_are_raised_by_the_client(client: OpenAI) -> None:
    import openai

    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.audio.speech.create(model="no-such-model", voice="alloy", input="Hello.")
    assert "no-such-model" in str(raised.value)
    with pytest.raises(openai.AuthenticationError):
        OpenAI(api_key="wrong", base_url=str(client.base_url), max_retries=0).audio.speech.create(
            model="tts-1", voice="alloy", input="Hello.",
        )
