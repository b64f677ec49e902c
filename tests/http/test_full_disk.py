"""A full disk (or quota) is 507 `insufficient_storage` with nothing stored, and reads go on.

Two ways to fill a disk: a real one (a 16 MiB tmpfs holding the whole data dir, where the
machine lets the test mount one; root on Linux), and faults injected at each write (a staging
`write()` that takes fewer bytes than asked, as POSIX allows, or raises ENOSPC; a blob or
spool copy that fails half-way; a catalogue whose SQLite file may not grow: `PRAGMA
max_page_count`, SQLite's own SQLITE_FULL). Each checks the code, that no row, blob, partial
or staging file was left, and that audio stored before still answers 200 with its bytes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from audio_factory import make_tone, write_wav
from conftest import Api, backend_settings_local, make_api
from server_process import free_port

from audiostore import metrics
from audiostore.blobstores import local as local_store
from audiostore.catalog import Catalog
from audiostore.errors import InsufficientStorage
from audiostore.service import staging
from audiostore.service.early_put import EARLY_PUT_MIN_BYTES
from audiostore.settings import Settings

DISK_BYTES = 16 * 1024 * 1024


# --- the disk -----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 16 MiB filesystem (tmpfs), or a skip saying why the machine will not mount one;
    the fault-injected tests below run everywhere."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip(reason="no `mount` here: the full disk is covered by the fault-injected tests")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True, text=True, timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(reason=f"cannot mount a tmpfs ({done.stderr.strip() or 'not root'}): the full "
                    "disk is covered by the fault-injected tests")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


def fill(disk: Path, *, leave: int) -> Path:
    """Take all but `leave` bytes of the disk with one file (delete it to free them)."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    size = stat.f_bavail * stat.f_frsize - leave
    with filler.open("wb", buffering=0) as f:
        chunk = b"\0" * (1 << 20)
        while size > 0:
            size -= f.write(chunk[: min(size, len(chunk))])
    return filler


def free_bytes(disk: Path) -> int:
    stat = os.statvfs(disk)
    return stat.f_bavail * stat.f_frsize


@pytest.fixture
async def api_on() -> AsyncIterator[Callable[..., Any]]:
    """Make an in-process app over a given settings object; closed after the test."""
    made: list[tuple[Api, Any]] = []

    async def make(settings: Settings) -> Api:
        pair = await make_api(settings)
        made.append(pair)
        return pair[0]

    yield make
    for api, runtime in made:
        await api.http.aclose()
        await runtime.close()


# --- what every case checks ----------------------------------------------------------------
def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored_files(api: Api) -> list[Path]:
    """Every file of the local blob store and the spool (blobs and any partial copy)."""
    data = api.runtime.settings.data_dir
    return files_under(data / "blobs") + files_under(data / "spool")


class Before:
    """What the service held before a failing request: rows, blob files and one object."""

    def __init__(self, api: Api, audio_id: str, content: bytes, *, store_answers: bool = True) -> None:
        self.api, self.audio_id, self.content = api, audio_id, content
        self.store_answers = store_answers  # False: the bucket is down, list the files only

    async def keys(self) -> list[str] | None:
        return sorted(await self.api.blob_keys()) if self.store_answers else None

    async def snapshot(self) -> Before:
        await self.api.settled()  # the analysis after a 201 holds its staging file until done
        self.rows, self.files = await self.api.row_count(), stored_files(self.api)
        self.blob_keys = await self.keys()
        return self

    @classmethod
    async def take(cls, api: Api, stored: Path) -> Before:
        r = await api.upload(stored)
        assert r.status_code == 201, r.text
        return await cls(api, r.json()["id"], stored.read_bytes()).snapshot()

    async def assert_nothing_stored(self, r: httpx.Response) -> None:
        assert r.status_code == 507, r.text
        assert r.json()["error"]["code"] == "insufficient_storage"
        assert "full" in r.json()["error"]["message"]
        await self.api.settled()
        assert await self.api.row_count() == self.rows  # no ready row, no pending row
        assert stored_files(self.api) == self.files  # no blob, no partial copy
        assert await self.keys() == self.blob_keys  # in the store (S3 too)
        assert files_under(self.api.runtime.settings.data_dir / "tmp") == []  # no staging file
        await self.assert_reads_work()

    async def assert_reads_work(self) -> None:
        api = self.api
        got = await api.http.get(f"/v1/audio/{self.audio_id}/content", headers=api.alice)
        assert got.status_code == 200 and got.content == self.content
        assert (await api.http.get(f"/v1/audio/{self.audio_id}", headers=api.alice)).status_code == 200
        listed = await api.http.get("/v1/audio", headers=api.alice)
        assert listed.status_code == 200 and self.audio_id in [o["id"] for o in listed.json()["items"]]


