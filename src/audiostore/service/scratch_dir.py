"""Scratch directories for derived work (renditions, waveforms, analysis from the store).

Each lives under `{data_dir}/tmp` and holds an exclusive `flock` on itself while in use, as
an upload's temp file does (`staging.py`): the lock dies with its process, so the temp-file
job (`jobs/temp_files.py`) removes a directory nobody holds once it is older than
`AUDIOSTORE_TMP_GRACE`, and never one a long rendition is still writing in.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held_scratch_dir(tmp_dir: Path) -> Iterator[Path]:
    """A new directory under `tmp_dir`, locked while the block runs, removed with its
    contents on exit."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scratch-", dir=tmp_dir) as name:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield Path(name)
        finally:
            os.close(fd)  # closing drops the lock
