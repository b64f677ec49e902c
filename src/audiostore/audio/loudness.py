"""EBU R128 loudness: integrated loudness (LUFS) and true peak (dBTP).

Measured by FFmpeg's `ebur128` filter (through PyAV's filter graph), which implements
ITU-R BS.1770 gating and 4x-oversampled true peak; writing BS.1770 by hand would need IIR
filters numpy does not have. A `LoudnessMeter` is fed decoded frames one by one, so the
ingest decode in `probe` can measure loudness without decoding the file a second time.

Example:
    ```py
    meter = LoudnessMeter()
    for frame in container.decode(stream):
        meter.add(frame)
    result = meter.finish()   # Loudness(integrated_lufs=-20.0, true_peak_dbtp=-20.0)
    ```
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
import av.filter

from ..errors import UndecodableAudio
from .work_budget import WorkBudget

# ebur128 reports -70 LUFS (the absolute gate) for silence; we say "no loudness" instead.
_SILENCE_LUFS = -70.0


@dataclass(frozen=True, slots=True)
class Loudness:
    integrated_lufs: float | None
    true_peak_dbtp: float | None


class LoudnessMeter:
    """Feed `av.AudioFrame`s in order, then `finish()`. Not thread-safe; one per decode."""

    def __init__(self) -> None:
        self._graph: av.filter.Graph | None = None
        self._layout: tuple[int, str, int] | None = None
        self._integrated: float | None = None
        self._peak = 0.0
        self._broken = False

    def _build(self, frame: av.AudioFrame) -> None:
        graph = av.filter.Graph()
        src = graph.add_abuffer(
            format=frame.format.name, sample_rate=frame.sample_rate, layout=frame.layout.name,
            time_base=frame.time_base,
        )
        meter = graph.add("ebur128", "peak=true:metadata=1")
        sink = graph.add("abuffersink")
        src.link_to(meter)
        meter.link_to(sink)
        graph.configure()
        self._graph = graph
        self._layout = (frame.sample_rate, frame.layout.name, frame.format.bits)

    def add(self, frame: av.AudioFrame) -> None:
        if self._broken:
            return
        try:
            if self._graph is None:
                self._build(frame)
            elif self._layout != (frame.sample_rate, frame.layout.name, frame.format.bits):
                # A mid-stream format change is rare and not worth a resampler: give up.
                self._broken = True
                return
            assert self._graph is not None
            self._graph.push(frame)
            self._drain()
        except (av.error.FFmpegError, ValueError):
            self._broken = True

    def _drain(self) -> None:
        assert self._graph is not None
        while True:
            try:
                out = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            meta = out.metadata
            if "lavfi.r128.I" in meta:
                self._integrated = float(meta["lavfi.r128.I"])
            if "lavfi.r128.true_peak" in meta:
                self._peak = max(self._peak, float(meta["lavfi.r128.true_peak"]))

    def finish(self) -> Loudness:
        if self._graph is not None and not self._broken:
            try:
                self._graph.push(None)
                self._drain()
            except (av.error.FFmpegError, ValueError):
                self._broken = True
        if self._broken or self._graph is None:
            return Loudness(None, None)
        integrated = self._integrated
        if integrated is None or integrated <= _SILENCE_LUFS or math.isnan(integrated):
            integrated = None
        peak = round(20 * math.log10(self._peak), 2) if self._peak > 0 else None
        return Loudness(round(integrated, 2) if integrated is not None else None, peak)


def measure_loudness(path: Path, *, budget: WorkBudget | None = None) -> Loudness:
    """Decode `path` (first audio stream) and measure it. `budget` is charged every frame
    (`ProcessingLimit` past a bound, `ShuttingDown` once cancelled); a file that does not
    open or decode is `UndecodableAudio`."""
    budget = budget or WorkBudget()
    budget.start()
    meter = LoudnessMeter()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise UndecodableAudio(f"The stored audio cannot be read: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise UndecodableAudio("The stored file holds no audio stream.")
        try:
            for frame in container.decode(container.streams.audio[0]):
                budget.charge(audio_seconds=frame.samples / (frame.sample_rate or 1))
                meter.add(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            raise UndecodableAudio(f"The stored audio cannot be decoded: {exc}") from exc
    return meter.finish()
