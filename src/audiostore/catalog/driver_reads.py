"""The hot routes' reads on the driver's own connection: one object, a batch, a list page,
renditions, a synthesis request's cache entry, a resumable upload's row, a ping; and the one
hot write, a resumable upload's offset (every PATCH makes it).

An ORM session costs about a millisecond of CPU a query here (a pool checkout, a
transaction, the identity map, three thread hops with aiosqlite), ten times the query itself,
and these reads run on every GET, sign, PATCH (of an object, or of a tus upload) and list.
They are plain SELECTs whose rows
need no session, so they run as fixed SQL text on one connection kept for them: for SQLite
a sqlite3 connection in autocommit mode and `query_only` (each SELECT reads the newest
committed state, as WAL gives every statement its own snapshot) used from one thread of its
own, one hop a query (SQLite lets go of the GIL while it steps, so a slow page does not stop
the event loop), for PostgreSQL a small
asyncpg pool (its prepared statements are cached per connection). The column values go
through the same SQLAlchemy type processors the ORM uses, so a row read here equals the
ORM's. The visibility rule is the catalogue's (`ready`, not expired, the owner's), written
once below; tests/catalog/test_driver_reads.py compares every read with the ORM's on both
databases, deleted, expired and other owners' rows included.

The offset write is one conditional UPDATE, so it needs no transaction around it either: in
autocommit it is atomic on its own, and on PostgreSQL it takes the row's lock as the ORM's
would (a second instance's UPDATE of the row waits, then finds the offset moved: 0 rows). For
SQLite it runs on a writer connection of its own (the catalogue's pragmas, one thread of its
own, one hop); for PostgreSQL on the pool above. A full disk is `InsufficientStorage` (507)
here as on the engine (catalog/database.py), and the failed statement stored nothing.
Every other write, searches and every other read stay on the ORM in `Catalog`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Generic, NamedTuple, TypeVar, cast

from sqlalchemy import JSON
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import InsufficientStorage
from .database import FULL_CATALOGUE, is_full_disk
from .key_prefix import KEY_COLLATION, key_prefix_range
from .models import AudioRow, Base, DerivedBlobRow, TtsRequestRow, TusUploadRow, UTCDateTime

__all__ = ["DriverReads", "SignableRow", "VisibleQuery"]

Row = TypeVar("Row", bound=Base)
READY = "ready"

# Each prepared statement planned once per connection, not once per execution. PostgreSQL's
# default (`auto`) plans five times with the values, then keeps the generic plan only if its
# estimated cost is no higher; for a list page it never is (the owner range and the LIMIT
# parameter estimate thousands of rows where the values give 51), so every page was planned
# again: 0.2 ms of the database's CPU, a third of its work for the page. The generic plan is
# the same index walk (`ix_audio_owner_id` or `ix_audio_owner_collection_id` backwards,
# stopped at the LIMIT); the visibility rule's constant state is inline so the planner sees it
# anyway. Sent at connect, so it is the connection's own default, not a session change.
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}

# A `prefix` or `created_*` filter with fewer matches than this among the owner's rows is
# served by its own index, sorting them all; with more, by the walk down the owner's ids,
# which finds a page of 50 within about 50 * rows / FEW_MATCHES rows (2,500 of 100,000).
FEW_MATCHES = 2000


class _Columns(Generic[Row]):
    """A model's columns as SQL text, and a row of driver values back into the model."""

    def __init__(self, model: type[Row], dialect: Dialect) -> None:
        mapper = sa_inspect(model)
        self._manager = mapper.class_manager
        attrs = mapper.column_attrs
        self.keys = [a.key for a in attrs]
        self.sql = ", ".join(f'"{a.columns[0].name}"' for a in attrs)
        # Numbers and text come back from both drivers as Python values already; times (UTC,
        # aware) and JSON need the ORM's own conversion, where the dialect has one.
        self._convert: list[tuple[str, Callable[[Any], Any]]] = []
        # attribute -> (column name, the ORM's bind conversion), for a write's values
        self.binds: dict[str, tuple[str, Callable[[Any], Any]]] = {}
        for a in attrs:
            col = a.columns[0]
            self.binds[a.key] = (
                col.name, col.type.dialect_impl(dialect).bind_processor(dialect) or _unchanged)
            col_type = a.columns[0].type
            if isinstance(col_type, UTCDateTime | JSON):
                convert = col_type.dialect_impl(dialect).result_processor(dialect, None)
                if convert is not None:
                    self._convert.append((a.key, convert))

    def load(self, values: Sequence[Any]) -> Row:
        # As the ORM's loader fills a row: the values straight into the instance's dict (the
        # model's __init__ would record each as a change, ten times slower for a page).
        row = cast(Row, self._manager.new_instance())
        fields = row.__dict__
        fields.update(zip(self.keys, values, strict=True))
        for key, convert in self._convert:
            if fields[key] is not None:
                fields[key] = convert(fields[key])
        return row


