"""What runs after an upload has answered: EBU R128 loudness, then the ingest renditions.

The upload itself decodes the whole file (that is what catches truncated audio) but does not
measure loudness: with 4x-oversampled true peak that costs about 1.5 s of CPU per hour of
audio, far more than receiving and storing the bytes. So `Ingest` marks the row with
`analysis_due_at` and hands its staging file to `UploadAnalysis.submit`; a background task
measures it, stores the figures and makes the ingest renditions. If the process stops first,
the row stays due and the `analyse_due` job (jobs/analysis.py) measures it from the store once
`analysis_due_at` has passed, on whichever instance claims it.

Each measurement (`LoudnessMeter`) runs under the processing limits: one that passes them, or
audio that does not decode, is given up for good (`analysis_error`, the object says
`analysis: failed`): it is never retried, and the queue behind it goes on. One stopped by a
shutdown stays due, and the job measures it later.

Example:
    ```py
    analysis = UploadAnalysis(meter, renditions)
    analysis.submit(row, staged)      # the staging file is the analysis's from here on
    await analysis.settled()          # tests: wait for every task in flight
    ```
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from ..catalog import AudioRow
from ..errors import ShuttingDown
from .loudness_meter import LoudnessMeter
from .renditions import RenditionService
from .staging import StagedUpload

log = logging.getLogger(__name__)

# How long the analysis job leaves a fresh upload to the process that took it: long enough
# for a backlog of large files to be measured in-process, short enough that a crash is
# caught up by the next maintenance runs.
ANALYSIS_LEASE = timedelta(minutes=10)
# Uploads waiting in this process beyond this many are left to the job (which reads them
# back from the store), so a burst never piles up staging files without bound.
_MAX_WAITING = 16


class UploadAnalysis:
    def __init__(self, meter: LoudnessMeter, renditions: RenditionService) -> None:
        self.meter = meter
        self.renditions = renditions
        self._tasks: set[asyncio.Task[None]] = set()

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
            async with self.meter.one_at_a_time:
                await self.analyse(row, staged.path)
        except ShuttingDown:
            log.info("analysis of %s stopped by the shutdown; the analysis job will do it", row.id)
        except Exception:  # noqa: BLE001 - the row stays due; the job tries again
            log.exception("analysis of %s failed; the analysis job will retry it", row.id)
        finally:
            staged.discard()

    async def analyse(self, row: AudioRow, path: Path) -> bool:
        """Measure loudness from `path` (the object's bytes), store it, make ingest renditions.
        False when the audio was given up on (over a processing limit, or undecodable)."""
        if not await self.meter.measure(row, path):
            return False
        await self.renditions.after_analysis(row)
        return True

    async def analyse_stored(self, row: AudioRow) -> bool:
        """The job's path: the same analysis from a copy of the stored blob (same result)."""
        if not await self.meter.measure_stored(row):
            return False
        await self.renditions.after_analysis(row)
        return True

    async def settled(self) -> None:
        """Wait until every analysis in flight has finished (tests, graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stop(self) -> None:
        """Stop measuring (the thread within a frame) and start nothing new; returns at once.
        The rows stay due for the job."""
        self.meter.stop()

    async def close(self) -> None:
        """`stop`, then cancel the tasks and wait for them."""
        self.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.meter.close()
