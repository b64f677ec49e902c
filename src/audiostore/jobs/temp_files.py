"""Remove temp files and scratch directories a dead process left in `{data_dir}/tmp`.

A live upload holds an exclusive `flock` on its temp file until it is done
(`service/staging.py`), and a live rendition on its scratch directory
(`service/scratch_dir.py`); the lock dies with its process. So a file or directory nobody
holds, older than `AUDIOSTORE_TMP_GRACE`, belongs to no one and goes (a directory with all
it holds: a killed rendition leaves its whole half-written output there).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from pathlib import Path

from ..runtime import Runtime
from .job_metrics import TEMP_FILES_REMOVED


def _held_by_someone(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True  # gone already: nothing to do
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our probe lock too
    return False


def remove_abandoned_temp_files(tmp_dir: Path, *, grace: float) -> int:
    if not tmp_dir.is_dir():
        return 0
    cutoff = time.time() - grace
    removed = 0
    for entry in os.scandir(tmp_dir):
        is_dir = entry.is_dir(follow_symlinks=False)
        if not (is_dir or entry.is_file(follow_symlinks=False)):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        path = Path(entry.path)
        if _held_by_someone(path):
            continue
        if is_dir:
            shutil.rmtree(path, ignore_errors=True)
            removed += not path.exists()
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


async def remove_stale_temp_files(rt: Runtime) -> dict[str, int]:
    import anyio

    removed = await anyio.to_thread.run_sync(
        lambda: remove_abandoned_temp_files(rt.audio.tmp_dir, grace=rt.settings.tmp_grace)
    )
    TEMP_FILES_REMOVED.inc(removed)
    return {"removed": removed}
