"""tus 1.0 on /v1/uploads, per extension, in process: OPTIONS, creation (with upload, with a
deferred length), HEAD, PATCH offsets and checksums, termination, expiry, and the one ingest
at the end. Each bad input also checks that no row, blob or part is left."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select

from conftest import Api, make_api
from audiostore.settings import Settings
from audiostore.catalog.models import TusUploadRow
from audiostore.jobs.registry import run_job

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


async def create(api: Api, length: int | None, headers: dict[str, str] | None = None, **fields: str) -> str:
    h = {**api.alice, **TUS, **(headers or {})}
    if length is None:
        h["Upload-Defer-Length"] = "1"
    else:
        h["Upload-Length"] = str(length)
    if fields:
        h["Upload-Metadata"] = meta(**fields)
    r = await api.http.post("/v1/uploads", headers=h)
    assert r.status_code == 201, r.text
    assert r.headers["tus-resumable"] == "1.0.0"
    return r.headers["location"]


async def patch(api: Api, location: str, offset: int, data: bytes, **headers: str):
    return await api.http.patch(location, content=data, headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": str(offset), **headers,
    })


def parts(api: Api) -> list[Path]:
    d = api.runtime.tus_uploads.parts_dir
    return sorted(d.glob("*.part")) if d.is_dir() else []


@pytest.fixture(params=["local"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_options_names_version_extensions_size_and_checksums(api: Api) -> None:
    r = await api.http.options("/v1/uploads")
    assert r.status_code == 204
    assert r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "creation-defer-length", "termination", "checksum",
        "expiration", "concatenation",
    }
    assert int(r.headers["tus-max-size"]) == api.runtime.settings.max_upload_bytes
    assert {"sha1", "sha256"} <= set(r.headers["tus-checksum-algorithm"].split(","))


async def test_upload_in_chunks_stores_one_object_and_names_it(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, len(wav_bytes), name="take.wav", collection="takes",
                       metadata='{"take": 3}', text="hello")
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.status_code == 200
    assert head.headers["upload-offset"] == "0"
    assert head.headers["upload-length"] == str(len(wav_bytes))
    assert head.headers["cache-control"] == "no-store"
    assert "upload-expires" in head.headers and head.headers["upload-metadata"]
    step = 50_000
    for offset in range(0, len(wav_bytes), step):
        r = await patch(api, loc, offset, wav_bytes[offset:offset + step])
        assert r.status_code == 204, r.text
        assert int(r.headers["upload-offset"]) == min(offset + step, len(wav_bytes))
    audio_id = r.headers["audiostore-audio-id"]
    assert r.headers["audiostore-audio-location"] == f"/v1/audio/{audio_id}"
    obj = (await api.http.get(f"/v1/audio/{audio_id}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()
    assert (obj["name"], obj["collection"], obj["metadata"], obj["text"]) == ("take.wav", "takes", {"take": 3}, "hello")
    assert await api.row_count() == 1 and len(await api.blob_keys()) == 1
    assert parts(api) == []
    # HEAD afterwards: complete, and names the object (a client that lost the last answer).
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-offset"] == str(len(wav_bytes))
    assert head.headers["audiostore-audio-id"] == audio_id
    # The last PATCH sent again: the same object, not a second one.
    again = await patch(api, loc, len(wav_bytes), b"")
    assert again.status_code == 204 and again.headers["audiostore-audio-id"] == audio_id
    assert await api.row_count() == 1


async def test_creation_with_upload_takes_the_whole_file(api: Api, wav_bytes: bytes) -> None:
    r = await api.http.post("/v1/uploads", content=wav_bytes, headers={
        **api.alice, **TUS, "Upload-Length": str(len(wav_bytes)), "Content-Type": CHUNK,
        "Upload-Metadata": meta(filename="whole.wav"),
    })
    assert r.status_code == 201, r.text
    assert r.headers["upload-offset"] == str(len(wav_bytes))
    obj = (await api.http.get(f"/v1/audio/{r.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert obj["name"] == "whole.wav"


async def test_deferred_length_is_given_by_a_later_patch(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, None)
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-defer-length"] == "1" and "upload-length" not in head.headers
    half = len(wav_bytes) // 2
    assert (await patch(api, loc, 0, wav_bytes[:half])).status_code == 204
    r = await patch(api, loc, half, wav_bytes[half:], **{"Upload-Length": str(len(wav_bytes))})
    assert r.status_code == 204, r.text
    assert r.headers["audiostore-audio-id"]
    # Once set, the length cannot change.
    loc2 = await create(api, 10)
    assert (await patch(api, loc2, 0, b"x", **{"Upload-Length": "11"})).status_code == 400


async def test_checksum_sha1_and_sha256_accepted_mismatch_is_460_and_discarded(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, len(wav_bytes))
    first, rest = wav_bytes[:1000], wav_bytes[1000:]
    r = await patch(api, loc, 0, first, **{"Upload-Checksum": checksum("sha1", first)})
    assert r.status_code == 204 and r.headers["upload-offset"] == "1000"
    bad = await patch(api, loc, 1000, rest, **{"Upload-Checksum": checksum("sha256", b"other")})
    assert bad.status_code == 460, bad.text
    assert bad.json()["error"]["code"] == "checksum_mismatch"
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-offset"] == "1000"
    assert parts(api)[0].stat().st_size == 1000  # the bytes of that PATCH are gone
    unknown = await patch(api, loc, 1000, rest, **{"Upload-Checksum": "crc32 AAAAAA=="})
    assert unknown.status_code == 400
    ok = await patch(api, loc, 1000, rest, **{"Upload-Checksum": checksum("sha256", rest)})
    assert ok.status_code == 204 and ok.headers["audiostore-audio-id"]
    # The refused PATCH's bytes were hashed too, then dropped: the stored sha256 is the file's.
    obj = (await api.http.get(f"/v1/audio/{ok.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()


async def test_wrong_offset_is_409_and_changes_nothing(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, len(wav_bytes))
    assert (await patch(api, loc, 0, wav_bytes[:100])).status_code == 204
    for offset in (0, 50, 200):
        r = await patch(api, loc, offset, wav_bytes[offset:offset + 100])
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "upload_offset_mismatch"
        assert r.headers["tus-resumable"] == "1.0.0"
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-offset"] == "100"
    assert parts(api)[0].read_bytes() == wav_bytes[:100]


async def test_termination_removes_the_upload_and_its_part(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, len(wav_bytes))
    assert (await patch(api, loc, 0, wav_bytes[:500])).status_code == 204
    assert len(parts(api)) == 1
    r = await api.http.delete(loc, headers={**api.alice, **TUS})
    assert r.status_code == 204
    assert parts(api) == []
    assert (await api.http.head(loc, headers={**api.alice, **TUS})).status_code == 404
    assert (await patch(api, loc, 500, wav_bytes[500:])).status_code == 404
    assert await api.row_count() == 0


async def test_expired_upload_is_410_and_the_job_removes_it(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, len(wav_bytes))
    assert (await patch(api, loc, 0, wav_bytes[:500])).status_code == 204
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-expires"].endswith("GMT")
    api.clock.advance(api.runtime.settings.tus_upload_expiry + 1)
    assert (await api.http.head(loc, headers={**api.alice, **TUS})).status_code == 410
    assert (await patch(api, loc, 500, wav_bytes[500:])).status_code == 410
    result = await run_job(api.runtime, "remove_expired_uploads")
    assert result.counts["expired"] == 1, result
    assert parts(api) == []
    assert (await api.http.head(loc, headers={**api.alice, **TUS})).status_code == 404
    assert await api.row_count() == 0 and await api.blob_keys() == []


async def test_a_bad_file_at_the_end_is_the_ingest_4xx_and_stores_nothing(api: Api) -> None:
    junk = b"%PDF-1.4 not audio at all" * 100
    loc = await create(api, len(junk))
    r = await patch(api, loc, 0, junk)
    assert r.status_code == 415, r.text
    assert r.headers["tus-resumable"] == "1.0.0"
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert parts(api) == []
    assert (await api.http.head(loc, headers={**api.alice, **TUS})).status_code == 410


async def test_over_the_size_limit_is_413_at_creation(small_api: Api) -> None:
    r = await small_api.http.post("/v1/uploads", headers={
        **small_api.alice, **TUS, "Upload-Length": str(64 * 1024 + 1)})
    assert r.status_code == 413
    assert parts(small_api) == []


async def test_bad_requests(api: Api, wav_bytes: bytes) -> None:
    no_version = await api.http.post("/v1/uploads", headers={**api.alice, "Upload-Length": "10"})
    assert no_version.status_code == 412 and no_version.headers["tus-version"] == "1.0.0"
    neither = await api.http.post("/v1/uploads", headers={**api.alice, **TUS})
    assert neither.status_code == 400
    bad_meta = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Length": "10",
                                                          "Upload-Metadata": "name ***"})
    assert bad_meta.status_code == 400
    unknown = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Length": "10",
                                                         "Upload-Metadata": meta(projectId="7")})
    assert unknown.status_code == 422
    traversal = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Length": "10",
                                                           "Upload-Metadata": meta(collection="../x")})
    assert traversal.status_code == 400
    no_key = await api.http.post("/v1/uploads", headers={**TUS, "Upload-Length": "10"})
    assert no_key.status_code == 401
    loc = await create(api, len(wav_bytes))
    wrong_type = await api.http.patch(loc, content=b"x", headers={
        **api.alice, **TUS, "Content-Type": "audio/wav", "Upload-Offset": "0"})
    assert wrong_type.status_code == 415
    too_much = await patch(api, loc, 0, wav_bytes + b"extra")
    assert too_much.status_code == 413
    assert (await api.http.head(loc, headers={**api.alice, **TUS})).headers["upload-offset"] == "0"
    # Another owner's upload does not exist for bob.
    assert (await api.http.head(loc, headers={**api.bob, **TUS})).status_code == 404
    assert (await patch(api, loc, 0, b"x", Authorization=api.bob["Authorization"])).status_code == 404
    assert await api.row_count() == 0


async def test_method_override_patch_and_delete(api: Api, wav_bytes: bytes) -> None:
    loc = await create(api, len(wav_bytes))
    r = await api.http.post(loc, content=wav_bytes[:10], headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": "0", "X-HTTP-Method-Override": "PATCH"})
    assert r.status_code == 204 and r.headers["upload-offset"] == "10"
    r = await api.http.post(loc, headers={**api.alice, **TUS, "X-HTTP-Method-Override": "DELETE"})
    assert r.status_code == 204 and parts(api) == []


async def test_a_store_failure_at_the_end_keeps_the_bytes_for_a_retry(
    api: Api, wav_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    loc = await create(api, len(wav_bytes))
    store = api.runtime.store

    async def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("the disk behind the store went away")

    with monkeypatch.context() as m:
        m.setattr(store, "put_file", refuse)
        r = await patch(api, loc, 0, wav_bytes)
    assert r.status_code == 503, r.text
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert len(parts(api)) == 1  # the bytes stay
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-offset"] == str(len(wav_bytes))
    # The last PATCH again, with no bytes: the ingest runs once more and stores the file.
    again = await patch(api, loc, len(wav_bytes), b"")
    assert again.status_code == 204, again.text
    audio_id = again.headers["audiostore-audio-id"]
    obj = (await api.http.get(f"/v1/audio/{audio_id}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()
    assert await api.row_count() == 1 and parts(api) == []


async def tus_rows(api: Api) -> int:
    async with api.runtime.catalog.database.session() as s:
        return int((await s.execute(select(func.count()).select_from(TusUploadRow))).scalar_one())


# What a hostile client may put where the protocol wants a byte count: `str.isdigit` takes
# superscripts that `int` refuses, and `int` refuses more than 4300 digits.
NOT_A_COUNT = [b"\xb2", b"1" * 5000, b"+5"]


@pytest.mark.parametrize("value", NOT_A_COUNT, ids=repr)
@pytest.mark.parametrize("where", ["create-length", "patch-offset", "deferred-patch-length"])
async def test_a_count_header_that_is_not_ascii_digits_is_400_and_changes_nothing(
    api: Api, wav_bytes: bytes, where: str, value: bytes
) -> None:
    loc = None if where == "create-length" else await create(api, None if where.startswith("deferred") else 100)
    before = await tus_rows(api), parts(api)
    if loc is None:
        r = await api.http.post("/v1/uploads", headers=[
            *api.alice.items(), *TUS.items(), ("Upload-Length", value)])
    else:
        counts = ([("Upload-Offset", value)] if where == "patch-offset"
                  else [("Upload-Offset", b"0"), ("Upload-Length", value)])
        r = await api.http.patch(loc, content=wav_bytes[:10], headers=[
            *api.alice.items(), *TUS.items(), ("Content-Type", CHUNK), *counts])
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_request" and r.headers["tus-resumable"] == "1.0.0"
    assert (await tus_rows(api), parts(api)) == before and await api.row_count() == 0
    if loc is not None:
        assert (await api.http.head(loc, headers={**api.alice, **TUS})).headers["upload-offset"] == "0"


@pytest.mark.parametrize("method", ["HEAD", "PATCH", "DELETE"])
async def test_an_upload_id_no_upload_can_have_is_404(api: Api, method: str) -> None:
    """Longer than a file name may be: it names no upload, and is never tried as a file."""
    r = await api.http.request(method, "/v1/uploads/" + "a" * 5000, content=b"x", headers={
        **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": "0"})
    assert r.status_code == 404, r.text
    assert parts(api) == []


@pytest.mark.parametrize(
    "fields", [{"text": "a\x00b"}, {"voice_id": "v" * 129}, {"voice_id": "a\x00"}],
    ids=["text-nul", "voice-too-long", "voice-nul"],
)
async def test_text_fields_the_ingest_would_refuse_are_422_at_creation(
    api: Api, fields: dict[str, str]
) -> None:
    """Refused before the client sends the file, not after its last byte."""
    r = await api.http.post("/v1/uploads", headers={
        **api.alice, **TUS, "Upload-Length": "1000", "Upload-Metadata": meta(**fields)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed", r.text
    assert await tus_rows(api) == 0 and parts(api) == []


@pytest.fixture
async def impatient_api(settings_factory: Callable[..., Settings]) -> AsyncIterator[Api]:
    """An app whose PATCHes may pause half a second at most."""
    a, runtime = await make_api(settings_factory(auth_cache_seconds=0, tus_patch_idle_timeout=0.5))
    try:
        yield a
    finally:
        await a.http.aclose()
        await runtime.close()


async def test_a_patch_that_goes_silent_ends_and_frees_the_upload(impatient_api: Api, wav_bytes: bytes) -> None:
    """A client that stops sending without closing (a phone off the network) must not hold
    the upload's lock: the PATCH ends as a dropped one does, and the retry resumes."""
    api = impatient_api
    loc = await create(api, len(wav_bytes))

    async def then_silence() -> AsyncIterator[bytes]:
        yield wav_bytes[:100]
        await anyio.sleep(60)
        yield wav_bytes[100:]

    with anyio.fail_after(10):
        cut = await api.http.patch(loc, content=then_silence(), headers={
            **api.alice, **TUS, "Content-Type": CHUNK, "Upload-Offset": "0"})
    assert cut.status_code == 400 and cut.json()["error"]["code"] == "bad_request", cut.text
    assert (await api.http.head(loc, headers={**api.alice, **TUS})).headers["upload-offset"] == "100"
    rest = await patch(api, loc, 100, wav_bytes[100:])
    assert rest.status_code == 204 and rest.headers["audiostore-audio-id"], rest.text


async def test_a_bad_checksum_header_is_400_on_a_creation_without_a_body(api: Api) -> None:
    r = await api.http.post("/v1/uploads", headers={
        **api.alice, **TUS, "Upload-Defer-Length": "1", "Upload-Checksum": "7^+"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_checksum", r.text
    assert await tus_rows(api) == 0 and parts(api) == []


@pytest.mark.parametrize(
    ("extra", "body", "status"),
    [({}, b"x" * 20, 413), ({"Upload-Checksum": f"sha1 {base64.b64encode(bytes(20)).decode()}"}, b"x" * 10, 460)],
    ids=["longer-than-its-length", "checksum-mismatch"],
)
async def test_a_refused_first_body_leaves_no_upload(
    api: Api, extra: dict[str, str], body: bytes, status: int
) -> None:
    """Creation with upload: a refusal carries no Location, so nobody could resume the
    upload or end it; it must not be left to wait out its expiry."""
    r = await api.http.post("/v1/uploads", content=body, headers={
        **api.alice, **TUS, "Upload-Length": "10", "Content-Type": CHUNK, **extra})
    assert r.status_code == status, r.text
    assert await tus_rows(api) == 0 and parts(api) == []
