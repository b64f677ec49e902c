"""Public collections: a collection made public (over the API or by setting) serves its
objects, renditions and queue streams at `/v1/public/{owner}/{collection}/{id or name}` with
no key, no signature and no expiry, with `Cache-Control: public` and Range; listing, upload and
delete still need a key. Private again means 404 at once. Another owner's or a private
object's public URL is 404. Runs on local + SQLite and S3 + PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from asgi_stream import read_stream
from audio_factory import make_tone
from conftest import Api, make_api
from audiostore.http import create_app
from audiostore.settings import Settings


@pytest.fixture
async def papi(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    """Public answers cacheable for 30 s; queue streams that never wait."""
    a, runtime = await make_api(settings_factory(
        auth_cache_seconds=0, public_max_age=30, public_collections="bob/radio",
        queue_burst_seconds=100_000, queue_icy_metaint=4000,
    ))
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


def code(r: object) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]  # type: ignore[attr-defined]


async def test_a_public_collection_plays_with_no_key(papi: Api, tones: dict[str, Path]) -> None:
    api = papi
    obj = (await api.upload(tones["wav"], collection="stories", name="bedtime.wav")).json()
    url = f"/v1/public/alice/stories/{obj['id']}"
    assert code(await api.http.get(url)) == (404, "not_found")  # not public yet

    made = await api.http.put("/v1/collections/alice/stories/public", headers=api.alice)
    assert made.status_code == 200, made.text
    assert made.json()["url"] == "http://testserver/v1/public/alice/stories/"
    assert (await api.http.put("/v1/collections/alice/stories/public", headers=api.alice)).status_code == 200

    whole = await api.http.get(url)
    assert whole.status_code == 200 and whole.content == tones["wav"].read_bytes()
    assert whole.headers["cache-control"] == "public, max-age=30"
    assert whole.headers["etag"] == f'"{obj["sha256"]}"' and whole.headers["accept-ranges"] == "bytes"
    part = await api.http.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == tones["wav"].read_bytes()[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{obj['size']}"
    assert (await api.http.get(url, headers={"Range": "bytes=999999999-"})).status_code == 416
    assert (await api.http.get(url, headers={"If-None-Match": whole.headers["etag"]})).status_code == 304
    head = await api.http.head(url)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(obj["size"])
    # By name: the newest object of that name.
    by_name = await api.http.get("/v1/public/alice/stories/bedtime.wav")
    assert by_name.status_code == 200 and by_name.content == whole.content
    # A rendition, made on demand, also public.
    mp3 = await api.http.get(url, params={"format": "mp3"})
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    assert mp3.headers["cache-control"] == "public, max-age=30" and mp3.content[:3] in (b"ID3", b"\xff\xfb")
    assert code(await api.http.get(url, params={"format": "exe"}))[0] == 422

    # Only reading is public: list, upload and delete still need a key.
    assert (await api.http.get("/v1/audio", params={"collection": "stories"})).status_code == 401
    with tones["wav"].open("rb") as f:
        anon = await api.http.post("/v1/audio", files={"file": ("x.wav", f)}, data={"collection": "stories"})
    assert anon.status_code == 401
    assert (await api.http.delete(f"/v1/audio/{obj['id']}")).status_code == 401

    # Private again: 404 at once, for the object and its renditions.
    assert (await api.http.delete("/v1/collections/alice/stories/public", headers=api.alice)).status_code == 204
    assert code(await api.http.get(url)) == (404, "not_found")
    assert code(await api.http.get(url, params={"format": "mp3"})) == (404, "not_found")
    assert code(await api.http.delete("/v1/collections/alice/stories/public", headers=api.alice)) == (
        404, "not_found")


async def test_other_owners_and_private_objects_are_404(papi: Api, tones: dict[str, Path]) -> None:
    api = papi
    public = (await api.upload(tones["wav"], collection="stories")).json()
    private = (await api.upload(tones["wav"], collection="drafts")).json()
    bobs = (await api.upload(tones["wav"], headers=api.bob, collection="stories")).json()
    await api.http.put("/v1/collections/alice/stories/public", headers=api.alice)
    assert (await api.http.get(f"/v1/public/alice/stories/{public['id']}")).status_code == 200
    for url in (
        f"/v1/public/alice/stories/{private['id']}",   # alice's, but not in the public collection
        f"/v1/public/alice/drafts/{private['id']}",    # a private collection
        f"/v1/public/alice/stories/{bobs['id']}",      # bob's object under alice's public one
        f"/v1/public/bob/stories/{bobs['id']}",        # bob's stories are not public
        f"/v1/public/bob/stories/{public['id']}",      # alice's object under bob's name
        f"/v1/public/alice/stories/{private['name']}x",
        "/v1/public/..%2F/stories/x", "/v1/public/alice/stories/nope",
    ):
        assert code(await api.http.get(url)) == (404, "not_found"), url
    # Expired objects are gone from public URLs too.
    api.clock.advance(1)
    short = (await api.upload(tones["wav"], collection="stories", ttl_seconds=60)).json()
    assert (await api.http.get(f"/v1/public/alice/stories/{short['id']}")).headers["cache-control"] == (
        "public, max-age=30")
    api.clock.advance(45)
    assert (await api.http.get(f"/v1/public/alice/stories/{short['id']}")).headers["cache-control"] == (
        "public, max-age=15")  # never cached past the object's expiry
    api.clock.advance(20)
    assert code(await api.http.get(f"/v1/public/alice/stories/{short['id']}")) == (404, "not_found")


async def test_who_may_make_a_collection_public(papi: Api, tones: dict[str, Path]) -> None:
    api = papi
    assert code(await api.http.put("/v1/collections/alice/stories/public", headers=api.bob)) == (403, "forbidden")
    assert (await api.http.put("/v1/collections/alice/stories/public")).status_code == 401
    assert code(await api.http.put("/v1/collections/alice/..x/public", headers=api.alice)) == (400, "invalid_name")
    assert (await api.http.put("/v1/collections/alice/stories/public", headers=api.admin)).status_code == 200
    mine = (await api.http.get("/v1/collections/public", headers=api.alice)).json()["items"]
    assert [(c["owner"], c["collection"], c["source"]) for c in mine] == [("alice", "stories", "api")]
    everyone = (await api.http.get("/v1/collections/public", headers=api.admin)).json()["items"]
    assert {(c["owner"], c["collection"], c["source"]) for c in everyone} == {
        ("alice", "stories", "api"), ("bob", "radio", "setting")}
    # AUDIOSTORE_PUBLIC_COLLECTIONS: public from the start, and only the setting makes it private.
    song = (await api.upload(tones["wav"], headers=api.bob, collection="radio")).json()
    assert (await api.http.get(f"/v1/public/bob/radio/{song['id']}")).status_code == 200
    again = await api.http.put("/v1/collections/bob/radio/public", headers=api.bob)
    assert again.status_code == 200 and again.json()["source"] == "setting"
    assert code(await api.http.delete("/v1/collections/bob/radio/public", headers=api.bob)) == (409, "conflict")
    assert (await api.http.get(f"/v1/public/bob/radio/{song['id']}")).status_code == 200


async def test_a_public_queue_stream_plays_only_the_collections_items(
    papi: Api, tmp_path: Path
) -> None:
    api = papi
    one = make_tone(tmp_path / "one.wav", "wav", seconds=1.0, channels=2, frequency=330.0)
    two = make_tone(tmp_path / "two.wav", "wav", seconds=1.0, channels=2, frequency=440.0)
    a = (await api.upload(one, collection="stories")).json()
    b = (await api.upload(two, collection="drafts")).json()
    await api.http.put("/v1/queues/night", headers=api.alice, json={"audio_ids": [a["id"], b["id"], a["id"]]})
    await api.http.put("/v1/queues/drafts-only", headers=api.alice, json={"audio_ids": [b["id"]]})
    app = create_app(api.runtime)
    url = "/v1/public/alice/stories/queues/night/stream.mp3?mode=sequential"
    closed = await read_stream(app, url, {}, max_bytes=10_000_000)
    assert closed.status == 404
    await api.http.put("/v1/collections/alice/stories/public", headers=api.alice)
    got = await read_stream(app, url, {"Icy-MetaData": "1"}, max_bytes=10_000_000)
    assert got.status == 200 and got.ended and got.headers["content-type"] == "audio/mpeg"
    assert b"one.wav" in got.body and b"two.wav" not in got.body  # the draft never plays
    empty = await read_stream(app, "/v1/public/alice/stories/queues/drafts-only/stream.mp3", {}, max_bytes=1000)
    assert empty.status == 404
    assert (await read_stream(app, "/v1/public/bob/stories/queues/night/stream.mp3", {}, max_bytes=1000)).status == 404
    await api.http.delete("/v1/collections/alice/stories/public", headers=api.alice)
    assert (await read_stream(app, url, {}, max_bytes=1000)).status == 404


async def test_a_playing_public_stream_ends_once_private(papi: Api, tmp_path: Path) -> None:
    """`loop` would play for ever; made private, it ends at the next item boundary."""
    api = papi
    one = make_tone(tmp_path / "one.wav", "wav", seconds=1.0, channels=2, frequency=330.0)
    a = (await api.upload(one, collection="stories")).json()
    await api.http.put("/v1/queues/loop", headers=api.alice, json={"audio_ids": [a["id"]]})
    await api.http.put("/v1/collections/alice/stories/public", headers=api.alice)
    stream = await api.runtime.public.open_stream("alice", "stories", "loop", mode="loop", icy=False)
    body = stream.body
    played = 0
    for _ in range(200):  # a few seconds of a looping 1 s item: it does go on while public
        played += len(await anext(body))
        if played > 3 * 16_000:  # past three loops at 128 kbit/s
            break
    assert played > 3 * 16_000
    await api.http.delete("/v1/collections/alice/stories/public", headers=api.alice)
    after = 0
    for _ in range(1000):
        try:
            after += len(await anext(body))
        except StopAsyncIteration:
            break
    else:
        raise AssertionError("the stream went on after the collection was made private")
    assert after <= 2 * 16_000 + 8_000  # at most the rest of the item playing, and its batch
