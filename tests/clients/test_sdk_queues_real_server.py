"""The sync `Client`'s queues, waveform, renditions and maintenance against a real
`audiostore serve` process: endless queue streams are read as they arrive and cut by the
caller, which only works if nothing buffers the whole stream."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import av
import httpx
import pytest

from audio_factory import make_tone
from fixtures_client_server import Served

from audiostore.client import AuthenticationError, Client, NotFoundError, QueueStream, RejectedInputError


@pytest.fixture(scope="module")
def tones2(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("sdk-q-real")
    return [make_tone(d / "a.wav", "wav", seconds=1.0, frequency=300.0),
            make_tone(d / "b.ogg", "ogg", seconds=1.0, channels=2, frequency=600.0)]


def _decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), format="mp3") as c:
        return sum(f.samples / f.sample_rate for f in c.decode(c.streams.audio[0]))


def test_queue_calls_and_endless_streams(served: Served, tones2: list[Path]) -> None:
    with Client(served.url, api_key=served.new_key("sync-queues")) as c:
        ids = [c.upload(p).id for p in tones2]
        q = c.put_queue("radio", ids)
        assert [i.name for i in q.items] == ["a.wav", "b.ogg"] and c.get_queue("radio").audio_ids == ids

        # A loop never ends: `until` bounds it by audio time (4 passes of the 2 s queue).
        with c.stream_queue("radio", mode="loop", until=8.0) as stream:
            assert isinstance(stream, QueueStream) and stream.headers["accept-ranges"] == "none"
            data = b"".join(stream)
        assert 8.0 <= stream.seconds < 8.05
        assert _decoded_seconds(data) == pytest.approx(stream.seconds, abs=0.03)

        # ... or the caller stops iterating; leaving the block drops the connection.
        got = 0
        with c.stream_queue("radio", mode="endless-shuffle") as stream:
            for chunk in stream:
                got += len(chunk)
                if stream.seconds >= 3:
                    break
        assert got > 0 and stream.response.is_closed

        signed = c.queue_url("radio", mode="loop", expires_in=120)
        assert signed.mode == "loop" and signed.name == "radio"
        with httpx.stream("GET", signed.url, timeout=30) as r:  # no header needed
            assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
            first = next(r.iter_bytes(4096))
        assert first[:2] in (b"\xff\xfb", b"\xff\xfa", b"\xff\xf3", b"\xff\xf2")

        with pytest.raises(RejectedInputError):
            c.queue_url("radio", mode="sideways")
        c.delete_queue("radio")
        for call in (lambda: c.get_queue("radio"), lambda: c.stream_queue("radio"),
                     lambda: c.queue_url("radio"), lambda: c.delete_queue("radio")):
            with pytest.raises(NotFoundError) as exc:
                call()
            assert exc.value.status == 404


def test_waveform_and_renditions(served: Served, tones2: list[Path], tmp_path: Path) -> None:
    with Client(served.url, api_key=served.new_key("sync-renditions")) as c:
        obj = c.upload(tones2[1])
        wave = c.waveform(obj.id, pixels_per_second=10)
        assert wave.sample_rate == 44100 and wave.length == pytest.approx(10, abs=1)
        assert isinstance(c.waveform(obj.id, format="dat"), bytes)

        signed = c.sign(obj.id, expires_in=300, format="opus", bitrate=48000, channels=1)
        fetched = httpx.get(signed.url)
        assert fetched.status_code == 200 and fetched.headers["content-type"].startswith("audio/ogg")
        out = c.download(obj.id, tmp_path / "b.mp3", format="mp3", sample_rate=22050)
        with av.open(str(out)) as f:
            assert f.format.name == "mp3" and f.streams.audio[0].sample_rate == 22050
        with pytest.raises(RejectedInputError) as exc:
            c.sign(obj.id, format="mp4")
        assert exc.value.status == 422 and exc.value.code == "unknown_format"


def test_cleanup_and_sweep(served: Served, tones2: list[Path]) -> None:
    with Client(served.url, api_key=served.new_key("sync-cleaner")) as user:
        obj = user.upload(tones2[0], collection="scratch")
        with pytest.raises(AuthenticationError) as exc:
            user.cleanup("1d")
        assert exc.value.status == 403 and exc.value.code == "forbidden"
        with pytest.raises(AuthenticationError):
            user.sweep()
    with Client(served.url, api_key=served.admin_key) as admin:
        # Only this owner's scratch audio: the server is shared with other tests.
        done = admin.cleanup(timedelta(milliseconds=1), collection="scratch", owner="sync-cleaner")
        assert (done.matched, done.deleted) == (1, 1)
        with pytest.raises(NotFoundError):
            admin.get(obj.id)
        jobs = admin.sweep()
        assert len(jobs) >= 3 and all(j.error is None for j in jobs)


async def test_async_stream_queue_against_real_server(served: Served, tones2: list[Path]) -> None:
    from audiostore.client import AsyncClient, AsyncQueueStream

    async with AsyncClient(served.url, api_key=served.new_key("async-queues")) as c:
        ids = [(await c.upload(p)).id for p in tones2]
        assert (await c.put_queue("loop", ids)).audio_ids == ids
        stream = await c.stream_queue("loop", mode="loop", until=5.0)  # endless, bounded here
        assert isinstance(stream, AsyncQueueStream)
        async with stream:
            data = b"".join([chunk async for chunk in stream])
        assert 5.0 <= stream.seconds < 5.05 and len(data) == stream.bytes
        assert (await c.queue_url("loop")).url.startswith(served.url)
        await c.delete_queue("loop")
        with pytest.raises(NotFoundError):
            await c.stream_queue("loop")
