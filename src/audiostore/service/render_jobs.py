"""Derived-blob work in flight: one job per blob, shared by every request waiting for it,
cancelled when the last of them leaves (unless it is nearly done), all stopped at shutdown.

A rendition is made by a task of its own rather than in the request that asked first, so
one client leaving never fails the others waiting for the same blob; the request only
waits on it. When nobody waits any more, a job that still needs more than
`CHEAP_TO_FINISH` CPU seconds is cancelled through its `WorkBudget` (its PyAV loop stops
within a frame and its scratch is removed); a cheaper one finishes and is kept, so the
next request finds it made. Work that ran into a processing limit is remembered for a while
in this process: asking again answers the same error at once instead of paying again.

Example:
    ```py
    jobs = RenderJobs()
    derived = await jobs.run("id/r-mp3-...", budget, total_seconds=row.duration, make=make)
    await jobs.close()   # shutdown: cancel every job, wait briefly for them to stop
    ```
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

from ..audio.work_budget import WorkBudget
from ..errors import ProcessingLimit, ShuttingDown

log = logging.getLogger(__name__)

T = TypeVar("T")

# A job whose client left and that needs at most this much more CPU is let finish.
CHEAP_TO_FINISH = 1.0
# How many over-limit results to remember (each is a short string).
_REMEMBERED = 4096
# How long `close` waits for cancelled jobs to stop (they stop within a frame).
_CLOSE_WAIT = 5.0


@dataclass(eq=False)
class _Job(Generic[T]):
    budget: WorkBudget
    total_seconds: float
    task: asyncio.Task[T] = field(init=False)
    waiters: int = 0


class RenderJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, _Job[object]] = {}
        self._too_costly: OrderedDict[str, str] = OrderedDict()
        self._closing = False

    def in_flight(self) -> int:
        return len(self._jobs)

    def begin_shutdown(self) -> None:
        """Cancel every job and refuse new ones (`ShuttingDown`); returns at once."""
        self._closing = True
        for job in list(self._jobs.values()):
            job.budget.cancel.set()

    async def run(
        self, key: str, budget: WorkBudget, *, total_seconds: float,
        make: Callable[[WorkBudget], Awaitable[T]],
    ) -> T:
        """The result of `make(budget)` for `key`: joins the job in flight for `key` if there
        is one (its own budget then applies), else starts one."""
        if self._closing:
            raise ShuttingDown()
        if key in self._too_costly:
            raise ProcessingLimit(self._too_costly[key])
        job = self._jobs.get(key)
        if job is None or job.budget.cancel.is_set():
            # (A job already cancelled, its last client gone, only winds down: start anew.)
            job = _Job(budget, total_seconds)
            job.task = asyncio.get_running_loop().create_task(self._guarded(key, make, budget))
            self._jobs[key] = job

            def forget(_done: object, started: _Job[object] = job) -> None:
                self._forget(key, started)

            job.task.add_done_callback(forget)
        job.waiters += 1
        try:
            # Jobs of every result type share one table; a key always names one kind of
            # result (a rendition key makes renditions), so the job found under it makes a T.
            return cast(T, await asyncio.shield(job.task))
        finally:
            job.waiters -= 1
            if job.waiters == 0 and not job.task.done() and not self._cheap(job):
                job.budget.cancel.set()  # nobody waits: stop at the next frame

    async def _guarded(
        self, key: str, make: Callable[[WorkBudget], Awaitable[T]], budget: WorkBudget
    ) -> T:
        try:
            return await make(budget)
        except ProcessingLimit as exc:
            self._too_costly[key] = exc.message
            while len(self._too_costly) > _REMEMBERED:
                self._too_costly.popitem(last=False)
            raise

    @staticmethod
    def _cheap(job: _Job[object]) -> bool:
        return job.budget.cpu_to_finish(job.total_seconds) <= CHEAP_TO_FINISH

    def _forget(self, key: str, job: _Job[object]) -> None:
        if self._jobs.get(key) is job:
            del self._jobs[key]
        if not job.task.cancelled() and job.task.exception() is not None and job.waiters == 0:
            # Nobody was left to hear it (a cancelled job, typically): say it here.
            log.info("derived blob %s not made: %s", key, job.task.exception())

    async def close(self) -> None:
        """Cancel every job and wait (briefly) until they have stopped and cleaned up."""
        jobs = list(self._jobs.values())
        self.begin_shutdown()
        if jobs:
            with contextlib.suppress(Exception):
                await asyncio.wait([j.task for j in jobs], timeout=_CLOSE_WAIT)
