"""What one decode may spend: CPU time, output bytes and decoded seconds; and a stop flag.

Every PyAV loop (`transcode`, `measure_loudness`, `compute_peaks`) charges its budget once
per decoded frame, so the work stops within one frame of passing a bound or of being
cancelled, however the file lies about itself: a few hundred KB of FLAC can decode to a
hundred hours of audio. CPU time is the thread's own (`time.thread_time`): a budget is
started and charged on the one thread that runs the work, and contention with other work
does not count against it. (FFmpeg's audio codecs decode and encode on the calling thread.)

Example:
    ```py
    budget = WorkBudget(cpu_seconds=30, max_output_bytes=50 << 20, max_audio_seconds=3600)
    transcode(src, dst, profile, budget=budget)   # ProcessingLimit past a bound
    budget.cancel.set()                           # from any thread: ShuttingDown at the next frame
    ```
"""

from __future__ import annotations

import math
import threading
import time

from ..errors import ProcessingLimit, ShuttingDown


class WorkBudget:
    """Bounds for one piece of work; `None` leaves that dimension unbounded.

    The progress fields (`cpu_used`, `audio_seconds`, `output_bytes`) are written by the
    working thread and may be read from any other (they are plain floats and ints)."""

    def __init__(
        self, *, cpu_seconds: float | None = None, max_output_bytes: int | None = None,
        max_audio_seconds: float | None = None, cancel: threading.Event | None = None,
    ) -> None:
        self.cpu_seconds = cpu_seconds
        self.max_output_bytes = max_output_bytes
        self.max_audio_seconds = max_audio_seconds
        self.cancel = cancel or threading.Event()
        self.cpu_used = 0.0
        self.audio_seconds = 0.0
        self.output_bytes = 0
        self._thread: int | None = None
        self._cpu_at_start = 0.0

    def start(self) -> None:
        """Start the CPU clock; call on the thread that does the work, before it begins."""
        self._thread = threading.get_ident()
        self._cpu_at_start = time.thread_time()
        self.check()

    def charge(self, *, audio_seconds: float = 0.0, output_bytes: int = 0) -> None:
        """Count one frame's audio and output; raise `ProcessingLimit` past a bound, or
        `ShuttingDown` once cancelled."""
        self.audio_seconds += audio_seconds
        self.output_bytes += output_bytes
        self.check()

    def check(self) -> None:
        if self.cancel.is_set():
            raise ShuttingDown(
                "The work was cancelled: nobody waits for it, or the server is stopping."
            )
        if self._thread is not None and self._thread == threading.get_ident():
            self.cpu_used = time.thread_time() - self._cpu_at_start
        if self.cpu_seconds is not None and self.cpu_used > self.cpu_seconds:
            raise ProcessingLimit(
                f"Processing this audio took more than {self.cpu_seconds:g} s of CPU time, "
                "the limit for a file of its size (AUDIOSTORE_PROCESSING_CPU_*)."
            )
        if self.max_output_bytes is not None and self.output_bytes > self.max_output_bytes:
            raise ProcessingLimit(
                f"The output grew past {self.max_output_bytes} bytes, more than its stored "
                "duration allows (AUDIOSTORE_PROCESSING_MAX_OUTPUT_BYTES)."
            )
        if self.max_audio_seconds is not None and self.audio_seconds > self.max_audio_seconds:
            raise ProcessingLimit(
                f"The audio decodes to more than {self.max_audio_seconds:.0f} s, longer than "
                "its stored duration."
            )

    def cpu_to_finish(self, total_audio_seconds: float) -> float:
        """An estimate of the CPU seconds still needed to reach `total_audio_seconds`
        (infinite before the first frame)."""
        if self.audio_seconds <= 0:
            return math.inf
        left = max(0.0, total_audio_seconds - self.audio_seconds)
        return self.cpu_used * left / self.audio_seconds
