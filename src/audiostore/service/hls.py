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
`hls:{audio id}/{path under hls/}` and the expiry, so a playlist opens its own variants and
segments and nothing else, never another object's. A playlist fetched by a signed URL signs
what it lists with that same expiry; one fetched with an API key, with the default URL expiry.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from urllib.parse import quote

from ..audio.transcode import SEGMENT_FORMATS, OutputProfile
from ..catalog import AudioRow
from ..errors import BadRequest, NotFound, SignatureInvalid, ValidationFailed
from ..signing import signed_query
from .audio import AudioService
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


def _rate_for(source_rate: int) -> int:
    rates = SEGMENT_FORMATS[SEGMENT_FORMAT].rates or (44_100,)
    higher = [r for r in rates if r >= source_rate]
    return min(higher) if higher else max(rates)


class HlsService:
    def __init__(self, audio: AudioService, renditions: RenditionService) -> None:
        self.renditions = renditions
        self.audio = audio

    # --- who may open what ------------------------------------------------------------
    async def by_key(self, principal: Principal, audio_id: str) -> tuple[AudioRow, int]:
        """The object and the expiry its playlists sign with, for an API key."""
        row = await self.audio.get(principal, audio_id)
        seconds = self.audio.settings.url_default_expiry
        return row, int((self.audio.clock() + timedelta(seconds=seconds)).timestamp())

    async def by_signature(
        self, audio_id: str, path: str, *, expires: str, signature: str, params: dict[str, str]
    ) -> tuple[AudioRow, int]:
        """The object a signed HLS URL for `path` opens, and its expiry; 403 unless it holds."""
        try:
            expires_int = int(expires)
        except ValueError as exc:
            raise BadRequest("expires must be an integer.") from exc
        if params:
            raise SignatureInvalid()  # only the path and the expiry are ever signed
        now = self.audio.clock()
        self.audio.signer.verify(
            _subject(audio_id, path), expires_int, {}, signature, now=now.timestamp()
        )
        row = await visible_row(
            self.audio.served_rows, self.audio.catalog, audio_id, owner=None, now=now
        )
        if row is None:
            raise NotFound()
        return row, expires_int

    async def sign_master(
        self, principal: Principal, audio_id: str, *, expires_in: int | None,
        rendition_params: dict[str, str],
    ) -> tuple[str, datetime]:
        """A signed URL of the master playlist, which a player opens with no header."""
        if rendition_params:
            raise ValidationFailed("An HLS URL takes no rendition parameters.")
        row = await self.audio.get(principal, audio_id)
        seconds = self.audio.check_expires_in(expires_in)
        expires_at = self.audio.clock() + timedelta(seconds=seconds)
        return self.url(row.id, "index.m3u8", int(expires_at.timestamp())), expires_at

    def url(self, audio_id: str, path: str, expires: int) -> str:
        signature = self.audio.signer.sign(_subject(audio_id, path), expires, {})
        base = self.audio.public_url
        return f"{base}/v1/audio/{quote(audio_id)}/hls/{path}?{signed_query({}, expires, signature)}"

    # --- playlists ----------------------------------------------------------------------
    def master(self, row: AudioRow, expires: int) -> str:
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
        for name, bitrate in LADDER.items():
            # BANDWIDTH is the peak: the bit rate plus MPEG-TS and ADTS overhead (~12 %).
            lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={int(bitrate * 1.12)},{AAC_LC}")
            lines.append(self.url(row.id, f"{name}/index.m3u8", expires))
        return "\n".join(lines) + "\n"

    def media(self, row: AudioRow, variant: str, expires: int) -> str:
        _check_variant(variant)
        count = segment_count(row.duration)
        lines = [
            "#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{math.ceil(SEGMENT_SECONDS)}",
            "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD",
        ]
        for n in range(count):
            length = min(SEGMENT_SECONDS, row.duration - n * SEGMENT_SECONDS)
            lines.append(f"#EXTINF:{length:.3f},")
            lines.append(self.url(row.id, f"{variant}/{n}.ts", expires))
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    # --- segments ---------------------------------------------------------------------------
    def segment_profile(self, row: AudioRow, variant: str, n: int) -> OutputProfile:
        _check_variant(variant)
        if not 0 <= n < segment_count(row.duration):
            raise NotFound("No such segment.")
        start = n * SEGMENT_SECONDS
        end = start + SEGMENT_SECONDS
        return OutputProfile(
            SEGMENT_FORMAT, LADDER[variant], _rate_for(row.sample_rate), min(row.channels, 2),
            start=start, end=None if end >= row.duration else end,
        )

    async def segment(self, row: AudioRow, variant: str, name: str) -> ContentSource:
        match = _SEGMENT_NAME.match(name)
        if match is None:
            raise NotFound("No such segment.")
        profile = self.segment_profile(row, variant, int(match.group(1)))
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