def post_multipart(api: Api, path: Path) -> Callable[[], Any]:
    return lambda: api.upload(path)


def post_raw(api: Api, path: Path) -> Callable[[], Any]:
    return lambda: api.http.post(
        "/v1/audio", headers={**api.alice, "Content-Type": "audio/wav"}, content=path.read_bytes()
    )


BODIES = {"multipart": post_multipart, "raw": post_raw}


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("full-disk-audio")
    return {
        "stored": make_tone(d / "stored.wav", "wav", seconds=0.5),  # ~44 KB
        "one_batch": write_wav(d / "one-batch.wav", 900_000),  # under staging's 1 MiB batch
        # ~170 KB: Ogg is what the issue saw stored truncated with a 201 (no length to check).
        "one_batch_ogg": make_tone(d / "one-batch.ogg", "ogg", seconds=50, channels=2),
        "big": write_wav(d / "big.wav", 6 * 1024 * 1024),  # many batches
        "huge": write_wav(d / "huge.wav", EARLY_PUT_MIN_BYTES + (1 << 20)),  # S3: an early put
    }


# --- a real full disk ----------------------------------------------------------------------
@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("sound", ["one_batch", "one_batch_ogg"], ids=["wav", "ogg"])
async def test_real_full_disk_is_507_and_stores_nothing(
    small_disk: Path, api_on: Callable[..., Any], sounds: dict[str, Path], body: str, sound: str
) -> None:
    api = await api_on(Settings(data_dir=small_disk / "data", public_url="http://testserver",
                                auth_cache_seconds=0))
    before = await Before.take(api, sounds["stored"])
    room = 64 * 1024
    filler = fill(small_disk, leave=room)
    assert room < sounds[sound].stat().st_size < 1 << 20

    # One staging write() of the whole file onto 64 KiB: the write takes what fits and says
    # so. Before, that short count was ignored: a 201 whose blob was cut off (the Ogg), or a
    # 422 "truncated" (the WAV) that blamed the client.
    await before.assert_nothing_stored(await BODIES[body](api, sounds[sound])())
    # Many batches: the disk fills on one of them (before: 400 "multipart malformed").
    await before.assert_nothing_stored(await BODIES[body](api, sounds["big"])())
    assert free_bytes(small_disk) >= room  # the failed uploads gave their space back

    filler.unlink()  # room again: the same upload is stored, whole
    r = await BODIES[body](api, sounds[sound])()
    assert r.status_code == 201, r.text
    stored = await api.http.get(f"/v1/audio/{r.json()['id']}/content", headers=api.alice)
    assert stored.content == sounds[sound].read_bytes()
    assert r.json()["sha256"] == hashlib.sha256(stored.content).hexdigest()


@pytest.mark.parametrize("route", ["rendition", "waveform", "tts", "speech"])
async def test_real_full_disk_on_scratch_output_is_507(
    small_disk: Path, api_on: Callable[..., Any], sounds: dict[str, Path], route: str
) -> None:
    """Scratch output (a transcode, a waveform file, encoded speech) on a full disk is the
    server's condition: 507 (before: a 500), nothing recorded, and the original still reads."""
    api = await api_on(Settings(data_dir=small_disk / "data", public_url="http://testserver",
                                auth_cache_seconds=0))
    before = await Before.take(api, sounds["stored"])
    fill(small_disk, leave=0)
    if route == "tts":
        r = await api.http.post("/v1/tts", headers=api.alice,
                                json={"text": "A full disk.", "voice": "en-us", "format": "wav"})
    elif route == "speech":
        r = await api.http.post("/v1/audio/speech", headers=api.alice, json={
            "model": "tts-1", "voice": "alloy", "input": "A full disk.", "response_format": "wav"})
        await api.runtime.speech.settled()
    else:
        query = "format=wav" if route == "rendition" else "format=dat&samples_per_pixel=2"
        path = "content" if route == "rendition" else "waveform"
        r = await api.http.get(f"/v1/audio/{before.audio_id}/{path}?{query}", headers=api.alice)
    await before.assert_nothing_stored(r)
    described = await api.http.get(f"/v1/audio/{before.audio_id}", headers=api.alice)
    assert described.json()["renditions"] == []


