"""The access log's handler: one timestamped line per request, written a moment later in one go,
by a thread of its own.

stdlib logging costs a request more than a catalogue ping does: `Logger.info` finds its caller
by walking the stack, builds a `LogRecord` (thread, process, time), the formatter renders the
time with `strftime`, and `StreamHandler` flushes, one `write` call per line, on the event
loop. Measured in process on `GET /v1/health`, that was a quarter of the request's CPU; and a
`write` to a stdout that does not keep up (a pipe to a slow reader, a disk throttling its
writers) held the event loop, and every request on it, for as long. This handler, which
`audiostore serve` puts on logger `audiostore.access` (cli/server_logging.py):

- takes a line already made (`write_line`), so the access-log layer skips the record
  altogether when this handler is the logger's only destination (`direct_writer`); records
  logged the usual way still come through `emit`, as any handler's do;
- renders the time once a second;
- queues the line; a writer thread wakes every `FLUSH_SECONDS` and writes what is queued in one
  call. A stalled stdout stalls that thread, never a request; past `MAX_PENDING_BYTES` queued,
  lines are dropped (and counted in a line of their own once stdout takes lines again). A crash
  loses at most the last moment's lines; a stop (`flush`, which the app calls as it stops, or
  logging's own shutdown at exit) writes them all.

The line is `<time> <message>`, the time in local time as `2026-12-01T21:09:08+0000`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import TextIO

__all__ = ["FLUSH_SECONDS", "MAX_PENDING_BYTES", "AccessLineHandler", "direct_writer"]

FLUSH_SECONDS = 0.1
MAX_PENDING_BYTES = 8 * 1024 * 1024
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class AccessLineHandler(logging.Handler):
    """Writes `<time> <message>` lines to `stream` (stdout by default), a moment late, from a
    thread of its own."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream: TextIO = stream if stream is not None else sys.stdout
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._dropped = 0
        self._second = -1
        self._stamp = ""
        self._writing = threading.Lock()  # one writer at a time, lines in order
        self._writer_pid = 0  # the process whose writer thread runs (a fork has none)
        self._closed = False

    def write_line(self, message: str) -> None:
        """Queue one line; the writer thread writes it within `FLUSH_SECONDS`."""
        now = time.time()
        second = int(now)
        with self.lock:  # type: ignore[union-attr]  # reason: createLock() in Handler.__init__ sets it
            if second != self._second:
                self._second = second
                self._stamp = time.strftime(TIME_FORMAT, time.localtime(now))
            if self._pending_bytes >= MAX_PENDING_BYTES:
                self._dropped += 1
                return
            line = f"{self._stamp} {message}\n"
            self._pending.append(line)
            self._pending_bytes += len(line)
            if self._writer_pid != os.getpid():
                self._writer_pid = os.getpid()
                threading.Thread(target=self._write_every_moment, name="audiostore-access-log",
                                 daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(record.getMessage())
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write every line queued so far, now, in the caller's thread."""
        with self._writing:
            with self.lock:  # type: ignore[union-attr]  # reason: createLock() in Handler.__init__ sets it
                lines, self._pending, self._pending_bytes = self._pending, [], 0
                dropped, self._dropped = self._dropped, 0
            if dropped:
                lines.append(f"{self._stamp} access lines dropped: {dropped} (stdout did not keep up)\n")
            if not lines:
                return
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken stdout must not fail the server
                if logging.raiseExceptions:
                    sys.stderr.write("audiostore: access log lines could not be written\n")

    def close(self) -> None:
        self._closed = True
        self.flush()
        super().close()

    def _write_every_moment(self) -> None:
        while not self._closed:
            time.sleep(FLUSH_SECONDS)
            self.flush()


def direct_writer(logger: logging.Logger) -> AccessLineHandler | None:
    """The handler a line may go to straight, skipping the `LogRecord`, when it is where every
    INFO record of `logger` would end up and nothing would filter it; else None (tests'
    caplog, a custom logging setup: the usual `logger.info`)."""
    handlers = logger.handlers
    if len(handlers) != 1 or logger.propagate or logger.filters:
        return None
    handler = handlers[0]
    if type(handler) is not AccessLineHandler or handler.filters or handler.level > logging.INFO:
        return None
    return handler if logger.isEnabledFor(logging.INFO) else None
