"""A full database disk is `InsufficientStorage` (507) at the catalogue's edge, on SQLite and
real PostgreSQL, for every caller; other database errors are not taken for it.

SQLite: the connection may not grow its file (`PRAGMA max_page_count`), so an insert that needs
a new page gets SQLite's own SQLITE_FULL, "database or disk is full". PostgreSQL: the server
raises SQLSTATE 53100 `disk_full` itself (from PL/pgSQL), through the real driver.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uuid_utils
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from audiostore.catalog import READY, AudioRow, Catalog, upgrade
from audiostore.catalog.models import TusUploadRow
from audiostore.catalog.tus_uploads import RECEIVING
from audiostore.errors import InsufficientStorage


def row(name: str, text_: str | None = None) -> AudioRow:
    audio_id, now = str(uuid_utils.uuid7()), datetime.now(UTC)
    return AudioRow(
        id=audio_id, owner="alice", collection="c", name=name, key=f"alice/c/{audio_id}.wav",
        state=READY, content_type="audio/wav", format="wav", codec="pcm_s16le", duration=1.0,
        sample_rate=8000, channels=1, bitrate=None, size=100, sha256="0" * 64, meta={},
        text=text_, voice_id=None, created_at=now, expires_at=None, updated_at=now,
    )


async def make_full(catalog: Catalog) -> None:
    """Every later statement that must store more meets a full disk."""
    if catalog.dialect == "sqlite":
        @event.listens_for(catalog.engine.sync_engine, "connect")
        def _no_growth(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA page_count")
            cur.execute(f"PRAGMA max_page_count = {cur.fetchone()[0]}")
            cur.close()

        await catalog.engine.dispose()
        return
    async with catalog.engine.begin() as conn:  # a trigger stands in for the full disk
        await conn.execute(text(
            "CREATE FUNCTION disk_is_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'could not extend file: No space left on device' "
            "USING ERRCODE = 'disk_full'; END $$"
        ))
        await conn.execute(text(
            "CREATE TRIGGER disk_is_full BEFORE INSERT ON audio "
            "FOR EACH ROW EXECUTE FUNCTION disk_is_full()"
        ))


async def test_a_full_database_is_insufficient_storage(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    await catalog.insert_audio(row("before.wav"))
    await make_full(catalog)
    with pytest.raises(InsufficientStorage) as caught:
        await catalog.insert_audio(row("after.wav", "words " * 10_000))  # needs pages of its own
    assert caught.value.status == 507 and caught.value.code == "insufficient_storage"
    assert await catalog.count_rows() == 1  # the failed insert was rolled back; reads go on


async def test_other_database_errors_stay_what_they_are(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    with pytest.raises(DBAPIError):
        async with catalog.engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))


async def test_a_full_database_refuses_a_patch_offset_write_with_507(catalog: Catalog) -> None:
    """A PATCH's offset write runs on the driver's own connection (catalog/driver_reads.py),
    not the engine's: a full disk there is the same 507, and the row keeps its offset."""
    await upgrade(catalog.engine)
    now = datetime.now(UTC)
    upload_id = str(uuid_utils.uuid7())
    await catalog.tus_uploads.insert(TusUploadRow(
        id=upload_id, owner="alice", state=RECEIVING, length=None, offset=3, upload_metadata=None,
        fields={}, bounds={}, writer=None, lease_until=None, audio_id=None, created_at=now,
        updated_at=now, expires_at=now + timedelta(hours=1), concat=None,
    ))
    reads = catalog.database.reads
    assert reads is not None, "SQLite files and PostgreSQL write a PATCH's offset on the driver"
    if catalog.dialect == "sqlite":
        await reads.ping()  # connects the reader and the writer
        writer = reads._writer  # the writer connection may not grow the file either
        assert writer is not None
        pages = writer.execute("PRAGMA page_count").fetchone()[0]
        writer.execute(f"PRAGMA max_page_count = {pages}")
    else:
        await make_full(catalog)
        async with catalog.engine.begin() as conn:
            await conn.execute(text(
                "CREATE TRIGGER tus_disk_is_full BEFORE UPDATE ON tus_uploads "
                "FOR EACH ROW EXECUTE FUNCTION disk_is_full()"
            ))
    with pytest.raises(InsufficientStorage) as caught:
        await catalog.tus_uploads.advance(  # a value that needs pages of its own
            upload_id, old_offset=3, new_offset=7, now=now, values={"error_message": "x" * 200_000})
    assert caught.value.status == 507 and caught.value.code == "insufficient_storage"
    after = await catalog.tus_uploads.get(upload_id)
    assert after is not None and after.offset == 3 and after.error_message is None
