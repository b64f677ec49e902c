"""The local store's file for a key: never outside its root, and found without a system call
(every read of a blob asks for it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audiostore.blobstores import BlobNotFound, LocalBlobStore, LocalPathStore
from audiostore.blobstores.base import has_local_paths


def test_a_key_maps_to_its_file_under_the_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    root = (tmp_path / "blobs").resolve()
    assert store.local_path("alice/default/2026-01-01/x.wav") == root / "alice/default/2026-01-01/x.wav"
    assert store.local_path("alice/./default//x.wav") == root / "alice/default/x.wav"
    assert store.local_path("alice/sub/../x.wav") == root / "alice/x.wav"  # stays inside


@pytest.mark.parametrize("key", ["../x.wav", "alice/../../x.wav", "/etc/passwd", "..", "a/../../blobs2/x"])
def test_a_key_that_leaves_the_root_is_not_found(tmp_path: Path, key: str) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(BlobNotFound):
        store.local_path(key)


def test_the_path_is_worked_out_without_touching_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Path.resolve()` made an `lstat` per component: eight system calls a read."""
    store = LocalBlobStore(tmp_path / "blobs")
    calls: list[object] = []
    real_lstat, real_stat = os.lstat, os.stat

    def counted_lstat(*args: object, **kwargs: object) -> os.stat_result:
        calls.append(args)
        return real_lstat(*args, **kwargs)  # type: ignore[arg-type]  # reason: passes through

    def counted_stat(*args: object, **kwargs: object) -> os.stat_result:
        calls.append(args)
        return real_stat(*args, **kwargs)  # type: ignore[arg-type]  # reason: passes through

    monkeypatch.setattr(os, "lstat", counted_lstat)
    monkeypatch.setattr(os, "stat", counted_stat)
    store.local_path("alice/default/2026-01-01/x.wav")
    assert calls == []


def test_the_local_path_capability_is_answered_per_store_type(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    assert has_local_paths(store) is isinstance(store, LocalPathStore) is True
    assert has_local_paths(object()) is False
