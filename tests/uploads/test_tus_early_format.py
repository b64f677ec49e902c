"""A tus upload's format is checked as soon as its first bytes are in: a file that is not
audio, or not a format the upload may have (the server's, a client token's, a signed upload
URL's), is 415 at its first PATCH (or its creation-with-upload) although its declared length
is far larger, and the upload is gone: no row, no part, nothing stored.

One test drives a real server over a raw socket and never sends the rest of the body, so the
415 can only come from the bytes that arrived."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from conftest import Api
from server_process import ServerProcess

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"
PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(13) + os.urandom(60_000)
TEXT = b"Dear diary, this is not a recording.\n" * 2000
LARGE = 90 * 1024 * 1024  # declared (under the default 100 MiB limit), never sent


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _parts(api: Api) -> list[Path]:
    d = api.runtime.tus_uploads.parts_dir
    return sorted(d.glob("*.part")) if d.is_dir() else []


async def _tus_rows(api: Api) -> int:
    from sqlalchemy import func, select

    from audiostore.catalog.models import TusUploadRow

    async with api.runtime.catalog.database.session() as s:
        return int((await s.execute(select(func.count()).select_from(TusUploadRow))).scalar_one())


async def _nothing_left(api: Api, location: str, auth: dict[str, str]) -> None:
    assert await _tus_rows(api) == 0
    assert _parts(api) == []
    assert await api.row_count() == 0 and await api.blob_keys() == []
    assert (await api.http.head(location, headers={**auth, **TUS})).status_code == 404


async def _create(api: Api, auth: dict[str, str], url: str = "/v1/uploads", length: int = LARGE) -> str:
    r = await api.http.post(url, headers={**auth, **TUS, "Upload-Length": str(length)})
    assert r.status_code == 201, r.text
    return str(r.headers["location"])


async def _patch(api: Api, location: str, auth: dict[str, str], offset: int, data: bytes) -> httpx.Response:
    return await api.http.patch(location, content=data, headers={
        **auth, **TUS, "Content-Type": CHUNK, "Upload-Offset": str(offset)})


async def test_not_audio_is_415_at_the_first_patch_and_nothing_is_left(api: Api) -> None:
    for body in (PNG, TEXT):
        loc = await _create(api, api.alice)
        r = await _patch(api, loc, api.alice, 0, body)
        assert r.status_code == 415, r.text
        assert r.json()["error"]["code"] == "unsupported_format"
        assert r.headers["tus-resumable"] == "1.0.0"
        await _nothing_left(api, loc, api.alice)


async def test_a_head_spread_over_patches_is_checked_once_it_is_in(api: Api, wav_bytes: bytes) -> None:
    # A refused head: the first PATCH (10 bytes) cannot decide, the second does.
    loc = await _create(api, api.alice)
    assert (await _patch(api, loc, api.alice, 0, PNG[:10])).status_code == 204
    r = await _patch(api, loc, api.alice, 10, PNG[10:20_000])
    assert r.status_code == 415, r.text
    await _nothing_left(api, loc, api.alice)
    # A good head in small pieces goes through and is stored whole.
    loc = await _create(api, api.alice, length=len(wav_bytes))
    offset = 0
    for size in (10, 3000, 5000, len(wav_bytes)):
        r = await _patch(api, loc, api.alice, offset, wav_bytes[offset:offset + size])
        assert r.status_code == 204, r.text
        offset = int(r.headers["upload-offset"])
        if offset == len(wav_bytes):
            break
    assert r.headers["audiostore-audio-id"]


async def test_a_signed_upload_urls_formats_refuse_at_the_first_patch(api: Api, wav_bytes: bytes) -> None:
    r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json={"formats": ["webm"]})
    assert r.status_code == 200, r.text
    loc = await _create(api, {}, _local(r.json()["tus_url"]))
    first = wav_bytes[:65536]  # a WAV, of the large declared upload's first 64 KiB
    r = await _patch(api, loc, {}, 0, first)
    assert r.status_code == 415, r.text
    assert "wav" in r.json()["error"]["message"]
    await _nothing_left(api, loc.split("?")[0], api.alice)


async def test_a_client_tokens_formats_refuse_a_creation_with_upload(api: Api, wav_bytes: bytes) -> None:
    minted = await api.http.post("/v1/tokens", headers=api.alice, json={"scopes": ["upload"], "formats": ["mp3"]})
    assert minted.status_code == 201, minted.text
    token = {"Authorization": f"Bearer {minted.json()['token']}"}
    r = await api.http.post("/v1/uploads", content=wav_bytes[:65536], headers={
        **token, **TUS, "Upload-Length": str(LARGE), "Content-Type": CHUNK})
    assert r.status_code == 415, r.text
    assert await _tus_rows(api) == 0 and _parts(api) == []
    assert await api.row_count() == 0 and await api.blob_keys() == []
    # The same token's upload of an accepted format is not refused by the early check.
    mp3 = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(8000)
    loc = await _create(api, token)
    assert (await _patch(api, loc, token, 0, mp3)).status_code == 204


def test_a_real_server_answers_415_before_the_rest_of_the_body(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))}
    env.update(AUDIOSTORE_SWEEP_INTERVAL="0")
    server = ServerProcess(tmp_path / "data", env=env).start()
    try:
        key = (server.data_dir / "admin.key").read_text().strip()
        auth = {**TUS, "Authorization": f"Bearer {key}"}
        made = httpx.post(f"{server.url}/v1/uploads", headers={**auth, "Upload-Length": str(LARGE)})
        assert made.status_code == 201, made.text
        path = made.headers["location"]
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        request = (
            f"PATCH {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Tus-Resumable: 1.0.0\r\nContent-Type: {CHUNK}\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {LARGE}\r\n\r\n"
        ).encode()
        with socket.create_connection((host, port), timeout=20) as sock:
            sock.sendall(request + PNG)  # 60 KiB of the 90 MiB this PATCH announces
            answer = b""
            while b"\r\n\r\n" not in answer:
                piece = sock.recv(65536)
                if not piece:
                    break
                answer += piece
        assert answer.startswith(b"HTTP/1.1 415"), answer[:200]
        upload_id = path.rstrip("/").rsplit("/", 1)[-1]
        assert not (server.data_dir / "uploads" / f"{upload_id}.part").exists()
        head = httpx.head(server.url + path, headers=auth)
        assert head.status_code == 404
    finally:
        server.stop()

