"""The maintenance commands (`sweep`, `cleanup`, `reconcile`, `worker`) and the timer inside
`audiostore serve`, as real processes on the embedded default."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from server_process import ServerProcess
from worker_process import WorkerProcess

from audiostore.jobs import JOBS, next_daily_run


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audiostore", *args], env=env,
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def upload(url: str, key: str, path: Path, **fields: str) -> dict[str, object]:
    with path.open("rb") as f:
        r = httpx.post(f"{url}/v1/audio", headers={"Authorization": f"Bearer {key}"},
                       files={"file": (path.name, f)}, data=fields, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_daily_time_is_the_next_one_in_utc() -> None:
    morning = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert next_daily_run(morning, "12:00") == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert next_daily_run(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), "12:00") == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert next_daily_run(datetime(2026, 12, 31, 23, 0, tzinfo=UTC), "00:15") == datetime(2027, 1, 1, 0, 15, tzinfo=UTC)


def test_serve_sweeps_expired_audio_on_its_timer(tmp_path: Path, tones: dict[str, Path]) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data, env={"AUDIOSTORE_SWEEP_INTERVAL": "0.3"}).start()
    try:
        key = (data / "admin.key").read_text().strip()
        short = upload(server.url, key, tones["wav"], ttl_seconds="1")
        kept = upload(server.url, key, tones["mp3"])
        blob_dir = data / "blobs"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (blob_dir / str(short["key"])).exists():
            time.sleep(0.2)
        assert not (blob_dir / str(short["key"])).exists()
        assert (blob_dir / str(kept["key"])).exists()
        metrics = httpx.get(f"{server.url}/metrics").text
        assert "audiostore_expired_swept_total 1.0" in metrics
    finally:
        log = server.stop()
    assert "single-instance" in log  # SQLite mode says so


def test_sweep_cleanup_and_reconcile_commands(tmp_path: Path, tones: dict[str, Path]) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "AUDIOSTORE_DATA_DIR": str(data), "AUDIOSTORE_SWEEP_INTERVAL": "0"}
    server = ServerProcess(data, env={"AUDIOSTORE_SWEEP_INTERVAL": "0"}).start()
    try:
        key = (data / "admin.key").read_text().strip()
        a = upload(server.url, key, tones["wav"], collection="scratch")
        b = upload(server.url, key, tones["wav"], collection="keep")
    finally:
        server.stop()

    sweep = cli(env, "sweep", "--json", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    jobs = [j["job"] for j in json.loads(sweep.stdout)]
    assert jobs == ["resolve_stale_pending", "drain_spool", "retry_deletes", "sweep_expired",
                    "remove_stale_temp_files", "analyse_due", "remove_expired_uploads"]
    human = cli(env, "sweep", cwd=tmp_path)
    assert human.returncode == 0 and "sweep_expired" in human.stdout

    bad = cli(env, "cleanup", "--older-than", "someday", cwd=tmp_path)
    assert bad.returncode == 2 and "someday" in bad.stderr
    young = cli(env, "cleanup", "--older-than", "1h", "--json", cwd=tmp_path)
    assert json.loads(young.stdout) == {"matched": 0, "deleted": 0, "left_for_retry": 0}
    everything = cli(env, "cleanup", "--older-than", "0.001", "--collection", "scratch", "--json", cwd=tmp_path)
    assert json.loads(everything.stdout)["deleted"] == 1
    assert not (data / "blobs" / str(a["key"])).exists()
    assert (data / "blobs" / str(b["key"])).exists()

    stray = data / "blobs" / "admin" / "keep" / "2020-01-01" / "01890a5d-ac96-774b-bcce-b302099a8057.wav"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"stray")
    os.utime(stray, (0, 0))  # written long ago
    fresh = data / "blobs" / "admin" / "keep" / "2020-01-01" / "01890a5d-ac96-774b-bcce-b302099a8058.wav"
    fresh.write_bytes(b"an upload on its way")  # no object owns it yet, but it is new
    stray_key = str(stray.relative_to(data / "blobs"))

    # The default is a dry run: it lists what --fix would delete, whole, and changes nothing;
    # exit 3 says it found something.
    dry = cli(env, "reconcile", cwd=tmp_path)
    assert dry.returncode == 3, dry.stderr
    assert f"  primary\t{stray_key}\n" in dry.stdout and "would delete" in dry.stdout
    assert "left alone, younger than the 1h grace: 1 blobs no object owns yet, 1 objects" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    assert stray.exists() and fresh.exists()
    as_json = cli(env, "reconcile", "--dry-run", "--json", cwd=tmp_path)
    assert as_json.returncode == 3
    facts = json.loads(as_json.stdout)
    assert facts["orphan_blob_keys"] == [{"store": "primary", "key": stray_key}]
    assert facts["objects_missing_blob"] == [] and facts["fixed"] is False
    assert (facts["orphan_blobs"], facts["young_blobs"], facts["young_rows"], facts["grace_seconds"]) == (1, 1, 1, 3600)
    assert stray.exists()

    fixed = cli(env, "reconcile", "--fix", "--grace", "1m", cwd=tmp_path)
    assert fixed.returncode == 3 and "orphan blobs: 1 (deleted 1)" in fixed.stdout
    assert f"  primary\t{stray_key}\n" in fixed.stdout and "dry run" not in fixed.stdout
    assert not stray.exists() and fresh.exists() and (data / "blobs" / str(b["key"])).exists()
    clean = cli(env, "reconcile", "--fix", cwd=tmp_path)
    assert clean.returncode == 0 and "orphan blobs: 0 (deleted 0)" in clean.stdout
    assert fresh.exists()  # still within its grace


@pytest.mark.parametrize("when", ["as_soon_as_started", "after_a_run"])
def test_worker_stopped_by_sigterm_exits_0(when: str, tmp_path: Path) -> None:
    """However soon the SIGTERM comes (here straight after the worker's first line, while it
    still imports and opens its catalogue; or between runs), the worker finishes or skips its
    batch and exits 0. Nothing here waits for a time: only for the worker's own lines."""
    data = tmp_path / "data"
    env = {**os.environ, "AUDIOSTORE_DATA_DIR": str(data), "AUDIOSTORE_SWEEP_INTERVAL": "0.2"}
    assert cli(env, "db", "upgrade", "--create", cwd=tmp_path).returncode == 0
    worker = WorkerProcess(env, tmp_path).start()
    try:
        worker.wait_started()
        if when == "after_a_run":
            worker.wait_for("stdout", '"job": "remove_expired_uploads"')  # the last job of a run
    finally:
        status = worker.stop()
    assert status == 0, worker.stderr[-2000:]
    runs = [json.loads(line) for line in worker.stdout.splitlines() if line.strip()]
    assert len(runs) % len(JOBS) == 0 and all(r["error"] is None for r in runs)  # whole runs only
    if when == "after_a_run":
        assert {r["job"] for r in runs} >= {"sweep_expired", "drain_spool"}
        assert "single-instance" in worker.stderr
