"""Worker processes for native code that may crash: a crash or an overrun costs one call.

libespeak-ng smashes its stack on some texts (`"a." * 300`), and any C library (an ONNX
model, FFmpeg) can abort, fault or spin. Run in the server's process, one such call takes
every request of that process down with it. `NativeWorkerPool.call(fn, *args)` runs
`fn(*args)` in one of a few worker processes instead: when the worker dies (SIGSEGV,
SIGABRT, SIGBUS, SIGKILL) the call raises `WorkerCrashed`; when it runs past the deadline
its worker is killed and the call raises `CallTimedOut`. Either way only that call fails;
the next call gets a fresh worker. Exceptions `fn` raises come back as themselves.

Hand-rolled rather than `concurrent.futures.ProcessPoolExecutor`: when one of the
executor's workers dies it marks the whole executor broken and fails every pending and
running future with `BrokenProcessPool` (one crashing text would fail every other request
in flight, and the executor has to be rebuilt), and it has no per-call deadline (a future's
timeout only stops the waiting; the worker runs on and keeps its slot, and before Python
3.14 one worker cannot be killed). Here each worker has its own pipe and runs one call at a
time, so a death or an overrun is confined to the call that caused it.

Processes start with `forkserver` (`spawn` where there is none), never `fork`: the server's
process has threads (granian's, anyio's, obstore's Tokio runtime), and a forked child would
inherit their locks held and their threads gone. The fork server is itself a fresh,
single-threaded process that has imported the `preload` modules once, so a replacement
worker after a crash starts in milliseconds, not the half second numpy's import takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import select
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

from . import metrics

__all__ = ["CallTimedOut", "NativeCallFailed", "NativeWorkerPool", "PoolClosed", "WorkerCrashed"]

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_SECONDS = 0.1  # how often a waiting call looks at its deadline and at the pool's close
REAP_SECONDS = 2.0  # how long a dead or killed worker is waited for before moving on
# The worker enforces the deadline on itself too (SIGALRM's default action ends a process
# even inside C code), a little after the server would have killed it: a worker whose server
# died without closing the pool cannot spin on forever.
SELF_DEADLINE_GRACE_SECONDS = 5.0
# multiprocessing's own default, kept: the fork server imports the main module once, so a
# worker does not import it again (under the `audiostore` script that is the whole CLI).
_PRELOAD: set[str] = {"__main__"}


class NativeCallFailed(Exception):
    """A call did not complete in its worker process (the worker died, overran, or the pool
    is closed). Callers translate it at their edge (TTS: 502 `engine_failed`)."""


class WorkerCrashed(NativeCallFailed):
    """The worker process died during the call (a signal or an exit status)."""


class CallTimedOut(NativeCallFailed):
    """The call ran past the pool's deadline; its worker was killed."""


class PoolClosed(NativeCallFailed):
    """The pool was closed (the server is stopping)."""


def _worker_context() -> ForkServerContext | SpawnContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _serve_calls(conn: Connection) -> None:
    """A worker's life: receive `(fn, args, deadline)`, reply `("ok", result)` or
    `("error", exception)`, until the server closes its end of the pipe."""
    # Ctrl-C in a terminal reaches the whole process group; the server decides when its
    # workers stop (it closes the pool), so a call in flight is not cut short by it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    busy = threading.Event()
    threading.Thread(target=_end_when_server_goes, args=(conn, busy), daemon=True).start()
    while True:
        try:
            fn, args, deadline = conn.recv()
        except (EOFError, OSError):
            return
        busy.set()
        _arm_self_deadline(deadline + SELF_DEADLINE_GRACE_SECONDS)
        try:
            reply: tuple[str, Any] = ("ok", fn(*args))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            reply = ("error", exc)
        _arm_self_deadline(0)
        busy.clear()
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result or the exception does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def _end_when_server_goes(conn: Connection, busy: threading.Event) -> None:
    """End the worker at once when the server's end of the pipe closes during a call.

    A server process that is killed (granian kills a worker that does not stop within
    AUDIOSTORE_SHUTDOWN_TIMEOUT_SECONDS) cannot stop its workers; a worker in a long call
    would finish it for nobody, and keep the fork server alive meanwhile (it lives while
    any of its children does). While a call runs the server sends nothing, so the pipe
    turning readable then can only be its end closing; a peek tells an EOF from data."""
    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except OSError:  # not a socket (spawn on Windows): the self-deadline still bounds the call
        return
    while True:
        busy.wait()
        readable, _, _ = select.select([sock], [], [], POLL_SECONDS)
        if not readable or not busy.is_set():
            continue
        try:
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                os._exit(1)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            os._exit(1)
        time.sleep(POLL_SECONDS)  # data during a call: not ours to read; do not spin on it


