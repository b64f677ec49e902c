"""One engine and the one way to open a transaction on it.

Every table module of the catalogue runs its statements in `Database.session()`: a session
that commits when the block exits normally and rolls back when it raises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .driver_reads import DriverReads


class Database:
    """The engine of the catalogue, its dialect, and its sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # The hot routes' reads, without a session (driver_reads.py); None: all on the ORM.
        self.reads = DriverReads.for_engine(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on a normal exit, rolled back on an error."""
        async with self._sessions() as session, session.begin():
            yield session

    async def add(self, row: object) -> bool:
        """Insert one new row in a transaction of its own; False (nothing written) when a
        row with the same unique key is already there."""
        try:
            async with self.session() as s:
                s.add(row)
        except IntegrityError:
            return False
        return True

    async def ping(self) -> None:
        if self.reads is not None:
            return await self.reads.ping()
        async with self.session() as s:
            await s.execute(select(1))

    async def close(self) -> None:
        if self.reads is not None:
            await self.reads.close()
        await self.engine.dispose()
