"""tus interop with `tuspy` (a client no one here wrote) against a real `audiostore serve`:
chunked upload with checksums, a connection cut mid-PATCH and a new client resuming from the
server's offset, a checksum mismatch (460), a wrong offset (409), two PATCHes at once (one
wins), termination, a deferred length, and expiry removing the parts."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tusclient import client as tus_client
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

from audio_factory import make_tone
from fixtures_client_server import Served
from server_process import ServerProcess

CHUNK = 64 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


class Sha256Uploader(Uploader):  # type: ignore[misc]  # tuspy is untyped
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)


def _wrong_sha1(data: bytes) -> Any:
    return hashlib.sha1(data + b"!")


class LyingUploader(Uploader):  # type: ignore[misc]  # tuspy is untyped
    CHECKSUM_ALGORITHM_PAIR = ("sha1", _wrong_sha1)


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Served:
    data = tmp_path_factory.mktemp(name) / "audiostore-data"
    proc = ServerProcess(data, env=env).start()
    return Served(proc, (data / "admin.key").read_text().strip())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_server(tmp_path_factory, "tus-serve")
    yield served
    served.proc.stop()


@pytest.fixture(scope="module")
def key(server: Served) -> str:
    return server.new_key("alice")


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tone(tmp_path_factory.mktemp("tus-audio") / "long.wav", "wav", seconds=12.0, channels=2)


def tus(server: Served, key: str) -> tus_client.TusClient:
    return tus_client.TusClient(f"{server.url}/v1/uploads", headers={"Authorization": f"Bearer {key}"})


def parts_of(server: Served) -> list[Path]:
    d = server.proc.data_dir / "uploads"
    return sorted(d.glob("*.part")) if d.is_dir() else []


def stored_sha256(server: Served, key: str, audio_id: str) -> str:
    got = httpx.get(f"{server.url}/v1/audio/{audio_id}/content", headers={"Authorization": f"Bearer {key}"})
    assert got.status_code == 200
    return hashlib.sha256(got.content).hexdigest()


class CuttingProxy:
    """A TCP proxy that forwards the first `budget` bytes a client sends, then drops both
    connections: a network that dies in the middle of a PATCH."""

    def __init__(self, upstream_port: int, budget: int) -> None:
        self.upstream_port = upstream_port
        self.budget = budget
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(30)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        sent = 0
        conn.settimeout(30)
        try:
            while sent < self.budget:
                data = conn.recv(min(65536, self.budget - sent))
                if not data:
                    break
                upstream.sendall(data)
                sent += len(data)
            time.sleep(0.2)
        finally:
            for s in (upstream, conn):
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.listener.close()


def test_tuspy_uploads_in_chunks_with_checksums(server: Served, key: str, long_wav: Path) -> None:
    up = Sha256Uploader(str(long_wav), client=tus(server, key), chunk_size=CHUNK, upload_checksum=True,
                        metadata={"name": "coach-session.wav", "collection": "sessions"})
    up.upload()
    audio_id = up.request.response_headers["audiostore-audio-id"]
    assert up.request.response_headers["audiostore-audio-location"] == f"/v1/audio/{audio_id}"
    obj = httpx.get(f"{server.url}/v1/audio/{audio_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert (obj["name"], obj["collection"]) == ("coach-session.wav", "sessions")
    assert obj["sha256"] == hashlib.sha256(long_wav.read_bytes()).hexdigest()
    assert stored_sha256(server, key, audio_id) == obj["sha256"]
    assert parts_of(server) == []


def test_connection_cut_mid_patch_then_a_new_client_resumes(server: Served, key: str, long_wav: Path) -> None:
    size = long_wav.stat().st_size
    first = Uploader(str(long_wav), client=tus(server, key), metadata={"name": "train.wav"})
    upload_url = first.create_url()
    # One PATCH of the whole file through a network that dies after ~40% of it.
    proxy = CuttingProxy(server.proc.port, budget=int(size * 0.4))
    cut = Uploader(str(long_wav), url=upload_url, client=tus(server, key))
    cut.url = upload_url.replace(f":{server.proc.port}", f":{proxy.port}")
    with pytest.raises((TusUploadFailed, TusCommunicationError)):
        cut.upload()
    proxy.thread.join(timeout=30)
    # The server keeps what arrived; a new client (a new process would do the same) asks for
    # the offset with HEAD and sends the rest.
    offset = 0
    for _ in range(50):  # the server notices the cut connection within moments
        head = httpx.head(upload_url, headers={**TUS, "Authorization": f"Bearer {key}"})
        offset = int(head.headers["upload-offset"])
        if offset:
            break
        time.sleep(0.1)
    assert 0 < offset < size
    resumed = Uploader(str(long_wav), url=upload_url, client=tus(server, key), chunk_size=CHUNK)
    assert resumed.offset == offset
    resumed.upload()
    audio_id = resumed.request.response_headers["audiostore-audio-id"]
    assert stored_sha256(server, key, audio_id) == hashlib.sha256(long_wav.read_bytes()).hexdigest()


def test_checksum_mismatch_is_460_and_the_offset_stays(server: Served, key: str, long_wav: Path) -> None:
    up = LyingUploader(str(long_wav), client=tus(server, key), chunk_size=CHUNK, upload_checksum=True)
    with pytest.raises(TusUploadFailed) as failed:
        up.upload()
    assert failed.value.status_code == 460
    assert up.get_offset() == 0
    part = [p for p in parts_of(server) if p.stem == up.url.rsplit("/", 1)[1]]
    assert part and part[0].stat().st_size == 0


def test_wrong_offset_is_409(server: Served, key: str, long_wav: Path) -> None:
    up = Uploader(str(long_wav), client=tus(server, key), chunk_size=CHUNK)
    up.upload_chunk()
    assert up.get_offset() == CHUNK
    up.offset = CHUNK * 2  # a client that believes it sent more than it did
    with pytest.raises(TusUploadFailed) as failed:
        up.upload_chunk()
    assert failed.value.status_code == 409
    assert up.get_offset() == CHUNK


def test_two_patches_at_once_one_wins(server: Served, key: str, long_wav: Path) -> None:
    data = long_wav.read_bytes()
    up = Uploader(str(long_wav), client=tus(server, key))
    url = up.create_url()
    up.set_url(url)
    headers = {**TUS, "Authorization": f"Bearer {key}", "Content-Type": "application/offset+octet-stream",
               "Upload-Offset": "0"}
    started = threading.Event()
    results: dict[str, int] = {}

    def slow_body() -> Iterator[bytes]:
        for i in range(0, 200_000, 20_000):
            yield data[i:i + 20_000]
            started.set()
            time.sleep(0.1)

    def slow() -> None:
        results["slow"] = httpx.patch(url, content=slow_body(), headers=headers, timeout=30).status_code

    t = threading.Thread(target=slow)
    t.start()
    assert started.wait(10)
    time.sleep(0.3)  # the slow PATCH holds the upload now
    results["fast"] = httpx.patch(url, content=data[:50_000], headers=headers, timeout=30).status_code
    t.join(timeout=30)
    assert results == {"slow": 204, "fast": 423}, results
    assert up.get_offset() == 200_000
    # The loser learns the offset with HEAD and goes on from there: tuspy finishes the upload.
    resumed = Uploader(str(long_wav), url=url, client=tus(server, key), chunk_size=CHUNK * 4)
    resumed.upload()
    assert resumed.request.response_headers["audiostore-audio-id"]


def test_termination_and_deferred_length(server: Served, key: str, long_wav: Path) -> None:
    data = long_wav.read_bytes()
    auth = {**TUS, "Authorization": f"Bearer {key}"}
    up = Uploader(str(long_wav), client=tus(server, key), chunk_size=CHUNK)
    up.upload_chunk()
    before = len(parts_of(server))
    assert httpx.delete(up.url, headers=auth).status_code == 204
    assert len(parts_of(server)) == before - 1
    assert httpx.head(up.url, headers=auth).status_code == 404

    made = httpx.post(f"{server.url}/v1/uploads", headers={**auth, "Upload-Defer-Length": "1"})
    loc = f"{server.url}{made.headers['location']}"
    chunk = {**auth, "Content-Type": "application/offset+octet-stream"}
    assert httpx.patch(loc, content=data[:CHUNK], headers={**chunk, "Upload-Offset": "0"}).status_code == 204
    assert httpx.head(loc, headers=auth).headers["upload-defer-length"] == "1"
    last = httpx.patch(loc, content=data[CHUNK:], headers={
        **chunk, "Upload-Offset": str(CHUNK), "Upload-Length": str(len(data))})
    assert last.status_code == 204
    assert stored_sha256(server, key, last.headers["audiostore-audio-id"]) == hashlib.sha256(data).hexdigest()


def test_abandoned_uploads_expire_and_the_job_removes_their_parts(
    tmp_path_factory: pytest.TempPathFactory, long_wav: Path
) -> None:
    served = start_server(tmp_path_factory, "tus-expiry", AUDIOSTORE_TUS_UPLOAD_EXPIRY="2s",
                          AUDIOSTORE_SWEEP_INTERVAL="1s")
    try:
        key = served.new_key("alice")
        up = Uploader(str(long_wav), client=tus(served, key), chunk_size=CHUNK)
        up.upload_chunk()
        assert len(parts_of(served)) == 1
        auth = {**TUS, "Authorization": f"Bearer {key}"}
        for _ in range(100):  # bounded: the job runs every second
            if not parts_of(served) and httpx.head(up.url, headers=auth).status_code == 404:
                break
            time.sleep(0.2)
        assert parts_of(served) == []
        assert httpx.head(up.url, headers=auth).status_code == 404
        expired = httpx.patch(up.url, content=b"x", headers={
            **auth, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(CHUNK)})
        assert expired.status_code == 404
    finally:
        served.proc.stop()

