"""NativeWorkerPool: a call that crashes or overruns its worker fails alone; the pool goes on."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import native_work
import pytest

from audiostore.native_workers import CallTimedOut, NativeWorkerPool, PoolClosed, WorkerCrashed


@pytest.fixture
async def pool() -> AsyncIterator[NativeWorkerPool]:
    p = NativeWorkerPool(name="test", size=2, timeout=30.0)
    try:
        yield p
    finally:
        p.close()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _busy_pid(pool: NativeWorkerPool) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if pool.busy_pids:
            return pool.busy_pids[0]
        await asyncio.sleep(0.01)
    raise AssertionError("no call reached a worker")


async def test_results_and_exceptions_come_back_as_themselves(pool: NativeWorkerPool) -> None:
    assert await pool.call(native_work.square, 12) == 144
    with pytest.raises(ValueError, match="no thanks"):
        await pool.call(native_work.refuse, "no thanks")
    assert await pool.call(native_work.pid) != os.getpid()  # it ran elsewhere


async def test_a_crash_fails_only_its_own_call_and_the_worker_is_replaced(pool: NativeWorkerPool) -> None:
    before = {await pool.call(native_work.pid) for _ in range(4)}
    results = await asyncio.gather(
        pool.call(native_work.square, 2), pool.call(native_work.abort), pool.call(native_work.square, 3),
        pool.call(native_work.segfault), pool.call(native_work.square, 4), return_exceptions=True,
    )
    assert results[0::2] == [4, 9, 16]
    # The signal is named when the forkserver reports it; a busy machine can make it lose the
    # status of a dying child (multiprocessing then reads 255), which is still a crash.
    assert isinstance(results[1], WorkerCrashed)
    assert any(word in str(results[1]) for word in ("SIGABRT", "status 255"))
    assert isinstance(results[3], WorkerCrashed)
    assert any(word in str(results[3]) for word in ("SIGSEGV", "status 255"))
    after = {await pool.call(native_work.pid) for _ in range(4)}
    assert after and all(_gone(p) for p in before - after)


async def test_a_call_past_its_deadline_kills_its_worker(pool: NativeWorkerPool) -> None:
    with pytest.raises(CallTimedOut, match="longer than 0.3 s"):
        await pool.call(native_work.spin, 60, timeout=0.3)
    assert pool.busy_pids == []
    assert await pool.call(native_work.square, 5) == 25


async def test_a_cancelled_call_kills_its_worker(pool: NativeWorkerPool) -> None:
    task = asyncio.create_task(pool.call(native_work.spin, 60))
    busy = await _busy_pid(pool)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 10
    while not _gone(busy) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _gone(busy)
    assert await pool.call(native_work.square, 6) == 36


async def test_calls_wait_for_a_free_worker_in_order() -> None:
    pool = NativeWorkerPool(name="one", size=1, timeout=30.0)
    try:
        results = await asyncio.gather(*[pool.call(native_work.square, i) for i in range(8)])
        assert results == [i * i for i in range(8)]
    finally:
        pool.close()


async def test_close_ends_running_and_waiting_calls_and_reaps_the_workers() -> None:
    pool = NativeWorkerPool(name="closing", size=1, timeout=60.0)
    running = asyncio.create_task(pool.call(native_work.spin, 60))
    busy = await _busy_pid(pool)
    waiting = asyncio.create_task(pool.call(native_work.square, 7))
    await asyncio.sleep(0.05)
    await asyncio.to_thread(pool.close)
    for task in (running, waiting):
        with pytest.raises(PoolClosed):
            await task
    assert _gone(busy)
    with pytest.raises(PoolClosed):
        await pool.call(native_work.square, 1)