# --- faults injected at each write ---------------------------------------------------------
class ShortWrites:
    """A staging file whose `write()` takes at most `per_call` bytes (legal POSIX: callers must
    write the rest), and raises ENOSPC once `room` bytes have gone in (None: never)."""

    def __init__(self, raw: Any, per_call: int, room: int | None) -> None:
        self.raw, self.per_call, self.room = raw, per_call, room
        self.calls = 0

    def write(self, data: Any) -> int:
        self.calls += 1
        n = min(len(data), self.per_call)
        if self.room is not None:
            if self.room == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            n = min(n, self.room)
            self.room -= n
        return int(self.raw.write(data[:n]))

    def close(self) -> None:
        self.raw.close()


def staging_writes(monkeypatch: pytest.MonkeyPatch, *, per_call: int, room: int | None) -> list[ShortWrites]:
    """Every staging file made from now on writes through a `ShortWrites`."""
    made: list[ShortWrites] = []
    real_init = staging.StagedUpload.__init__

    def init(self: staging.StagedUpload, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        self._file = ShortWrites(self._file, per_call, room)  # type: ignore[assignment]
        made.append(self._file)  # type: ignore[arg-type]

    monkeypatch.setattr(staging.StagedUpload, "__init__", init)
    return made


@pytest.fixture
async def local_api(api_on: Callable[..., Any], tmp_path: Path) -> Api:
    return await api_on(backend_settings_local(tmp_path, auth_cache_seconds=0))  # type: ignore[no-any-return]


@pytest.mark.parametrize("body", list(BODIES))
async def test_short_staging_writes_store_every_byte(
    local_api: Api, sounds: dict[str, Path], monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    """Writes that each take 64 KiB of a 1 MiB batch: the upload is stored whole. (Before, the
    rest of each batch was dropped and the row's size and sha256 described bytes the blob did
    not hold.)"""
    api = local_api
    writes = staging_writes(monkeypatch, per_call=64 * 1024, room=None)
    r = await BODIES[body](api, sounds["big"])()
    assert r.status_code == 201, r.text
    assert writes and writes[0].calls > len(sounds["big"].read_bytes()) // (1 << 20)
    got = await api.http.get(f"/v1/audio/{r.json()['id']}/content", headers=api.alice)
    assert got.content == sounds["big"].read_bytes()
    assert r.json()["size"] == len(got.content)
    assert r.json()["sha256"] == hashlib.sha256(got.content).hexdigest()


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("room", [0, 300_000, 3 * 1024 * 1024], ids=["no-room", "part-of-one-batch", "after-batches"])
async def test_full_staging_disk_is_507(
    api: Api, sounds: dict[str, Path], monkeypatch: pytest.MonkeyPatch, body: str, room: int
) -> None:
    """On S3 the upload is already going to the bucket (an early put, with its intent row):
    both are taken back too."""
    before = await Before.take(api, sounds["stored"])
    aborted = early_puts_aborted()
    staging_writes(monkeypatch, per_call=1 << 20, room=room)
    await before.assert_nothing_stored(await BODIES[body](api, sounds["huge"])())
    if api.runtime.settings.store == "s3":
        assert early_puts_aborted() == aborted + 1


def early_puts_aborted() -> float:
    return metrics.REGISTRY.get_sample_value("audiostore_early_puts_total", {"outcome": "aborted"}) or 0.0


def copies_that_fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The local store's (and spool's) copy writes half of the blob, then meets ENOSPC."""
    targets: list[Path] = []

    def copy(source: Path, target: Path) -> None:
        targets.append(target)
        data = source.read_bytes()
        target.write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(local_store, "_copy_file", copy)
    return targets


async def test_full_blob_disk_is_507(
    local_api: Api, sounds: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await Before.take(local_api, sounds["stored"])
    targets = copies_that_fill_the_disk(monkeypatch)
    r = await local_api.upload(sounds["one_batch"], collection="elsewhere")
    await before.assert_nothing_stored(r)
    assert targets and not targets[0].exists()  # the half-written `.partial` went too
    blobs = local_api.runtime.settings.data_dir / "blobs"
    assert not (blobs / "alice" / "elsewhere").exists()  # and the directories the put made


async def test_full_spool_disk_is_507(
    api_on: Callable[..., Any], tmp_path: Path, sounds: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bucket cannot be reached (nothing listens on its port), so uploads go to the local
    spool; a spool whose disk is full is 507, not the bucket's 503."""
    api = await api_on(Settings(
        data_dir=tmp_path / "data", public_url="http://testserver", auth_cache_seconds=0,
        store="s3", s3_bucket="audio", s3_endpoint=f"http://127.0.0.1:{free_port()}",
        s3_region="us-east-1", s3_access_key_id="k", s3_secret_access_key="s", s3_allow_http=True,
        fallback="spool", signed_urls="proxy",
    ))
    r = await api.upload(sounds["stored"])
    assert r.status_code == 201 and r.json()["location"] == "spool", r.text
    before = await Before(api, r.json()["id"], sounds["stored"].read_bytes(), store_answers=False).snapshot()
    targets = copies_that_fill_the_disk(monkeypatch)
    await before.assert_nothing_stored(await api.upload(sounds["one_batch"]))
    assert targets and all("spool" in t.parts for t in targets) and not targets[0].exists()


def catalogue_may_not_grow(catalog: Catalog) -> None:
    """Every new connection of the catalogue may not grow its SQLite file past its size now:
    an insert that needs a page more gets SQLite's own SQLITE_FULL ("database or disk is
    full"), as on a full disk."""

    @event.listens_for(catalog.engine.sync_engine, "connect")
    def _no_growth(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA page_count")
        pages = cur.fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages}")
        cur.close()


async def test_full_catalogue_is_507(
    local_api: Api, sounds: dict[str, Path]
) -> None:
    api = local_api
    before = await Before.take(api, sounds["stored"])
    async with api.runtime.catalog.engine.connect() as conn:  # the file has no free pages
        assert (await conn.execute(text("PRAGMA freelist_count"))).scalar_one() == 0
    catalogue_may_not_grow(api.runtime.catalog)
    await api.runtime.catalog.engine.dispose()  # new connections: the limit applies to all
    # A row larger than the free room of any page (its text needs overflow pages).
    r = await api.http.post(
        "/v1/audio", headers=api.alice, data={"text": "words " * 10_000},
        files={"file": ("one.wav", sounds["one_batch"].read_bytes(), "audio/wav")},
    )
    await before.assert_nothing_stored(r)


async def test_catalogue_full_after_the_blob_was_put_takes_the_blob_back(
    api: Api, sounds: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intent row went in and the blob was put, then the catalogue's disk filled before the
    row could say `ready`: the blob and the row are taken back, and the client hears 507."""
    before = await Before.take(api, sounds["stored"])
    catalog = api.runtime.catalog

    async def full(audio_id: str, state: str, *, now: Any) -> None:
        raise InsufficientStorage("The server's disk is full (catalogue); nothing was stored.")

    monkeypatch.setattr(catalog, "set_state", full)
    await before.assert_nothing_stored(await api.upload(sounds["one_batch"]))


async def test_full_catalogue_after_a_rendition_was_put_takes_it_back(
    local_api: Api, sounds: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rendition rendered and put, then its row meets a full catalogue: 507, and its blob is
    taken back (no blob without a row)."""
    api = local_api
    before = await Before.take(api, sounds["stored"])
    rows = api.runtime.renditions.rows

    async def full(derived: Any) -> None:
        raise InsufficientStorage("The server's disk is full (catalogue); nothing was stored.")

    monkeypatch.setattr(rows, "put", full)
    r = await api.http.get(f"/v1/audio/{before.audio_id}/content?format=mp3", headers=api.alice)
    await before.assert_nothing_stored(r)
