"""What runs after an upload has answered: EBU R128 loudness, then the ingest renditions.

The upload itself decodes the whole file (that is what catches truncated audio) but does not
measure loudness: with 4x-oversampled true peak that costs about 1.5 s of CPU per hour of
audio, far more than receiving and storing the bytes. So `ingest` marks the row with
`analysis_due_at` and hands its staging file to `UploadAnalysis.submit`; a background task
measures it, stores the figures and makes the ingest renditions. If the process stops first,
the row stays due and the `analyse_due` job (jobs/analysis.py) measures it from the store once
`analysis_due_at` has passed, on whichever instance claims it.

Each measurement runs under the processing limits (`processing_limits.analysis_budget`): one
that passes them, or audio that does not decode, is given up for good (`analysis_error`, the
object says `analysis: failed`): it is never retried, and the queue behind it goes on. One
stopped by a shutdown stays due, and the job measures it later.

Example:
    ```py
    analysis = UploadAnalysis(audio, renditions)
    analysis.submit(row, staged)      # the staging file is the analysis's from here on
    await analysis.settled()          # tests: wait for every task in flight
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ..audio.loudness import measure_loudness
from ..audio.work_budget import WorkBudget
from ..catalog import AudioRow
from ..errors import ProcessingLimit, ShuttingDown, UndecodableAudio
from .processing_limits import analysis_budget
from .staging import StagedUpload

if TYPE_CHECKING:
    from .audio import AudioService
    from .renditions import RenditionService

log = logging.getLogger(__name__)

# How long the analysis job leaves a fresh upload to the process that took it: long enough
# for a backlog of large files to be measured in-process, short enough that a crash is
# caught up by the next maintenance runs.
ANALYSIS_LEASE = timedelta(minutes=10)
# Uploads waiting in this process beyond this many are left to the job (which reads them
# back from the store), so a burst never piles up staging files without bound.
_MAX_WAITING = 16
# The analysis thread runs at this nice value: with the CPU contended, serving and uploads
# go first and the measurements wait.
_ANALYSIS_NICENESS = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: run as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _ANALYSIS_NICENESS)


class UploadAnalysis:
    def __init__(self, audio: AudioService, renditions: RenditionService | None) -> None:
        self.audio = audio
        self.renditions = renditions
        self._tasks: set[asyncio.Task[None]] = set()
        self._measuring: set[WorkBudget] = set()
        self._stopping = False
        self._one_at_a_time = asyncio.Semaphore(1)  # CPU-bound: leave cores to serving
        self._thread = ThreadPoolExecutor(
            1, thread_name_prefix="audiostore-analysis", initializer=_lower_priority
        )

    def submit(self, row: AudioRow, staged: StagedUpload) -> None:
        """Measure `row` from its staging file in the background; owns `staged` from here."""
        if len(self._tasks) >= _MAX_WAITING:
            staged.discard()  # the job measures it from the store after the lease
            return
        task = asyncio.get_running_loop().create_task(self._run(row, staged))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, row: AudioRow, staged: StagedUpload) -> None:
        try:
            async with self._one_at_a_time:
                await self.analyse(row, staged.path)
        except ShuttingDown:
            log.info("analysis of %s stopped by the shutdown; the analysis job will do it", row.id)
        except Exception:  # noqa: BLE001 - the row stays due; the job tries again
            log.exception("analysis of %s failed; the analysis job will retry it", row.id)
        finally:
            staged.discard()

    async def analyse(self, row: AudioRow, path: Path) -> bool:
        """Measure loudness from `path` (the object's bytes), store it, make ingest renditions.
        False when the audio was given up on (over a processing limit, or undecodable): the
        row is then marked `analysis_error` and no job takes it again."""
        if self._stopping:
            raise ShuttingDown()
        loop = asyncio.get_running_loop()
        budget = analysis_budget(self.audio.settings, row)
        self._measuring.add(budget)
        try:
            loudness = await loop.run_in_executor(
                self._thread, functools.partial(measure_loudness, path, budget=budget)
            )
        except (ProcessingLimit, UndecodableAudio) as exc:
            log.warning("analysis of %s given up: %s", row.id, exc.message)
            row.analysis_due_at, row.analysis_error = None, exc.code
            await self.audio.catalog.update_audio(
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
        await self.audio.catalog.update_audio(row.id, {
            "loudness_lufs": row.loudness_lufs, "true_peak_dbtp": row.true_peak_dbtp,
            "analysis_due_at": None,
        })
        if self.renditions is None or not self.renditions.ingest_requests(row):
            return True
        # Deleted or expired meanwhile: no renditions for an object that is going away.
        current = await self.audio.catalog.get_visible(row.id, owner=None, now=self.audio.clock())
        if current is not None:
            await self.renditions.after_ingest(current)
        return True

    async def analyse_stored(self, row: AudioRow) -> bool:
        """The job's path: the same analysis from a copy of the stored blob (same result)."""
        if self.renditions is None:
            raise RuntimeError("analysis from the store needs the rendition service")
        async with self.renditions.original_in_scratch(row) as (_, source):
            async with self._one_at_a_time:
                return await self.analyse(row, source)

    async def settled(self) -> None:
        """Wait until every analysis in flight has finished (tests, graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stop(self) -> None:
        """Stop measuring (the thread within a frame) and start nothing new; returns at once.
        The rows stay due for the job."""
        self._stopping = True
        for budget in list(self._measuring):
            budget.cancel.set()

    async def close(self) -> None:
        """`stop`, then cancel the tasks and wait for them."""
        self.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._thread.shutdown(wait=False, cancel_futures=True)
