"""Cancel long work as soon as the server is told to stop, not after it has stopped.

On SIGTERM or SIGINT granian stops accepting connections and waits for the requests in
flight to finish before it runs the lifespan's shutdown: a request waiting on an hour of
transcoding would hold the process that long. So the lifespan chains a handler in front of
granian's own: it asks the runtime to cancel every rendition, waveform and analysis in
flight (each stops within a frame and its request answers 503 `shutting_down`), then lets
granian's handler run as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_work_on_signal(begin_shutdown: Callable[[], None]) -> Iterator[None]:
    """While the block runs, SIGTERM/SIGINT first call `begin_shutdown` on this event loop.
    Does nothing outside the main thread (where no signal handler can be set)."""
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        # Only thread-safe work in a signal handler: the loop runs the cancellation next.
        loop.call_soon_threadsafe(begin_shutdown)
        before = previous.get(signum)
        if before == signal.SIG_DFL:  # nobody handled it before us: do what it would have done
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        elif callable(before):
            # asyncio's own handler: the loop still learns of the signal through its wakeup
            # fd, so granian's handler runs as before.
            before(signum, frame)

    try:
        for sig in _SIGNALS:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave the signals alone
        _restore(previous)
    try:
        yield
    finally:
        _restore(previous)


def _restore(previous: dict[int, Any]) -> None:
    for sig, before in previous.items():
        if before is not None:  # None: a handler not set from Python, which we cannot put back
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, before)
    previous.clear()
