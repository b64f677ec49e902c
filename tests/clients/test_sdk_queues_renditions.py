"""AsyncClient's queues, waveform, renditions and admin maintenance, against the real app
in-process (httpx's ASGI transport: it hands over a body once the app has finished it, so
only streams that end are read here; the endless ones are read from a real server in
test_sdk_queues_real_server.py)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import av
import httpx
import pytest

from audio_factory import make_tone
from conftest import Api, backend_settings_local, make_api

from audiostore.client import (
    AsyncClient,
    AsyncQueueStream,
    AuthenticationError,
    CleanupResult,
    JobRun,
    Mp3Clock,
    NotFoundError,
    Queue,
    RejectedInputError,
    Waveform,
)


@pytest.fixture
async def qapi(tmp_path: Path) -> AsyncIterator[Api]:
    settings = backend_settings_local(tmp_path, auth_cache_seconds=0, queue_burst_seconds=100_000)
    a, runtime = await make_api(settings)
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


def _client(api: Api, key: str) -> AsyncClient:
    return AsyncClient("http://testserver", api_key=key, transport=api.http._transport)


@pytest.fixture
async def alice(qapi: Api) -> AsyncIterator[AsyncClient]:
    async with _client(qapi, qapi.alice_key) as c:
        yield c


@pytest.fixture(scope="module")
def two_tones(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("sdk-q")
    return [make_tone(d / "low.wav", "wav", seconds=1.0, frequency=330.0),
            make_tone(d / "high.flac", "flac", seconds=1.5, channels=2, frequency=660.0)]


def _decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), format="mp3") as c:
        return sum(f.samples / f.sample_rate for f in c.decode(c.streams.audio[0]))


async def test_queue_put_get_stream_delete(alice: AsyncClient, two_tones: list[Path]) -> None:
    ids = [(await alice.upload(p)).id for p in two_tones]
    q = await alice.put_queue("evening", ids + ids[:1])
    assert isinstance(q, Queue) and q.name == "evening" and q.audio_ids == ids + ids[:1]
    assert [i.name for i in q.items] == ["low.wav", "high.flac", "low.wav"]
    got = await alice.get_queue("evening")
    assert got.audio_ids == q.audio_ids and got.items[1].duration == pytest.approx(1.5, abs=0.05)

    stream = await alice.stream_queue("evening")  # sequential: it ends
    assert isinstance(stream, AsyncQueueStream) and stream.headers["content-type"] == "audio/mpeg"
    async with stream:
        data = b"".join([chunk async for chunk in stream])
    assert stream.seconds == pytest.approx(3.5, abs=0.1) and stream.bytes == len(data)
    assert _decoded_seconds(data) == pytest.approx(stream.seconds, abs=0.05)

    bounded = await alice.stream_queue("evening", until=1.2)
    async with bounded:
        cut = b"".join([chunk async for chunk in bounded])
    assert 1.2 <= bounded.seconds < 1.2 + 0.03 and len(cut) < len(data)
    assert _decoded_seconds(cut) == pytest.approx(bounded.seconds, abs=0.03)  # whole frames only

    await alice.delete_queue("evening")
    with pytest.raises(NotFoundError) as exc:
        await alice.get_queue("evening")
    assert exc.value.status == 404 and exc.value.code == "not_found"


async def test_queue_errors_map_to_typed_exceptions(alice: AsyncClient, qapi: Api, two_tones: list[Path]) -> None:
    for call in (alice.get_queue("nope"), alice.delete_queue("nope"), alice.stream_queue("nope")):
        with pytest.raises(NotFoundError):
            await call
    obj = await alice.upload(two_tones[0])
    await alice.put_queue("odd", [obj.id])
    with pytest.raises(RejectedInputError) as exc:
        await alice.stream_queue("odd", mode="backwards")
    assert exc.value.status == 422
    with pytest.raises(RejectedInputError) as exc:
        await alice.put_queue("odd", ["0190d6f0-0000-7000-8000-000000000000"])
    assert exc.value.status == 422 and "No such audio" in exc.value.message
    async with _client(qapi, qapi.bob_key) as bob:  # queues are per owner
        with pytest.raises(NotFoundError):
            await bob.get_queue("odd")


async def test_waveform_json_and_dat(alice: AsyncClient, two_tones: list[Path]) -> None:
    obj = await alice.upload(two_tones[1])
    wave = await alice.waveform(obj.id, pixels_per_second=20)
    assert isinstance(wave, Waveform) and wave.version == 1 and wave.bits == 8
    assert wave.length == pytest.approx(30, abs=1) and len(wave.data) == 2 * wave.length
    both = await alice.waveform(obj.id, samples_per_pixel=4410, bits=16, channels="all")
    assert both.version == 2 and both.channels == 2 and both.bits == 16
    dat = await alice.waveform(obj.id, format="dat", samples_per_pixel=4410)
    assert isinstance(dat, bytes) and int.from_bytes(dat[:4], "little") == 1
    with pytest.raises(RejectedInputError) as exc:
        await alice.waveform(obj.id, bits=12)
    assert exc.value.status == 422
    with pytest.raises(NotFoundError):
        await alice.waveform("0190d6f0-0000-7000-8000-000000000000")


async def test_sign_and_download_renditions(alice: AsyncClient, qapi: Api, two_tones: list[Path], tmp_path: Path) -> None:
    obj = await alice.upload(two_tones[0])
    plain = await alice.sign(obj.id, expires_in=600)
    mp3 = await alice.sign(obj.id, expires_in=600, format="mp3", bitrate="64k")
    assert mp3.url != plain.url and "format=mp3" in mp3.url
    assert await alice.sign(obj.id, expires_in=600, format="mp3", bitrate="64k") is mp3  # cached apart
    assert await alice.sign(obj.id, expires_in=600) is plain
    raw = httpx.AsyncClient(transport=qapi.http._transport)
    got = await raw.get(mp3.url)
    assert got.status_code == 200 and got.headers["content-type"] == "audio/mpeg"

    target = await alice.download(obj.id, tmp_path / "low.mp3", format="mp3", bitrate="64k")
    assert target.read_bytes() == got.content  # the same rendition, checked against its sha256
    with av.open(str(target)) as c:
        assert c.format.name == "mp3" and c.streams.audio[0].bit_rate == 64_000
    opus = await alice.download(obj.id, tmp_path / "low.opus", format="opus", normalize=True)
    with av.open(str(opus)) as c:
        assert c.format.name == "ogg" and c.streams.audio[0].sample_rate == 48_000
    original = await alice.download(obj.id, tmp_path / "low.wav")
    assert original.read_bytes() == two_tones[0].read_bytes()

    with pytest.raises(RejectedInputError) as exc:
        await alice.sign(obj.id, format="mp4")
    assert exc.value.status == 422 and exc.value.code == "unknown_format"
    with pytest.raises(RejectedInputError) as exc:
        await alice.download(obj.id, tmp_path / "x.bin", format="mp4")
    assert exc.value.status == 422 and not (tmp_path / "x.bin").exists()
    with pytest.raises(ValueError, match="format"):
        await alice.sign(obj.id, bitrate="64k")  # rendition options need a format


async def test_cleanup_and_sweep_for_admins_only(alice: AsyncClient, qapi: Api, two_tones: list[Path]) -> None:
    old = await alice.upload(two_tones[0], collection="drafts")
    kept = await alice.upload(two_tones[0], collection="finals")
    with pytest.raises(AuthenticationError) as exc:
        await alice.cleanup("1h")
    assert exc.value.status == 403
    with pytest.raises(AuthenticationError):
        await alice.sweep()

    qapi.clock.advance(2 * 3600)
    async with _client(qapi, qapi.admin_key) as admin:
        with pytest.raises(RejectedInputError) as exc:
            await admin.cleanup("soon")
        assert exc.value.status == 422
        done = await admin.cleanup("1h", collection="drafts", owner="alice")
        assert isinstance(done, CleanupResult)
        assert (done.matched, done.deleted, done.left_for_retry) == (1, 1, 0)
        jobs = await admin.sweep()
        assert jobs and all(isinstance(j, JobRun) and j.error is None for j in jobs)
        assert "expire" in " ".join(j.job for j in jobs)
    with pytest.raises(NotFoundError):
        await alice.get(old.id)
    assert (await alice.get(kept.id)).id == kept.id


def test_mp3_clock_counts_frames_across_any_chunking(tmp_path: Path) -> None:
    mp3 = make_tone(tmp_path / "t.mp3", "mp3", seconds=2.0).read_bytes()
    whole = Mp3Clock()
    whole.feed(mp3)
    for size in (1, 3, 417, 4096):
        clock = Mp3Clock()
        for i in range(0, len(mp3), size):
            clock.feed(mp3[i : i + size])
        assert clock.frames == whole.frames and clock.seconds == pytest.approx(whole.seconds)
    assert whole.seconds == pytest.approx(2.0, abs=0.1)
    clock = Mp3Clock()
    keep = clock.feed(mp3, until=0.5)
    assert 0.5 <= clock.seconds < 0.53 and keep < len(mp3) and clock.at_boundary
