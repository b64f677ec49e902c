"""Migrations on SQLite and real PostgreSQL: upgrade from empty, downgrade/upgrade round
trips, and the search index of 0002 (built over existing rows, kept in step, used by `q`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import uuid_utils
from sqlalchemy import MetaData, Table, inspect, text

from audiostore.catalog import (
    READY,
    AudioRow,
    Catalog,
    ListQuery,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)


async def tables(c: Catalog) -> set[str]:
    async with c.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


NOW = datetime.now(UTC)
FIRST_COLUMNS = {
    "id", "owner", "collection", "name", "key", "state", "content_type", "format", "codec",
    "duration", "sample_rate", "channels", "bitrate", "size", "sha256", "metadata", "text",
    "voice_id", "created_at", "expires_at", "updated_at",
}


def row(name: str, text_: str | None = None, *, minutes: int = 0) -> AudioRow:
    audio_id = str(uuid_utils.uuid7())
    return AudioRow(
        id=audio_id, owner="alice", collection="c", name=name, key=f"alice/c/{audio_id}.wav",
        state=READY, content_type="audio/wav", format="wav", codec="pcm_s16le", duration=1.0,
        sample_rate=8000, channels=1, bitrate=None, size=100, sha256="0" * 64, meta={},
        text=text_, voice_id=None, created_at=NOW + timedelta(minutes=minutes), expires_at=None,
        updated_at=NOW,
    )


async def search(c: Catalog, q: str) -> set[str]:
    rows = await c.list_visible(ListQuery(owner="alice", text_query=q, limit=100), now=NOW)
    return {r.name for r in rows}


async def test_upgrade_from_empty(catalog: Catalog) -> None:
    assert await current_revision(catalog.engine) is None
    await upgrade(catalog.engine)
    assert await current_revision(catalog.engine) == head_revision()
    assert {"audio", "api_keys"} <= await tables(catalog)
    await upgrade(catalog.engine)  # idempotent
    assert await current_revision(catalog.engine) == head_revision()


async def test_full_round_trip(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    await downgrade(catalog.engine, "base")
    assert await current_revision(catalog.engine) is None
    assert not {"audio", "api_keys", "audio_search"} & await tables(catalog)
    await upgrade(catalog.engine)
    assert await current_revision(catalog.engine) == head_revision()
    await catalog.insert_audio(row("after the round trip", "hello there"))
    assert await search(catalog, "round trip") == {"after the round trip"}


async def test_search_index_round_trip_keeps_rows_searchable(catalog: Catalog) -> None:
    await upgrade(catalog.engine, "0001")
    old = row("Old recording", "sea shells by the sea shore")
    # At 0001 the model's later columns do not exist yet: insert the 0001 columns only.
    values = {name: getattr(old, "meta" if name == "metadata" else name) for name in FIRST_COLUMNS}
    first = Table("audio", MetaData(), *[c._copy() for c in AudioRow.__table__.c if c.name in FIRST_COLUMNS])
    async with catalog.engine.begin() as conn:
        await conn.execute(first.insert().values(values))
    await upgrade(catalog.engine)  # 0002 indexes rows that were already there
    assert await search(catalog, "SHELLS") == {"Old recording"}
    await downgrade(catalog.engine, "0001")
    assert "audio_search" not in await tables(catalog)
    async with catalog.engine.connect() as conn:  # the rows themselves are untouched
        assert (await conn.execute(text("SELECT count(*) FROM audio"))).scalar_one() == 1
    await upgrade(catalog.engine)
    assert await search(catalog, "shore") == {"Old recording"}


async def test_search_follows_inserts_renames_and_deletes(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    a, b = row("Morning warmup", "la la la"), row("take_1 100% done", None, minutes=1)
    c = row("Ünïcode Grüße", "Straße", minutes=2)
    for r in (a, b, c):
        await catalog.insert_audio(r)
    assert await search(catalog, "warm") == {"Morning warmup"}
    assert await search(catalog, "WARMUP") == {"Morning warmup"}
    assert await search(catalog, "la la") == {"Morning warmup"}
    assert await search(catalog, "100%") == {"take_1 100% done"}
    assert await search(catalog, "0%") == {"take_1 100% done"}  # short: scanned, same meaning
    assert await search(catalog, "e_1") == {"take_1 100% done"}
    assert await search(catalog, "ke_") == {"take_1 100% done"}
    assert await search(catalog, "1_0") == set()
    assert await search(catalog, "grüße") == {"Ünïcode Grüße"}
    assert await search(catalog, 'say "hi') == set()  # quotes are text, not query syntax
    d = row("it's a back\\slash take", None, minutes=3)
    await catalog.insert_audio(d)
    assert await search(catalog, "it's") == {d.name}  # quotes and backslashes are text too
    assert await search(catalog, "k\\sl") == {d.name}
    assert await search(catalog, "'; DROP TABLE audio; --") == set()
    assert await search(catalog, "NEAR(a b)") == set()
    await catalog.update_audio(a.id, {"name": "Evening cooldown"})
    assert await search(catalog, "warmup") == set()
    assert await search(catalog, "cooldown") == {"Evening cooldown"}
    await catalog.delete_rows([a.id])
    assert await search(catalog, "cooldown") == set()
    assert await search(catalog, "la la") == set()


async def test_search_pages_by_id(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    made = [row(f"lesson {i:02d}", minutes=i) for i in range(7)]
    for r in made:
        await catalog.insert_audio(r)
    seen: list[str] = []
    before = None
    while True:
        page = await catalog.list_visible(
            ListQuery(owner="alice", text_query="lesson", limit=3, before_id=before), now=NOW
        )
        if not page:
            break
        seen += [r.id for r in page]
        before = page[-1].id
    assert seen == sorted((r.id for r in made), reverse=True)


async def test_search_uses_the_index(catalog: Catalog) -> None:
    await upgrade(catalog.engine)
    await catalog.insert_audio(row("indexed name"))
    stmt_sql = """SELECT id FROM audio WHERE {clause} ORDER BY id DESC LIMIT 10"""
    async with catalog.engine.connect() as conn:
        if catalog.dialect == "sqlite":
            plan = (await conn.execute(text(
                "EXPLAIN QUERY PLAN " + stmt_sql.format(clause="id IN (SELECT id FROM audio_search "
                                                        "WHERE audio_search MATCH '\"dexed\"')")
            ))).all()
            assert any("VIRTUAL TABLE INDEX" in str(step) for step in plan), plan
        else:
            await conn.execute(text("SET enable_seqscan = off"))
            plan = (await conn.execute(text(
                "EXPLAIN " + stmt_sql.format(clause="(name ILIKE '%dexed%' OR text ILIKE '%dexed%')")
            ))).all()
            joined = "\n".join(str(step[0]) for step in plan)
            assert "ix_audio_name_trgm" in joined and "ix_audio_text_trgm" in joined, joined
