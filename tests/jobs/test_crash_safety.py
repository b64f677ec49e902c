"""Crash safety: a server killed mid-upload leaves nothing once the jobs ran; uploads a crash
left `pending` are finished or rolled back; temp files of dead uploads go, live ones stay."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import uuid_utils

from conftest import Api
from server_process import ServerProcess

from audiostore.blobstores.spooling import primary_of
from audiostore.catalog import PENDING, AudioRow
from audiostore.jobs import run_job
from audiostore.jobs.temp_files import remove_abandoned_temp_files
from audiostore.service import StagedUpload


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def test_sigkill_during_a_large_upload_leaves_no_row_blob_or_temp_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"AUDIOSTORE_SWEEP_INTERVAL": "0"}
    server = ServerProcess(data, env=env).start()
    key = (data / "admin.key").read_text().strip()
    total = 64 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(
            (f"POST /v1/audio?name=big.wav HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             f"Authorization: Bearer {key}\r\nContent-Type: audio/wav\r\n"
             f"Content-Length: {total}\r\n\r\n").encode()
            + b"RIFF" + (total - 8).to_bytes(4, "little") + b"WAVE"
        )
        chunk = b"\0" * 65536
        deadline = time.monotonic() + 60
        # Stream slowly until the server has part of the body in a temp file, then kill it.
        while time.monotonic() < deadline:
            sock.sendall(chunk)
            if any(p.stat().st_size > 0 for p in files_under(data / "tmp")):
                break
            time.sleep(0.01)
        assert files_under(data / "tmp"), "the upload never reached a temp file"
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
    finally:
        sock.close()
    assert files_under(data / "tmp")  # the crash left its temp file behind

    restarted = ServerProcess(data, env={**env, "AUDIOSTORE_TMP_GRACE": "0"}).start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "audiostore", "sweep", "--json"], env=restarted.env,
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        jobs = {j["job"]: j for j in json.loads(run.stdout)}
        assert jobs["remove_stale_temp_files"]["counts"] == {"removed": 1}
        listing = __import__("httpx").get(
            f"{restarted.url}/v1/audio", headers={"Authorization": f"Bearer {key}"}
        )
        assert listing.status_code == 200 and listing.json()["items"] == []
    finally:
        restarted.stop()
    with sqlite3.connect(data / "catalog.db") as db:
        assert db.execute("select count(*) from audio").fetchone() == (0,)
    assert files_under(data / "blobs") == []
    assert files_under(data / "tmp") == []


def test_temp_files_of_live_uploads_stay(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    live = StagedUpload(tmp, 1024)
    live.write(b"in flight")
    live.finish()  # still held until discard: probing and storing come after writing
    abandoned = tmp / "upload-dead.part"
    abandoned.write_bytes(b"left by a killed process")
    try:
        assert remove_abandoned_temp_files(tmp, grace=3600) == 0  # too young
        assert remove_abandoned_temp_files(tmp, grace=0) == 1
        assert live.path.exists() and not abandoned.exists()
    finally:
        live.discard()
    assert remove_abandoned_temp_files(tmp, grace=0) == 0


def test_scratch_directories_nobody_holds_go_with_their_contents(tmp_path: Path) -> None:
    from audiostore.service.scratch_dir import held_scratch_dir

    tmp = tmp_path / "tmp"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not ours")
    with held_scratch_dir(tmp) as live:
        (live / "out.mp3").write_bytes(b"\xff" * 1000)
        dead = tmp / "tmpabc123"  # made as a rendition's scratch was before it was locked
        (dead / "deeper").mkdir(parents=True)
        (dead / "out.mp3").write_bytes(b"\xff" * 1000)
        (dead / "deeper" / "source.flac").write_bytes(b"fLaC")
        (dead / "elsewhere").symlink_to(outside)
        assert remove_abandoned_temp_files(tmp, grace=3600) == 0  # too young
        assert remove_abandoned_temp_files(tmp, grace=0) == 1
        assert not dead.exists()
        assert (live / "out.mp3").exists()  # held by a rendition still running
    assert not live.exists()
    assert (outside / "keep.txt").read_text() == "not ours"  # a link is removed, not followed


def pending_row(api: Api, key: str, data: bytes) -> AudioRow:
    now = api.clock()
    audio_id = key.rsplit("/", 1)[1].split(".")[0]
    return AudioRow(
        id=audio_id, owner="alice", collection="default", name="crash.wav", key=key,
        state=PENDING, content_type="audio/wav", format="wav", codec="pcm_s16le", duration=2.0,
        sample_rate=44100, channels=2, bitrate=None, size=len(data),
        sha256=hashlib.sha256(data).hexdigest(), meta={}, text=None, voice_id=None,
        created_at=now, expires_at=None, updated_at=now,
    )


async def test_stale_pending_uploads_are_finished_or_rolled_back(
    api: Api, wav_bytes: bytes, tmp_path: Path
) -> None:
    """Three crashes between intent row and `ready`: the blob made it whole (finish), made it
    torn (roll back), never made it (roll back)."""
    store = primary_of(api.runtime.store)
    src = tmp_path / "src.wav"
    src.write_bytes(wav_bytes)
    torn = tmp_path / "torn.wav"
    torn.write_bytes(wav_bytes[: len(wav_bytes) // 2])
    keys = [f"alice/default/2026-01-01/{uuid_utils.uuid7()}.wav" for _ in range(3)]
    whole, half, missing = (pending_row(api, k, wav_bytes) for k in keys)
    for row in (whole, half, missing):
        await api.runtime.catalog.insert_audio(row)
    await store.put_file(whole.key, src, content_type="audio/wav")
    await store.put_file(half.key, torn, content_type="audio/wav")

    # Not yet stale: an upload may still be in flight.
    assert (await run_job(api.runtime, "resolve_stale_pending")).counts["finished"] == 0
    assert (await api.http.get(f"/v1/audio/{whole.id}", headers=api.alice)).status_code == 404

    api.clock.advance(api.runtime.settings.pending_grace + 1)
    result = await run_job(api.runtime, "resolve_stale_pending")
    assert result.counts == {"finished": 1, "rolled_back": 2, "unreachable": 0}
    got = await api.http.get(f"/v1/audio/{whole.id}/content", headers=api.alice, follow_redirects=True)
    if got.status_code == 307:  # direct S3 mode
        got = __import__("httpx").get(got.headers["location"])
    assert got.status_code == 200 and got.content == wav_bytes
    for gone in (half, missing):
        assert (await api.http.get(f"/v1/audio/{gone.id}", headers=api.alice)).status_code == 404
    assert await api.row_count() == 1
    assert await api.blob_keys() == [whole.key]
    again = await run_job(api.runtime, "resolve_stale_pending")
    assert again.counts == {"finished": 0, "rolled_back": 0, "unreachable": 0}


async def test_stale_deleting_rows_are_purged(api: Api, tones: dict[str, Path]) -> None:
    """A process that died between marking `deleting` and deleting the blob: the retry job
    picks the row up once it is stale."""
    obj = (await api.upload(tones["wav"])).json()
    await api.runtime.catalog.mark_deleting_ids([obj["id"]], now=api.clock())
    assert (await api.http.get(f"/v1/audio/{obj['id']}", headers=api.alice)).status_code == 404
    assert (await run_job(api.runtime, "retry_deletes")).counts["retried"] == 0  # maybe in flight
    api.clock.advance(timedelta(minutes=10).total_seconds())
    assert (await run_job(api.runtime, "retry_deletes")).counts == {
        "retried": 1, "deleted": 1, "still_failing": 0
    }
    assert await api.row_count() == 0 and await api.blob_keys() == []
