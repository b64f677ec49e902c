"""The maintenance timer: every `AUDIOSTORE_SWEEP_INTERVAL` seconds, and/or daily at
`AUDIOSTORE_SWEEP_DAILY_AT` (UTC), run every job once. Used inside `audiostore serve` (from the
app's lifespan) and by `audiostore worker`.

On SQLite the jobs assume one instance (one server or one worker per catalogue); on
PostgreSQL any number of servers and workers share the work through row claims.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from ..runtime import Runtime
from .registry import JobResult, run_jobs_once

log = logging.getLogger("audiostore.jobs")


def next_daily_run(now: datetime, hhmm: str) -> datetime:
    """The first `HH:MM` UTC strictly after `now`."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    at = now.astimezone(UTC).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def announce_mode(rt: Runtime) -> None:
    if rt.catalog.dialect == "sqlite":
        # A warning, so it shows with no logging set up: it is a deployment constraint.
        log.warning("maintenance jobs: SQLite catalogue, single-instance mode (run one server or "
                 "one worker per catalogue; use PostgreSQL for several)")
    else:
        log.info("maintenance jobs: %s catalogue, shared safely across instances "
                 "(FOR UPDATE SKIP LOCKED claims)", rt.catalog.dialect)


class MaintenanceLoop:
    def __init__(
        self, rt: Runtime, *, interval: float, daily_at: str | None,
        on_results: Callable[[list[JobResult]], None] | None = None,
    ) -> None:
        self.rt = rt
        self.interval = interval
        self.daily_at = daily_at
        self.on_results = on_results
        self._stop = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.interval > 0 or self.daily_at is not None

    def stop(self) -> None:
        self._stop.set()

    def _seconds_to_next(self, last_interval_run: float) -> float:
        loop = asyncio.get_running_loop()
        waits = []
        if self.interval > 0:
            waits.append(last_interval_run + self.interval - loop.time())
        if self.daily_at is not None:
            now = datetime.now(UTC)
            waits.append((next_daily_run(now, self.daily_at) - now).total_seconds())
        return max(0.0, min(waits))

    async def run(self) -> None:
        """Run until `stop()`: once at start, then on the timer."""
        announce_mode(self.rt)
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stop.is_set():
            results = await run_jobs_once(self.rt)
            if self.on_results is not None:
                self.on_results(results)
            last = loop.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._seconds_to_next(last))


@contextlib.asynccontextmanager
async def maintenance_loop(rt: Runtime, *, enabled: bool = True) -> AsyncIterator[None]:
    """Run the jobs in the background for the duration of the block (the server's lifespan),
    when `enabled` and `AUDIOSTORE_SWEEP_IN_SERVE` allow and a timer is set."""
    s = rt.settings
    loop = MaintenanceLoop(rt, interval=s.sweep_interval, daily_at=s.sweep_daily_at)
    if not (enabled and s.sweep_in_serve and loop.enabled):
        yield
        return
    task = asyncio.create_task(loop.run(), name="audiostore-maintenance")
    try:
        yield
    finally:
        loop.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
