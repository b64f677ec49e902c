"""The list filters `prefix` and `created_after`/`created_before` on SQLite and PostgreSQL:
the same rows from the driver reads and the ORM, whichever index serves them (few matches:
the filter's own index, many: the walk down the owner's ids), exact at their boundaries,
paged by cursor with no row skipped or repeated, and the planned statements using the
indexes of migration 0014 (EXPLAIN names them)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text

from audiostore.catalog import AudioRow, Catalog, ListQuery, create_engine, driver_reads, upgrade
from audiostore.catalog.key_prefix import key_prefix_range
from audiostore.settings import Settings
from driver_read_support import both, record_statements

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
TOP = chr(0x10FFFF)


def audio(i: int, **kw: Any) -> AudioRow:
    values: dict[str, Any] = dict(
        id=f"01900000-0000-7000-8000-{i:012x}", owner="alice", collection="default",
        name=f"take {i}", key=f"alice/default/{i}.wav", state="ready", content_type="audio/wav",
        format="wav", codec="pcm_s16le", duration=1.5, sample_rate=48000, channels=2, bitrate=None,
        size=1000 + i, sha256="ab" * 32, meta={}, text=None, voice_id=None,
        created_at=NOW - timedelta(hours=i), expires_at=None, updated_at=NOW, location="primary",
        attempts=0,
    )
    values.update(kw)
    return AudioRow(**values)


def fields(row: AudioRow) -> dict[str, Any]:
    return {a.key: getattr(row, a.key) for a in sa_inspect(AudioRow).column_attrs}


def test_a_prefix_range_holds_exactly_the_keys_that_start_with_it() -> None:
    assert key_prefix_range("alice/") == ("alice/", "alice0")
    assert key_prefix_range("a" + TOP) == ("a" + TOP, "b")
    assert key_prefix_range(TOP) == (TOP, None)
    assert key_prefix_range("x\ud7ff") == ("x\ud7ff", "x\ue000")  # no surrogate in UTF-8
    rng = random.Random(15)
    alphabet = ["a", "b", "A", "/", "%", "_", "\\", "é", "\ud7ff", "\ue000", "😀", TOP]
    for _ in range(3000):
        prefix = "".join(rng.choices(alphabet, k=rng.randint(1, 3)))
        key = "".join(rng.choices(alphabet, k=rng.randint(0, 5)))
        low, high = key_prefix_range(prefix)
        # Code point order is UTF-8's byte order (and Python's string order).
        in_range = low <= key and (high is None or key < high)
        assert in_range == key.startswith(prefix), (prefix, key)


KEYS = [
    "alice/songs/1.wav", "alice/Songs/2.wav", "alice/songs%/3.wav", "alice/songsX/4.wav",
    "alice/song_/5.wav", "alice/songs\\/6.wav", "alice/é/7.wav", "alice/😀/8.wav",
    f"alice/{TOP}/9.wav", f"alice/{TOP}{TOP}x/10.wav", "alice/songs", "alicf/11.wav",
]


async def filled(catalog: Catalog) -> list[AudioRow]:
    await upgrade(catalog.engine)
    rows = [audio(i + 1, key=key) for i, key in enumerate(KEYS)]
    rows += [
        audio(20, key="alice/songs/deleted.wav", state="deleting"),
        audio(21, key="alice/songs/expired.wav", expires_at=NOW),
        audio(22, key="alice/songs/pending.wav", state="pending"),
        audio(23, owner="bob", key="alice/songs/bobs.wav"),
    ]
    for row in rows:
        await catalog.insert_audio(row)
    return rows


def expected(rows: Sequence[AudioRow], *, prefix: str | None = None, after: datetime | None = None,
             before: datetime | None = None) -> list[str]:
    """What a page may hold, worked out in Python: alice's visible rows, newest id first."""
    return sorted((
        r.id for r in rows
        if r.owner == "alice" and r.state == "ready" and (r.expires_at is None or r.expires_at > NOW)
        and (prefix is None or r.key.startswith(prefix))
        and (after is None or r.created_at > after) and (before is None or r.created_at < before)
    ), reverse=True)


PREFIXES = ["alice/songs/", "alice/Songs/", "alice/songs%", "alice/song_", "alice/songs\\",
            "alice/é", "alice/😀", f"alice/{TOP}", f"alice/{TOP}{TOP}", "alice/songs", "alice", "nobody/"]


