"""Migration 0003 (data safety) on SQLite and real PostgreSQL: existing rows get
`location=primary`, `attempts=0`; downgrade removes the columns and indexes; upgrade again."""

from __future__ import annotations


from sqlalchemy import inspect, text

from audiostore.catalog import Catalog, downgrade, upgrade

NEW_COLUMNS = {"location", "attempts", "next_attempt_at"}
NEW_INDEXES = {"ix_audio_key", "ix_audio_state_next_attempt", "ix_audio_location"}


async def audio_shape(c: Catalog) -> tuple[set[str], set[str]]:
    async with c.engine.connect() as conn:
        def shape(sync: object) -> tuple[set[str], set[str]]:
            insp = inspect(sync)
            return ({col["name"] for col in insp.get_columns("audio")},
                    {ix["name"] for ix in insp.get_indexes("audio")})
        return await conn.run_sync(shape)


async def test_0003_round_trip_keeps_rows(catalog: Catalog) -> None:
    await upgrade(catalog.engine, "0002")
    async with catalog.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO audio (id, owner, collection, name, key, state, content_type, format, "
            "codec, duration, sample_rate, channels, size, sha256, metadata, created_at, "
            "updated_at) VALUES ('01890a5d-ac96-774b-bcce-b302099a8057', 'a', 'c', 'n', "
            "'a/c/x.wav', 'ready', 'audio/wav', 'wav', 'pcm_s16le', 1.0, 8000, 1, 10, 'f', '{}', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))
    await upgrade(catalog.engine, "0003")
    columns, indexes = await audio_shape(catalog)
    assert NEW_COLUMNS <= columns and NEW_INDEXES <= indexes
    async with catalog.engine.connect() as conn:
        row = (await conn.execute(text("SELECT location, attempts, next_attempt_at FROM audio"))).one()
    assert tuple(row) == ("primary", 0, None)

    await downgrade(catalog.engine, "0002")
    columns, indexes = await audio_shape(catalog)
    assert not (NEW_COLUMNS & columns) and not (NEW_INDEXES & indexes)
    await upgrade(catalog.engine, "0003")
    async with catalog.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM audio"))).scalar_one() == 1
