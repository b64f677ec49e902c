"""Renditions and waveforms: blobs derived from an object, made once, kept beside it.

A rendition is keyed by every parameter that decides its bytes (format, bit rate, sample
rate, channels, normalisation gain), so two requests that would produce the same bytes share
one blob and two that would not never do. The first request renders it fully (so it is
answered with Content-Length, ETag and Range like any stored object); concurrent requests
for the same rendition wait on one job (`RenderJobs`) and render it once. Every job runs
under the processing limits (`processing_limits`): past one it stops, its scratch goes and
the request answers 422 `processing_limit`; a job nobody waits for any more is cancelled
unless nearly done, and every job is cancelled at shutdown. Each derived blob is
recorded in `derived_blobs`, listed on the audio object, and deleted with the object (the
row by ON DELETE CASCADE, its blob by the deletion lifecycle's purge, service/deletion.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio

from ..audio.growing_source import GrowingSource
from ..audio.transcode import (
    FORMATS,
    MAX_BITRATE,
    MIN_BITRATE,
    OutputProfile,
    format_info,
    transcode,
)
from ..audio.waveform import compute_peaks
from ..audio.work_budget import WorkBudget
from ..blob_keys import rendition_key
from ..blobstores import BlobStore, LocalPathStore
from ..catalog import AudioRow, Catalog
from ..catalog.models import DerivedBlobRow
from ..errors import (
    AudiostoreError,
    ConfigurationError,
    Conflict,
    InsufficientStorage,
    NotFound,
    UnknownFormat,
    ValidationFailed,
)
from ..settings import ProcessingSettings
from .content_source import BlobAccess, ContentFields, ContentSource
from .loudness_meter import LoudnessMeter
from .original_copy import OriginalCopies
from .principal import Principal
from .processing_limits import rendition_budget, waveform_budget
from .clips import clip_bounds, clip_seconds_text, clip_variant, parse_clip
from .live_renditions import LiveRenditions
from .render_jobs import RenderJobs
from .scratch_dir import held_scratch_dir
from .streamed_original import original_as_it_arrives
from .visible_audio import visible_or_not_found

log = logging.getLogger(__name__)

RENDITION_PARAMS = ("format", "bitrate", "sample_rate", "channels", "normalize", "start", "end")
WAVEFORM_PARAMS = ("samples_per_pixel", "pixels_per_second", "bits", "channels", "format")
RENDITION, WAVEFORM, HLS_SEGMENT = "rendition", "waveform", "hls_segment"
MAX_WAVEFORM_PIXELS = 5_000_000


@dataclass(frozen=True, slots=True)
class RenditionRequest:
    """What a client asked for; `None` fields take defaults from the source object."""

    format: str
    bitrate: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    normalize: bool = False
    start: float | None = None  # a clip: seconds of the source
    end: float | None = None

    def params(self) -> dict[str, str]:
        """Canonical query parameters (what a signed URL carries and its signature covers)."""
        out = {"format": self.format}
        if self.bitrate is not None:
            out["bitrate"] = str(self.bitrate)
        if self.sample_rate is not None:
            out["sample_rate"] = str(self.sample_rate)
        if self.channels is not None:
            out["channels"] = str(self.channels)
        if self.normalize:
            out["normalize"] = "true"
        if self.start is not None:
            out["start"] = clip_seconds_text(self.start)
        if self.end is not None:
            out["end"] = clip_seconds_text(self.end)
        return out


@dataclass(frozen=True, slots=True)
class WaveformRequest:
    samples_per_pixel: int | None
    pixels_per_second: int | None
    bits: int
    split_channels: bool
    format: str  # "json" | "dat"

    def variant(self, sample_rate: int) -> str:
        spp = self.samples_per_pixel or max(1, sample_rate // (self.pixels_per_second or 1))
        return f"w-s{spp}-b{self.bits}-{'all' if self.split_channels else 'mono'}-{self.format}"


def wants_rendition(params: Mapping[str, str]) -> bool:
    """Whether a content request names a rendition (rather than the original bytes)."""
    return any(k in params for k in RENDITION_PARAMS)


def _int_param(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip().lower()
    scale = 1
    if name == "bitrate" and text.endswith("k"):
        text, scale = text[:-1], 1000
    try:
        value = int(text) * scale
    except ValueError as exc:
        raise ValidationFailed(f"{name} must be an integer.") from exc
    if not low <= value <= high:
        raise ValidationFailed(f"{name} must be between {low} and {high}.")
    return value


def parse_rendition(params: Mapping[str, str]) -> RenditionRequest | None:
    """The rendition named by query parameters, None for the original; 422 on anything off."""
    fmt = params.get("format")
    if fmt is None:
        extra = [k for k in RENDITION_PARAMS if k in params]
        if extra:
            raise ValidationFailed(f"{', '.join(extra)} need a format (e.g. format=mp3).")
        return None
    fmt = fmt.strip().lower()
    if fmt == "m4a":
        fmt = "aac"
    if fmt not in FORMATS:
        raise UnknownFormat(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    unknown = sorted(set(params) - set(RENDITION_PARAMS))
    if unknown:
        raise ValidationFailed(f"Unknown rendition parameters: {', '.join(unknown)}.")
    info = FORMATS[fmt]
    bitrate = _int_param(params, "bitrate", MIN_BITRATE, MAX_BITRATE)
    if bitrate is not None and not info.lossy:
        raise ValidationFailed(f"{fmt} is lossless: it takes no bitrate.")
    sample_rate = _int_param(params, "sample_rate", 8000, 192_000)
    if sample_rate is not None and info.rates is not None and sample_rate not in info.rates:
        raise ValidationFailed(
            f"{fmt} takes sample_rate {', '.join(map(str, info.rates))}, not {sample_rate}."
        )
    channels = _int_param(params, "channels", 1, info.max_channels)
    normalize_raw = (params.get("normalize") or "false").strip().lower()
    if normalize_raw not in ("true", "false", "1", "0"):
        raise ValidationFailed("normalize must be true or false.")
    start, end = parse_clip(params)
    return RenditionRequest(
        fmt, bitrate, sample_rate, channels, normalize_raw in ("true", "1"), start, end
    )


def parse_waveform(params: Mapping[str, str]) -> WaveformRequest:
    unknown = sorted(set(params) - set(WAVEFORM_PARAMS))
    if unknown:
        raise ValidationFailed(f"Unknown waveform parameters: {', '.join(unknown)}.")
    spp = _int_param(params, "samples_per_pixel", 2, 10_000_000)
    pps = _int_param(params, "pixels_per_second", 1, 96_000)
    if spp is not None and pps is not None:
        raise ValidationFailed("Give samples_per_pixel or pixels_per_second, not both.")
    if spp is None and pps is None:
        spp = 256
    bits = _int_param(params, "bits", 8, 16) or 8
    if bits not in (8, 16):
        raise ValidationFailed("bits must be 8 or 16.")
    channels = (params.get("channels") or "mono").lower()
    if channels not in ("mono", "all"):
        raise ValidationFailed("channels must be mono or all.")
    fmt = (params.get("format") or "json").lower()
    if fmt not in ("json", "dat"):
        raise UnknownFormat("A waveform's format is json or dat.")
    return WaveformRequest(spp, pps, bits, channels == "all", fmt)


def _ingest_entry(entry: str) -> tuple[str | None, RenditionRequest]:
    """`[source->]format[:bitrate]` from AUDIOSTORE_INGEST_RENDITIONS; wrong ones stop the start."""
    source, _, spec = entry.rpartition("->")
    fmt, _, bitrate = spec.partition(":")
    params = {"format": fmt.strip()}
    if bitrate.strip():
        params["bitrate"] = bitrate.strip()
    try:
        req = parse_rendition(params)
    except AudiostoreError as exc:
        raise ConfigurationError(f"AUDIOSTORE_INGEST_RENDITIONS entry {entry!r}: {exc.message}") from exc
    assert req is not None
    return (source.strip().lower() or None), req


def _default_rate(info_rates: tuple[int, ...] | None, source: int) -> int:
    if info_rates is None or source in info_rates:
        return source
    higher = [r for r in info_rates if r >= source]
    return min(higher) if higher else max(info_rates)


def _renamed(row: AudioRow, ext: str) -> AudioRow:
    """A detached copy of `row` whose name ends in `ext`, so a download of a rendition is
    offered as `take1.mp3` rather than `take1.webm`."""
    copy = row.detached_copy()
    stem = row.name.rsplit(".", 1)[0] if "." in row.name else row.name
    copy.name = f"{stem}.{ext}"
    return copy


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class RenditionService:
    """Makes, finds, serves and lists derived blobs of stored objects."""

    def __init__(
        self, *, settings: ProcessingSettings, catalog: Catalog, store: BlobStore, access: BlobAccess,
        originals: OriginalCopies, meter: LoudnessMeter, clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store
        self.access = access
        self.originals = originals
        self.meter = meter  # measures loudness first when normalising needs it
        self.clock = clock
        self.rows = catalog.derived_blobs
        self.jobs = RenderJobs()
        self.live = LiveRenditions()  # renditions being encoded, readable as they grow
        self.renders = 0  # how many derived blobs this process has made (tests count them)
        self._ingest_plan = [_ingest_entry(e) for e in self.settings.ingest_renditions]

    # --- profiles -----------------------------------------------------------------------
    def profile_for(self, row: AudioRow, req: RenditionRequest) -> OutputProfile:
        info = FORMATS[req.format]
        gain = 0.0
        if req.normalize and row.loudness_lufs is not None:
            gain = self.settings.loudness_target_lufs - row.loudness_lufs
            if row.true_peak_dbtp is not None:  # never push the true peak over the ceiling
                gain = min(gain, self.settings.loudness_max_true_peak - row.true_peak_dbtp)
            gain = round(gain, 2)
        start, end = clip_bounds(row, req.start, req.end)
        return OutputProfile(
            format=req.format,
            bitrate=(req.bitrate or info.default_bitrate) if info.lossy else None,
            sample_rate=req.sample_rate or _default_rate(info.rates, row.sample_rate),
            channels=req.channels or min(row.channels, info.max_channels),
            gain_db=gain,
            start=start,
            end=end,
        )

    async def measured_profile(self, row: AudioRow, req: RenditionRequest) -> OutputProfile:
        """`profile_for`, after measuring the loudness first if normalising needs it and the
        analysis after the upload has not run yet."""
        if req.normalize and row.analysis_due_at is not None:
            if await self.meter.measure_stored(row):
                await self.after_analysis(row)  # what the analysis after the upload would do
        return self.profile_for(row, req)

    @staticmethod
    def variant_of(profile: OutputProfile) -> str:
        parts = [
            "q" if profile.standalone_frames else "r", profile.format,
            f"b{profile.bitrate or 0}", f"r{profile.sample_rate}", f"c{profile.channels}",
        ]
        if profile.gain_db:
            parts.append(f"g{int(round(profile.gain_db * 100))}")
        if profile.start or profile.end is not None:
            parts.append(clip_variant(profile.start, profile.end))
        return "-".join(parts)

    # --- making ---------------------------------------------------------------------------
    async def _once(
        self, row: AudioRow, variant: str, budget: WorkBudget,
        make: Callable[[WorkBudget], Awaitable[DerivedBlobRow]],
    ) -> DerivedBlobRow:
        """The derived blob `variant` of `row`: from the catalogue, or made by one shared job."""
        found = await self.rows.get(row.id, variant)
        if found is not None:
            return found

        async def made_once(budget: WorkBudget) -> DerivedBlobRow:
            again = await self.rows.get(row.id, variant)  # a job that ended just before ours
            if again is not None:
                return again
            made = await make(budget)
            self.renders += 1
            return made

        return await self.jobs.run(
            self.job_key(row, variant), budget, total_seconds=row.duration, make=made_once
        )

    @staticmethod
    def job_key(row: AudioRow, variant: str) -> str:
        return f"{row.id}/{variant}"

    @asynccontextmanager
    async def original_for_encoding(
        self, row: AudioRow, budget: WorkBudget
    ) -> AsyncIterator[tuple[Path, Path | GrowingSource]]:
        """As `OriginalCopies.in_scratch`, but from a remote store the encoder may start
        reading while the original is still downloading."""
        if isinstance(self.store, LocalPathStore):
            async with self.originals.in_scratch(row) as pair:
                yield pair
            return
        with held_scratch_dir(self.originals.tmp_dir) as tmp:
            async with original_as_it_arrives(self.store, row, tmp, budget.cancel) as source:
                yield tmp, source

    async def _store_derived(
        self, row: AudioRow, *, variant: str, kind: str, fmt: str, ext: str,
        content_type: str, path: Path, params: dict[str, Any], duration: float | None,
    ) -> DerivedBlobRow:
        key = rendition_key(row.key, variant, ext)
        size = path.stat().st_size
        sha = await anyio.to_thread.run_sync(_sha256_of, path)
        await self.store.put_file(key, path, content_type=content_type)
        derived = DerivedBlobRow(
            audio_id=row.id, variant=variant, kind=kind, key=key, format=fmt,
            content_type=content_type, size=size, sha256=sha, params=params, duration=duration,
            created_at=self.clock(),
        )
        try:
            await self.rows.put(derived)
        except Conflict as exc:  # the object went while we rendered: leave nothing behind
            await self.store.delete_many([key])
            raise NotFound() from exc
        except InsufficientStorage:  # the catalogue's disk is full: no blob without its row
            await self.store.delete_many([key])
            raise
        if await self.catalog.get_visible(row.id, owner=None, now=self.clock()) is None:
            # Deleted while we rendered, its row still there when ours went in: the delete may
            # have gathered its blobs' keys before ours existed, so take ours back ourselves.
            await self.rows.delete_one(row.id, variant)
            await self.store.delete_many([key])
            raise NotFound()
        return derived

    async def ensure_rendition(self, row: AudioRow, profile: OutputProfile) -> DerivedBlobRow:
        variant = self.variant_of(profile)
        info = format_info(profile.format)
        kind = RENDITION if profile.format in FORMATS else HLS_SEGMENT

        async def make(budget: WorkBudget) -> DerivedBlobRow:
            async with self.original_for_encoding(row, budget) as (tmp, source):
                out = tmp / f"out.{info.ext}"
                with self.live.writing(self.job_key(row, variant), tmp, profile.format) as live:
                    seconds = await anyio.to_thread.run_sync(
                        lambda: transcode(source, out, profile, budget=budget, live=live)
                    )
                params: dict[str, Any] = {
                    "format": profile.format, "bitrate": profile.bitrate,
                    "sample_rate": profile.sample_rate, "channels": profile.channels,
                    "gain_db": profile.gain_db,
                }
                if profile.start or profile.end is not None:
                    params.update(start=profile.start, end=profile.end)
                if profile.standalone_frames:
                    params["queue"] = True
                return await self._store_derived(
                    row, variant=variant, kind=kind, fmt=profile.format, ext=info.ext,
                    content_type=info.content_type, path=out, params=params,
                    duration=round(seconds, 6),
                )

        budget = rendition_budget(self.settings, row, profile)
        return await self._once(row, variant, budget, make)

    # --- serving ----------------------------------------------------------------------------
    async def source_of(self, row: AudioRow, derived: DerivedBlobRow, *, allow_redirect: bool) -> ContentSource:
        row = _renamed(row, derived.key.rsplit(".", 1)[-1])
        common: ContentFields = {
            "row": row, "content_type": derived.content_type, "size": derived.size,
            "etag": f'"{derived.sha256}"', "key": derived.key,
        }
        return await self.access.source(common, allow_redirect=allow_redirect)

    async def open_content(
        self, principal: Principal, audio_id: str, params: Mapping[str, str]
    ) -> ContentSource:
        """The original (no `format`) or a rendition of a visible object, rendered if new."""
        req = parse_rendition(params)
        if req is None:  # `wants_rendition` said otherwise: the route serves the original
            raise ValidationFailed("Name a rendition's format (e.g. format=mp3).")
        row = await self._visible(principal, audio_id)
        derived = await self.ensure_rendition(row, await self.measured_profile(row, req))
        return await self.source_of(row, derived, allow_redirect=True)

    async def open_for_row(self, row: AudioRow, params: Mapping[str, str]) -> ContentSource | None:
        """For an already verified signed URL: the rendition its parameters name, or None."""
        req = parse_rendition(params)
        if req is None:
            return None
        derived = await self.ensure_rendition(row, await self.measured_profile(row, req))
        return await self.source_of(row, derived, allow_redirect=False)

    def signing_params(self, params: Mapping[str, str]) -> dict[str, str]:
        """Check rendition parameters for a signed URL and return their canonical form."""
        req = parse_rendition(params)
        return req.params() if req else {}

    # --- waveforms ----------------------------------------------------------------------------
    async def waveform(
        self, principal: Principal, audio_id: str, params: Mapping[str, str]
    ) -> ContentSource:
        req = parse_waveform(params)
        row = await self._visible(principal, audio_id)
        spp = req.samples_per_pixel or max(1, row.sample_rate // (req.pixels_per_second or 1))
        if row.duration * row.sample_rate / spp > MAX_WAVEFORM_PIXELS:
            raise ValidationFailed(
                f"That scale gives more than {MAX_WAVEFORM_PIXELS} pixels; use a larger "
                "samples_per_pixel."
            )
        variant = req.variant(row.sample_rate)

        async def make(budget: WorkBudget) -> DerivedBlobRow:
            async with self.originals.in_scratch(row) as (tmp, source):
                out = tmp / f"peaks.{req.format}"

                def compute() -> None:
                    peaks = compute_peaks(
                        source, samples_per_pixel=req.samples_per_pixel,
                        pixels_per_second=req.pixels_per_second, bits=req.bits,
                        split_channels=req.split_channels, budget=budget,
                    )
                    if req.format == "dat":
                        out.write_bytes(peaks.to_dat())
                    else:
                        with out.open("w") as f:
                            json.dump(peaks.to_json(), f, separators=(",", ":"))

                await anyio.to_thread.run_sync(compute)
                content_type = "application/json" if req.format == "json" else "application/octet-stream"
                return await self._store_derived(
                    row, variant=variant, kind=WAVEFORM, fmt=req.format, ext=req.format,
                    content_type=content_type, path=out,
                    params={"samples_per_pixel": spp, "bits": req.bits,
                            "channels": "all" if req.split_channels else "mono"},
                    duration=None,
                )

        budget = waveform_budget(
            self.settings, row, pixels=row.duration * row.sample_rate / spp,
            channels=row.channels if req.split_channels else 1, bits=req.bits,
        )
        derived = await self._once(row, variant, budget, make)
        return await self.source_of(row, derived, allow_redirect=False)

    async def describe(
        self, principal: Principal, audio_id: str
    ) -> tuple[AudioRow, list[DerivedBlobRow]]:
        """A visible object and the renditions made of it so far."""
        row = await self._visible(principal, audio_id)
        return row, (await self.renditions_of([row]))[row.id]

    async def _visible(self, principal: Principal, audio_id: str) -> AudioRow:
        return await visible_or_not_found(self.catalog, principal, audio_id, now=self.clock())

    # --- hooks AudioService calls ---------------------------------------------------------------
    async def renditions_of(self, rows: Sequence[AudioRow]) -> dict[str, list[DerivedBlobRow]]:
        out: dict[str, list[DerivedBlobRow]] = {r.id: [] for r in rows}
        for d in await self.rows.list_for([r.id for r in rows], kind=RENDITION):
            out[d.audio_id].append(d)
        return out

    def begin_shutdown(self) -> None:
        """Stop every rendition and waveform in flight, refuse new ones; returns at once."""
        self.jobs.begin_shutdown()

    async def close(self) -> None:
        """Shutdown: stop every rendition and waveform in flight and wait until their scratch
        is gone (a few seconds at most)."""
        await self.jobs.close()

    def ingest_requests(self, row: AudioRow) -> list[RenditionRequest]:
        """`AUDIOSTORE_INGEST_RENDITIONS` entries that apply to `row`'s upload format."""
        return [req for source, req in self._ingest_plan if source in (None, row.format)]

    async def after_analysis(self, row: AudioRow) -> None:
        """The ingest renditions of a just measured object (they may normalise), unless it was
        deleted or expired meanwhile: no renditions for an object that is going away."""
        if not self.ingest_requests(row):
            return
        current = await self.catalog.get_visible(row.id, owner=None, now=self.clock())
        if current is not None:
            await self.after_ingest(current)

    async def after_ingest(self, row: AudioRow) -> None:
        """Make the renditions the settings ask for at upload. A failure is logged, not raised:
        the upload itself is stored, and the rendition is made on first request instead."""
        for req in self.ingest_requests(row):
            try:
                await self.ensure_rendition(row, self.profile_for(row, req))
            except Exception as exc:  # noqa: BLE001 - see docstring
                log.warning("ingest rendition %s of %s failed: %s", req.format, row.id, exc)
