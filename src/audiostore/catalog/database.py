"""Engine creation and schema migrations for SQLite and PostgreSQL alike."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..errors import InsufficientStorage

_MIGRATIONS = Path(__file__).with_name("migrations")
_SQLITE_FULL = 13  # "database or disk is full" (the primary result code, the low byte)
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full


FULL_CATALOGUE = "The server's disk is full (catalogue); nothing was stored. Try again later."


def is_full_disk(error: BaseException | None) -> bool:
    """Whether a driver error (sqlite3's, asyncpg's, psycopg's) says the database's disk (or its
    size limit) is full."""
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == _SQLITE_FULL
    return _PG_DISK_FULL in (getattr(error, "sqlstate", None), getattr(error, "pgcode", None))


def _translate_full_disk(context: ExceptionContext) -> None:
    """A full catalogue disk is `InsufficientStorage` (507) wherever it is met: every statement
    and commit of every caller goes through this engine, so no caller can let it become a 500.
    SQLite and PostgreSQL roll the failed transaction back, so nothing of it is stored."""
    if is_full_disk(context.original_exception):
        raise InsufficientStorage(FULL_CATALOGUE) from context.sqlalchemy_exception


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys on every connection."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
    else:
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    event.listen(engine.sync_engine, "handle_error", _translate_full_disk)
    return engine


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


# PostgreSQL advisory lock key held while migrating (any bigint no other code takes).
_MIGRATION_LOCK = 0x617564696F  # "audio"


@contextlib.asynccontextmanager
async def _sqlite_migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """An exclusive `flock` on `<database>.migrating` for a SQLite file: SQLite's own locks do
    not serialise two migrations (each reads the revision, then both write and one fails
    with "database is locked"). Processes sharing a SQLite file share a host, so a file lock
    reaches all of them."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.migrating", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await anyio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock


async def _migrate(engine: AsyncEngine, run: Any) -> None:
    """Run an Alembic command alone: instances started at once on one catalogue take turns,
    and the later ones find it at the revision already (nothing runs twice)."""
    async with _sqlite_migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # released when this transaction ends
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(lambda c: run(_config(c)))


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _migrate(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _migrate(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def head_revision() -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()
