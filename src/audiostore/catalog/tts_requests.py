"""SQL for the `tts_requests` table: which stored audio answered a synthesis request.

One row per (owner, request hash). The hash covers engine, voice, text, format and options,
so an identical request finds the audio it made while that audio lives. Stale rows (audio
expired or deleted) are simply replaced; they never keep audio alive.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from .affected_rows import affected_rows
from .models import AudioRow, TtsRequestRow
from .sessions import Database


class TtsRequestCatalog:
    """Rows of `tts_requests`."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, owner: str, request_hash: str) -> TtsRequestRow | None:
        if self.database.reads is not None:  # every cache hit asks: the driver's read
            return await self.database.reads.tts_request(owner, request_hash)
        async with self.database.session() as s:
            stmt = select(TtsRequestRow).where(
                TtsRequestRow.owner == owner, TtsRequestRow.request_hash == request_hash
            )
            return (await s.execute(stmt)).scalar_one_or_none()

    async def put(self, row: TtsRequestRow) -> None:
        """Record `row`, replacing a stale entry. If another process recorded the same
        request at the same moment, its entry stands (both audios are valid objects)."""
        try:
            async with self.database.session() as s:
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
        async with self.database.session() as s:
            result = await s.execute(delete(TtsRequestRow).where(gone))
            return affected_rows(result)
