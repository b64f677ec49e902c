"""Per-owner token revocations (`not_before`), as a server sees them: a briefly cached copy.

Verifying a token must not cost a catalogue read, so each server keeps the revocations that
still matter (those later than now minus the longest token lifetime: older ones only cover
tokens that have expired) and reads them again once its copy is older than
AUDIOSTORE_TOKEN_REVOCATION_CACHE_SECONDS: one small query per that many seconds, however many
tokens arrive. A revocation made on this server is in its copy at once; another server refuses
the revoked tokens within that bound. With 0 every token check reads its owner's row.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ..catalog.token_revocations import TokenRevocationCatalog


class TokenRevocations:
    def __init__(
        self, catalog: TokenRevocationCatalog, *, cache_seconds: float, horizon_seconds: int,
        clock: Callable[[], datetime], monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.cache_seconds = cache_seconds
        self.horizon = timedelta(seconds=horizon_seconds)
        self.clock = clock
        self.monotonic = monotonic
        self._copy: dict[str, datetime] = {}
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def not_before(self, owner: str) -> datetime | None:
        if self.cache_seconds <= 0:
            return await self.catalog.not_before(owner)
        if self._stale():
            async with self._lock:  # one refresh at a time; the others wait for its copy
                if self._stale():
                    started = self.monotonic()
                    self._copy = await self.catalog.since(self.clock() - self.horizon)
                    self._read_at = started
        return self._copy.get(owner)

    def _stale(self) -> bool:
        return self._read_at is None or self.monotonic() - self._read_at >= self.cache_seconds

    async def revoke(self, owner: str, before: datetime) -> datetime:
        async with self._lock:  # a refresh under way must not drop this from the new copy
            in_force = await self.catalog.raise_not_before(owner, before, now=self.clock())
        current = self._copy.get(owner)
        if current is None or current < in_force:
            self._copy[owner] = in_force
        return in_force
