"""A real `audiostore serve` killed with SIGKILL in the middle of a PATCH, then started again
on the same data: the offset HEAD reports never exceeds the bytes in the part file, the
acknowledged offset survived, and resuming from it stores a file whose sha256 is the source's.

(SIGKILL kills the process, not the machine: the page cache survives it, so this proves the
order "bytes written, then the offset committed" at the process level, and that the killed
PATCH's claim, its part's flock, died with it. The kill runs with PATCHes that do not wait
for the disk (the default) and with AUDIOSTORE_TUS_SYNC_EACH_PATCH. What a power loss does,
a part shorter than its committed offset, is made by hand in the last test.)
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from audio_factory import write_wav
from conftest import Api
from server_process import ServerProcess

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"
MIB = 1 << 20


def _key(server: ServerProcess) -> dict[str, str]:
    return {**TUS, "Authorization": f"Bearer {(server.data_dir / 'admin.key').read_text().strip()}"}


@pytest.mark.parametrize("sync_each_patch", ["false", "true"])
def test_a_server_killed_mid_patch_resumes_from_an_offset_its_bytes_back(tmp_path: Path, sync_each_patch: str) -> None:
    source = write_wav(tmp_path / "source.wav", 12 * MIB).read_bytes()
    (tmp_path / "srv").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUDIOSTORE_", "AWS_"))}
    env.update(AUDIOSTORE_SWEEP_INTERVAL="0", AUDIOSTORE_TUS_SYNC_EACH_PATCH=sync_each_patch)
    server = ServerProcess(tmp_path / "srv" / "data", env=env).start()
    try:
        auth = _key(server)
        made = httpx.post(f"{server.url}/v1/uploads", headers={**auth, "Upload-Length": str(len(source))})
        assert made.status_code == 201, made.text
        path = made.headers["location"]
        upload_id = path.rstrip("/").rsplit("/", 1)[-1]
        part = server.data_dir / "uploads" / f"{upload_id}.part"
        first = httpx.patch(server.url + path, content=source[:MIB], headers={
            **auth, "Content-Type": CHUNK, "Upload-Offset": "0"})
        assert first.status_code == 204 and first.headers["upload-offset"] == str(MIB)

        # The second PATCH sends 5.5 MiB of its 8 MiB (several of the server's write
        # batches) and then stalls; the server dies then.
        sent_enough = threading.Event()
        release = threading.Event()

        def stalling_body() -> Iterator[bytes]:
            for start in range(MIB, MIB + 11 * MIB // 2, 256 * 1024):
                yield source[start:start + 256 * 1024]
            sent_enough.set()
            release.wait(30)
            yield source[MIB + 11 * MIB // 2:9 * MIB]

        def second_patch() -> None:
            try:
                httpx.patch(server.url + path, content=stalling_body(), timeout=30, headers={
                    **auth, "Content-Type": CHUNK, "Upload-Offset": str(MIB),
                    "Content-Length": str(8 * MIB)})
            except httpx.HTTPError:
                pass  # the server died under it: that is the point

        sender = threading.Thread(target=second_patch, daemon=True)
        sender.start()
        assert sent_enough.wait(30)
        deadline = time.monotonic() + 20
        while part.stat().st_size <= MIB and time.monotonic() < deadline:
            time.sleep(0.05)
        assert part.stat().st_size > MIB  # the server was writing the PATCH's bytes
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        release.set()
        sender.join(timeout=30)
        server.stop()

        server = ServerProcess(server.data_dir, env=env)
        server.start()
        head = httpx.head(server.url + path, headers=auth)
        assert head.status_code == 200, head.text
        offset = int(head.headers["upload-offset"])
        on_disk = part.read_bytes()
        assert MIB <= offset <= len(on_disk)  # acknowledged bytes kept; none claimed that are not there
        assert on_disk[:offset] == source[:offset]

        # Resume: the dead PATCH's flock went with its process (a 423 is only retried in case).
        deadline = time.monotonic() + 20
        for _ in range(100):
            r = httpx.patch(server.url + path, content=source[offset:], timeout=60, headers={
                **auth, "Content-Type": CHUNK, "Upload-Offset": str(offset)})
            if r.status_code != 423 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert r.status_code == 204, r.text
        audio_id = r.headers["audiostore-audio-id"]
        obj = httpx.get(f"{server.url}/v1/audio/{audio_id}", headers=auth).json()
        assert obj["sha256"] == hashlib.sha256(source).hexdigest()
        assert obj["size"] == len(source)
    finally:
        server.stop()


async def test_a_part_shorter_than_its_offset_resumes_from_what_the_disk_kept(
    api: Api, wav_bytes: bytes
) -> None:
    """A power loss before the kernel wrote the last PATCHes out (PATCHes do not wait for the
    disk, see service/tus_uploads.py): the part is shorter than the committed offset. HEAD
    and the next PATCH trust the part, and the upload resumes from there, whole."""
    auth = {**api.alice, **TUS}
    made = await api.http.post("/v1/uploads", headers={**auth, "Upload-Length": str(len(wav_bytes))})
    loc = made.headers["location"]
    third = len(wav_bytes) // 3
    for offset in (0, third):
        r = await api.http.patch(loc, content=wav_bytes[offset:offset + third], headers={
            **auth, "Content-Type": CHUNK, "Upload-Offset": str(offset)})
        assert r.status_code == 204, r.text
    part = next(api.runtime.tus_uploads.parts_dir.glob("*.part"))
    kept = third + 1000
    os.truncate(part, kept)  # what the disk kept of the 2 * third acknowledged bytes
    head = await api.http.head(loc, headers=auth)
    assert head.headers["upload-offset"] == str(kept)
    stale = await api.http.patch(loc, content=wav_bytes[2 * third:], headers={
        **auth, "Content-Type": CHUNK, "Upload-Offset": str(2 * third)})
    assert stale.status_code == 409 and stale.headers["upload-offset"] == str(kept)
    r = await api.http.patch(loc, content=wav_bytes[kept:], headers={
        **auth, "Content-Type": CHUNK, "Upload-Offset": str(kept)})
    assert r.status_code == 204, r.text
    obj = (await api.http.get(f"/v1/audio/{r.headers['audiostore-audio-id']}", headers=api.alice)).json()
    assert obj["sha256"] == hashlib.sha256(wav_bytes).hexdigest()
