"""Every bad input in DESIGN.md answers its 4xx with the catalogue's code and writes nothing:
no row, no blob, no temp file."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from audio_factory import chunk_offsets, flac_silence_bomb, make_tone, riff_chunk, with_riff_size, write_wav
from conftest import Api


async def assert_nothing_written(api: Api, call: Callable[[], Awaitable[httpx.Response]], status: int, code: str) -> httpx.Response:
    rows, blobs = await api.row_count(), await api.blob_keys()
    r = await call()
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert await api.row_count() == rows
    assert await api.blob_keys() == blobs
    tmp = api.runtime.settings.data_dir / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []
    return r


def _post(api: Api, data: bytes, filename: str = "x.wav", **fields: str) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: api.http.post(
        "/v1/audio", headers=api.alice, files={"file": (filename, data, "audio/wav")}, data=fields
    )


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil.js", "alert(1)")
    return buf.getvalue()


NOT_AUDIO = {
    "text": b"hello, this is not audio at all\n" * 10,
    "html": b"<!DOCTYPE html><html><script>alert(1)</script></html>",
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    "pdf": b"%PDF-1.7\n" + b"0" * 100,
    "empty": b"",
    "zip": _zip_bytes(),
}


@pytest.mark.parametrize("kind", list(NOT_AUDIO))
async def test_not_audio_is_415(api: Api, kind: str) -> None:
    await assert_nothing_written(api, _post(api, NOT_AUDIO[kind]), 415, "unsupported_format")


async def test_polyglot_wav_with_zip_is_415(api: Api, wav_bytes: bytes) -> None:
    await assert_nothing_written(api, _post(api, wav_bytes + _zip_bytes()), 415, "unsupported_format")


async def test_video_is_415(api: Api, tmp_path: Path) -> None:
    import av
    import numpy as np

    path = tmp_path / "v.webm"
    with av.open(str(path), "w", format="webm") as out:
        s = out.add_stream("libvpx", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    await assert_nothing_written(api, _post(api, path.read_bytes(), "v.webm"), 415, "unsupported_format")


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "m4a"])
async def test_truncated_audio_is_422(api: Api, tones: dict[str, Path], fmt: str) -> None:
    data = tones[fmt].read_bytes()
    await assert_nothing_written(api, _post(api, data[: len(data) // 2], f"t.{fmt}"), 422, "undecodable_audio")


async def test_garbage_after_audio_header_is_422(api: Api, wav_bytes: bytes) -> None:
    await assert_nothing_written(api, _post(api, wav_bytes[:44] + b"\x00" * 8), 422, "undecodable_audio")


@pytest.fixture(scope="module")
def long_ogg(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """20 s of Vorbis and of Opus in Ogg (a cut at 20% still opens and decodes)."""
    d = tmp_path_factory.mktemp("ogg")
    return {fmt: make_tone(d / f"t.{fmt}", fmt, seconds=20.0, channels=2).read_bytes() for fmt in ("ogg", "opus")}


@pytest.mark.parametrize(("fmt", "fraction"), [("ogg", 0.5), ("ogg", 0.9), ("opus", 0.2), ("opus", 0.9)])
async def test_truncated_ogg_is_422(api: Api, long_ogg: dict[str, bytes], fmt: str, fraction: float) -> None:
    data = long_ogg[fmt][: int(len(long_ogg[fmt]) * fraction)]
    r = await assert_nothing_written(api, _post(api, data, f"t.{fmt}"), 422, "undecodable_audio")
    assert "truncated" in r.json()["error"]["message"]


async def test_ogg_cut_at_a_page_boundary_is_422(api: Api, long_ogg: dict[str, bytes]) -> None:
    data = long_ogg["opus"]
    cut = data.rfind(b"OggS", 0, len(data) // 2)  # where a page begins: the one before is whole
    r = await assert_nothing_written(api, _post(api, data[:cut], "t.opus"), 422, "undecodable_audio")
    assert "end-of-stream" in r.json()["error"]["message"]


async def test_a_flac_bomb_of_100_hours_is_422_too_long(api: Api, tmp_path: Path) -> None:
    bomb = flac_silence_bomb(tmp_path / "bomb.flac", hours=100).read_bytes()
    assert len(bomb) < 700_000
    r = await assert_nothing_written(api, _post(api, bomb, "b.flac"), 422, "audio_too_long")
    assert "14400 s" in r.json()["error"]["message"]


async def test_audio_over_the_duration_setting_is_422(settings_factory, tones: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_api

    a, rt = await make_api(settings_factory(max_duration_seconds=1.5))  # the tones are 2 s
    try:
        for fmt in ("wav", "mp3", "opus"):
            data = tones[fmt].read_bytes()
            await assert_nothing_written(a, _post(a, data, f"t.{fmt}"), 422, "audio_too_long")
    finally:
        await a.http.aclose()
        await rt.close()


def _patched(data: bytes, chunk: bytes, at: int, value: bytes) -> bytes:
    start, _ = chunk_offsets(data)[chunk]
    return data[: start + at] + value + data[start + at + len(value) :]


async def test_a_wav_patched_to_1_hz_is_422(api: Api, tones: dict[str, Path]) -> None:
    data = _patched(tones["wav"].read_bytes(), b"fmt ", 4, struct.pack("<I", 1))
    r = await assert_nothing_written(api, _post(api, data, "slow.wav"), 422, "unsupported_sample_rate")
    assert "1 Hz" in r.json()["error"]["message"]


async def test_a_flac_at_1_hz_is_422(api: Api, tmp_path: Path) -> None:
    data = make_tone(tmp_path / "slow.flac", "flac", seconds=300, sample_rate=1).read_bytes()
    await assert_nothing_written(api, _post(api, data, "slow.flac"), 422, "unsupported_sample_rate")


async def test_an_aiff_claiming_13_hours_over_5_seconds_is_422(api: Api, tmp_path: Path) -> None:
    aiff = make_tone(tmp_path / "t.aiff", "aiff", seconds=5.0, channels=2).read_bytes()
    data = _patched(aiff, b"COMM", 2, struct.pack(">I", 2**31 - 1))  # numSampleFrames
    r = await assert_nothing_written(api, _post(api, data, "lying.aiff"), 422, "undecodable_audio")
    assert "5.00 s" in r.json()["error"]["message"]


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def _wav_around_data(wav: bytes, before_data: bytes = b"", after_data: bytes = b"") -> bytes:
    start, size = chunk_offsets(wav)[b"data"]
    return with_riff_size(wav[: start - 8] + before_data + wav[start - 8 : start + size] + after_data)


@pytest.mark.parametrize("where", ["chunk after 1 KiB", "chunk after data", "bytes after data"])
async def test_html_polyglot_wav_is_415(api: Api, wav_bytes: bytes, where: str) -> None:
    if where == "chunk after 1 KiB":
        data = _wav_around_data(wav_bytes, before_data=riff_chunk(b"junk", b"\0" * 2000 + HTML))
    elif where == "chunk after data":
        data = _wav_around_data(wav_bytes, after_data=riff_chunk(b"html", HTML))
    else:
        data = wav_bytes + HTML
    await assert_nothing_written(api, _post(api, data), 415, "unsupported_format")


async def test_pdf_at_byte_44_of_a_wav_is_415(api: Api, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "t.wav", 64 * 1024).read_bytes()
    data = wav[:44] + b"%PDF-1.7\n" + wav[53:]
    await assert_nothing_written(api, _post(api, data), 415, "unsupported_format")


async def test_too_large_is_413(small_api: Api, wav_bytes: bytes) -> None:
    assert len(wav_bytes) > 64 * 1024
    await assert_nothing_written(small_api, _post(small_api, wav_bytes), 413, "too_large")
    raw = lambda: small_api.http.post(  # noqa: E731
        "/v1/audio", headers={**small_api.alice, "Content-Type": "audio/wav"}, content=wav_bytes
    )
    await assert_nothing_written(small_api, raw, 413, "too_large")


async def test_too_large_without_content_length_stops_reading(small_api: Api, wav_bytes: bytes) -> None:
    sent = 0

    async def body():  # type: ignore[no-untyped-def]
        nonlocal sent
        for i in range(0, 10 * 1024 * 1024, 16384):  # would be 10 MiB if read to the end
            sent += 16384
            yield wav_bytes[:16384]

    call = lambda: small_api.http.post(  # noqa: E731
        "/v1/audio", headers={**small_api.alice, "Content-Type": "audio/wav"}, content=body()
    )
    await assert_nothing_written(small_api, call, 413, "too_large")
    assert sent < 1024 * 1024


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"name": "../../etc/passwd"}, 400, "invalid_name"),
        ({"name": "a\x00b"}, 400, "invalid_name"),
        ({"name": "line\nbreak"}, 400, "invalid_name"),
        ({"collection": ".."}, 400, "invalid_name"),
        ({"collection": "a/../b"}, 400, "invalid_name"),
        ({"collection": "x\x1b"}, 400, "invalid_name"),
        ({"metadata": "{not json"}, 422, "invalid_metadata"),
        ({"metadata": "[1, 2]"}, 422, "invalid_metadata"),
        ({"metadata": '{"n": ' + "7" * 4301 + "}"}, 422, "invalid_metadata"),  # over int's digit limit
        ({"metadata": '{"n": -' + "7" * 5000 + "}"}, 422, "invalid_metadata"),
        ({"ttl_seconds": "soon"}, 422, "validation_failed"),
        ({"ttl_seconds": "-5"}, 422, "validation_failed"),
        ({"ttl_seconds": "99999999999999999999"}, 422, "validation_failed"),
        ({"expires_at": "9999-12-31T23:59:59Z"}, 422, "validation_failed"),
        ({"expires_at": "2000-01-01T00:00:00Z"}, 422, "validation_failed"),
        ({"ttl_seconds": "5", "expires_at": "2099-01-01T00:00:00Z"}, 422, "validation_failed"),
    ],
)
async def test_bad_fields(api: Api, wav_bytes: bytes, fields: dict[str, str], status: int, code: str) -> None:
    await assert_nothing_written(api, _post(api, wav_bytes, **fields), status, code)


async def test_traversal_in_upload_filename_is_refused_or_neutralised(api: Api, wav_bytes: bytes) -> None:
    r = await api.http.post(
        "/v1/audio", headers=api.alice, files={"file": ("../../../evil.wav", wav_bytes, "audio/wav")}
    )
    assert r.status_code == 201
    assert r.json()["name"] == "evil.wav"
    assert ".." not in r.json()["key"]


async def test_non_audio_raw_content_type_is_415(api: Api, wav_bytes: bytes) -> None:
    call = lambda: api.http.post(  # noqa: E731
        "/v1/audio", headers={**api.alice, "Content-Type": "text/plain"}, content=wav_bytes
    )
    await assert_nothing_written(api, call, 415, "unsupported_format")


async def test_multipart_without_file_is_400(api: Api) -> None:
    call = lambda: api.http.post("/v1/audio", headers=api.alice, files={"other": ("a", b"x")})  # noqa: E731
    await assert_nothing_written(api, call, 400, "bad_request")


async def test_format_not_accepted_by_setting_is_415(settings_factory, tones: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_api

    a, rt = await make_api(settings_factory(accepted_formats=["wav"]))
    try:
        with tones["mp3"].open("rb") as f:
            data = f.read()
        await assert_nothing_written(a, _post(a, data, "x.mp3"), 415, "unsupported_format")
    finally:
        await a.http.aclose()
        await rt.close()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
     {"Authorization": "Bearer as_000000000000_guess"}],
)
async def test_missing_or_wrong_key_is_401(api: Api, wav_bytes: bytes, headers: dict[str, str]) -> None:
    call = lambda: api.http.post("/v1/audio", headers=headers, files={"file": ("x.wav", wav_bytes)})  # noqa: E731
    await assert_nothing_written(api, call, 401, "unauthorized")
    for path in ("/v1/audio", "/v1/info", "/v1/audio/x/content"):
        r = await api.http.get(path, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


async def test_revoked_key_is_401(api: Api, wav_bytes: bytes) -> None:
    issued = await api.runtime.keys.create("dave")
    h = api.auth(issued.key)
    assert (await api.http.get("/v1/audio", headers=h)).status_code == 200
    await api.runtime.keys.revoke(issued.row.prefix)
    r = await api.http.get("/v1/audio", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


async def test_bad_json_bodies(api: Api, wav_bytes: bytes) -> None:
    oid = (await api.upload(Path(api.runtime.settings.data_dir).parent / "x.wav") if False else None)
    r = await api.http.post("/v1/urls", headers=api.alice, content=b"{nope", )
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    r = await api.http.post("/v1/urls", headers=api.alice, json={"ids": []})
    assert r.status_code == 422
    assert oid is None


async def test_unknown_routes_and_methods_use_the_error_shape(api: Api) -> None:
    r = await api.http.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await api.http.put("/v1/audio", headers=api.alice)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(("path", "allow"), [
    ("/v1/audio/x", "GET, PATCH, DELETE"),
    ("/v1/audio/x/content", "GET, HEAD"),
    ("/v1/queues/q", "GET, PUT, DELETE"),
])
async def test_a_405_lists_every_method_the_path_takes(api: Api, path: str, allow: str) -> None:
    r = await api.http.request("OPTIONS", path, headers=api.alice)
    assert r.status_code == 405 and r.headers["allow"] == allow


async def test_patch_with_an_absurd_ttl_is_422_and_changes_nothing(api: Api, wav_bytes: bytes) -> None:
    oid = (await api.http.post("/v1/audio", headers=api.alice, files={"file": ("x.wav", wav_bytes)})).json()["id"]
    for body in ({"ttl_seconds": 10**30}, {"expires_at": "9999-12-31T23:59:59Z"}):
        r = await api.http.patch(f"/v1/audio/{oid}", headers=api.alice, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
    assert (await api.http.get(f"/v1/audio/{oid}", headers=api.alice)).json()["expires_at"] is None


async def test_an_unknown_form_field_is_422_and_names_it(api: Api, wav_bytes: bytes) -> None:
    """Seed 004 sent projectId and recordingId beside the file; they were dropped in silence."""
    def post() -> Awaitable[httpx.Response]:
        return api.http.post("/v1/audio", headers=api.alice, data={"recordingId": "r-1", "projectId": "p"},
                             files={"file": ("a.wav", wav_bytes, "audio/wav")})

    r = await assert_nothing_written(api, post, 422, "validation_failed")
    assert "projectId, recordingId" in r.json()["error"]["message"]
    assert "metadata" in r.json()["error"]["message"]


@pytest.mark.parametrize(("fields", "says"), [
    ({f"f{i}": "x" for i in range(100)}, "more than 64 parts"),
    ({f"f{i}": "x" * 60_000 for i in range(6)}, "text fields hold more than 262144 bytes"),
])
async def test_a_form_too_big_to_hold_is_refused_while_it_arrives(
    api: Api, wav_bytes: bytes, fields: dict[str, str], says: str
) -> None:
    """Text fields are held in memory: their number and bytes are capped as they arrive (a
    body without Content-Length is bounded only by these)."""
    boundary = "b0undary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'.encode()
                 + wav_bytes + f"\r\n--{boundary}--\r\n".encode())

    async def body() -> AsyncIterator[bytes]:  # chunked: no Content-Length to refuse up front
        for part in parts:
            yield part

    def post() -> Awaitable[httpx.Response]:
        return api.http.post("/v1/audio", content=body(), headers={
            **api.alice, "content-type": f"multipart/form-data; boundary={boundary}"})

    r = await assert_nothing_written(api, post, 400, "bad_request")
    assert says in r.json()["error"]["message"]


async def test_a_json_integer_too_long_for_python_is_a_4xx_on_patch(api: Api, wav_bytes: bytes) -> None:
    """In a JSON body FastAPI's parser meets the integer first: 400, as for any unparsable body."""
    oid = (await api.http.post("/v1/audio", headers=api.alice, files={"file": ("x.wav", wav_bytes)})).json()["id"]
    body = b'{"metadata": {"n": ' + b"7" * 5000 + b"}}"
    r = await api.http.patch(f"/v1/audio/{oid}", headers={**api.alice, "Content-Type": "application/json"}, content=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", r.text
    assert (await api.http.get(f"/v1/audio/{oid}", headers=api.alice)).json()["metadata"] == {}


async def test_a_multipart_body_without_its_closing_boundary_is_400(api: Api, wav_bytes: bytes) -> None:
    """python-multipart's finalize() accepts a body that stops mid-part; a cut upload must not
    be stored as if it were whole."""
    boundary = "b0undary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()
    for body in (head + wav_bytes, head + wav_bytes + f"\r\n--{boundary}\r\n".encode()):
        call = lambda body=body: api.http.post(  # noqa: E731
            "/v1/audio", content=body,
            headers={**api.alice, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        r = await assert_nothing_written(api, call, 400, "bad_request")
        assert "closing boundary" in r.json()["error"]["message"]
    whole = head + wav_bytes + f"\r\n--{boundary}--\r\n".encode()
    ok = await api.http.post("/v1/audio", content=whole, headers={
        **api.alice, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert ok.status_code == 201, ok.text


async def test_a_query_parameter_given_twice_is_400(api: Api, wav_bytes: bytes) -> None:
    """FastAPI keeps the last of repeated values: the first would be dropped in silence."""
    r = await api.http.post("/v1/audio?name=a.wav&name=b.wav",
                            headers={**api.alice, "Content-Type": "audio/wav"}, content=wav_bytes)
    assert r.status_code == 400 and "'name'" in r.json()["error"]["message"]
    r = await api.http.get("/v1/audio?prefix=a&limit=5&prefix=b", headers=api.alice)
    assert r.status_code == 400 and "'prefix'" in r.json()["error"]["message"]
    assert (await api.http.get("/v1/audio", headers=api.alice)).json()["items"] == []
