"""Queues: the one MP3 profile their continuous streams are made of, and how they are sent."""

from __future__ import annotations

from pydantic import Field

from .group import SettingsGroup


class QueueSettings(SettingsGroup):
    queue_stream_bitrate: int = Field(
        128_000, description="CBR bit rate (bit/s) of the MP3 profile queue streams are made of."
    )
    queue_stream_sample_rate: int = Field(
        44_100, description="Sample rate (Hz) of the MP3 profile queue streams are made of."
    )
    queue_stream_channels: int = Field(
        2, description="Channels (1 or 2) of the MP3 profile queue streams are made of."
    )
    queue_burst_seconds: float = Field(
        10.0, description="Seconds of audio a queue stream sends at once before pacing to "
        "playback speed (fills the player's buffer quickly)."
    )
    queue_icy_metaint: int = Field(
        16_000, description="Bytes of audio between ICY metadata blocks on queue streams "
        "(only for clients that send `Icy-MetaData: 1`)."
    )
    queue_max_items: int = Field(1000, description="Most audio ids one queue may hold.")
