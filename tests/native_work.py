"""Functions the native-worker pool tests run in worker processes (importable there)."""

from __future__ import annotations

import ctypes
import os
import time


def square(x: int) -> int:
    return x * x


def pid() -> int:
    return os.getpid()


def refuse(message: str) -> None:
    raise ValueError(message)


def abort() -> None:
    os.abort()


def segfault() -> None:
    ctypes.string_at(0)


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
