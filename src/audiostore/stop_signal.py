"""SIGTERM and SIGINT as a request to stop, from the first moment of a long-running command.

`audiostore worker` used to install its handlers only once its runtime was built and its
catalogue migrated; a SIGTERM that came earlier (a deployment restarting it while it started,
a test stopping it on a loaded machine) killed it with the default action, exit -15, instead of
the clean exit 0 that a stop deserves. `StopSignal.install()` is the command's first step: from
then on a signal only records the request, and `attach()` hands it to the asyncio loop (which
then wakes at once, through its own signal handling) when the loop starts. `audiostore.cli`
installs `PROCESS_STOP` for the worker before it imports the commands (several seconds on a
loaded machine), so only the interpreter's own start comes before it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    def __init__(self) -> None:
        self.requested = False
        self._stop: Callable[[], None] | None = None

    def install(self) -> None:
        """Record SIGTERM and SIGINT from now on (again after `detach`); idempotent."""
        for sig in SIGNALS:
            signal.signal(sig, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def attach(self, loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
        """Call `stop` on the loop for every signal from now on, and right now if one came
        before. (Python handlers run only on the main thread between bytecodes, so the
        loop's handler replaces `_record` here before `requested` is read: no signal is lost.)"""

        def on_signal() -> None:
            self.requested = True
            stop()

        for sig in SIGNALS:
            loop.add_signal_handler(sig, on_signal)
        if self.requested:
            stop()

    def detach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Back to recording only, before the loop closes (closing would restore the default
        action, which kills the process)."""
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        self.install()


PROCESS_STOP = StopSignal()  # the one a long-running command of this process uses