def _arm_self_deadline(seconds: float) -> None:
    if hasattr(signal, "setitimer"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.0))


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"it was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"it was killed by signal {-code}"
    return f"it exited with status {code}"


class _Worker:
    """One worker process and the server's end of its pipe. Owned by one thread at a time:
    the pool while idle, the thread running a call while busy."""

    def __init__(self, ctx: ForkServerContext | SpawnContext, name: str) -> None:
        self.ctx, self.name = ctx, name
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None

    def connection(self) -> Connection:
        """The pipe to a live worker, starting one if there is none (or it died idle)."""
        if self.process is None or self.conn is None or not self.process.is_alive():
            self.stop()
            ours, theirs = self.ctx.Pipe(duplex=True)
            process = self.ctx.Process(
                target=_serve_calls, args=(theirs,), name=self.name, daemon=True
            )
            process.start()
            theirs.close()
            self.process, self.conn = process, ours
        return self.conn

    def stop(self, *, dying: bool = False) -> int | None:
        """Kill (if still running) and reap the process; its exit code, if it had one.
        `dying`: its pipe closed, so it is exiting by itself; give it a moment to report
        its own signal before killing it."""
        process, conn = self.process, self.conn
        self.process = self.conn = None
        code = None
        if process is not None:
            with contextlib.suppress(Exception):
                if dying:
                    process.join(REAP_SECONDS)
                if process.is_alive():
                    process.kill()
                process.join(REAP_SECONDS)
                code = process.exitcode
        if conn is not None:
            conn.close()
        return code


