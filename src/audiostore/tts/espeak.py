"""espeak-ng, the default engine: the library and data bundled by `espeakng-loader`, via ctypes.

libespeak-ng corrupts its memory on some texts (`"a." * 300` smashes its stack: SIGABRT,
SIGSEGV, SIGBUS), so it never runs in the server's process: `EspeakEngine` sends each call to
a worker process of a `NativeWorkerPool`, where a crash costs that one request (502
`engine_failed`). The `*_blocking` functions are what runs there. The library keeps global
state (one voice, one callback, one parameter set per process), so inside a worker every call
goes through one lock. Written against the C API in `speak_lib.h` because no maintained Python
binding exposes synthesis to memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from ..native_workers import NativeCallFailed, NativeWorkerPool
from .base import EngineError, Speech, SynthesisOptions, Voice

__all__ = ["EspeakEngine"]

T = TypeVar("T")

AUDIO_OUTPUT_SYNCHRONOUS = 2
ESPEAK_CHARS_UTF8 = 1
POS_CHARACTER = 1
ESPEAK_RATE = 1
PHONEMES_IPA = 0x02
DEFAULT_RATE = 175  # words a minute: espeak-ng's own default
MIN_RATE, MAX_RATE = 80, 450
# Listing tries every voice (~0.5 s in all, once per engine): it is not held to the per-request
# synthesis deadline, which an operator may set well below that.
LISTING_TIMEOUT_SECONDS = 60.0


class _EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, name, NUL)* then NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_LOCK = threading.Lock()
_state: dict[str, Any] = {}
# Voice id (its first language, e.g. "en-gb") -> espeak identifier ("gmw/en"): the identifier
# is what espeak_SetVoiceByName finds for every voice; language codes only for some.
_IDENTIFIERS: dict[str, bytes] = {}


def _library() -> tuple[ctypes.CDLL, int]:
    """Load and initialise libespeak-ng once per process (call with `_LOCK` held)."""
    if "lib" not in _state:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        rate = lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
        )
        if rate <= 0:
            raise EngineError("espeak-ng failed to initialise (is espeakng-loader's data intact?)")
        chunks: list[bytes] = []

        def on_audio(wav: Any, numsamples: int, _events: Any) -> int:
            if wav and numsamples > 0:
                chunks.append(ctypes.string_at(wav, numsamples * 2))
            return 0

        callback = _SynthCallback(on_audio)
        lib.espeak_SetSynthCallback(callback)
        _state.update(lib=lib, rate=rate, chunks=chunks, callback=callback)
    return _state["lib"], _state["rate"]


def _languages(ptr: int | None) -> list[str]:
    """Decode espeak_VOICE.languages: repeated (priority byte, name, NUL), ended by a NUL."""
    out: list[str] = []
    if not ptr:
        return out
    offset = 0
    while True:
        priority = ctypes.string_at(ptr + offset, 1)
        if priority == b"\x00":
            return out
        name = ctypes.string_at(ptr + offset + 1)
        out.append(name.decode("utf-8", "replace"))
        offset += 2 + len(name)


def list_voices_blocking() -> list[tuple[Voice, bytes]]:
    """Every voice with the espeak identifier that selects it (in a worker process)."""
    with _LOCK, _c_stderr_silenced():
        return [(voice, _IDENTIFIERS[voice.id]) for voice in _list_voices()]


@contextlib.contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the block, then back.

    Listing tries each voice (`_speaks`), and libespeak-ng writes "Can't read dictionary file"
    to the process's stderr for each bundled voice whose dictionary is missing: C's stderr,
    which Python cannot catch, landing in the server's log as noise on every first listing.
    Those voices are left out of the listing, so the message says nothing an operator can act
    on. Only the listing is silenced: a crash report during synthesis still reaches the log.
    In a worker process one call runs at a time, so nothing else writes meanwhile."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _list_voices() -> list[Voice]:
    """Every voice that speaks, one per first language (call with `_LOCK` held)."""
    lib, rate = _library()
    array = lib.espeak_ListVoices(None)
    voices: dict[str, Voice] = {}
    i = 0
    while array[i]:
        raw = array[i].contents
        i += 1
        langs = _languages(raw.languages)
        if not langs:
            continue
        voice_id = langs[0]
        if voice_id in voices or not raw.identifier or not _speaks(lib, raw.identifier, rate):
            continue
        _IDENTIFIERS[voice_id] = raw.identifier
        voices.setdefault(voice_id, Voice(
            id=voice_id, engine="espeak", language=voice_id,
            name=(raw.name or b"").decode("utf-8", "replace"),
        ))
    return sorted(voices.values(), key=lambda v: v.id)


def _speaks(lib: ctypes.CDLL, identifier: bytes, rate: int) -> bool:
    """A few voices in the bundled data lack their dictionary and speak nothing; they are
    left out of the listing rather than answering silence. Costs ~1 ms a voice, once."""
    try:
        return _synth_locked(lib, identifier, b"1 2 3", DEFAULT_RATE).size > rate // 10
    except EngineError:
        return False


def _phonemes(lib: ctypes.CDLL, text: bytes) -> str:
    """IPA for `text`: espeak_TextToPhonemes gives one clause a call and moves the pointer."""
    buffer = ctypes.create_string_buffer(text)
    pointer = ctypes.c_void_p(ctypes.addressof(buffer))
    parts: list[str] = []
    for _ in range(len(text) + 1):  # at most one clause per byte; never loops forever
        if not pointer.value:
            break
        result = lib.espeak_TextToPhonemes(ctypes.byref(pointer), ESPEAK_CHARS_UTF8, PHONEMES_IPA)
        if result:
            parts.append(result.decode("utf-8", "replace").strip())
    return " ".join(p for p in parts if p)


def _synth_locked(lib: ctypes.CDLL, identifier: bytes, text: bytes, wpm: int) -> np.ndarray:
    """Samples for `text` (call with `_LOCK` held)."""
    chunks: list[bytes] = _state["chunks"]
    chunks.clear()
    if lib.espeak_SetVoiceByName(identifier) != 0:
        raise EngineError(f"espeak-ng has no voice {identifier.decode(errors='replace')!r}.")
    lib.espeak_SetParameter(ESPEAK_RATE, wpm, 0)
    status = lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
    samples = np.frombuffer(b"".join(chunks), dtype=np.int16).copy()
    chunks.clear()
    if status != 0:
        raise EngineError(f"espeak-ng synthesis failed (error {status}).")
    return samples


def synthesize_blocking(text: str, identifier: bytes, speed: float) -> Speech:
    """Speak `text` with the voice espeak knows as `identifier` (in a worker process)."""
    encoded = text.encode("utf-8")
    wpm = max(MIN_RATE, min(MAX_RATE, round(DEFAULT_RATE * speed)))
    with _LOCK:
        lib, sample_rate = _library()
        samples = _synth_locked(lib, identifier, encoded, wpm)
        phonemes = _phonemes(lib, encoded)
    if samples.size == 0:
        raise EngineError("espeak-ng produced no audio for this text.")
    return Speech(samples=samples, sample_rate=sample_rate, phonemes=phonemes or None)


class EspeakEngine:
    """espeak-ng: offline, every bundled voice; gives IPA phonemes. Runs in `pool`'s worker
    processes (default: the process-wide `shared_engine_pool()`)."""

    name = "espeak"

    def __init__(self, pool: NativeWorkerPool | None = None) -> None:
        if pool is None:
            from .engine_processes import shared_engine_pool

            pool = shared_engine_pool()
        self.pool = pool
        # Voice id -> espeak identifier, learnt from the listing: a fresh worker (after a
        # crash) then needs no listing of its own before it speaks.
        self._identifiers: dict[str, bytes] = {}

    async def voices(self) -> list[Voice]:
        timeout = max(self.pool.timeout, LISTING_TIMEOUT_SECONDS)
        listed = await self._in_worker(list_voices_blocking, timeout=timeout)
        self._identifiers = {voice.id: identifier for voice, identifier in listed}
        return [voice for voice, _ in listed]

    async def synthesize(self, text: str, voice: Voice, options: SynthesisOptions) -> Speech:
        if voice.id not in self._identifiers:
            await self.voices()
        identifier = self._identifiers.get(voice.id, voice.id.encode())
        return await self._in_worker(synthesize_blocking, text, identifier, options.speed)

    async def _in_worker(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        try:
            return await self.pool.call(fn, *args, timeout=timeout)
        except NativeCallFailed as exc:
            raise EngineError(f"{exc}.") from exc
