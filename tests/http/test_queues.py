"""Queues and their continuous MP3 stream: one profile, exact joins, modes, ICY, ownership."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import av
import pytest

from asgi_stream import read_stream
from audio_factory import make_tone
from audiostore.audio.mp3_frames import Mp3FrameReader
from audiostore.http import create_app
from audiostore.service.queues import QueueService
from audiostore.settings import Settings
from conftest import Api, make_api

FRAME = 1152 / 44100


@pytest.fixture
async def qapi(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    """An app whose queue streams never wait: the burst covers everything a test reads."""
    a, runtime = await make_api(
        settings_factory(auth_cache_seconds=0, queue_burst_seconds=100_000, queue_icy_metaint=4000)
    )
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("q")
    return [
        make_tone(d / "one.wav", "wav", seconds=2.0, channels=2, frequency=330.0),
        make_tone(d / "two.opus", "opus", seconds=1.5, channels=1, frequency=440.0),
        make_tone(d / "three.m4a", "m4a", seconds=2.5, channels=2, frequency=550.0),
    ]


async def upload_three(api: Api, three: list[Path]) -> list[dict]:
    return [(await api.upload(p)).json() for p in three]


def parse_frames(data: bytes) -> tuple[list, Mp3FrameReader]:
    reader = Mp3FrameReader()
    return reader.feed(data), reader


def decode_seconds(data: bytes, tmp: Path) -> float:
    path = tmp / "stream.mp3"
    path.write_bytes(data)
    samples = 0
    with av.open(str(path), format="mp3") as c:
        for frame in c.decode(c.streams.audio[0]):
            samples += frame.samples
    return samples / 44100


async def stream(api: Api, name: str, *, mode: str, max_bytes: int, icy: bool = False):  # type: ignore[no-untyped-def]
    headers = {**api.alice, **({"Icy-MetaData": "1"} if icy else {})}
    return await read_stream(
        create_app(api.runtime), f"/v1/queues/{name}/stream.mp3?mode={mode}", headers, max_bytes=max_bytes
    )


async def test_put_get_delete_queue(qapi: Api, three: list[Path]) -> None:
    objs = await upload_three(qapi, three)
    ids = [o["id"] for o in objs]
    r = await qapi.http.put("/v1/queues/morning", headers=qapi.alice, json={"audio_ids": ids + ids[:1]})
    assert r.status_code == 200
    assert r.json()["audio_ids"] == ids + ids[:1]
    got = (await qapi.http.get("/v1/queues/morning", headers=qapi.alice)).json()
    assert [i["name"] for i in got["items"]] == ["one.wav", "two.opus", "three.m4a", "one.wav"]
    r = await qapi.http.put("/v1/queues/morning", headers=qapi.alice, json={"audio_ids": ids[:1]})
    assert r.json()["audio_ids"] == ids[:1]
    assert (await qapi.http.delete("/v1/queues/morning", headers=qapi.alice)).status_code == 204
    assert (await qapi.http.get("/v1/queues/morning", headers=qapi.alice)).status_code == 404
    assert (await qapi.http.delete("/v1/queues/morning", headers=qapi.alice)).status_code == 404


async def test_owners_see_only_their_queues(qapi: Api, three: list[Path]) -> None:
    objs = await upload_three(qapi, three)
    ids = [o["id"] for o in objs]
    assert (await qapi.http.put("/v1/queues/mine", headers=qapi.alice, json={"audio_ids": ids})).status_code == 200
    assert (await qapi.http.get("/v1/queues/mine", headers=qapi.bob)).status_code == 404
    assert (await qapi.http.get("/v1/queues/mine/stream.mp3", headers=qapi.bob)).status_code == 404
    assert (await qapi.http.delete("/v1/queues/mine", headers=qapi.bob)).status_code == 404
    r = await qapi.http.put("/v1/queues/theirs", headers=qapi.bob, json={"audio_ids": ids})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    # Bob's own queue of the same name is a different queue.
    assert (await qapi.http.put("/v1/queues/mine", headers=qapi.bob, json={"audio_ids": []})).status_code == 200
    assert (await qapi.http.get("/v1/queues/mine", headers=qapi.alice)).json()["audio_ids"] == ids


async def test_bad_queue_input(qapi: Api, three: list[Path]) -> None:
    obj = (await qapi.upload(three[0])).json()
    for name in ("..", "a b", ".hidden"):
        r = await qapi.http.put(f"/v1/queues/{name}", headers=qapi.alice, json={"audio_ids": [obj["id"]]})
        assert r.status_code in (400, 404, 405, 422), name
        assert r.status_code != 200
    r = await qapi.http.put("/v1/queues/q", headers=qapi.alice, json={"audio_ids": "nope"})
    assert r.status_code == 422
    r = await qapi.http.put("/v1/queues/q", headers=qapi.alice, json={"audio_ids": [obj["id"]], "x": 1})
    assert r.status_code == 422
    await qapi.http.put("/v1/queues/q", headers=qapi.alice, json={"audio_ids": [obj["id"]]})
    r = await qapi.http.get("/v1/queues/q/stream.mp3?mode=backwards", headers=qapi.alice)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    await qapi.http.put("/v1/queues/empty", headers=qapi.alice, json={"audio_ids": []})
    assert (await qapi.http.get("/v1/queues/empty/stream.mp3", headers=qapi.alice)).status_code == 409


async def test_sequential_stream_is_one_clean_mp3(qapi: Api, three: list[Path], tmp_path: Path) -> None:
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/seq", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    got = await stream(qapi, "seq", mode="sequential", max_bytes=10_000_000)
    assert got.status == 200 and got.ended
    assert got.headers["content-type"] == "audio/mpeg"
    assert got.headers["accept-ranges"] == "none"
    assert got.headers["cache-control"] == "no-cache"
    assert "content-length" not in got.headers and "icy-metaint" not in got.headers
    frames, reader = parse_frames(got.body)
    assert reader.skipped_bytes == 0 and sum(len(f.data) for f in frames) == len(got.body)
    s = qapi.runtime.settings
    assert {f.header.profile for f in frames} == {
        (3, s.queue_stream_sample_rate, s.queue_stream_channels, s.queue_stream_bitrate)
    }
    total = sum(o["duration"] for o in objs)
    assert abs(decode_seconds(got.body, tmp_path) - total) <= FRAME * len(objs)
    # Made once: a second listener copies the same stored frames.
    renders = qapi.runtime.renditions.renders
    again = await stream(qapi, "seq", mode="sequential", max_bytes=10_000_000)
    assert again.body == got.body and qapi.runtime.renditions.renders == renders


async def test_loop_and_endless_run_past_the_sum(qapi: Api, three: list[Path], tmp_path: Path) -> None:
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/lp", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    total = sum(o["duration"] for o in objs)
    want = int(2.5 * total * qapi.runtime.settings.queue_stream_bitrate / 8)
    for mode in ("loop", "endless-shuffle"):
        got = await stream(qapi, "lp", mode=mode, max_bytes=want)
        assert got.status == 200 and not got.ended, mode
        frames, _ = parse_frames(got.body)
        assert sum(f.header.duration for f in frames) > 2 * total, mode
        assert decode_seconds(got.body, tmp_path) > 2 * total, mode


async def test_shuffle_plays_each_item_once(qapi: Api, three: list[Path], tmp_path: Path) -> None:
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/sh", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    got = await stream(qapi, "sh", mode="shuffle", max_bytes=10_000_000)
    assert got.ended
    total = sum(o["duration"] for o in objs)
    assert abs(decode_seconds(got.body, tmp_path) - total) <= FRAME * len(objs)


async def test_endless_shuffle_never_repeats_at_once(qapi: Api, three: list[Path]) -> None:
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/es", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    who = await qapi.runtime.keys.authenticate(qapi.alice_key)
    order = qapi.runtime.queues._order(who, "es", "endless-shuffle")
    picks = [(await anext(order)).id for _ in range(50)]
    await order.aclose()
    assert all(a != b for a, b in zip(picks, picks[1:], strict=False))
    assert set(picks) == {o["id"] for o in objs}


async def test_deleted_and_expired_items_drop_out(qapi: Api, three: list[Path], tmp_path: Path) -> None:
    keep = (await qapi.upload(three[0])).json()
    gone = (await qapi.upload(three[1])).json()
    brief = (await qapi.upload(three[2], ttl_seconds=60)).json()
    ids = [keep["id"], gone["id"], brief["id"]]
    await qapi.http.put("/v1/queues/d", headers=qapi.alice, json={"audio_ids": ids})
    await qapi.http.delete(f"/v1/audio/{gone['id']}", headers=qapi.alice)
    qapi.clock.advance(120)
    assert (await qapi.http.get("/v1/queues/d", headers=qapi.alice)).json()["audio_ids"] == [keep["id"]]
    got = await stream(qapi, "d", mode="sequential", max_bytes=10_000_000)
    assert got.ended
    assert abs(decode_seconds(got.body, tmp_path) - keep["duration"]) <= FRAME


async def test_an_item_whose_blob_vanishes_as_its_turn_comes_is_skipped(
    qapi: Api, three: list[Path], tmp_path: Path
) -> None:
    """Deleted between 'still in the queue' and its first byte: the stream plays the next
    item (it ended with BlobNotFound before)."""
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/v", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    first = await stream(qapi, "v", mode="sequential", max_bytes=10_000_000)  # renders all three
    assert first.ended
    middle = await qapi.runtime.renditions.rows.list_for([objs[1]["id"]])
    await qapi.runtime.store.delete_many([d.key for d in middle])
    got = await stream(qapi, "v", mode="sequential", max_bytes=10_000_000)
    assert got.status == 200 and got.ended
    want = objs[0]["duration"] + objs[2]["duration"]
    assert abs(decode_seconds(got.body, tmp_path) - want) <= FRAME * 2


async def test_paced_at_playback_speed_after_the_burst(qapi: Api, three: list[Path]) -> None:
    """With a fake clock that never moves, every second sent past the burst is a second
    the stream asks to sleep: the pacing rule itself, with no real waiting."""
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/p", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    rt = qapi.runtime
    paced = QueueService(rt.audio, rt.renditions, settings=rt.settings, monotonic=lambda: 100.0, sleep=fake_sleep)
    paced.settings = rt.settings.model_copy(update={"queue_burst_seconds": 2.0})
    who = await rt.keys.authenticate(qapi.alice_key)
    opened = await paced.open_stream(who, "p", mode="sequential", icy=False)
    sent = b"".join([chunk async for chunk in opened.body])
    frames, _ = parse_frames(sent)
    seconds = sum(f.header.duration for f in frames)
    assert slept and all(s > 0 for s in slept)
    # The stream sleeps until each batch is due: the last wait is what was sent before it,
    # less the burst (the clock never moves), and it stays within the last batch's length.
    assert seconds - 2.0 - 0.5 <= max(slept) <= seconds - 2.0


async def test_icy_metadata_only_when_asked_at_the_interval(qapi: Api, three: list[Path]) -> None:
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/icy", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    plain = await stream(qapi, "icy", mode="sequential", max_bytes=10_000_000)
    got = await stream(qapi, "icy", mode="sequential", max_bytes=10_000_000, icy=True)
    metaint = int(got.headers["icy-metaint"])
    assert metaint == qapi.runtime.settings.queue_icy_metaint
    audio, titles, pos = bytearray(), [], 0
    body = got.body
    while pos < len(body):
        chunk = body[pos : pos + metaint]
        audio += chunk
        pos += len(chunk)
        if pos >= len(body):
            break
        length = body[pos] * 16
        meta = body[pos + 1 : pos + 1 + length].rstrip(b"\x00").decode()
        pos += 1 + length
        if meta:
            assert meta.startswith("StreamTitle='") and meta.endswith("';")
            titles.append(meta[len("StreamTitle='") : -2])
    assert bytes(audio) == plain.body  # the metadata blocks sit exactly every metaint bytes
    assert titles == ["one.wav", "two.opus", "three.m4a"]


async def test_a_signed_url_plays_the_queue_with_no_header(qapi: Api, three: list[Path]) -> None:
    """Seed 003's speakers fetch the stream with a plain GET: the signed URL stands in for the
    key, and plays exactly what the key would."""
    objs = await upload_three(qapi, three)
    await qapi.http.put("/v1/queues/bed", headers=qapi.alice, json={"audio_ids": [o["id"] for o in objs]})
    r = await qapi.http.post("/v1/queues/bed/url", headers=qapi.alice, json={"mode": "sequential", "expires_in": 600})
    assert r.status_code == 200, r.text
    signed = r.json()
    assert (signed["name"], signed["mode"]) == ("bed", "sequential")
    app = create_app(qapi.runtime)
    got = await read_stream(app, signed["url"], {}, max_bytes=10_000_000)
    assert got.status == 200 and got.ended and got.headers["content-type"] == "audio/mpeg"
    with_key = await stream(qapi, "bed", mode="sequential", max_bytes=10_000_000)
    assert got.body == with_key.body
    plain = await read_stream(app, "/v1/queues/bed/stream.mp3", {}, max_bytes=1000)
    assert plain.status == 401


async def test_a_signed_queue_url_opens_only_what_it_names(qapi: Api, three: list[Path]) -> None:
    objs = await upload_three(qapi, three[:1])
    await qapi.http.put("/v1/queues/q", headers=qapi.alice, json={"audio_ids": [objs[0]["id"]]})
    url = (await qapi.http.post("/v1/queues/q/url", headers=qapi.alice, json={"mode": "loop"})).json()["url"]
    app = create_app(qapi.runtime)

    async def status_of(u: str) -> tuple[int, str]:
        got = await read_stream(app, u, {}, max_bytes=2000)
        return got.status, (got.body.decode(errors="replace") if got.status != 200 else "")

    tampered = {
        "another mode": url.replace("mode=loop", "mode=shuffle"),
        "no mode": url.replace("mode=loop&", ""),
        "another owner": url.replace("owner=alice", "owner=bob"),
        "another signature": url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB"),
        "another queue": url.replace("/queues/q/", "/queues/r/"),
        "mode twice": url.replace("mode=loop", "mode=loop&mode=shuffle"),
        "mode re-escaped": url.replace("mode=loop", "mode=%6Coop"),
        "an extra parameter": url.replace("mode=loop", "mode=loop&x=1"),
    }
    for why, u in tampered.items():
        status, body = await status_of(u)
        assert status == 403 and "signature_invalid" in body, (why, status, body)
    assert (await status_of(url))[0] == 200
    bad_expires = url.replace("expires=", "expires=x")
    assert (await status_of(bad_expires))[0] == 400
    # The signature is not an audio URL's: it opens no object.
    query = url.split("?", 1)[1]
    content = await qapi.http.get(f"/v1/audio/{objs[0]['id']}/content?{query}")
    assert content.status_code == 403
    qapi.clock.advance(qapi.runtime.settings.url_default_expiry + 1)
    status, body = await status_of(url)
    assert status == 403 and "signature_expired" in body


async def test_queue_url_requests_are_checked(qapi: Api, three: list[Path]) -> None:
    objs = await upload_three(qapi, three[:1])
    await qapi.http.put("/v1/queues/q", headers=qapi.alice, json={"audio_ids": [objs[0]["id"]]})
    cases = [
        (qapi.alice, "/v1/queues/none/url", {}, 404, "not_found"),
        (qapi.bob, "/v1/queues/q/url", {}, 404, "not_found"),  # another owner's queue
        (qapi.alice, "/v1/queues/q/url", {"mode": "backwards"}, 422, "validation_failed"),
        (qapi.alice, "/v1/queues/q/url", {"expires_in": 10**9}, 422, "validation_failed"),
        (qapi.alice, "/v1/queues/q/url", {"extra": 1}, 422, "validation_failed"),
    ]
    for headers, path, body, status, code in cases:
        r = await qapi.http.post(path, headers=headers, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), (path, body, r.text)
    assert (await qapi.http.post("/v1/queues/q/url", json={})).status_code == 401
    default = (await qapi.http.post("/v1/queues/q/url", headers=qapi.alice)).json()
    assert default["mode"] == "sequential" and "mode=sequential" in default["url"]