@pytest.mark.parametrize("few_matches", [1, 3, 1000])  # the walk, both, the filter's index
async def test_a_prefix_is_case_sensitive_and_literal(
    catalog: Catalog, few_matches: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_reads, "FEW_MATCHES", few_matches)
    rows = await filled(catalog)
    for prefix in PREFIXES:
        q = ListQuery(owner="alice", key_prefix=prefix, limit=51)
        fast, slow = await both(catalog, lambda c: c.list_visible(q, now=NOW))
        assert [fields(r) for r in fast] == [fields(r) for r in slow], prefix
        assert [r.id for r in fast] == expected(rows, prefix=prefix), prefix
    # `alice/songs/` is not `alice/Songs/`, and `%`, `_` and `\` match only themselves.
    songs = await catalog.list_visible(ListQuery(owner="alice", key_prefix="alice/songs/", limit=51), now=NOW)
    assert [r.key for r in songs] == ["alice/songs/1.wav"]


@pytest.mark.parametrize("few_matches", [1, 1000])
async def test_created_bounds_are_exclusive_to_the_microsecond(
    catalog: Catalog, few_matches: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_reads, "FEW_MATCHES", few_matches)
    rows = await filled(catalog)  # row i was created at NOW - i hours
    moment = rows[2].created_at
    micro = timedelta(microseconds=1)
    cases = [(moment, None), (moment - micro, None), (moment + micro, None), (None, moment),
             (None, moment + micro), (None, moment - micro), (moment - micro, moment + micro),
             (moment, moment + micro), (moment - timedelta(hours=5), moment)]
    for after, before in cases:
        q = ListQuery(owner="alice", created_after=after, created_before=before, limit=51)
        fast, slow = await both(catalog, lambda c: c.list_visible(q, now=NOW))
        assert [fields(r) for r in fast] == [fields(r) for r in slow], (after, before)
        assert [r.id for r in fast] == expected(rows, after=after, before=before), (after, before)
    exactly = ListQuery(owner="alice", created_after=moment - micro, created_before=moment + micro, limit=51)
    assert [r.id for r in await catalog.list_visible(exactly, now=NOW)] == [rows[2].id]
    assert await catalog.list_visible(
        ListQuery(owner="alice", created_after=moment, created_before=moment + micro, limit=51), now=NOW) == []


@pytest.mark.parametrize("few_matches", [1, 4, 1000])
async def test_cursor_pages_skip_and_repeat_nothing(
    catalog: Catalog, few_matches: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver_reads, "FEW_MATCHES", few_matches)
    rows = await filled(catalog)
    after = NOW - timedelta(hours=9, minutes=30)
    for prefix, created_after in [("alice/", None), (None, after), ("alice/songs", after)]:
        for use_driver in (True, False):
            reads = catalog.database.reads
            if not use_driver:
                catalog.database.reads = None
            try:
                seen: list[str] = []
                cursor = None
                for _ in range(20):  # bounded: 12 rows, 2 a page
                    page = await catalog.list_visible(ListQuery(
                        owner="alice", key_prefix=prefix, created_after=created_after, limit=2,
                        before_id=cursor), now=NOW)
                    seen += [r.id for r in page]
                    if len(page) < 2:
                        break
                    cursor = page[-1].id
            finally:
                catalog.database.reads = reads
            assert seen == expected(rows, prefix=prefix, after=created_after), (prefix, use_driver)


# --- the indexes the planned statements use --------------------------------------------
SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO audio (id, owner, collection, name, key, state, content_type, format, codec,
  duration, sample_rate, channels, size, sha256, metadata, created_at, updated_at, location, attempts)
SELECT printf('01900000-0000-7000-8000-%012x', i), 'user' || (i % 4), 'c', 'n' || i,
  'user' || (i % 4) || '/c/' || i || '.wav', 'ready', 'audio/wav', 'wav', 'pcm', 1.0, 48000, 1,
  1, '', '{}', strftime('%Y-%m-%d %H:%M:%S.000000', '2026-01-01', '+' || i || ' seconds'),
  '2026-01-01 00:00:00.000000', 'primary', 0
