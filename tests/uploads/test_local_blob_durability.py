"""A 201 on local disk survives a power loss: before the row turns ready, the blob's bytes
were `fdatasync`ed (its own inode) and each directory from the blob's up to the store's root
was `fsync`ed (the rename, and the directories made for it).

A power cut cannot be made here. What is checked is what makes one harmless: the real
`os.fdatasync`/`os.fsync` (still called) are recorded by the inode they synced, in order with
the catalogue's ready mark, around real uploads through the real app.
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from audiostore.blobstores import LocalBlobStore
from audiostore.catalog import READY
from audiostore.service import staging
from conftest import Api, backend_settings_local, make_api

Inode = tuple[int, int]


class SyncLog:
    """The syncs and ready marks, in the order they happened."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Inode | str]] = []

    def wrap(self, name: str, real: Callable[[int], None]) -> Callable[[int], None]:
        def recorded(fd: int) -> None:
            real(fd)
            st = os.fstat(fd)
            self.events.append((name, (st.st_dev, st.st_ino)))

        return recorded

    def index(self, event: tuple[str, Inode | str]) -> int:
        assert event in self.events, f"{event} never happened: {self.events}"
        return self.events.index(event)


def inode(path: Path) -> Inode:
    st = path.stat()
    return st.st_dev, st.st_ino


@pytest.fixture
async def recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Api, SyncLog]]:
    api, runtime = await make_api(backend_settings_local(tmp_path, auth_cache_seconds=0))
    log = SyncLog()
    monkeypatch.setattr(os, "fdatasync", log.wrap("fdatasync", os.fdatasync))
    monkeypatch.setattr(os, "fsync", log.wrap("fsync", os.fsync))
    catalog = runtime.catalog
    real_set_state = catalog.set_state

    async def set_state(audio_id: str, state: str, *, now: datetime) -> None:
        await real_set_state(audio_id, state, now=now)
        if state == READY:
            log.events.append(("ready", audio_id))

    monkeypatch.setattr(catalog, "set_state", set_state)
    try:
        yield api, log
    finally:
        await api.http.aclose()
        await runtime.close()


def check_synced_before_ready(api: Api, log: SyncLog, obj: dict[str, Any]) -> None:
    store = api.runtime.store
    assert isinstance(store, LocalBlobStore)
    blob = store.local_path(obj["key"])
    ready = log.index(("ready", obj["id"]))
    assert log.index(("fdatasync", inode(blob))) < ready
    directory = blob.parent
    while True:  # each one this upload made a name in, the root's included
        assert log.index(("fsync", inode(directory))) < ready, directory
        if directory == store.root:
            break
        directory = directory.parent


async def test_a_post_is_synced_before_its_row_is_ready(
    recorded: tuple[Api, SyncLog], tones: dict[str, Path]
) -> None:
    api, log = recorded
    r = await api.upload(tones["wav"], collection="durable")
    assert r.status_code == 201, r.text
    check_synced_before_ready(api, log, r.json())


async def test_a_signed_put_is_synced_before_its_row_is_ready(
    recorded: tuple[Api, SyncLog], wav_bytes: bytes
) -> None:
    api, log = recorded
    r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json={"name": "s.wav"})
    assert r.status_code == 200, r.text
    parts = urlsplit(r.json()["url"])
    r = await api.http.put(f"{parts.path}?{parts.query}", content=wav_bytes)
    assert r.status_code == 201, r.text
    check_synced_before_ready(api, log, r.json())


async def test_a_copy_across_disks_is_synced_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hard link (another filesystem): the copy is a new inode, and that one is synced."""
    def no_link(*args: object, **kwargs: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "upload.part"
    source.write_bytes(b"x" * 100_000)
    log = SyncLog()
    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(os, "fdatasync", log.wrap("fdatasync", os.fdatasync))
    monkeypatch.setattr(os, "fsync", log.wrap("fsync", os.fsync))
    await store.put_file("a/b/x.bin", source, content_type="application/octet-stream")
    blob = store.local_path("a/b/x.bin")
    assert inode(blob) != inode(source) and blob.read_bytes() == source.read_bytes()
    synced = log.index(("fdatasync", inode(blob)))
    for directory in (blob.parent, blob.parent.parent, store.root):
        assert log.index(("fsync", inode(directory))) > synced


async def test_a_post_to_local_disk_starts_writeback_as_it_arrives(
    recorded: tuple[Api, SyncLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch of the staging file starts its writeback, so the sync at the put waits only
    for the tail (the whole file covered, batch after batch)."""
    api, _ = recorded
    ranges: list[tuple[int, int]] = []
    real = staging.start_writeback

    def started(fd: int, offset: int, n: int) -> None:
        ranges.append((offset, n))
        real(fd, offset, n)

    monkeypatch.setattr(staging, "start_writeback", started)
    pcm = io.BytesIO()
    with wave.open(pcm, "wb") as w:  # 3 MiB of 16-bit mono silence: a few staging batches
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48_000)
        w.writeframes(bytes(3 * 1024 * 1024))
    body = pcm.getvalue()

    async def streamed() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    r = await api.http.post("/v1/audio/upload-url", headers=api.alice, json={"name": "x.wav"})
    parts = urlsplit(r.json()["url"])
    r = await api.http.put(f"{parts.path}?{parts.query}", content=streamed())
    assert r.status_code == 201, r.text
    assert len(ranges) >= 3
    assert [o for o, _ in ranges] == [sum(n for _, n in ranges[:i]) for i in range(len(ranges))]
    assert sum(n for _, n in ranges) == len(body)
