"""HLS for stored audio: a master playlist of two bit rates, VOD media playlists, and
segments of `SEGMENT_SECONDS` made on demand and kept.

Segments are AAC in MPEG-TS. Each segment is a file of its own (ADTS frames in TS packets, no
init segment to keep in step), timestamped on the source's clock, so segments made one by
one, in any order and by any instance, play as one timeline; hls.js, Safari and FFmpeg all
take it. (fMP4 would save the TS packet overhead, about 10 % at 64 kbit/s, but needs an init
segment and `tfdt` times kept consistent across separately made fragments.) A segment is a
derived blob like a rendition (kind `hls_segment`, not listed among the renditions), made once
through `RenderJobs` under the same processing budget, and deleted with its object.

Every URL a playlist holds is signed, for its one path: the HMAC covers
`hls:{audio id}/{path under hls/}`, the expiry and the clip's `start`/`end` if any, so a
playlist opens its own variants and segments and nothing else, never another object's nor
another span. A playlist fetched by a signed URL signs what it lists with that same expiry;
one fetched with an API key, with the default URL expiry.

A clip (`start`/`end`, validated as for a rendition, `service/clips.py`) is a playlist of its
own span: its segments are cut on a grid from the clip's start (segment n is
`[start + 6n, start + 6n + 6)`, the last one shorter), still timestamped on the source's
clock, and every URL it lists carries the clip. A clip starting on a multiple of six seconds
shares its segments with the whole object's (a segment's stored name is its bounds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from ..audio.transcode import SEGMENT_FORMATS, OutputProfile
from ..catalog import AudioRow
from ..errors import BadRequest, NotFound, SignatureInvalid, ValidationFailed
from ..signing import signed_query
from .audio import AudioService
from .clips import clip_bounds, clip_seconds_text, parse_clip
from .content_source import ContentSource
from .principal import Principal
from .renditions import RenditionService
from .served_rows import visible_row

SEGMENT_SECONDS = 6.0
SEGMENT_FORMAT = "hls-aac"
# Variant name -> AAC bit rate. Two rungs: speech on a poor link, and music.
LADDER = {"64k": 64_000, "128k": 128_000}
_SEGMENT_NAME = re.compile(r"^(0|[1-9][0-9]{0,6})\.ts$")
AAC_LC = 'CODECS="mp4a.40.2"'


CLIP_PARAMS = ("start", "end")


@dataclass(frozen=True, slots=True)
class HlsClip:
    """The span a playlist plays, in seconds of the source: asked for, not yet held against
    an object (`span_of` does that)."""

    start: float | None = None
    end: float | None = None

    def params(self) -> dict[str, str]:
        """The query parameters (and signed parameters) that carry it, in their one spelling."""
        out: dict[str, str] = {}
        if self.start is not None:
            out["start"] = clip_seconds_text(self.start)
        if self.end is not None:
            out["end"] = clip_seconds_text(self.end)
        return out


WHOLE = HlsClip()


def clip_of(params: Mapping[str, str]) -> HlsClip:
    """The clip named by a request's `start`/`end`; 422 as for a rendition's clip."""
    start, end = parse_clip({k: params[k] for k in CLIP_PARAMS if k in params})
    return HlsClip(start, end)


def span_of(row: AudioRow, clip: HlsClip) -> tuple[float, float]:
    """`clip` of `row` as `[start, end)` seconds; 422 if it starts at or after the end. An end
    past the audio's end is the audio's end."""
    start, end = clip_bounds(row, clip.start, clip.end)
    return start, row.duration if end is None else end


def held(row: AudioRow, clip: HlsClip) -> HlsClip:
    """`clip` in the spelling its URLs carry for `row`: checked, an end at or past the audio's
    end dropped (the same span as none)."""
    start, end = clip_bounds(row, clip.start, clip.end)
    return HlsClip(start or None, end)


def _rate_for(source_rate: int) -> int:
    rates = SEGMENT_FORMATS[SEGMENT_FORMAT].rates or (44_100,)
    higher = [r for r in rates if r >= source_rate]
    return min(higher) if higher else max(rates)


class HlsService:
    def __init__(self, audio: AudioService, renditions: RenditionService) -> None:
        self.renditions = renditions
        self.audio = audio

    # --- who may open what ------------------------------------------------------------
    async def by_key(
        self, principal: Principal, audio_id: str, params: Mapping[str, str]
    ) -> tuple[AudioRow, int, HlsClip]:
        """The object, the expiry its playlists sign with and the clip asked for, for an API
        key."""
        clip = clip_of(params)
        row = await self.audio.get(principal, audio_id)
        seconds = self.audio.settings.url_default_expiry
        expires = int((self.audio.clock() + timedelta(seconds=seconds)).timestamp())
        return row, expires, held(row, clip)

    async def by_signature(
        self, audio_id: str, path: str, *, expires: str, signature: str, params: dict[str, str]
    ) -> tuple[AudioRow, int, HlsClip]:
        """The object a signed HLS URL for `path` opens, its expiry and its clip; 403 unless
        it holds."""
        try:
            expires_int = int(expires)
        except ValueError as exc:
            raise BadRequest("expires must be an integer.") from exc
        now = self.audio.clock()
        self.audio.signer.verify(
            _subject(audio_id, path), expires_int, params, signature, now=now.timestamp()
        )
        # Only the path, the expiry and a clip in its one spelling are ever signed; anything
        # else that verifies would be two readings of one query.
        if set(params) - set(CLIP_PARAMS) or clip_of(params).params() != params:
            raise SignatureInvalid()
        row = await visible_row(
            self.audio.served_rows, self.audio.catalog, audio_id, owner=None, now=now
        )
        if row is None:
            raise NotFound()
        return row, expires_int, clip_of(params)

    async def sign_master(
        self, principal: Principal, audio_id: str, *, expires_in: int | None,
        rendition_params: dict[str, str],
    ) -> tuple[str, datetime]:
        """A signed URL of the master playlist, which a player opens with no header; a clip's
        `start`/`end` are the only rendition parameters it takes, and its signature covers
        them."""
        others = sorted(set(rendition_params) - set(CLIP_PARAMS))
        if others:
            raise ValidationFailed(
                f"An HLS URL takes start and end only, not {', '.join(others)}."
            )
        clip = clip_of(rendition_params)
        row = await self.audio.get(principal, audio_id)
        clip = held(row, clip)
        seconds = self.audio.check_expires_in(expires_in)
        expires_at = self.audio.clock() + timedelta(seconds=seconds)
        return self.url(row.id, "index.m3u8", int(expires_at.timestamp()), clip), expires_at

    def url(self, audio_id: str, path: str, expires: int, clip: HlsClip = WHOLE) -> str:
        params = clip.params()
        signature = self.audio.signer.sign(_subject(audio_id, path), expires, params)
        query = signed_query(params, expires, signature)
        return f"{self.audio.public_url}/v1/audio/{quote(audio_id)}/hls/{path}?{query}"

    # --- playlists ----------------------------------------------------------------------
    def master(self, row: AudioRow, expires: int, clip: HlsClip = WHOLE) -> str:
        span_of(row, clip)  # 422 before anything is listed
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
        for name, bitrate in LADDER.items():
            # BANDWIDTH is the peak: the bit rate plus MPEG-TS and ADTS overhead (~12 %).
            lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={int(bitrate * 1.12)},{AAC_LC}")
            lines.append(self.url(row.id, f"{name}/index.m3u8", expires, clip))
        return "\n".join(lines) + "\n"

    def media(self, row: AudioRow, variant: str, expires: int, clip: HlsClip = WHOLE) -> str:
        _check_variant(variant)
        start, end = span_of(row, clip)
        lines = [
            "#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{math.ceil(SEGMENT_SECONDS)}",
            "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD",
        ]
        for n in range(segment_count(end - start)):
            length = min(SEGMENT_SECONDS, end - start - n * SEGMENT_SECONDS)
            lines.append(f"#EXTINF:{length:.3f},")
            lines.append(self.url(row.id, f"{variant}/{n}.ts", expires, clip))
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    # --- segments ---------------------------------------------------------------------------
    def segment_profile(
        self, row: AudioRow, variant: str, n: int, clip: HlsClip = WHOLE
    ) -> OutputProfile:
        _check_variant(variant)
        first, last = span_of(row, clip)
        if not 0 <= n < segment_count(last - first):
            raise NotFound("No such segment.")
        start = round(first + n * SEGMENT_SECONDS, 3)
        end = min(round(start + SEGMENT_SECONDS, 3), last)
        return OutputProfile(
            SEGMENT_FORMAT, LADDER[variant], _rate_for(row.sample_rate), min(row.channels, 2),
            start=start, end=None if end >= row.duration else end,
        )

    async def segment(
        self, row: AudioRow, variant: str, name: str, clip: HlsClip = WHOLE
    ) -> ContentSource:
        match = _SEGMENT_NAME.match(name)
        if match is None:
            raise NotFound("No such segment.")
        profile = self.segment_profile(row, variant, int(match.group(1)), clip)
        derived = await self.renditions.ensure_rendition(row, profile)
        return await self.renditions.source_of(row, derived, allow_redirect=False)


def segment_count(duration: float) -> int:
    # A sliver under a millisecond past the last whole segment is rounding, not a segment.
    return max(1, math.ceil((duration - 0.001) / SEGMENT_SECONDS))


def _check_variant(variant: str) -> None:
    if variant not in LADDER:
        raise NotFound(f"No HLS variant {variant!r}; there are {', '.join(LADDER)}.")


def _subject(audio_id: str, path: str) -> str:
    return f"hls:{audio_id}/{path}"
