"""The TTS request cache in the catalogue: which stored audio answered a request.

One row per (owner, request hash). The hash covers engine, voice, text, format and options,
so an identical request finds the audio it made while that audio lives. Stale rows (audio
expired or deleted) are simply replaced; they never keep audio alive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from .affected_rows import affected_rows
from .models import AudioRow, Base, UTCDateTime

__all__ = ["TtsRequestCatalog", "TtsRequestRow"]


class TtsRequestRow(Base):
    """A synthesised request: the whole audio, and its segments when they were asked for."""

    __tablename__ = "tts_requests"

    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    audio_id: Mapped[str] = mapped_column(String(36))
    engine: Mapped[str] = mapped_column(String(32))
    phonemes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # [{"audio_id", "text", "phonemes"}] in order, or None without segments.
    segments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TtsRequestCatalog:
    """SQL for the TTS request cache (database errors stay at this edge)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def get(self, owner: str, request_hash: str) -> TtsRequestRow | None:
        async with self._sessions() as s:
            stmt = select(TtsRequestRow).where(
                TtsRequestRow.owner == owner, TtsRequestRow.request_hash == request_hash
            )
            return (await s.execute(stmt)).scalar_one_or_none()

    async def put(self, row: TtsRequestRow) -> None:
        """Record `row`, replacing a stale entry. If another process recorded the same
        request at the same moment, its entry stands (both audios are valid objects)."""
        try:
            async with self._sessions() as s, s.begin():
                await s.execute(
                    delete(TtsRequestRow).where(
                        TtsRequestRow.owner == row.owner,
                        TtsRequestRow.request_hash == row.request_hash,
                    )
                )
                s.add(row)
        except IntegrityError:
            return

    async def prune_orphans(self) -> int:
        """Forget requests whose audio row is gone (swept or deleted). Returns rows removed."""
        gone = ~exists().where(AudioRow.id == TtsRequestRow.audio_id)
        async with self._sessions() as s, s.begin():
            result = await s.execute(delete(TtsRequestRow).where(gone))
            return affected_rows(result)
