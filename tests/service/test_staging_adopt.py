"""A complete local file adopted as a staged upload: a hard link (no second copy), its sha256
given or hashed once, its size bounded, and the link gone on discard while the file stays."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from audiostore.errors import PayloadTooLarge
from audiostore.service.staging import StagedUpload


def test_adopting_links_the_file_and_hashes_it_once(tmp_path: Path) -> None:
    source = tmp_path / "upload.part"
    data = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(data)
    staged = StagedUpload.adopt(tmp_path / "tmp", source, limit=len(data))
    try:
        assert staged.path.stat().st_ino == source.stat().st_ino  # the same file, not a copy
        assert staged.size == len(data) and staged.head == data[:len(staged.head)]
        assert staged.sha256 == hashlib.sha256(data).hexdigest()
        staged.finish()
        with pytest.raises(RuntimeError):
            staged.write(b"more")
    finally:
        staged.discard()
    assert not staged.path.exists() and source.read_bytes() == data


def test_a_known_sha256_is_taken_and_a_too_large_file_refused(tmp_path: Path) -> None:
    source = tmp_path / "upload.part"
    source.write_bytes(b"x" * 1000)
    staged = StagedUpload.adopt(tmp_path / "tmp", source, limit=1000, sha256="ab" * 32)
    assert staged.sha256 == "ab" * 32
    staged.discard()
    with pytest.raises(PayloadTooLarge):
        StagedUpload.adopt(tmp_path / "tmp", source, limit=999)
    assert list((tmp_path / "tmp").iterdir()) == []