class SignableRow(NamedTuple):
    """What signing a URL needs of a visible object (a batch of 1000 reads no more)."""

    id: str
    key: str
    location: str
    expires_at: datetime | None


class VisibleQuery:
    """The filters of a list page without a text search (see `Catalog.list_visible`)."""

    __slots__ = ("owner", "collection", "name", "key_prefix", "created_after", "created_before",
                 "before_id", "limit")

    def __init__(self, *, owner: str | None, collection: str | None, name: str | None,
                 key_prefix: str | None, created_after: datetime | None,
                 created_before: datetime | None, before_id: str | None, limit: int) -> None:
        self.owner, self.collection, self.name, self.key_prefix = owner, collection, name, key_prefix
        self.created_after, self.created_before = created_after, created_before
        self.before_id, self.limit = before_id, limit


class DriverReads:
    """Built by `Catalog` for a file SQLite or a PostgreSQL engine (`for_engine`); connects on
    first use, in the process and event loop that uses it (granian forks its workers)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect
        self._engine_url = engine.url
        self._sqlite = self.dialect.name == "sqlite"
        self._audio = _Columns(AudioRow, self.dialect)
        self._derived = _Columns(DerivedBlobRow, self.dialect)
        self._tts = _Columns(TtsRequestRow, self.dialect)
        self._tus = _Columns(TusUploadRow, self.dialect)
        dt = AudioRow.__table__.c.expires_at.type
        self._bind_time: Callable[[Any], Any] = (
            dt.dialect_impl(self.dialect).bind_processor(self.dialect) or (lambda v: v)
        )
        self._load_time: Callable[[Any], Any] = (
            dt.dialect_impl(self.dialect).result_processor(self.dialect, None) or (lambda v: v)
        )
        self._connection: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None  # the one thread that uses it
        self._writer: sqlite3.Connection | None = None  # SQLite: the offset write's
        self._write_thread: ThreadPoolExecutor | None = None  # (a wait for the write lock
        # must not hold up the reads)
        self._pool: Any = None  # asyncpg.Pool
        self._owner: tuple[int, asyncio.AbstractEventLoop | None] | None = None
        self._opening: dict[tuple[int, asyncio.AbstractEventLoop | None], asyncio.Lock] = {}

    @staticmethod
    def for_engine(engine: AsyncEngine) -> DriverReads | None:
        """None where a second connection would not see the same data (an in-memory SQLite)
        or the driver is not one of ours."""
        url = engine.url
        if url.drivername == "sqlite+aiosqlite":
            return DriverReads(engine) if url.database and url.database != ":memory:" else None
        if url.drivername == "postgresql+asyncpg":
            return DriverReads(engine)
        return None

    # --- the reads ----------------------------------------------------------------------
    async def ping(self) -> None:
        await self._fetch("SELECT 1", [])

    def _visible(self, args: list[Any], owner: str | None, now: datetime) -> str:
        # The state inline: a constant the planner should see (a generic plan cannot).
        sql = (f"state = '{READY}' AND (expires_at IS NULL OR expires_at > "
               f"{self._arg(args, self._bind_time(now))})")
        if owner is not None:
            sql += f" AND owner = {self._arg(args, owner)}"
        return sql

    async def get_visible(self, audio_id: str, *, owner: str | None, now: datetime) -> AudioRow | None:
        args: list[Any] = []
        where = f"id = {self._arg(args, audio_id)} AND {self._visible(args, owner, now)}"
        rows = await self._fetch(f"SELECT {self._audio.sql} FROM audio WHERE {where}", args)
        return self._audio.load(rows[0]) if rows else None

    async def get_many_visible(
        self, ids: Sequence[str], *, owner: str | None, now: datetime
    ) -> dict[str, AudioRow]:
        if not ids:
            return {}
        args: list[Any] = []
        where = f"{self._in(args, 'id', ids)} AND {self._visible(args, owner, now)}"
        rows = await self._fetch(f"SELECT {self._audio.sql} FROM audio WHERE {where}", args)
        return {row.id: row for row in map(self._audio.load, rows)}

    async def get_many_signable(
        self, ids: Sequence[str], *, owner: str | None, now: datetime
    ) -> dict[str, SignableRow]:
        if not ids:
            return {}
        args: list[Any] = []
        where = f"{self._in(args, 'id', ids)} AND {self._visible(args, owner, now)}"
        rows = await self._fetch(f'SELECT id, "key", location, expires_at FROM audio WHERE {where}', args)
        load_time, as_row = self._load_time, tuple.__new__
        # A row without an expiry is the driver's tuple as it is (half the time of a call to
        # the NamedTuple's constructor, a batch reads 1000).
        return {
            r[0]: as_row(SignableRow, r) if r[3] is None else SignableRow(r[0], r[1], r[2], load_time(r[3]))
            for r in rows
        }

    async def list_visible(self, q: VisibleQuery, *, now: datetime) -> list[AudioRow]:
        index = await self._filter_index(q)
        args: list[Any] = []
        # With a filter's index, its few matches are sorted whatever the index's order; in
        # PostgreSQL they are fetched in a subquery of their own (`OFFSET 0`: planned apart,
        # without the ORDER BY and LIMIT that would make a walk down an id index look cheap).
        fenced = index is not None and not self._sqlite
        owner_range = q.owner is not None and not self._sqlite and not fenced
        where = [self._visible(args, None if owner_range else q.owner, now)]
        if owner_range:
            # PostgreSQL: `owner = $1` would make owner drop out of the sort key, and the
            # planner then walks audio_pkey backwards (its heap order is cheap to fetch),
            # filtering out every newer row of other owners: 9,000 of them at 1M rows. As a
            # range, owner stays in `ORDER BY owner DESC, id DESC`, which only the (owner, ...)
            # indexes deliver. Same rows: for text, `owner >= x AND owner <= x` is `owner = x`.
            arg = self._arg(args, q.owner)
            where.append(f"owner >= {arg} AND owner <= {arg}")
        if q.collection is not None:
            where.append(f"collection = {self._arg(args, q.collection)}")
        if q.name is not None:
            where.append(f"name = {self._arg(args, q.name)}")
        where += self._filter_terms(args, q, index)
        if q.before_id is not None:
            where.append(f"id < {self._arg(args, q.before_id)}")
        table = f"audio INDEXED BY {index}" if self._sqlite and index is not None else "audio"
        rows = f"SELECT {self._audio.sql} FROM {table} WHERE {' AND '.join(where)}"
        if fenced:
            rows = f"SELECT * FROM ({rows} OFFSET 0) AS matches"
        sql = (f"{rows} ORDER BY {'owner DESC, ' if owner_range else ''}id DESC "
               f"LIMIT {self._arg(args, q.limit)}")
        return [self._audio.load(r) for r in await self._fetch(sql, args)]

    async def _filter_index(self, q: VisibleQuery) -> str | None:
        """The index of a `prefix` or `created_*` filter, if few of the owner's rows match it;
        None for the walk down the owner's ids (as for a page without these filters).

        Neither database can tell which is faster from the statement: PostgreSQL plans it
        once without the values (GENERIC_PLANS), SQLite has no statistics of values. The
        filter's index finds few matches at once but must sort all of them into id order;
        the walk stops at the page's end, after about limit * rows / matches rows. So the
        matches are counted first, in the filter's index alone (no table rows read), up to
        FEW_MATCHES. Either way the rows are the same; only the time differs. (What this
        leaves slow: many matches all far down the owner's ids, e.g. `created_before` a
        date long past, for an owner with many newer rows.)"""
        if q.owner is None or not (q.key_prefix or q.created_after or q.created_before):
            return None
        index = "ix_audio_owner_key" if q.key_prefix else "ix_audio_owner_created_at_id"
        args: list[Any] = []
        where = [f"owner = {self._arg(args, q.owner)}", *self._filter_terms(args, q, index)]
        if q.before_id is not None:
            where.append(f"id < {self._arg(args, q.before_id)}")
        table = f"audio INDEXED BY {index}" if self._sqlite else "audio"
        sql = (f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {' AND '.join(where)} "
               f"LIMIT {FEW_MATCHES}) AS matches")
        count = (await self._fetch(sql, args))[0][0]
        return index if count < FEW_MATCHES else None

    def _filter_terms(self, args: list[Any], q: VisibleQuery, index: str | None) -> list[str]:
        """The `prefix` and `created_*` terms, those that `index` does not serve written so
        that no index can: `+x` in SQLite; in PostgreSQL one CASE, which its planner can
        neither match to an index nor take for a rare condition (a range on a parameter it
        estimates at 0.5% of the rows, and would then sort all of the owner's rows)."""
        indexed: list[str] = []
        walked: list[str] = []
        if q.key_prefix:
            # A range (key_prefix.py): ix_audio_owner_key finds the matches, case-sensitively.
            low, high = key_prefix_range(q.key_prefix)
            own = index == "ix_audio_owner_key"
            key = '"key"' if own or not self._sqlite else '+"key"'
            if not self._sqlite:
                key += f' COLLATE "{KEY_COLLATION}"'
            terms = indexed if own else walked
            terms.append(f"{key} >= {self._arg(args, low)}")
            if high is not None:
                terms.append(f"{key} < {self._arg(args, high)}")
        own = index == "ix_audio_owner_created_at_id"
        created = "created_at" if own or not self._sqlite else "+created_at"
        terms = indexed if own else walked
        if q.created_after is not None:
            terms.append(f"{created} > {self._arg(args, self._bind_time(q.created_after))}")
        if q.created_before is not None:
            terms.append(f"{created} < {self._arg(args, self._bind_time(q.created_before))}")
        if walked and not self._sqlite:
            walked = [f"(CASE WHEN {' AND '.join(walked)} THEN true ELSE false END)"]
        return indexed + walked

    async def derived_for(self, audio_ids: Sequence[str], kind: str | None) -> list[DerivedBlobRow]:
        if not audio_ids:
            return []
        args: list[Any] = []
        where = self._in(args, "audio_id", audio_ids)
        if kind is not None:
            where += f" AND kind = {self._arg(args, kind)}"
        sql = f"SELECT {self._derived.sql} FROM derived_blobs WHERE {where} ORDER BY created_at"
        return [self._derived.load(r) for r in await self._fetch(sql, args)]

    async def tts_request(self, owner: str, request_hash: str) -> TtsRequestRow | None:
        args: list[Any] = []
        where = f"owner = {self._arg(args, owner)} AND request_hash = {self._arg(args, request_hash)}"
        rows = await self._fetch(f"SELECT {self._tts.sql} FROM tts_requests WHERE {where}", args)
        return self._tts.load(rows[0]) if rows else None

    async def tus_upload(self, upload_id: str) -> TusUploadRow | None:
        args: list[Any] = []
        sql = f"SELECT {self._tus.sql} FROM tus_uploads WHERE id = {self._arg(args, upload_id)}"
        rows = await self._fetch(sql, args)
        return self._tus.load(rows[0]) if rows else None

    # --- the write ------------------------------------------------------------------------
    async def advance_tus_upload(
        self, upload_id: str, *, state: str, old_offset: int, new_offset: int,
        lease_free_at: datetime, values: dict[str, Any],
    ) -> bool:
        """`UPDATE tus_uploads SET offset = new_offset, values... WHERE` the upload is in
        `state` at `old_offset` with no lease live at `lease_free_at`: whether it did."""
        args: list[Any] = []
        binds = self._tus.binds

        def column_is(key: str, value: Any) -> str:  # `"column" = $n`, the value as the ORM binds it
            column, bind = binds[key]
            return f'"{column}" = {self._arg(args, None if value is None else bind(value))}'

        sets = [column_is("offset", new_offset)]
        sets.extend(column_is(key, value) for key, value in values.items())
        writer, lease_until = binds["writer"][0], binds["lease_until"][0]
        where = (f"{column_is('id', upload_id)} AND {column_is('state', state)} AND "
                 f'{column_is("offset", old_offset)} AND ("{writer}" IS NULL OR '
                 f'"{lease_until}" < {self._arg(args, self._bind_time(lease_free_at))})')
        sql = f"UPDATE tus_uploads SET {', '.join(sets)} WHERE {where}"
        return await self._write(sql, args) == 1

    # --- SQL text per dialect ---------------------------------------------------------
    def _arg(self, args: list[Any], value: Any) -> str:
        args.append(value)
        return "?" if self._sqlite else f"${len(args)}"

    def _in(self, args: list[Any], column: str, values: Sequence[str]) -> str:
        if self._sqlite:  # one statement text for any number of ids
            return f"{column} IN (SELECT value FROM json_each({self._arg(args, json.dumps(list(values)))}))"
        return f"{column} = ANY({self._arg(args, list(values))}::text[])"

    # --- connections --------------------------------------------------------------------
    async def _fetch(self, sql: str, args: list[Any]) -> Sequence[Sequence[Any]]:
        await self._open()
        if self._sqlite:
            reader = self._connection
            assert reader is not None
            return await asyncio.get_running_loop().run_in_executor(
                self._thread, lambda: reader.execute(sql, args).fetchall()
            )
        async with self._pool.acquire() as pooled:
            return list(await pooled.fetch(sql, *args))

    async def _write(self, sql: str, args: list[Any]) -> int:
        """One statement in autocommit; the rows it changed."""
        await self._open()
        if self._sqlite:
            writer = self._writer
            assert writer is not None

            def execute() -> int:
                try:
                    return writer.execute(sql, args).rowcount
                except sqlite3.Error as exc:
                    if is_full_disk(exc):
                        raise InsufficientStorage(FULL_CATALOGUE) from exc
                    raise

            return await asyncio.get_running_loop().run_in_executor(self._write_thread, execute)
        try:
            async with self._pool.acquire() as pooled:
                status: str = await pooled.execute(sql, *args)  # e.g. "UPDATE 1"
        except Exception as exc:
            if is_full_disk(exc):
                raise InsufficientStorage(FULL_CATALOGUE) from exc
            raise
        return int(status.rsplit(" ", 1)[-1])

    async def _open(self) -> None:
        loop = None if self._sqlite else asyncio.get_running_loop()  # a thread serves any loop
        owner = (os.getpid(), loop)
        if self._owner == owner:
            return
        async with self._opening.setdefault(owner, asyncio.Lock()):
            if self._owner == owner:
                return
            self._forget()
            if self._sqlite:
                thread = ThreadPoolExecutor(1, thread_name_prefix="audiostore-reads")
                self._connection = await asyncio.get_running_loop().run_in_executor(
                    thread, _sqlite_reader, str(self._engine_url.database))
                self._thread = thread
                write_thread = ThreadPoolExecutor(1, thread_name_prefix="audiostore-writes")
                self._writer = await asyncio.get_running_loop().run_in_executor(
                    write_thread, _sqlite_writer, str(self._engine_url.database))
                self._write_thread = write_thread
            else:
                import asyncpg  # type: ignore[import-untyped]  # reason: asyncpg ships no type hints

                dsn = self._engine_url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._pool = await asyncpg.create_pool(
                    dsn, min_size=1, max_size=10, init=_json_codec,
                    # Statements differ by their filters, not by the values: a few dozen texts.
                    statement_cache_size=256, reset=_session_unchanged,
                    server_settings=GENERIC_PLANS,
                )
            self._owner = owner

    def _forget(self) -> None:
        """Drop connections opened by another process or loop (they cannot be used here)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None
        # A forked child has neither the parent's thread nor a right to its connection.
        self._connection, self._thread, self._owner = None, None, None
        self._writer, self._write_thread = None, None

    async def close(self) -> None:
        if self._owner is not None and self._owner[0] == os.getpid():
            if self._connection is not None and self._thread is not None:
                conn = self._connection
                await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
                self._thread.shutdown(wait=False)
            if self._writer is not None and self._write_thread is not None:
                writer = self._writer
                await asyncio.get_running_loop().run_in_executor(self._write_thread, writer.close)
                self._write_thread.shutdown(wait=False)
            if self._pool is not None:
                try:
                    await asyncio.wait_for(self._pool.close(), timeout=5)
                except (TimeoutError, RuntimeError):  # another loop's pool, or stuck
                    self._pool.terminate()
        self._connection, self._thread, self._pool, self._owner = None, None, None, None
        self._writer, self._write_thread = None, None


def _sqlite_reader(path: str) -> sqlite3.Connection:
    """Autocommit (no transaction held between reads), read-only, the catalogue's busy wait."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA query_only=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _sqlite_writer(path: str) -> sqlite3.Connection:
    """Autocommit (each statement its own transaction), with the pragmas every connection of
    the catalogue's engine gets (catalog/database.py)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _unchanged(value: Any) -> Any:
    return value


async def _session_unchanged(conn: Any) -> None:
    """The pool's reset, between two uses of a connection: nothing to undo. asyncpg's default
    sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` after every use,
    a second round trip for each of these reads, which never take a lock, open a cursor, listen
    or set anything. (asyncpg still rolls back a transaction left open before calling this.)"""


async def _json_codec(conn: Any) -> None:
    """JSON columns as Python values, as SQLAlchemy's asyncpg dialect sets them up."""
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
