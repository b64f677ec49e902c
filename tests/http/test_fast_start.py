"""First plays: a long rendition's first request streams at once from the encode in flight,
the complete rendition is still stored (or, if its listener leaves early, nothing is), one
encode serves every first listener, a seek (`start=`) lands where it was asked, a HEAD starts
nothing, and clips are rendition parameters a signature covers.

The sources are clock signals (`clock_signal.py`): decoding any 0.25 s of an answer says
which second of the source it is, so positions are checked on the audio itself.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import numpy as np
import pytest

from asgi_stream import StreamRead, read_stream
from audiostore.service.staging import StagedUpload
from clock_signal import position_of, write_clock_wav
from conftest import Api, backend_settings_local, make_api
from decode_bombs import make_silent_flac

WAIT = 120.0  # bounded waits (s) for encodes to stop or finish
DEMUXERS = {"mp3": "mp3", "aac": "aac", "opus": "ogg"}


@pytest.fixture(scope="module")
def clocks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("clocks")
    return {
        "30s": write_clock_wav(where / "clock-30s.wav", 30),
        "10min": write_clock_wav(where / "clock-10min.wav", 600),
        "1h": write_clock_wav(where / "clock-1h.wav", 3600),
    }


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    a, runtime = await make_api(
        backend_settings_local(tmp_path, auth_cache_seconds=0, max_upload_bytes=256 << 20)
    )
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def upload(api: Api, path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Upload without the loudness analysis after it (an hour of it would only add load)."""
    analysis = api.runtime.analysis
    assert analysis is not None

    def dropped(row: object, staged: StagedUpload) -> None:
        staged.discard()

    with monkeypatch.context() as m:
        m.setattr(analysis, "submit", dropped)
        r = await api.upload(path)
    assert r.status_code == 201, r.text
    return dict(r.json())


def decoded(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """The stereo samples (2, n) of `data`, decoded as far as it goes (a cut-off tail is fine)."""
    parts: list[np.ndarray] = []
    rate = 0
    with av.open(io.BytesIO(data), format=DEMUXERS[fmt]) as c:
        try:
            for frame in c.decode(c.streams.audio[0]):
                rate = frame.sample_rate
                x = frame.to_ndarray()
                parts.append(x if frame.format.is_planar else x.reshape(-1, 2).T)
        except av.error.InvalidDataError:
            pass  # the last packet of a stream read part-way
    return np.concatenate(parts, axis=1), rate


def position_at(samples: np.ndarray, rate: int, second: float) -> float:
    """The clock time `second` seconds into decoded audio (its 0.25 s from there)."""
    return position_of(samples[:, int(second * rate) : int((second + 0.25) * rate)], rate)


async def wait_until_idle(api: Api) -> None:
    for _ in range(int(WAIT / 0.05)):
        if api.runtime.renditions.jobs.in_flight() == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a rendition job did not stop")


def scratch_left(api: Api) -> list[Path]:
    tmp = api.runtime.audio.tmp_dir
    return sorted(tmp.iterdir()) if tmp.exists() else []


async def first_play(api: Api, url: str, max_bytes: int, **headers: str) -> StreamRead:
    return await read_stream(
        api.http._transport.app,  # type: ignore[attr-defined]  # reason: the app behind ASGITransport
        url, {**api.alice, **headers}, max_bytes=max_bytes, timeout=WAIT,
    )


@pytest.mark.parametrize("fmt", ["mp3", "aac", "opus"])
async def test_a_first_request_streams_before_the_encode_is_done_and_leaving_keeps_nothing(
    api: Api, clocks: dict[str, Path], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["10min"], monkeypatch)
    blobs = await api.blob_keys()
    got = await first_play(api, f"/v1/audio/{obj['id']}/content?format={fmt}", 48 * 1024)
    assert got.status == 200
    assert not got.ended, "the whole rendition came before the first bytes"
    assert "content-length" not in got.headers and "etag" not in got.headers
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["accept-ranges"] == "bytes"
    samples, rate = decoded(got.body, fmt)
    assert abs(position_at(samples, rate, 1.0) - 1.0) < 1.0
    # The listener left far from the end: the encode stops, and nothing of it is kept.
    await wait_until_idle(api)
    assert api.runtime.renditions.renders == 0
    assert await api.blob_keys() == blobs
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).json()["renditions"] == []
    assert scratch_left(api) == []