class NativeWorkerPool:
    """Up to `size` worker processes; each call waits for a free one (in order of arrival)
    and must finish within `timeout` seconds of starting in it.

    Processes start on first use and after a death, so a pool nobody calls costs nothing.
    `fn` and its arguments and result must pickle (`fn` a module-level function). Calls may
    come from any event loop; `close()` from any thread. As with any `multiprocessing` use,
    a script that calls the pool must keep its work under `if __name__ == "__main__":`
    (workers import the main module).

    Example:
        ```py
        pool = NativeWorkerPool(name="tts", size=2, timeout=30.0, preload=["audiostore.tts.espeak"])
        try:
            speech = await pool.call(synthesize_blocking, "Hello.", b"gmw/en-US", 1.0)
        except NativeCallFailed as exc:
            raise EngineError(str(exc)) from exc
        finally:
            pool.close()
        ```
    """

    def __init__(
        self, *, name: str, size: int, timeout: float, preload: Iterable[str] = (),
        timeout_setting: str | None = None,
    ) -> None:
        if size < 1 or timeout <= 0:
            raise ValueError("a pool needs at least one worker and a positive timeout")
        self.name, self.size, self.timeout = name, size, timeout
        self.timeout_setting = timeout_setting
        self._ctx = _worker_context()
        if self._ctx.get_start_method() == "forkserver":
            # One fork server per process, shared by every pool: it preloads the union (what
            # it has not loaded is imported by each worker as it unpickles its first call).
            _PRELOAD.update(preload)
            ordered = sorted(_PRELOAD, key=lambda m: m != "__main__")
            self._ctx.set_forkserver_preload(ordered)
        self._lock = threading.Lock()
        self._idle = [_Worker(self._ctx, f"{name}-worker-{i + 1}") for i in range(size)]
        self._waiters: deque[asyncio.Future[_Worker]] = deque()
        self._busy_threads: set[threading.Thread] = set()
        self._running: set[int] = set()
        self._closed = False

    @property
    def busy_pids(self) -> list[int]:
        """Process ids of the workers running a call now (it has been sent to them)."""
        with self._lock:
            return sorted(self._running)

    async def call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """`fn(*args)` in a worker process, within `timeout` seconds (default: the pool's).
        Raises what `fn` raised, or `WorkerCrashed`, `CallTimedOut`, `PoolClosed`. A
        cancelled call kills its worker (nobody waits for the result) within `POLL_SECONDS`."""
        worker = await self._acquire()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[bool, Any]] = loop.create_future()
        cancelled = threading.Event()

        def run() -> None:
            try:
                result = self._run(worker, fn, args, timeout or self.timeout, cancelled)
                outcome: tuple[bool, Any] = (True, result)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                outcome = (False, exc)
            finally:
                self._release(worker)
                with self._lock:
                    self._busy_threads.discard(threading.current_thread())
            with contextlib.suppress(RuntimeError):  # the caller's loop is gone: nobody waits
                loop.call_soon_threadsafe(_settle, done, outcome)

        # A thread of its own per call, not anyio's shared limiter: a call queued there could
        # be cancelled before it ever ran, and a flood of TTS would hold the threads file I/O
        # needs. At most `size` of these exist at once.
        thread = threading.Thread(target=run, name=f"{self.name}-call", daemon=True)
        with self._lock:
            self._busy_threads.add(thread)
        try:
            thread.start()
        except BaseException:  # no thread to be had: the worker goes back unused
            with self._lock:
                self._busy_threads.discard(thread)
            self._release(worker)
            raise
        try:
            ok, value = await done
        except asyncio.CancelledError:
            cancelled.set()
            raise
        if ok:
            return cast(T, value)  # fn's result, as the worker's pipe unpickled it
        raise value

    def close(self) -> None:
        """Stop every worker: idle ones now, busy ones within `POLL_SECONDS` (their calls
        raise `PoolClosed`); waiting calls raise `PoolClosed`. Returns once they are reaped
        (a few seconds at most). Calls after this raise `PoolClosed`."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            waiters, self._waiters = list(self._waiters), deque()
            busy = list(self._busy_threads)
        for fut in waiters:
            with contextlib.suppress(RuntimeError):
                closed = PoolClosed(f"The {self.name} pool is closed.")
                fut.get_loop().call_soon_threadsafe(_fail, fut, closed)
        for worker in idle:
            worker.stop()
        deadline = time.monotonic() + REAP_SECONDS + 1.0
        for thread in busy:
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- the parts ----------------------------------------------------------------------
    async def _acquire(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise PoolClosed(f"The {self.name} pool is closed.")
            if self._idle and not self._waiters:
                return self._idle.pop()
            fut: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
        try:
            return await fut
        except BaseException:
            with self._lock:
                if fut in self._waiters:
                    self._waiters.remove(fut)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(fut.result())  # granted as we were cancelled: pass it on
            raise

    def _release(self, worker: _Worker) -> None:
        """Give `worker` to the first waiter still waiting, or back to the idle list."""
        while True:
            with self._lock:
                if self._closed:
                    break
                if not self._waiters:
                    self._idle.append(worker)
                    return
                fut = self._waiters.popleft()
            try:
                fut.get_loop().call_soon_threadsafe(self._grant, fut, worker)
                return
            except RuntimeError:
                continue  # that waiter's loop is closed: try the next
        worker.stop()

    def _grant(self, fut: asyncio.Future[_Worker], worker: _Worker) -> None:
        if fut.done():  # cancelled meanwhile
            self._release(worker)
        else:
            fut.set_result(worker)

    def _run(
        self, worker: _Worker, fn: Callable[..., Any], args: tuple[Any, ...], timeout: float,
        cancelled: threading.Event,
    ) -> Any:
        """One call in `worker`, in the calling thread. The worker is left running only if
        the call ended normally; otherwise it is stopped and the next call starts another."""
        pid = None
        try:
            conn = worker.connection()
            conn.send((fn, args, timeout))
            deadline = time.monotonic() + timeout
            pid = worker.process.pid if worker.process is not None else None
            if pid is not None:
                with self._lock:
                    self._running.add(pid)
            while not conn.poll(POLL_SECONDS):
                if self._closed:
                    worker.stop()
                    raise PoolClosed(f"The {self.name} pool closed during the call.")
                if cancelled.is_set():
                    worker.stop()
                    raise PoolClosed("The call was cancelled.")
                if time.monotonic() >= deadline:
                    worker.stop()
                    named = self.timeout_setting and timeout == self.timeout
                    hint = f" ({self.timeout_setting})" if named else ""
                    log.warning("%s worker killed: a call ran past %gs", self.name, timeout)
                    metrics.NATIVE_CALL_FAILURES.labels(self.name, "timed_out").inc()
                    raise CallTimedOut(f"it took longer than {timeout:g} s{hint}")
            status, value = conn.recv()
        except (EOFError, OSError) as exc:
            if self._closed:
                worker.stop()
                raise PoolClosed(f"The {self.name} pool closed during the call.") from exc
            why = _describe_exit(worker.stop(dying=True))
            log.warning("%s worker process died during a call: %s", self.name, why)
            metrics.NATIVE_CALL_FAILURES.labels(self.name, "crashed").inc()
            raise WorkerCrashed(f"its worker process died ({why})") from exc
        finally:
            if pid is not None:
                with self._lock:
                    self._running.discard(pid)
        if status == "ok":
            return value
        raise value


def _settle(fut: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not fut.done():
        fut.set_result(outcome)


def _fail(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
