"""tus concatenation on /v1/uploads, in process on local + SQLite and on S3 + PostgreSQL:
partial uploads are never stored on their own; a final upload made of complete partials of
the same owner is assembled and stored once through the ingest with its own Upload-Metadata;
every refused final upload (another owner's, missing, unfinished, not partial, outside
/v1/uploads, too many, too large, named twice, with a length or a body) writes nothing: no
audio row, no blob, no tus row, no part file."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from conftest import Api, make_api
from audiostore.catalog.models import TusUploadRow
from audiostore.jobs.registry import run_job
from audiostore.settings import Settings

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def parts(api: Api) -> list[Path]:
    d = api.runtime.tus_uploads.parts_dir
    return sorted(d.glob("*.part")) if d.is_dir() else []


async def tus_rows(api: Api) -> int:
    async with api.runtime.catalog.database.session() as s:
        return int((await s.execute(select(func.count()).select_from(TusUploadRow))).scalar_one())


async def partial(api: Api, data: bytes, *, auth: dict[str, str] | None = None, send: int | None = None,
                  **headers: str) -> str:
    """A partial upload of `data`, its first `send` bytes sent (all by default)."""
    r = await api.http.post("/v1/uploads", headers={
        **(auth or api.alice), **TUS, "Upload-Length": str(len(data)), "Upload-Concat": "partial", **headers})
    assert r.status_code == 201, r.text
    assert r.headers["upload-concat"] == "partial"
    loc = r.headers["location"]
    chunk = data[: len(data) if send is None else send]
    if chunk:
        p = await api.http.patch(loc, content=chunk, headers={
            **(auth or api.alice), **TUS, "Content-Type": CHUNK, "Upload-Offset": "0",
            "Upload-Checksum": checksum("sha256", chunk)})
        assert p.status_code == 204, p.text
    return str(loc)


async def final(api: Api, *locations: str, auth: dict[str, str] | None = None, **headers: str):
    return await api.http.post("/v1/uploads", headers={
        **(auth or api.alice), **TUS, "Upload-Concat": "final;" + " ".join(locations), **headers})


def thirds(data: bytes) -> list[bytes]:
    a, b = len(data) // 3, 2 * len(data) // 3
    return [data[:a], data[a:b], data[b:]]


async def assert_nothing_new(api: Api, before_rows: int, before_parts: list[Path]) -> None:
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert await tus_rows(api) == before_rows
    assert parts(api) == before_parts


async def test_options_advertise_concatenation(api: Api) -> None:
    r = await api.http.options("/v1/uploads")
    assert "concatenation" in r.headers["tus-extension"].split(",")


async def test_partials_are_stored_once_as_the_final_upload(api: Api, wav_bytes: bytes) -> None:
    pieces = thirds(wav_bytes)
    first = await partial(api, pieces[0])
    # A partial may also arrive with its creation (creation-with-upload) and in several PATCHes.
    made = await api.http.post("/v1/uploads", content=pieces[1][:1000], headers={
        **api.alice, **TUS, "Upload-Length": str(len(pieces[1])), "Upload-Concat": "partial",
        "Content-Type": CHUNK})
    assert made.status_code == 201 and made.headers["upload-offset"] == "1000"
    second = made.headers["location"]
    bad = await api.http.patch(second, content=pieces[1][1000:], headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": "1000",
        "Upload-Checksum": checksum("sha1", b"other bytes")})
    assert bad.status_code == 460  # checksums work on partials as on any upload
    ok = await api.http.patch(second, content=pieces[1][1000:], headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": "1000",
        "Upload-Checksum": checksum("sha1", pieces[1][1000:])})
    assert ok.status_code == 204 and "audiostore-audio-id" not in ok.headers
    # tus-js-client names partials by absolute URL: accepted like paths.
    third = "http://testserver" + await partial(api, pieces[2])

    # A complete partial (here, two thirds of a WAV) is never ingested on its own.
    assert await api.row_count() == 0 and await api.blob_keys() == []
    head = await api.http.head(first, headers={**api.alice, **TUS})
    assert head.status_code == 200 and head.headers["upload-concat"] == "partial"
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(len(pieces[0]))
    # Its last PATCH sent again (the answer was lost): the same answer, nothing stored.
    again = await api.http.patch(first, content=b"", headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": str(len(pieces[0]))})
    assert again.status_code == 204 and again.headers["upload-offset"] == str(len(pieces[0]))
    assert (await api.http.patch(first, content=b"x", headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": "0"})).status_code == 409

    r = await final(api, first, second, third, **{"Upload-Metadata": meta(
        name="joined.wav", collection="takes", metadata='{"pieces": 3}')})
    assert r.status_code == 201, r.text
    audio_id = r.headers["audiostore-audio-id"]
    assert r.headers["audiostore-audio-location"] == f"/v1/audio/{audio_id}"
    assert r.headers["upload-length"] == r.headers["upload-offset"] == str(len(wav_bytes))
    obj = (await api.http.get(f"/v1/audio/{audio_id}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()
    assert (obj["name"], obj["collection"], obj["metadata"]) == ("joined.wav", "takes", {"pieces": 3})
    assert await api.row_count() == 1 and len(await api.blob_keys()) == 1
    got = await api.http.get(f"/v1/audio/{audio_id}/content", headers=api.alice)
    assert hashlib.sha256(got.content).hexdigest() == obj["sha256"]

    # HEAD on the final upload: its pieces, its length and (assembled) its offset.
    loc = r.headers["location"]
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    ids = [urlsplit(u).path for u in (first, second, third)]
    assert head.headers["upload-concat"] == "final;" + " ".join(ids)
    assert head.headers["upload-length"] == head.headers["upload-offset"] == str(len(wav_bytes))
    assert head.headers["audiostore-audio-id"] == audio_id
    # A final upload takes no PATCH.
    p = await api.http.patch(loc, content=b"", headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": str(len(wav_bytes))})
    assert p.status_code == 403, p.text
    # The partials are removed with their parts once the final upload is stored.
    for used in (first, second, third):
        assert (await api.http.head(used, headers={**api.alice, **TUS})).status_code == 404
    assert parts(api) == [] and await tus_rows(api) == 1
    # Naming a final upload (or used partials) again stores nothing more.
    assert (await final(api, loc)).status_code == 400
    assert (await final(api, first, second)).status_code == 404
    assert await api.row_count() == 1


async def test_refused_final_uploads_write_nothing(api: Api, wav_bytes: bytes) -> None:
    pieces = thirds(wav_bytes)
    mine = await partial(api, pieces[0])
    unfinished = await partial(api, pieces[1], send=100)
    bobs = await partial(api, pieces[2], auth=api.bob)
    plain = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Length": "10"})
    plain_loc = plain.headers["location"]
    rows, files = await tus_rows(api), parts(api)
    assert rows == 4 and len(files) == 4

    cases: list[tuple[int, str, dict[str, str]]] = [
        (404, f"final;{mine} {bobs}", {}),  # another owner's partial does not exist for alice
        (404, f"final;{mine} /v1/uploads/0190aaaa-0000-7000-8000-000000000000", {}),
        (400, f"final;{mine} {unfinished}", {}),
        (400, f"final;{mine} {plain_loc}", {}),  # not a partial upload
        (400, f"final;{mine} {mine}", {}),  # named twice
        (400, f"final;{mine} /v1/audio/{mine.rsplit('/', 1)[1]}", {}),  # outside /v1/uploads
        (400, f"final;{mine} http://elsewhere.example/files/{mine.rsplit('/', 1)[1]}", {}),
        (400, f"final;{mine} ftp://testserver{mine}", {}),
        (400, "final;", {}),
        (400, f"final{mine}", {}),
        (400, "whole", {}),
        (400, f"final;{mine}", {"Upload-Length": str(len(pieces[0]))}),  # a final has no length
        (400, f"final;{mine}", {"Upload-Defer-Length": "1"}),
    ]
    for status, concat, extra in cases:
        r = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Concat": concat, **extra})
        assert r.status_code == status, (concat, extra, r.status_code, r.text)
        assert r.headers["tus-resumable"] == "1.0.0"
        if status == 400:
            assert r.json()["error"]["code"] == "upload_concat_invalid", r.text
        await assert_nothing_new(api, rows, files)
    with_body = await api.http.post("/v1/uploads", content=b"RIFF", headers={
        **api.alice, **TUS, "Upload-Concat": f"final;{mine}", "Content-Type": CHUNK})
    assert with_body.status_code == 400 and with_body.json()["error"]["code"] == "upload_concat_invalid"
    bad_meta = await final(api, mine, **{"Upload-Metadata": meta(collection="../x")})
    assert bad_meta.status_code == 400
    no_key = await api.http.post("/v1/uploads", headers={**TUS, "Upload-Concat": f"final;{mine}"})
    assert no_key.status_code == 401
    # bob cannot use alice's partial either, nor see it.
    assert (await final(api, mine, auth=api.bob)).status_code == 404
    assert (await api.http.head(mine, headers={**api.bob, **TUS})).status_code == 404
    await assert_nothing_new(api, rows, files)
    # Every partial is still usable after all that.
    head = await api.http.head(mine, headers={**api.alice, **TUS})
    assert head.status_code == 200 and head.headers["upload-offset"] == str(len(pieces[0]))


async def test_an_expired_partial_is_410_and_the_job_removes_partials(api: Api, wav_bytes: bytes) -> None:
    done = await partial(api, wav_bytes[:1000])
    started = await partial(api, wav_bytes[1000:3000], send=500)
    api.clock.advance(api.runtime.settings.tus_upload_expiry + 1)
    r = await final(api, done)
    assert r.status_code == 410, r.text
    assert (await api.http.head(done, headers={**api.alice, **TUS})).status_code == 410
    assert await api.row_count() == 0 and len(parts(api)) == 2
    result = await run_job(api.runtime, "remove_expired_uploads")
    assert result.counts["expired"] == 2, result
    assert parts(api) == [] and await tus_rows(api) == 0


async def test_termination_of_a_partial(api: Api, wav_bytes: bytes) -> None:
    loc = await partial(api, wav_bytes[:2000])
    r = await api.http.delete(loc, headers={**api.alice, **TUS})
    assert r.status_code == 204
    assert parts(api) == [] and await tus_rows(api) == 0
    assert (await final(api, loc)).status_code == 404


async def test_a_file_the_ingest_refuses_stores_nothing_and_drops_the_partials(api: Api) -> None:
    junk = b"%PDF-1.4 not audio at all" * 100
    a, b = await partial(api, junk[:1000]), await partial(api, junk[1000:])
    r = await final(api, a, b)
    assert r.status_code == 415, r.text
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert parts(api) == []
    assert (await api.http.head(a, headers={**api.alice, **TUS})).status_code == 404
    assert await tus_rows(api) == 1  # the failed final upload: HEAD answers why (410)
    (final_id,) = [row async for row in _ids(api)]
    assert (await api.http.head(f"/v1/uploads/{final_id}", headers={**api.alice, **TUS})).status_code == 410


async def _ids(api: Api) -> AsyncIterator[str]:
    async with api.runtime.catalog.database.session() as s:
        for upload_id in (await s.execute(select(TusUploadRow.id))).scalars():
            yield upload_id


async def test_a_store_failure_gives_the_partials_back_for_a_retry(
    api: Api, wav_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = thirds(wav_bytes)
    locs = [await partial(api, piece) for piece in pieces]
    files = parts(api)

    async def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("the disk behind the store went away")

    with monkeypatch.context() as m:
        m.setattr(api.runtime.store, "put_file", refuse)
        r = await final(api, *locs)
    assert r.status_code == 503, r.text
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert parts(api) == files and await tus_rows(api) == 3  # no final row, partials intact
    again = await final(api, *locs)
    assert again.status_code == 201, again.text
    obj = (await api.http.get(f"/v1/audio/{again.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()
    assert await api.row_count() == 1 and parts(api) == []


async def test_two_finals_of_the_same_partials_at_once_store_one_object(api: Api, wav_bytes: bytes) -> None:
    pieces = thirds(wav_bytes)
    locs = [await partial(api, piece) for piece in pieces]
    answers = await asyncio.gather(*(final(api, *locs) for _ in range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 1, [(r.status_code, r.text) for r in answers]
    assert set(codes) <= {201, 404, 409}, codes
    assert await api.row_count() == 1 and len(await api.blob_keys()) == 1
    assert parts(api) == [] and await tus_rows(api) == 1


@pytest.fixture
async def few_parts_api(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    a, runtime = await make_api(settings_factory(auth_cache_seconds=0, tus_max_concat_parts=2,
                                                 max_upload_bytes=64 * 1024))
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def test_too_many_parts_or_too_many_bytes_are_refused(few_parts_api: Api, wav_bytes: bytes) -> None:
    api = few_parts_api
    a, b, c = [await partial(api, wav_bytes[i * 1000:(i + 1) * 1000]) for i in range(3)]
    big1 = await partial(api, wav_bytes[:40 * 1024])
    big2 = await partial(api, wav_bytes[40 * 1024:80 * 1024])
    rows, files = await tus_rows(api), parts(api)
    many = await final(api, a, b, c)
    assert many.status_code == 400 and "AUDIOSTORE_TUS_MAX_CONCAT_PARTS" in many.text
    large = await final(api, big1, big2)
    assert large.status_code == 413, large.text
    await assert_nothing_new(api, rows, files)


async def test_a_signed_upload_url_does_not_make_partials(api: Api) -> None:
    r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json={})
    tus_url = urlsplit(r.json()["tus_url"])
    made = await api.http.post(f"{tus_url.path}?{tus_url.query}", headers={
        **TUS, "Upload-Length": "10", "Upload-Concat": "partial"})
    assert made.status_code == 403, made.text
    assert await tus_rows(api) == 0 and parts(api) == []


async def test_a_client_token_bounds_the_final_upload(api: Api, wav_bytes: bytes) -> None:
    """A token's collections and formats apply to what is stored: the final upload."""
    async def mint(**body: object) -> dict[str, str]:
        r = await api.http.post("/v1/tokens", headers=api.alice, json={"scopes": ["upload", "read"], **body})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    takes = await mint(collections=["takes"])
    pieces = thirds(wav_bytes)
    locs = [await partial(api, piece, auth=takes) for piece in pieces]  # pieces need no collection
    rows, files = await tus_rows(api), parts(api)
    elsewhere = await final(api, *locs, auth=takes, **{"Upload-Metadata": meta(collection="other")})
    assert elsewhere.status_code == 403 and elsewhere.json()["error"]["code"] == "scope_denied"
    await assert_nothing_new(api, rows, files)
    flac_only = await mint(formats=["flac"])
    wrong_format = await final(api, *locs, auth=flac_only, **{"Upload-Metadata": meta(collection="takes")})
    assert wrong_format.status_code == 415, wrong_format.text
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert parts(api) == []  # the file was refused for good: its pieces went with it
    locs = [await partial(api, piece, auth=takes) for piece in pieces]
    ok = await final(api, *locs, auth=takes, **{"Upload-Metadata": meta(collection="takes")})
    assert ok.status_code == 201, ok.text
    obj = (await api.http.get(f"/v1/audio/{ok.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert obj["collection"] == "takes" and obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()


async def test_while_the_final_upload_is_stored(
    api: Api, wav_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HEAD shows no offset until the final upload is assembled and stored; its partials are
    claimed meanwhile: not terminable, not usable by another final upload."""
    locs = [await partial(api, piece) for piece in thirds(wav_bytes)]
    entered, gate = asyncio.Event(), asyncio.Event()
    store = api.runtime.ingest.store

    async def held_store(*args: object, **kwargs: object) -> object:
        entered.set()
        await gate.wait()
        return await store(*args, **kwargs)

    monkeypatch.setattr(api.runtime.ingest, "store", held_store)
    task = asyncio.create_task(final(api, *locs))
    await asyncio.wait_for(entered.wait(), 10)
    partial_ids = {urlsplit(loc).path.rsplit("/", 1)[1] for loc in locs}
    (final_id,) = [i async for i in _ids(api) if i not in partial_ids]
    head = await api.http.head(f"/v1/uploads/{final_id}", headers={**api.alice, **TUS})
    assert head.status_code == 200
    assert head.headers["upload-concat"].startswith("final;") and "upload-offset" not in head.headers
    assert head.headers["upload-length"] == str(len(wav_bytes))
    assert (await api.http.delete(locs[0], headers={**api.alice, **TUS})).status_code == 423
    assert (await final(api, *locs)).status_code == 409
    gate.set()
    r = await asyncio.wait_for(task, 30)
    assert r.status_code == 201, r.text
    assert await api.row_count() == 1 and parts(api) == []


async def test_a_final_upload_whose_process_died_frees_its_partials_after_its_lease(
    api: Api, wav_bytes: bytes
) -> None:
    """A final upload that claimed its partials and then died (no settling ran) holds them
    until its lease runs out; then the same final creation claims them again and stores the
    file once, and the expiry job removes the dead final upload's row."""
    from audiostore.catalog.tus_uploads import FINAL, STORING
    from audiostore.service.tus_uploads import STORING_LEASE

    locs = [await partial(api, piece) for piece in thirds(wav_bytes)]
    ids = [urlsplit(loc).path.rsplit("/", 1)[1] for loc in locs]
    now = api.clock()
    dead = TusUploadRow(
        id="0190dead-0000-7000-8000-000000000000", owner="alice", state=STORING,
        length=len(wav_bytes), offset=len(wav_bytes), upload_metadata=None, fields={}, bounds={},
        writer="0190dead-0000-7000-8000-00000000beef", lease_until=now + STORING_LEASE,
        audio_id=None, created_at=now, updated_at=now, expires_at=now, concat=FINAL, concat_parts=ids,
    )
    assert await api.runtime.catalog.tus_uploads.claim_partials_for(dead, now=now, until=now + STORING_LEASE)
    assert (await final(api, *locs)).status_code == 409  # claimed, and the claim is live
    assert (await api.http.delete(locs[0], headers={**api.alice, **TUS})).status_code == 423
    api.clock.advance(STORING_LEASE.total_seconds() + 1)
    r = await final(api, *locs)
    assert r.status_code == 201, r.text
    obj = (await api.http.get(f"/v1/audio/{r.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()
    assert await api.row_count() == 1 and parts(api) == []
    assert (await run_job(api.runtime, "remove_expired_uploads")).counts["expired"] == 1  # the dead one
    assert await tus_rows(api) == 1


async def test_a_final_creation_sent_again_answers_the_same_final_upload(api: Api, wav_bytes: bytes) -> None:
    """Its answer was lost, so the client sends the same final creation again (the protocol
    lets it use a partial more than once): the same Location and object, nothing stored twice."""
    locs = [await partial(api, piece) for piece in thirds(wav_bytes)]
    labels = {"Upload-Metadata": meta(name="joined.wav")}
    first = await final(api, *locs, **labels)
    assert first.status_code == 201, first.text
    again = await final(api, *locs, **labels)
    assert again.status_code == 201, again.text
    for header in ("location", "audiostore-audio-id", "upload-offset", "upload-length", "upload-concat"):
        assert again.headers[header] == first.headers[header]
    assert await api.row_count() == 1 and len(await api.blob_keys()) == 1
    assert await tus_rows(api) == 1 and parts(api) == []
    # Sent again with other fields: the object was stored with the first ones.
    other = await final(api, *locs, **{"Upload-Metadata": meta(name="other.wav")})
    assert other.status_code == 409, other.text
    assert first.headers["location"].rsplit("/", 1)[1] in other.json()["error"]["message"]
    # Another owner naming the same partials finds nothing of alice's.
    assert (await final(api, *locs, auth=api.bob, **labels)).status_code == 404
    assert await api.row_count() == 1


async def test_a_refused_final_creation_sent_again_is_410_naming_it(api: Api) -> None:
    junk = b"%PDF-1.4 not audio at all" * 100
    a, b = await partial(api, junk[:1000]), await partial(api, junk[1000:])
    assert (await final(api, a, b)).status_code == 415
    (final_id,) = [row async for row in _ids(api)]
    again = await final(api, a, b)
    assert again.status_code == 410, again.text
    assert final_id in again.json()["error"]["message"]
    assert "unsupported_format" in again.json()["error"]["message"]
    assert await api.row_count() == 0 and await tus_rows(api) == 1
