"""TTS test support: an engine wrapper that counts syntheses, and an engine that always fails."""

from __future__ import annotations

import io
import av
import numpy as np
from conftest import Api

from audiostore.runtime import Runtime
from audiostore.tts import EngineError, EspeakEngine, Speech, SynthesisOptions, Voice


class CountingEngine:
    """The real espeak-ng engine, counting how often it is asked to synthesise."""

    name = "espeak"

    def __init__(self) -> None:
        self.inner = EspeakEngine()
        self.calls: list[tuple[str, str]] = []

    async def voices(self) -> list[Voice]:
        return await self.inner.voices()

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        self.calls.append((text, voice.id))
        return await self.inner.synthesize(text, voice, options)


class BrokenEngine:
    """An engine whose synthesis always fails (for the 502 path)."""

    name = "broken"

    async def voices(self) -> list[Voice]:
        return [Voice(id="broken-voice", engine=self.name, language="en", name="Broken")]

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        raise EngineError("the test engine always fails")


async def assert_nothing_stored(api: Api) -> None:
    """No row, no blob and no temp file: what every refused request must leave."""
    assert await api.row_count() == 0
    assert await api.blob_keys() == []
    tmp = api.runtime.audio.tmp_dir
    assert not tmp.exists() or list(tmp.iterdir()) == []


def count_engine(runtime: Runtime) -> CountingEngine:
    engine = CountingEngine()
    runtime.tts.registry.register(engine, first=True)
    return engine


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """All samples (float, mono mixed) and the sample rate, decoded with PyAV."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        parts = [frame.to_ndarray().astype(np.float64) for frame in container.decode(stream)]
    samples = np.concatenate([p.reshape(p.shape[0], -1).mean(axis=0) if p.ndim > 1 else p for p in parts])
    return samples, rate


def rms(samples: np.ndarray, full_scale: float) -> float:
    return float(np.sqrt(np.mean((samples / full_scale) ** 2)))


# Texts that crash libespeak-ng 1.52 (espeakng-loader 0.2.4) in `espeak_Synth`: stack smashing,
# SIGSEGV, SIGBUS (issue 11). Each crashed every time here.
ESPEAK_CRASHERS = ["a." * 300, "U.S." * 150, "A.B.C." * 100]


async def tts_cache_entries(api: Api) -> int:
    """Rows in the TTS request cache (`tts_requests`)."""
    from sqlalchemy import func, select

    from audiostore.catalog.models import TtsRequestRow

    async with api.runtime.catalog.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(TtsRequestRow))).scalar_one())
