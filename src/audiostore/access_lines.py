"""The access log's handler: one timestamped line per request, written a moment later in one go.

stdlib logging costs a request more than a catalogue ping does: `Logger.info` finds its caller
by walking the stack, builds a `LogRecord` (thread, process, time), the formatter renders the
time with `strftime`, and `StreamHandler` flushes, one `write` call per line. Measured in
process on `GET /v1/health`, that was a quarter of the request's CPU. This handler, which
`audiostore serve` puts on logger `audiostore.access` (cli/server_logging.py):

- takes a line already made (`write_line`), so the access-log layer skips the record
  altogether when this handler is the logger's only destination (`direct_writer`); records
  logged the usual way still come through `emit`, as any handler's do;
- renders the time once a second;
- holds the lines of up to `FLUSH_SECONDS` (or `FLUSH_BYTES`) and writes them in one call,
  from the event loop. A crash loses at most that moment's lines; a stop (logging's own
  shutdown at exit, or `close`) writes them all.

The line is `<time> <message>`, the time in local time as `2026-12-01T21:09:08+0000`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import TextIO

__all__ = ["FLUSH_BYTES", "FLUSH_SECONDS", "AccessLineHandler", "direct_writer"]

FLUSH_SECONDS = 0.1
FLUSH_BYTES = 64 * 1024
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class AccessLineHandler(logging.Handler):
    """Writes `<time> <message>` lines to `stream` (stdout by default), a moment late."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.stream: TextIO = stream if stream is not None else sys.stdout
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._flush_due = False
        self._second = -1
        self._stamp = ""

    def write_line(self, message: str) -> None:
        """Queue one line; written within `FLUSH_SECONDS` (at once outside an event loop)."""
        now = time.time()
        second = int(now)
        with self.lock:  # type: ignore[union-attr]  # reason: createLock() in Handler.__init__ sets it
            if second != self._second:
                self._second = second
                self._stamp = time.strftime(TIME_FORMAT, time.localtime(now))
            line = f"{self._stamp} {message}\n"
            self._pending.append(line)
            self._pending_bytes += len(line)
            if self._pending_bytes >= FLUSH_BYTES:
                self._write_pending()
                return
            if self._flush_due:
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop in this thread: nobody would flush later
                self._write_pending()
                return
            self._flush_due = True
        loop.call_later(FLUSH_SECONDS, self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write_line(record.getMessage())
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # reason: createLock() in Handler.__init__ sets it
            self._write_pending()

    def close(self) -> None:
        self.flush()
        super().close()

    def _write_pending(self) -> None:
        """Under the lock: everything queued, in one write."""
        self._flush_due = False
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout must not fail a request
            if logging.raiseExceptions:
                sys.stderr.write("audiostore: access log lines could not be written\n")


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
