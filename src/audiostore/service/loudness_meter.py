"""EBU R128 loudness of a stored object, measured from a local file and written to its row.

Each measurement runs under the processing limits (`processing_limits.analysis_budget`): one
that passes them, or audio that does not decode, is given up for good (`analysis_error`, the
object says `analysis: failed`). Measurements run one at a time, in one thread at a lower
priority: with the CPU contended, serving and uploads go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..audio.loudness import measure_loudness
from ..audio.work_budget import WorkBudget
from ..catalog import AudioRow, Catalog
from ..errors import ProcessingLimit, ShuttingDown, UndecodableAudio
from ..settings import Settings
from .original_copy import OriginalCopies
from .processing_limits import analysis_budget

log = logging.getLogger(__name__)

# The analysis thread runs at this nice value: with the CPU contended, serving and uploads
# go first and the measurements wait.
_ANALYSIS_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _ANALYSIS_NICENESS)


class LoudnessMeter:
    def __init__(self, *, settings: Settings, catalog: Catalog, originals: OriginalCopies) -> None:
        self.settings = settings
        self.catalog = catalog
        self.originals = originals
        self._measuring: set[WorkBudget] = set()
        self._stopping = False
        self.one_at_a_time = asyncio.Semaphore(1)  # CPU-bound: leave cores to serving
        self._thread = ThreadPoolExecutor(
            1, thread_name_prefix="audiostore-analysis", initializer=_lower_priority
        )

    async def measure(self, row: AudioRow, path: Path) -> bool:
        """Measure loudness from `path` (the object's bytes) and store it. False when the
        audio was given up on (over a processing limit, or undecodable): the row is then
        marked `analysis_error` and no job takes it again."""
        if self._stopping:
            raise ShuttingDown()
        loop = asyncio.get_running_loop()
        budget = analysis_budget(self.settings, row)
        self._measuring.add(budget)
        try:
            loudness = await loop.run_in_executor(
                self._thread, functools.partial(measure_loudness, path, budget=budget)
            )
        except (ProcessingLimit, UndecodableAudio) as exc:
            log.warning("analysis of %s given up: %s", row.id, exc.message)
            row.analysis_due_at, row.analysis_error = None, exc.code
            await self.catalog.update_audio(
                row.id, {"analysis_due_at": None, "analysis_error": exc.code}
            )
            return False
        finally:
            # Whoever stopped waiting (a cancelled task, a shutdown), the thread stops too.
            budget.cancel.set()
            self._measuring.discard(budget)
        row.loudness_lufs = loudness.integrated_lufs
        row.true_peak_dbtp = loudness.true_peak_dbtp
        row.analysis_due_at = None
        await self.catalog.update_audio(row.id, {
            "loudness_lufs": row.loudness_lufs, "true_peak_dbtp": row.true_peak_dbtp,
            "analysis_due_at": None,
        })
        return True

    async def measure_stored(self, row: AudioRow) -> bool:
        """`measure` from a copy of the stored blob (same result)."""
        async with self.originals.in_scratch(row) as (_, source):
            async with self.one_at_a_time:
                return await self.measure(row, source)

    def stop(self) -> None:
        """Stop measuring (the thread within a frame) and start nothing new; returns at once."""
        self._stopping = True
        for budget in list(self._measuring):
            budget.cancel.set()

    def close(self) -> None:
        self.stop()
        self._thread.shutdown(wait=False, cancel_futures=True)
