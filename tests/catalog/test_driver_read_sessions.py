"""The PostgreSQL pool of the driver reads (catalog/driver_reads.py) sends no reset query after a
read, and nothing one use of a connection leaves behind reaches the next.

asyncpg's default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) undoes
advisory locks, open cursors, LISTENs and session settings. The pool skips it, so these tests
show that none of those can be left by a read: every statement the reads send is one fixed
SELECT with every value bound as a parameter (a hostile value never becomes SQL), so no read
sets, locks, listens or declares anything, and a connection's session after every kind of read
is a fresh connection's. What asyncpg still does on release is tested too, as the service relies
on it: a transaction left open is rolled back, and a read cancelled mid-query (a client gone)
leaves its connection idle and usable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # reason: asyncpg ships no type hints
import pytest

from audiostore.catalog import AudioRow, Catalog, create_engine, upgrade
from audiostore.catalog.driver_reads import DriverReads, VisibleQuery
from audiostore.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOSTILE = "x'); SET search_path TO nowhere; SELECT pg_advisory_lock(1); LISTEN leak; --"


def audio(i: int, **kw: Any) -> AudioRow:
    values: dict[str, Any] = dict(
        id=f"01900000-0000-7000-8000-{i:012x}", owner="alice", collection="default",
        name=f"take {i}", key=f"alice/default/{i}.wav", state="ready", content_type="audio/wav",
        format="wav", codec="pcm_s16le", duration=1.0, sample_rate=48000, channels=1,
        bitrate=None, size=100, sha256="ab" * 32, meta={}, text=None, voice_id=None,
        created_at=NOW - timedelta(minutes=i), expires_at=None, updated_at=NOW,
        location="primary", attempts=0,
    )
    values.update(kw)
    return AudioRow(**values)


@pytest.fixture
async def pg(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[Catalog, DriverReads, str]]:
    catalog = Catalog(create_engine(Settings(data_dir=tmp_path, database_url=postgres_url)
                                    .resolved_database_url))
    try:
        await upgrade(catalog.engine)
        for i in range(1, 6):
            await catalog.insert_audio(audio(i))
        reads = catalog.database.reads
        assert reads is not None
        await reads.ping()  # the pool opens on first use
        yield catalog, reads, postgres_url
    finally:
        await catalog.close()


async def every_read(reads: DriverReads, value: str) -> None:
    """Each kind of read the routes make, with `value` in every place a request can put text."""
    await reads.ping()
    await reads.get_visible(value, owner=value, now=NOW)
    await reads.get_many_visible([value, "01900000-0000-7000-8000-000000000001"], owner=value, now=NOW)
    await reads.get_many_signable([value], owner=value, now=NOW)
    await reads.list_visible(VisibleQuery(
        owner=value, collection=value, name=value, key_prefix=value, created_after=NOW,
        created_before=NOW, before_id=value, limit=50), now=NOW)
    await reads.list_visible(VisibleQuery(
        owner="alice", collection=None, name=None, key_prefix=None, created_after=None,
        created_before=None, before_id=None, limit=50), now=NOW)
    await reads.derived_for([value], value)
    await reads.tts_request(value, value)
    await reads.tus_upload(value)


async def session_state(conn: Any) -> dict[str, Any]:
    """What asyncpg's reset would undo, as the server sees it on this connection."""
    return {
        "settings": sorted(tuple(r) for r in await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE source = 'session'")),
        "advisory locks": await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"),
        "cursors": await conn.fetchval("SELECT count(*) FROM pg_cursors"),
        "listening": await conn.fetchval("SELECT count(*) FROM pg_listening_channels()"),
        "temp tables": await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relpersistence = 't'"),
        "search_path": await conn.fetchval("SHOW search_path"),
        "in transaction": conn.is_in_transaction(),
    }


async def logged(reads: DriverReads, work: Any) -> list[Any]:
    """Every statement the pool's connections send while `work` runs (asyncpg's query log)."""
    pool = reads._pool
    holders = [h for h in pool._holders if h._con is not None]
    assert holders, "the pool has its connection open"
    queries: list[Any] = []
    for h in holders:
        h._con.add_query_logger(queries.append)
    try:
        await work
        await asyncio.sleep(0)  # the log's callbacks run on the loop
    finally:
        for h in holders:
            if h._con is not None:
                h._con.remove_query_logger(queries.append)
    return queries


async def test_a_read_sends_one_select_and_nothing_after_it(pg: tuple[Catalog, DriverReads, str]) -> None:
    _, reads, _ = pg
    queries = await logged(reads, every_read(reads, HOSTILE))
    texts = [q.query for q in queries]
    # One statement a read (the filtered list page two: its matches counted, then the page):
    # no reset query, no ROLLBACK.
    assert len(texts) == 10, texts
    for text in texts:
        assert text.startswith("SELECT "), text
        assert ";" not in text, text  # one statement, never several
        assert HOSTILE not in text and "nowhere" not in text  # values are bound, not spliced
    assert any(HOSTILE in q.args for q in queries)


async def test_no_read_leaves_anything_in_the_session(pg: tuple[Catalog, DriverReads, str]) -> None:
    _, reads, url = pg
    fresh = await asyncpg.connect(url)
    try:
        expected = await session_state(fresh)
    finally:
        await fresh.close()
    await every_read(reads, HOSTILE)
    await every_read(reads, "alice")
    pool = reads._pool
    connections = [await pool.acquire() for _ in range(pool.get_size())]
    try:
        for conn in connections:
            assert await session_state(conn) == expected
    finally:
        for conn in connections:
            await pool.release(conn)


async def test_a_transaction_left_open_ends_before_the_next_read(pg: tuple[Catalog, DriverReads, str]) -> None:
    catalog, reads, _ = pg
    pool = reads._pool
    assert pool.get_size() == 1  # so the next read gets this very connection
    conn = await pool.acquire()
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    assert await conn.fetchval("SELECT count(*) FROM audio") == 5  # the snapshot is taken
    await pool.release(conn)  # without COMMIT or ROLLBACK
    assert pool.get_size() == 1
    late = audio(99)
    await catalog.insert_audio(late)
    # Had the transaction stayed open, its snapshot would hide the row committed after it.
    row = await reads.get_visible(late.id, owner="alice", now=NOW)
    assert row is not None and row.id == late.id
    async with pool.acquire() as again:
        assert not again.is_in_transaction()
        assert await again.fetchval("SELECT count(*) FROM audio") == 6


async def test_a_read_cancelled_mid_query_leaves_its_connection_usable(
    pg: tuple[Catalog, DriverReads, str],
) -> None:
    catalog, reads, url = pg
    blocker = await asyncpg.connect(url)
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE audio IN ACCESS EXCLUSIVE MODE")
        first = "01900000-0000-7000-8000-000000000001"
        stuck = asyncio.create_task(reads.get_visible(first, owner="alice", now=NOW))
        for _ in range(200):  # until the read waits on the lock, at most 10 s
            waiting = await blocker.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'SELECT%FROM audio%'")
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting == 1
        stuck.cancel()  # as a request task is when its client goes
        with pytest.raises(asyncio.CancelledError):
            await stuck
        await tx.commit()
    finally:
        await blocker.close()
    late = audio(98)
    await catalog.insert_audio(late)
    row = await asyncio.wait_for(reads.get_visible(late.id, owner="alice", now=NOW), 10)
    assert row is not None and row.id == late.id
    async with reads._pool.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND pid <> pg_backend_pid()") == 0


async def test_a_list_page_is_planned_once_per_connection(pg: tuple[Catalog, DriverReads, str]) -> None:
    """PostgreSQL's default would plan every list page again (its generic plan's estimate is
    never cheaper than the values'); the pool asks for generic plans, and the page still
    shows exactly the visible rows."""
    catalog, reads, _ = pg
    await catalog.insert_audio(audio(20, state="deleting"))
    await catalog.insert_audio(audio(21, expires_at=NOW - timedelta(seconds=1)))
    await catalog.insert_audio(audio(22, owner="bob", key="bob/default/22.wav"))
    query = VisibleQuery(owner="alice", collection=None, name=None, key_prefix=None,
                         created_after=None, created_before=None, before_id=None, limit=51)
    for _ in range(8):
        page = await reads.list_visible(query, now=NOW)
        assert [r.id for r in page] == [audio(i).id for i in range(5, 0, -1)]
    async with reads._pool.acquire() as conn:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
        plans = await conn.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'SELECT %FROM audio WHERE %ORDER BY owner DESC, id DESC LIMIT %' "
            "AND statement NOT LIKE '%pg_prepared_statements%'")  # not this query itself
    assert plans and all(p["custom_plans"] == 0 and p["generic_plans"] >= 8 for p in plans), plans
