"""Ending a command's process without a crash at interpreter exit.

obstore runs its requests on a shared Tokio runtime whose worker threads are never told to
stop. When a process ends right after an S3 request, one of them can still be finishing the
connection's last task while Python tears its state down; the thread then panics and the whole
process dies with SIGABRT (exit 134), after the command had done its work and printed its
answer (about one exit in five here, with numpy loaded). A command that has used obstore
therefore flushes its output and leaves with `os._exit`, skipping the finalisation that races.
"""

from __future__ import annotations

import os
import sys


def exit_code_of(exc: SystemExit) -> int:
    """The status `sys.exit` would give: None is 0, a message is printed and is 1."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def end_process(code: int) -> None:
    """Exit with `code`; straight away (no finalisation) once obstore has been loaded."""
    if "obstore" not in sys.modules:
        raise SystemExit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach it
            pass
    os._exit(code)