@pytest.mark.parametrize("fmt", ["mp3", "aac", "opus"])
async def test_a_whole_first_play_leaves_the_complete_rendition_stored(
    api: Api, clocks: dict[str, Path], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["30s"], monkeypatch)
    url = f"/v1/audio/{obj['id']}/content?format={fmt}"
    live = await first_play(api, url, 1 << 30)
    assert live.status == 200 and live.ended and "content-length" not in live.headers
    samples, rate = decoded(live.body, fmt)
    # (A live MP3 or ADTS stream has no header saying how much of its first and last frame
    # is encoder padding: at 8 kHz that is up to a fifth of a second more.)
    assert abs(samples.shape[1] / rate - 30) < 0.25
    await wait_until_idle(api)
    assert api.runtime.renditions.renders == 1
    stored = await api.http.get(url, headers=api.alice)
    assert stored.status_code == 200
    assert int(stored.headers["content-length"]) == len(stored.content)
    assert stored.headers["etag"].startswith('"')
    part = await api.http.get(url, headers={**api.alice, "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == stored.content[100:200]
    with av.open(io.BytesIO(stored.content)) as c:
        seconds = sum(f.samples for f in c.decode(c.streams.audio[0])) / c.streams.audio[0].rate
    assert abs(seconds - 30) < 0.1
    assert api.runtime.renditions.renders == 1


async def test_concurrent_first_listeners_share_one_encode(
    api: Api, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["30s"], monkeypatch)
    url = f"/v1/audio/{obj['id']}/content?format=mp3"
    a, b = await asyncio.gather(first_play(api, url, 1 << 30), first_play(api, url, 1 << 30))
    assert a.status == b.status == 200 and a.ended and b.ended
    assert "content-length" not in a.headers and "content-length" not in b.headers
    assert a.body == b.body
    await wait_until_idle(api)
    assert api.runtime.renditions.renders == 1


async def test_a_seek_during_the_first_play_lands_where_it_was_asked(
    api: Api, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["1h"], monkeypatch)
    base = f"/v1/audio/{obj['id']}/content?format=mp3"
    # A first listener stays on (its read waits for far more than is encoded meanwhile).
    listener = asyncio.create_task(first_play(api, base, 1 << 30))
    try:
        for target in (1805.0, 3333.5):
            got = await first_play(api, f"{base}&start={target:g}", 64 * 1024)
            assert got.status == 200 and not got.ended
            samples, rate = decoded(got.body, "mp3")
            assert abs(position_at(samples, rate, 0.5) - (target + 0.5)) < 1.0, target
        # A Range during the first play: the live copy's bytes, once written.
        part = await first_play(api, base, 1 << 20, Range="bytes=16000-31999")
        assert part.status == 206 and part.ended
        assert part.headers["content-range"] == "bytes 16000-31999/*"
        assert len(part.body) == 16000
        assert not listener.done()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    await wait_until_idle(api)
    assert api.runtime.renditions.renders == 0  # both listeners left long before the end


async def test_head_starts_no_encode(
    api: Api, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["10min"], monkeypatch)
    r = await api.http.head(f"/v1/audio/{obj['id']}/content?format=aac", headers=api.alice)
    assert r.status_code == 200
    assert r.headers["content-type"] == "audio/aac"
    assert "content-length" not in r.headers
    assert api.runtime.renditions.jobs.in_flight() == 0
    assert api.runtime.renditions.renders == 0
    assert scratch_left(api) == []


async def test_a_clip_is_just_that_part_and_its_signature_covers_its_bounds(
    api: Api, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["10min"], monkeypatch)
    r = await api.http.post(
        f"/v1/audio/{obj['id']}/url", headers=api.alice, json={"format": "opus", "start": 123.25, "end": 128.25}
    )
    assert r.status_code == 200, r.text
    parts = urlsplit(r.json()["url"])
    assert "start=123.25" in parts.query and "end=128.25" in parts.query
    got = await api.http.get(f"{parts.path}?{parts.query}")  # no header: the URL is the key
    assert got.status_code == 200
    assert int(got.headers["content-length"]) == len(got.content)  # short: made whole first
    samples, rate = decoded(got.content, "opus")
    assert abs(samples.shape[1] / rate - 5.0) < 0.05
    assert abs(position_at(samples, rate, 0.5) - 123.75) < 0.5
    assert abs(position_at(samples, rate, 4.5) - 127.75) < 0.5
    for forged in (
        parts.query.replace("start=123.25", "start=100"),
        parts.query.replace("end=128.25", "end=600"),
        parts.query.replace("end=128.25&", ""),
        parts.query.replace("start=123.25", "start=123.250"),  # one meaning, another spelling
    ):
        assert forged != parts.query
        assert (await api.http.get(f"{parts.path}?{forged}")).status_code == 403, forged
    # The same clip by API key is the same stored rendition.
    again = await api.http.get(
        f"/v1/audio/{obj['id']}/content?format=opus&start=123.25&end=128.25", headers=api.alice
    )
    assert again.content == got.content and again.headers["etag"] == got.headers["etag"]
    assert api.runtime.renditions.renders == 1


@pytest.mark.parametrize(
    "query",
    ["start=abc", "start=-1", "end=0", "start=20&end=10", "start=600", "start=nan", "end=inf"],
)
async def test_bad_clip_bounds_are_422_and_start_nothing(
    api: Api, clocks: dict[str, Path], query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["10min"], monkeypatch)
    r = await api.http.get(f"/v1/audio/{obj['id']}/content?format=mp3&{query}", headers=api.alice)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"
    assert api.runtime.renditions.jobs.in_flight() == 0


async def test_a_first_play_past_its_processing_limit_is_cut_short_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status line left before the limit was reached, so the stream is broken off
    (never ended as if complete; or, if the limit came first, a 422); asked again, the
    answer is 422 at once."""
    bomb = make_silent_flac(tmp_path / "silence.flac", 3600)
    api, runtime = await make_api(backend_settings_local(
        tmp_path, auth_cache_seconds=0, processing_cpu_seconds_min=1.0,
        processing_cpu_seconds_max=1.0, max_duration_seconds=36_000,
    ))
    try:
        obj = await upload(api, bomb, monkeypatch)
        blobs = await api.blob_keys()
        url = f"/v1/audio/{obj['id']}/content?format=mp3"
        early = await first_play(api, url, 1 << 30)
        if early.status == 200:  # the app ended the response unfinished: the connection drops
            assert not early.ended, "a cut-off first play was ended as if complete"
        else:  # the limit came before the first byte (a loaded machine): then it is a 422
            assert early.status == 422 and b"processing_limit" in early.body, early
        await wait_until_idle(api)
        assert await api.blob_keys() == blobs and scratch_left(api) == []
        again = await asyncio.wait_for(api.http.get(url, headers=api.alice), 10)
        assert again.status_code == 422 and again.json()["error"]["code"] == "processing_limit"
    finally:
        await api.http.aclose()
        await runtime.close()


async def test_a_shutdown_cuts_a_first_play_short_and_keeps_nothing(
    api: Api, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    obj = await upload(api, clocks["10min"], monkeypatch)
    blobs = await api.blob_keys()
    listener = asyncio.create_task(
        first_play(api, f"/v1/audio/{obj['id']}/content?format=aac", 1 << 30)
    )
    for _ in range(int(WAIT / 0.05)):  # until the encode is under way
        if api.runtime.renditions.jobs.in_flight():
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    api.runtime.renditions.begin_shutdown()
    cut = await asyncio.wait_for(listener, WAIT)
    assert cut.status == 200 and not cut.ended, "a cut-off first play was ended as if complete"
    await wait_until_idle(api)
    assert await api.blob_keys() == blobs and scratch_left(api) == []


async def test_on_s3_a_first_play_streams_and_leaves_the_complete_rendition(
    s3_settings_factory: Any, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    api, runtime = await make_api(s3_settings_factory(auth_cache_seconds=0, max_upload_bytes=256 << 20))
    try:
        obj = await upload(api, clocks["30s"], monkeypatch)
        url = f"/v1/audio/{obj['id']}/content?format=opus"
        live = await first_play(api, url, 1 << 30)
        assert live.status == 200 and live.ended and "content-length" not in live.headers
        await wait_until_idle(api)
        stored = await api.http.get(url, headers=api.alice)
        assert stored.status_code == 200 and int(stored.headers["content-length"]) == len(stored.content)
        samples, rate = decoded(stored.content, "opus")
        assert abs(samples.shape[1] / rate - 30) < 0.1
        assert abs(position_at(samples, rate, 20.0) - 20.0) < 0.5
    finally:
        await api.http.aclose()
        await runtime.close()


async def test_prefer_wait_gets_the_whole_rendition_and_the_sdk_downloads_it_checked(
    api: Api, clocks: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from audiostore.client import AsyncClient

    obj = await upload(api, clocks["30s"], monkeypatch)
    url = f"/v1/audio/{obj['id']}/content?format=aac"
    whole = await api.http.get(url, headers={**api.alice, "Prefer": "wait=120"})
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/mp4"
    assert int(whole.headers["content-length"]) == len(whole.content)
    assert whole.headers["etag"].startswith('"')
    assert api.runtime.renditions.renders == 1
    # The SDK's download asks the same way, so it keeps the stored M4A, checked by sha256.
    async with AsyncClient("http://testserver", api_key=api.alice_key,
                           transport=api.http._transport) as c:  # type: ignore[attr-defined]  # reason: the in-process ASGI transport
        path = await c.download(obj["id"], tmp_path / "talk.m4a", format="aac", bitrate="64k")
    assert path.read_bytes()[4:8] == b"ftyp"  # the stored M4A, not the first play's ADTS
    with av.open(str(path)) as got:
        seconds = sum(f.samples for f in got.decode(audio=0)) / got.streams.audio[0].rate
    assert abs(seconds - 30) < 0.1
    assert api.runtime.renditions.renders == 2
    assert scratch_left(api) == []