FROM n
"""
POSTGRES_FILL = """
INSERT INTO audio (id, owner, collection, name, key, state, content_type, format, codec,
  duration, sample_rate, channels, size, sha256, metadata, created_at, updated_at, location, attempts)
SELECT '01900000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), 'user' || (i % 4), 'c', 'n' || i,
  'user' || (i % 4) || '/c/' || i || '.wav', 'ready', 'audio/wav', 'wav', 'pcm', 1.0, 48000, 1,
  1, '', '{}'::json, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
  timestamptz '2026-01-01 00:00:00+00', 'primary', 0
FROM generate_series(1, :rows) AS i
"""
ROWS = 20_000


def literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def plans(catalog: Catalog, statements: list[tuple[str, list[Any]]]) -> list[str]:
    """Each statement's plan, as the driver reads get it: PostgreSQL's generic plan (values
    unknown, GENERIC_PLANS), SQLite's with the values bound."""
    url = catalog.engine.url
    out = []
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database))
        try:
            for sql, args in statements:
                out.append("\n".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args)))
        finally:
            conn.close()
        return out
    pg = await asyncpg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await pg.execute("SET plan_cache_mode = force_generic_plan")
        for i, (sql, args) in enumerate(statements):
            await pg.execute(f"PREPARE plan_{i} AS {sql}")
            rows = await pg.fetch(f"EXPLAIN EXECUTE plan_{i}({', '.join(map(literal, args))})")
            out.append("\n".join(r[0] for r in rows))
    finally:
        await pg.close()
    return out


async def test_each_filter_is_served_by_its_index(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    await upgrade(catalog.engine)
    postgres = catalog.engine.dialect.name == "postgresql"
    async with catalog.engine.begin() as conn:
        await conn.execute(text(POSTGRES_FILL if postgres else SQLITE_FILL), {"rows": ROWS})
    if postgres:  # as autovacuum has; SQLite is left without statistics, as it runs
        async with catalog.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE audio"))
    sent = record_statements(catalog, monkeypatch)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    cases = [  # (query, rows it finds, the index of its page)
        (ListQuery(owner="user1", key_prefix="user1/c/1999", limit=51), 2, "ix_audio_owner_key"),
        (ListQuery(owner="user1", key_prefix="user1/c/", limit=51), 51, "ix_audio_owner_id"),
        (ListQuery(owner="user1", created_after=at + timedelta(seconds=ROWS - 10), limit=51), 2,
         "ix_audio_owner_created_at_id"),
        (ListQuery(owner="user1", created_before=at + timedelta(seconds=10), limit=51), 3,
         "ix_audio_owner_created_at_id"),
        (ListQuery(owner="user1", created_after=at, limit=51), 51, "ix_audio_owner_id"),
    ]
    for query, found, index in cases:
        sent.clear()
        assert len(await catalog.list_visible(query, now=NOW)) == found, query
        count, page = await plans(catalog, sent)
        # The matches counted in the filter's index alone, then the page from `index`.
        counted = "ix_audio_owner_key" if query.key_prefix else "ix_audio_owner_created_at_id"
        assert counted in count and "audio_pkey" not in count, count
        assert index in page, (query, page)
        for other in {"ix_audio_owner_key", "ix_audio_owner_created_at_id", "ix_audio_owner_id"} - {index}:
            assert other not in page, (query, page)


async def test_sqlite_statistics_cover_the_new_indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SQLite catalogue analysed before migration 0014: without statistics of their own,
    its indexes looked very selective, and a plain page sorted all the owner's rows from
    ix_audio_owner_created_at_id. The migration analyses them."""
    url = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}").resolved_database_url
    catalog = Catalog(create_engine(url))
    try:
        await upgrade(catalog.engine, "0013")
        async with catalog.engine.begin() as conn:
            await conn.execute(text(SQLITE_FILL), {"rows": ROWS})
            await conn.execute(text("ANALYZE"))
        await upgrade(catalog.engine)
        sent = record_statements(catalog, monkeypatch)
        assert len(await catalog.list_visible(ListQuery(owner="user1", limit=51), now=NOW)) == 51
        (page,) = await plans(catalog, sent)
        assert "ix_audio_owner_id" in page and "TEMP B-TREE" not in page, page
    finally:
        await catalog.close()
