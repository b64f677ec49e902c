"""A queue as an HLS playlist: VOD for the modes that end, live-style for those that don't.

`sequential` and `shuffle` play each item once, so their playlist is VOD: every item's
segments in play order (shuffled once per request for `shuffle`), an `EXT-X-DISCONTINUITY`
where one item ends and the next begins (each item's segments carry its own clock), and
`EXT-X-ENDLIST`. `loop` and `endless-shuffle` never end, so theirs is a live playlist: a
sliding window over an endless timeline of rounds, each round every item once (in queue
order, or reshuffled per round). The timeline is a function of the clock and the queue, not
of any state: it starts when the queue was last written, and every listener and instance sees
the same window at the same time, its `EXT-X-MEDIA-SEQUENCE` and
`EXT-X-DISCONTINUITY-SEQUENCE` counted from that start.

Segments are the items' own HLS segments (`service/hls.py`, the 128k variant), signed per
path, so the playlist opens exactly the queue's items as they are now.

A queue takes no clip: `start`/`end` would mean a span of a timeline that is reshuffled per
request (`shuffle`) or has no beginning (`loop`), so they are refused rather than read one way
or another; a clip of one item is that item's own playlist.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from ..catalog import AudioRow
from ..errors import BadRequest, Conflict, SignatureInvalid, ValidationFailed
from ..signing import parse_signed_query, signed_query
from .hls import SEGMENT_SECONDS, HlsService, segment_count
from .principal import Principal
from .queue_urls import MODE_PARAM, OWNER_PARAM
from .queues import MODES, QueueService, QueueView

QUEUE_VARIANT = "128k"
LIVE_WINDOW = 6  # segments a live playlist lists (36 s)
_ENDLESS = ("loop", "endless-shuffle")


@dataclass(frozen=True, slots=True)
class _Segment:
    item: AudioRow
    n: int
    seconds: float


def _segments_of(item: AudioRow) -> list[_Segment]:
    return [
        _Segment(item, n, min(SEGMENT_SECONDS, item.duration - n * SEGMENT_SECONDS))
        for n in range(segment_count(item.duration))
    ]


def _subject(owner: str, name: str) -> str:
    return f"queue-hls:{owner}/{name}"


class QueueHls:
    def __init__(self, queues: QueueService, hls: HlsService) -> None:
        self.queues = queues
        self.hls = hls
        self.audio = queues.audio

    def sign(self, owner: str, name: str, mode: str, expires_at: datetime) -> str:
        expires = int(expires_at.timestamp())
        signature = self.audio.signer.sign(_subject(owner, name), expires, {MODE_PARAM: mode})
        query = f"{OWNER_PARAM}={quote(owner, safe='')}&{signed_query({MODE_PARAM: mode}, expires, signature)}"
        return f"{self.audio.public_url}/v1/queues/{quote(name)}/hls/index.m3u8?{query}"

    async def sign_for(
        self, principal: Principal, name: str, *, mode: str, expires_in: int | None
    ) -> tuple[str, datetime]:
        _check_mode(mode)
        await self.queues.get(principal, name)  # 404 unless it exists
        expires_at = self.audio.clock() + timedelta(seconds=self.audio.check_expires_in(expires_in))
        return self.sign(principal.owner, name, mode, expires_at), expires_at

    async def by_key(self, principal: Principal, name: str, mode: str) -> str:
        seconds = self.audio.settings.url_default_expiry
        expires = int((self.audio.clock() + timedelta(seconds=seconds)).timestamp())
        return await self.playlist(principal, name, mode, expires)

    async def by_signature(self, name: str, raw_query: str) -> str:
        signed = parse_signed_query(raw_query)
        try:
            expires = int(signed.expires)
        except ValueError as exc:
            raise BadRequest("expires must be an integer.") from exc
        params = dict(signed.params)
        owner = params.pop(OWNER_PARAM, "")
        self.audio.signer.verify(
            _subject(owner, name), expires, params, signed.signature,
            now=self.audio.clock().timestamp(),
        )
        if set(params) != {MODE_PARAM}:
            raise SignatureInvalid()
        return await self.playlist(Principal(owner=owner), name, params[MODE_PARAM], expires)

    async def playlist(self, principal: Principal, name: str, mode: str, expires: int) -> str:
        _check_mode(mode)
        view = await self.queues.get(principal, name)
        if not view.items:
            raise Conflict("The queue has no playable items.")
        if mode in _ENDLESS:
            return self._live(view, mode, expires)
        order = list(view.items)
        if mode == "shuffle":
            random.shuffle(order)
        lines = self._head(
            max(s.seconds for item in order for s in _segments_of(item)), 0, 0, vod=True
        )
        for i, item in enumerate(order):
            if i:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += self._entries(_segments_of(item), expires)
        lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"

    def _live(self, view: QueueView, mode: str, expires: int) -> str:
        seed = f"{view.name}/{view.created_at.isoformat()}"

        def round_of(r: int) -> list[_Segment]:
            order = list(view.items)
            if mode == "endless-shuffle":
                random.Random(f"{seed}/{r}").shuffle(order)
            return [s for item in order for s in _segments_of(item)]

        per_round = len(round_of(0))
        round_seconds = sum(s.seconds for s in round_of(0))
        elapsed = max(0.0, (self.audio.clock() - view.updated_at).total_seconds())
        r = int(elapsed // round_seconds)
        within, k = elapsed - r * round_seconds, 0
        segments = round_of(r)
        while k < per_round - 1 and within >= segments[k].seconds:
            within -= segments[k].seconds
            k += 1
        now_index = r * per_round + k
        first = max(0, now_index - LIVE_WINDOW + 1)
        window = [(g, round_of(g // per_round)[g % per_round]) for g in range(first, now_index + 1)]
        # Discontinuities (item starts after the very first) before the first listed segment.
        r_first, k_first = divmod(first, per_round)
        item_starts = r_first * len(view.items) + sum(1 for s in round_of(r_first)[:k_first] if s.n == 0)
        starts = max(0, item_starts - 1)  # the very first segment follows no other
        lines = self._head(SEGMENT_SECONDS, first, starts, vod=False)
        for g, seg in window:
            if seg.n == 0 and g > first:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += self._entries([seg], expires)
        return "\n".join(lines) + "\n"

    @staticmethod
    def _head(longest: float, sequence: int, discontinuities: int, *, vod: bool) -> list[str]:
        lines = [
            "#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{math.ceil(longest)}",
            f"#EXT-X-MEDIA-SEQUENCE:{sequence}",
        ]
        if vod:
            lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
        else:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}")
        return lines

    def _entries(self, segments: Sequence[_Segment], expires: int) -> list[str]:
        out: list[str] = []
        for s in segments:
            out.append(f"#EXTINF:{s.seconds:.3f},")
            out.append(self.hls.url(s.item.id, f"{QUEUE_VARIANT}/{s.n}.ts", expires))
        return out


def refuse_clip(params: Mapping[str, str]) -> None:
    """422 for a queue playlist asked for with a clip."""
    if "start" in params or "end" in params:
        raise ValidationFailed(
            "A queue's HLS playlist takes no start or end; clip an item's own playlist "
            "(/v1/audio/{id}/hls/index.m3u8?start=...&end=...)."
        )


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValidationFailed(f"mode must be one of {', '.join(MODES)}.")

