"""A tus PATCH onto a full disk (a real 16 MiB tmpfs): 507 `insufficient_storage`, none of its
bytes kept and the offset where it was; once there is room, the same PATCH stores the file."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from audio_factory import write_wav
from conftest import Api, backend_settings_local, served_api

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"
DISK_BYTES = 16 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip(reason="no `mount` here to make a small filesystem")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(reason=f"cannot mount a tmpfs ({done.stderr.strip() or 'not root'})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


@pytest.fixture
async def api(small_disk: Path) -> AsyncIterator[Api]:
    async with served_api(backend_settings_local(small_disk, auth_cache_seconds=0)) as a:
        yield a


async def test_a_patch_onto_a_full_disk_is_507_and_keeps_nothing(
    api: Api, small_disk: Path, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "take.wav", 6 * 1024 * 1024).read_bytes()  # several write batches
    made = await api.http.post("/v1/uploads", headers={**api.alice, **TUS, "Upload-Length": str(len(wav))})
    assert made.status_code == 201, made.text
    loc = made.headers["location"]
    first = 100_000
    headers = {**api.alice, **TUS, "Content-Type": CHUNK}
    r = await api.http.patch(loc, content=wav[:first], headers={**headers, "Upload-Offset": "0"})
    assert r.status_code == 204, r.text
    part = small_disk / "data" / "uploads" / f"{loc.rsplit('/', 1)[1]}.part"

    stat = os.statvfs(small_disk)
    filler = small_disk / "filler"
    filler.write_bytes(bytes(stat.f_bavail * stat.f_frsize - 512 * 1024))  # 512 KiB of room left
    r = await api.http.patch(loc, content=wav[first:], headers={**headers, "Upload-Offset": str(first)})
    assert r.status_code == 507 and r.json()["error"]["code"] == "insufficient_storage", r.text
    assert part.stat().st_size == first  # what did fit was cut off again
    head = await api.http.head(loc, headers={**api.alice, **TUS})
    assert head.headers["upload-offset"] == str(first)

    filler.unlink()
    r = await api.http.patch(loc, content=wav[first:], headers={**headers, "Upload-Offset": str(first)})
    assert r.status_code == 204 and r.headers["audiostore-audio-id"], r.text
    got = await api.http.get(f"/v1/audio/{r.headers['audiostore-audio-id']}/content", headers=api.alice)
    assert got.content == wav
